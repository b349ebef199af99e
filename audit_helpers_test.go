package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"procoregraph/sandbox"
)

// auditRec is one audit record as the gateway logs it (a JSON line with
// "msg":"audit" on its stderr).
type auditRec struct {
	Time      string `json:"time"`
	RequestID string `json:"requestId"`
	Event     string `json:"event"`
	Principal struct {
		Kind          string `json:"kind"`
		Name          string `json:"name"`
		ProcoreUserID int64  `json:"procoreUserId"`
	} `json:"principal"`
	Operation      string            `json:"operation"`
	Inputs         map[string]string `json:"inputIds"`
	IdempotencyKey string            `json:"idempotencyKey"`
	Written        []struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"written"`
	Outcome    string `json:"outcome"`
	Code       string `json:"code"`
	Credential string `json:"credential"`
	Remote     string `json:"remote"`
}

// auditRecords parses every audit record the gateway has logged so far.
func (p *gatewayProc) auditRecords(t testing.TB) []auditRec {
	t.Helper()
	var out []auditRec
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"msg":"audit"`) {
			continue
		}
		var l struct {
			Msg   string   `json:"msg"`
			Audit auditRec `json:"audit"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("audit line is not JSON: %v\n%s", err, line)
		}
		out = append(out, l.Audit)
	}
	return out
}

// writeCount is the number of upstream writes the sandbox served since its
// last reset.
func writeCount(sb *sandbox.Running) int64 {
	var n int64
	for _, c := range writes(sb) {
		n += c
	}
	return n
}

// checkMutationAudit holds the audit log to what one mutation request did:
// one record per mutation field, naming the harness key as the principal,
// with the request id; when the request made Procore writes, the record
// names the Procore ids written, each of which is in the answer, unless
// Procore refused the write (then the record is "rejected"); when it made
// none, the record claims none; a payload with userErrors is "rejected"; the
// input's projectId is among the recorded input ids.
func checkMutationAudit(t *testing.T, recs []auditRec, data json.RawMessage, vars map[string]any, upstreamWrites int64) {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	if len(recs) != len(fields) {
		t.Fatalf("%d audit records for %d mutation fields: %+v", len(recs), len(fields), recs)
	}
	var written, ok int
	for _, r := range recs {
		if r.Outcome == "ok" {
			ok++
		}
		payload, ok := fields[r.Operation]
		if !ok || r.Event != "mutation" {
			t.Fatalf("audit record %+v names no mutation of the request (%s)", r, data)
		}
		if r.Principal.Kind != "api_key" || r.Principal.Name != "harness" || r.RequestID == "" || r.Time == "" {
			t.Fatalf("audit record %+v: want principal api_key/harness, a request id and a time", r)
		}
		var p struct {
			UserErrors []userError `json:"userErrors"`
		}
		_ = json.Unmarshal(payload, &p)
		switch {
		case len(p.UserErrors) > 0 && (r.Outcome != "rejected" || r.Code != p.UserErrors[0].Code):
			t.Fatalf("audit record %+v for a payload with userErrors %+v: want rejected with code %s", r, p.UserErrors, p.UserErrors[0].Code)
		case len(p.UserErrors) == 0 && r.Outcome != "ok":
			t.Fatalf("audit record %+v for a successful payload: want ok", r)
		}
		for _, w := range r.Written {
			if w.ID == "" || !strings.Contains(string(payload), `"`+w.ID+`"`) {
				t.Fatalf("audit record says %s %q was written, which the answer does not hold: %s", w.Kind, w.ID, payload)
			}
		}
		written += len(r.Written)
		if in, ok := vars["in"].(map[string]any); ok {
			if pid, ok := in["projectId"].(string); ok && r.Inputs["projectId"] != pid {
				t.Fatalf("audit record input ids %v, want projectId %s", r.Inputs, pid)
			}
		}
	}
	if upstreamWrites > 0 && ok > 0 && written == 0 {
		t.Fatalf("%d Procore writes but the audit records name none: %+v", upstreamWrites, recs)
	}
	if upstreamWrites == 0 && written > 0 {
		t.Fatalf("no Procore write but the audit records name %d: %+v", written, recs)
	}
}

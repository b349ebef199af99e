package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"procoregraph/adapter"
)

// maxMessage bounds an upstream message copied into an error.
const maxMessage = 300

// statusError maps a non-2xx Procore response to an *adapter.Error. what
// names the call for the message ("list RFIs"). body is the (bounded) body.
func statusError(what string, status int, h http.Header, body []byte, now time.Time) *adapter.Error {
	msg, fields := parseErrorBody(body)
	e := &adapter.Error{Status: status}
	switch {
	case status == http.StatusNotFound:
		e.Code = adapter.CodeNotFound
		e.Message = what + ": not found, or not visible to this Procore credential"
	case status == http.StatusForbidden:
		e.Code = adapter.CodeForbidden
		e.Message = what + ": Procore denied permission"
	case status == http.StatusUnauthorized:
		e.Code = adapter.CodeUnauthenticated
		e.Message = what + ": Procore did not accept the credential"
	case status == http.StatusTooManyRequests:
		e.Code = adapter.CodeRateLimited
		e.Message = what + ": Procore's rate limit is spent"
		e.RetryAfter, _ = serverWait(h, now)
	case status == http.StatusConflict:
		e.Code = adapter.CodeConflict
		e.Message = what + ": conflicts with an existing Procore record"
	case status == http.StatusRequestTimeout || status >= 500:
		e.Code = adapter.CodeUpstreamUnavailable
		e.Message = fmt.Sprintf("%s: Procore is unavailable (%d)", what, status)
		if status == http.StatusServiceUnavailable {
			e.RetryAfter, _ = serverWait(h, now)
		}
		msg = "" // server-side details are not the client's business
	case status >= 400:
		e.Code = adapter.CodeBadUserInput
		e.Message = what + ": Procore rejected the request"
		e.Fields = fields
	default:
		e.Code = adapter.CodeInternal
		e.Message = fmt.Sprintf("%s: unexpected Procore status %d", what, status)
	}
	if msg != "" {
		e.Message += ": " + msg
	}
	return e
}

// transportError maps an error from the HTTP stack (no response) to an
// *adapter.Error, keeping an *adapter.Error raised inside the stack as is.
func transportError(what string, err error) error {
	var ae *adapter.Error
	if errors.As(err, &ae) {
		c := *ae
		c.Message = what + ": " + ae.Message
		return &c
	}
	// Keep the cause but not its URL: a presigned upload URL carries a signature.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	e := &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Err: err}
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		e.Message = what + ": cancelled"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		e.Message = what + ": Procore did not answer in time"
	default:
		e.Message = what + ": could not reach Procore"
	}
	return e
}

// parseErrorBody extracts a client-safe message and field errors from
// Procore's non-uniform error bodies:
//
//	{"errors": "str"}                      {"error": "str", "error_description": "..."}
//	{"errors": ["a", {"message": ".."}]}   {"error": {"code": "..", "message": "..", "details": [..]}}
//	{"errors": {"field": ["msg"]}}         {"message": "..", "exception": ".."}
//	{"code": 1, "message": "..", "reason": "..", "fields": ".."}   plain text
func parseErrorBody(body []byte) (string, []adapter.FieldError) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "", nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		if bytes.HasPrefix(body, []byte("<")) {
			return "", nil // an HTML error page
		}
		line, _, _ := strings.Cut(string(body), "\n")
		return clean(line), nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		if arr, ok := v.([]any); ok {
			msgs, fields := errorsValue(arr, nil)
			return clean(strings.Join(msgs, "; ")), fields
		}
		if s, ok := v.(string); ok {
			return clean(s), nil
		}
		return "", nil
	}
	var msgs []string
	var fields []adapter.FieldError
	if ev, ok := obj["errors"]; ok {
		m, f := errorsValue(ev, nil)
		msgs, fields = append(msgs, m...), append(fields, f...)
	}
	if ev, ok := obj["error"]; ok {
		switch x := ev.(type) {
		case string:
			if d, ok := obj["error_description"].(string); ok && d != "" {
				msgs = append(msgs, d)
			} else {
				msgs = append(msgs, x)
			}
		case map[string]any:
			if s, ok := x["message"].(string); ok && s != "" {
				msgs = append(msgs, s)
			} else if s, ok := x["code"].(string); ok {
				msgs = append(msgs, s)
			}
			if details, ok := x["details"].([]any); ok {
				for _, d := range details {
					dm, ok := d.(map[string]any)
					if !ok {
						continue
					}
					m, _ := dm["message"].(string)
					src, _ := dm["source"].(string)
					if src != "" && m != "" {
						fields = append(fields, adapter.FieldError{Field: splitFieldPath(src), Message: m, Code: adapter.CodeBadUserInput})
					}
				}
			}
		}
	}
	if len(msgs) == 0 {
		for _, k := range []string{"message", "reason", "error_description"} {
			if s, ok := obj[k].(string); ok && s != "" {
				msgs = append(msgs, s)
				break
			}
		}
	}
	if len(fields) == 0 {
		if s, ok := obj["fields"].(string); ok && s != "" && len(msgs) > 0 {
			fields = append(fields, adapter.FieldError{Field: splitFieldPath(s), Message: msgs[0], Code: adapter.CodeBadUserInput})
		}
	}
	return clean(strings.Join(msgs, "; ")), fields
}

// errorsValue flattens the value of an "errors" key: a string, a list of
// strings or objects, or a Rails-style map of field to messages (nested maps
// extend the field path).
func errorsValue(v any, path []string) ([]string, []adapter.FieldError) {
	switch x := v.(type) {
	case string:
		if len(path) > 0 {
			return []string{fieldMessage(path, x)}, []adapter.FieldError{{Field: slices.Clone(path), Message: x, Code: adapter.CodeBadUserInput}}
		}
		return []string{x}, nil
	case []any:
		var msgs []string
		var fields []adapter.FieldError
		for _, it := range x {
			if m, ok := it.(map[string]any); ok && len(path) == 0 {
				msg, _ := m["message"].(string)
				field, _ := m["field"].(string)
				if field == "" {
					field, _ = m["source"].(string)
				}
				if msg == "" {
					sub, subf := errorsValue(m, path)
					msgs, fields = append(msgs, sub...), append(fields, subf...)
					continue
				}
				if field != "" {
					fields = append(fields, adapter.FieldError{Field: splitFieldPath(field), Message: msg, Code: adapter.CodeBadUserInput})
					msg = fieldMessage(splitFieldPath(field), msg)
				}
				msgs = append(msgs, msg)
				continue
			}
			m, f := errorsValue(it, path)
			msgs, fields = append(msgs, m...), append(fields, f...)
		}
		return msgs, fields
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var msgs []string
		var fields []adapter.FieldError
		for _, k := range keys {
			p := append(slices.Clone(path), splitFieldPath(k)...)
			m, f := errorsValue(x[k], p)
			msgs, fields = append(msgs, m...), append(fields, f...)
		}
		return msgs, fields
	case json.Number:
		return errorsValue(x.String(), path)
	}
	return nil, nil
}

func fieldMessage(path []string, msg string) string {
	return strings.Join(path, ".") + " " + msg
}

// splitFieldPath turns "question.body" or "question[body]" into its parts.
func splitFieldPath(s string) []string {
	s = strings.NewReplacer("[", ".", "]", "").Replace(s)
	var out []string
	for p := range strings.SplitSeq(s, ".") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

var secretLike = regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+|eyJ[A-Za-z0-9._-]{10,}`)

// clean makes an upstream message safe and short for clients: one line, no
// bearer tokens or JWTs, bounded length.
func clean(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = secretLike.ReplaceAllString(s, "${1}[redacted]")
	if len(s) > maxMessage {
		s = s[:maxMessage] + "…"
	}
	return s
}

func asAdapterError(err error, target **adapter.Error) bool { return errors.As(err, target) }

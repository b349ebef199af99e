package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"procoregraph/adapter"
	"procoregraph/adapter/rest"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestProcoreDriftIsDetected injects each kind of schema drift into the
// sandbox's responses, reads through the adapter with a Drift configured as
// the gateway would (one per process, every read inspected here), and checks
// that the reads still answer (UNKNOWN enums, zero values where the drift
// hit), that procoregraph_procore_drift_total counts each finding once per
// response, that GET /debug/procore/drift lists exactly the injected
// findings, and that each was logged once, without values.
func TestProcoreDriftIsDetected(t *testing.T) {
	sb, _ := startSandbox(t, sandbox.Config{Seed: 11, Data: data.Options{Companies: 1, ProjectsPerCompany: 1,
		ItemsPerProject: 12, CommitmentsPerProject: 6}})
	var companyID, projectID int64
	var rfiIDs []int64
	kinds := map[string]int{}
	sb.ReadDataset(func(ds *data.Dataset) {
		companyID, projectID = ds.Companies[0].ID, ds.Projects[0].ID
		for _, r := range ds.Projects[0].RFIs {
			rfiIDs = append(rfiIDs, r.ID)
		}
		for _, c := range ds.Projects[0].Commitments {
			kinds[c.Kind]++
		}
	})
	if kinds[data.WorkOrder] == 0 || kinds[data.PurchaseOrder] == 0 || len(rfiIDs) < 2 {
		t.Fatalf("dataset lacks the items the test needs: %v commitments, %d RFIs", kinds, len(rfiIDs))
	}

	sb.SetFaults(sandbox.Faults{Drift: sandbox.Drift{Rules: []sandbox.DriftRule{
		{Resource: "rfis", Kind: sandbox.DriftRenameField, Field: "subject", Value: json.RawMessage(`"subject_line"`)},
		{Resource: "rfis", Kind: sandbox.DriftUnknownEnum, Field: "status", Value: json.RawMessage(`"in_design_review"`)},
		{Resource: "rfis", Kind: sandbox.DriftUnknownEnum, Field: "cost_impact.status", Value: json.RawMessage(`"pending_estimate"`)},
		{Resource: "commitments", Kind: sandbox.DriftChangeType, Field: "grand_total"},                                  // "123.00" -> {"value":"123.00"}
		{Resource: "requisitions", Kind: sandbox.DriftChangeType, Field: "number", Value: json.RawMessage(`{"seq":1}`)}, // 1 -> {"seq":1}
		{Resource: "punch_items", Kind: sandbox.DriftAddField, Field: "carbon_rating", Value: json.RawMessage(`{"score":3}`)},
	}}})

	logs := &driftLogs{}
	drift := rest.NewDrift(rest.DriftOptions{SampleEvery: 1, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	client, err := rest.New(rest.Config{APIURL: sb.URL, ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret,
		CompanyID: companyID, Logger: slog.New(slog.NewTextHandler(logs, nil)), Drift: drift})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.CloseIdleConnections)
	reg := prometheus.NewRegistry()
	reg.MustRegister(drift)
	mux := http.NewServeMux()
	mux.Handle("GET /debug/procore/drift", drift)
	debug := httptest.NewServer(mux)
	t.Cleanup(debug.Close)

	ctx := context.Background()
	read := func() {
		t.Helper()
		rfis, err := client.RFIs(ctx, projectID, adapter.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		one, err := client.RFI(ctx, projectID, rfiIDs[1])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range append(rfis.Items, one) {
			if r.Status != adapter.RFIStatusUnknown || r.Subject != "" || r.CostImpact == nil || r.CostImpact.Status != adapter.ImpactUnknown || r.ID == 0 {
				t.Fatalf("RFI %d: status %s, subject %q, cost impact %+v; want UNKNOWN, \"\" and UNKNOWN", r.ID, r.Status, r.Subject, r.CostImpact)
			}
		}
		cms, err := client.Commitments(ctx, projectID, adapter.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cms.Items {
			if !c.GrandTotal.IsZero() || c.Number == "" {
				t.Fatalf("commitment %d: grand total %s, number %q; want 0 and the number", c.ID, c.GrandTotal, c.Number)
			}
		}
		invs, err := client.Invoices(ctx, projectID, adapter.InvoiceFilter{}, adapter.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(invs.Items) == 0 {
			t.Fatal("no invoices")
		}
		for _, inv := range invs.Items {
			if inv.Number != 0 || inv.Status == adapter.InvoiceUnknown {
				t.Fatalf("invoice %d: number %d, status %s; want 0 and a known status", inv.ID, inv.Number, inv.Status)
			}
		}
		punch, err := client.PunchItems(ctx, projectID, adapter.ListOptions{})
		if err != nil || len(punch.Items) == 0 {
			t.Fatalf("%d punch items: %v", len(punch.Items), err)
		}
	}
	read()
	read() // counted again, listed and logged once

	// What was injected, as findings: each in every inspected response of
	// its operation (the lists are one page each).
	type finding struct{ op, kind, field string }
	want := []finding{
		{"get RFI", "missing_field", "subject"}, {"get RFI", "unknown_enum", "cost_impact.status"},
		{"get RFI", "unknown_enum", "status"}, {"get RFI", "unknown_field", "subject_line"},
		{"list RFIs", "missing_field", "subject"}, {"list RFIs", "unknown_enum", "cost_impact.status"},
		{"list RFIs", "unknown_enum", "status"}, {"list RFIs", "unknown_field", "subject_line"},
		{"list invoices", "changed_type", "number"},
		{"list punch items", "unknown_field", "carbon_rating"},
		{"list purchase orders", "changed_type", "grand_total"},
		{"list subcontracts", "changed_type", "grand_total"},
	}

	var snap rest.DriftSnapshot
	resp, err := http.Get(debug.URL + "/debug/procore/drift")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("debug endpoint: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}

	t.Run("Listed", func(t *testing.T) {
		var got []finding
		for _, f := range snap.Findings {
			got = append(got, finding{f.Operation, string(f.Kind), f.Field})
			if inspected := snap.Inspected[f.Operation]; f.Count != inspected || inspected < 2 {
				t.Errorf("%+v: count %d, want one per inspected response (%d)", f, f.Count, inspected)
			}
			if f.FirstSeen.IsZero() || f.LastSeen.Before(f.FirstSeen) || !strings.HasPrefix(f.Route, "/rest/") {
				t.Errorf("%+v: times or route", f)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("listed\n%v\nwant exactly\n%v", got, want)
		}
	})
	t.Run("Counted", func(t *testing.T) {
		perKind := map[[2]string]float64{}
		for _, f := range want {
			perKind[[2]string{f.op, f.kind}] += float64(snap.Inspected[f.op])
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[[2]string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "procoregraph_procore_drift_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				var op, kind string
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "operation":
						op = l.GetValue()
					case "kind":
						kind = l.GetValue()
					}
				}
				got[[2]string{op, kind}] = m.GetCounter().GetValue()
			}
		}
		if len(got) != len(perKind) {
			t.Errorf("series %v, want %v", got, perKind)
		}
		for k, v := range perKind {
			if got[k] != v {
				t.Errorf("procoregraph_procore_drift_total{operation=%q,kind=%q} = %v, want %v", k[0], k[1], got[k], v)
			}
		}
		// e.g. list RFIs: two unknown enum fields per response.
		if v := got[[2]string{"list RFIs", "unknown_enum"}]; v != 2*float64(snap.Inspected["list RFIs"]) {
			t.Errorf("list RFIs unknown_enum %v", v)
		}
	})
	t.Run("LoggedOnceWithoutValues", func(t *testing.T) {
		text := logs.String()
		for _, f := range want {
			line := "operation=\"" + f.op + "\" kind=" + f.kind + " field=" + f.field + " "
			if n := strings.Count(text, line); n != 1 {
				t.Errorf("%+v logged %d times, want once", f, n)
			}
		}
		if n := strings.Count(text, "procore response drift"); n != len(want) {
			t.Errorf("%d drift logs, want %d", n, len(want))
		}
		for _, v := range []string{"in_design_review", "pending_estimate", "seq", "score"} {
			if strings.Contains(text, v) {
				t.Errorf("the log carries the response value %q", v)
			}
		}
	})
}

// driftLogs is a goroutine-safe log sink.
type driftLogs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *driftLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *driftLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestGatewayReportsProcoreDrift: the server wires one Drift into its Procore
// client, so an unknown RFI status from Procore is answered as UNKNOWN and
// shows in the gateway's /metrics and on its debug listener's
// /debug/procore/drift (and nowhere on the public listener).
func TestGatewayReportsProcoreDrift(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Seed: 12, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 3}})
	var projectID int64
	sb.ReadDataset(func(ds *data.Dataset) { projectID = ds.Projects[0].ID })
	sb.SetFaults(sandbox.Faults{Drift: sandbox.Drift{Rules: []sandbox.DriftRule{
		{Resource: "rfis", Kind: sandbox.DriftUnknownEnum, Field: "status", Value: json.RawMessage(`"in_design_review"`)},
	}}})
	g := startGateway(t, copyEnv(env), "-debug-addr", "127.0.0.1:0")
	r := g.query(t, `query($p: ID!) { project(id: $p) { rfis { nodes { id status } } } }`, map[string]any{"p": strconv.FormatInt(projectID, 10)})
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %s", r.Errors)
	}
	var out struct {
		Project struct {
			RFIs struct {
				Nodes []struct{ ID, Status string }
			}
		}
	}
	if err := json.Unmarshal(r.Data, &out); err != nil || len(out.Project.RFIs.Nodes) == 0 {
		t.Fatalf("answer %s: %v", r.Data, err)
	}
	for _, n := range out.Project.RFIs.Nodes {
		if n.Status != "UNKNOWN" {
			t.Fatalf("RFI %s status %s, want UNKNOWN", n.ID, n.Status)
		}
	}

	resp, err := http.Get(g.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	series := regexp.MustCompile(`(?m)^procoregraph_procore_drift_total\{kind="unknown_enum",operation="list RFIs"\} (\d+)$`).FindSubmatch(body)
	if series == nil || string(series[1]) == "0" {
		t.Fatalf("no drift counted in /metrics:\n%s", grepLines(string(body), "procoregraph_procore_drift"))
	}

	if resp, err := http.Get(g.URL + "/debug/procore/drift"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("the drift list is served on the public listener")
		}
	}
	resp, err = http.Get("http://" + debugAddr(t, g) + "/debug/procore/drift")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap rest.DriftSnapshot
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range snap.Findings {
		if f.Operation == "list RFIs" && f.Kind == rest.DriftUnknownEnum && f.Field == "status" {
			found = true
		}
	}
	if !found {
		t.Fatalf("debug listing %+v lacks list RFIs unknown_enum status", snap.Findings)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"procoregraph/adapter"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// rfiItem is a clean RFI list item, changed by mod, as a one-item page.
func rfiPage(mod func(m map[string]any)) string {
	m := map[string]any{"id": 1, "number": "1", "subject": "Beam size", "status": "open",
		"created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-01-02T03:04:05Z",
		"cost_impact": map[string]any{"status": "yes_known", "value": "100.00"},
		"questions":   []any{map[string]any{"id": 2, "body": "q", "answers": []any{map[string]any{"id": 3, "body": "a"}}}}}
	if mod != nil {
		mod(m)
	}
	b, _ := json.Marshal([]any{m})
	return string(b)
}

func commitmentPage(status string, grandTotal any) string {
	b, _ := json.Marshal([]any{map[string]any{"id": 9, "number": "SC-001", "title": "Steel", "status": status,
		"grand_total": grandTotal, "created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-01-02T03:04:05Z"}})
	return string(b)
}

func testRoute() string { return "/rest/v1.0/projects/{id}/rfis" }

// findings lists a Drift's findings as "operation kind field".
func findings(d *Drift) []string {
	var out []string
	for _, f := range d.Snapshot().Findings {
		out = append(out, f.Operation+" "+string(f.Kind)+" "+f.Field)
	}
	return out
}

func TestDriftFindsEachKind(t *testing.T) {
	for _, tc := range []struct {
		name, op, body string
		want           []string // "kind field", operation omitted
	}{
		{"CleanItemHasNoDrift", "list RFIs", rfiPage(nil), nil},
		{"UnknownFieldIsFound", "list RFIs", rfiPage(func(m map[string]any) { m["sustainability_score"] = 3 }),
			[]string{"unknown_field sustainability_score"}},
		{"NestedUnknownFieldHasItsPath", "list RFIs", rfiPage(func(m map[string]any) {
			m["questions"] = []any{map[string]any{"id": 2, "answers": []any{map[string]any{"id": 3, "mood": "calm"}}}}
		}), []string{"unknown_field questions[].answers[].mood"}},
		{"UnknownEnumIsFound", "list RFIs", rfiPage(func(m map[string]any) { m["status"] = "in_design_review" }),
			[]string{"unknown_enum status"}},
		{"KnownEnumSpellingsAreNotDrift", "list RFIs", rfiPage(func(m map[string]any) { m["status"] = "Closed" }), nil},
		{"NestedUnknownEnumIsFound", "list RFIs", rfiPage(func(m map[string]any) {
			m["cost_impact"] = map[string]any{"status": "pending_estimate", "value": nil}
		}), []string{"unknown_enum cost_impact.status"}},
		{"BareImpactStatusIsChecked", "list RFIs", rfiPage(func(m map[string]any) { m["cost_impact"] = "pending_estimate" }),
			[]string{"unknown_enum cost_impact"}},
		{"BareKnownImpactStatusIsNotDrift", "list RFIs", rfiPage(func(m map[string]any) { m["schedule_impact"] = "n/a" }), nil},
		{"MissingFieldIsFound", "list RFIs", rfiPage(func(m map[string]any) { delete(m, "subject") }),
			[]string{"missing_field subject"}},
		{"NullIsNotMissing", "list RFIs", rfiPage(func(m map[string]any) { m["subject"], m["number"] = nil, nil }), nil},
		{"OptionalFieldAbsentIsNotMissing", "list RFIs", rfiPage(func(m map[string]any) { delete(m, "due_date"); delete(m, "questions") }), nil},
		{"ObjectForTextIsChangedType", "list RFIs", rfiPage(func(m map[string]any) { m["subject"] = map[string]any{"text": "x"} }),
			[]string{"changed_type subject"}},
		{"ArrayForObjectIsChangedType", "list RFIs", rfiPage(func(m map[string]any) { m["cost_code"] = []any{1, 2} }),
			[]string{"changed_type cost_code"}},
		{"TextForListIsChangedType", "list RFIs", rfiPage(func(m map[string]any) { m["questions"] = "none" }),
			[]string{"changed_type questions"}},
		{"NumberBecomingObjectIsChangedType", "list subcontracts", commitmentPage("Approved", map[string]any{"amount": "5.00"}),
			[]string{"changed_type grand_total"}},
		{"ToleratedShapesAreNotDrift", "list RFIs", rfiPage(func(m map[string]any) {
			m["id"] = "1"                                // ids as strings
			m["assignee"] = 5                            // a bare person id
			m["ball_in_court"] = map[string]any{"id": 5} // one person for a list
			m["draft"] = "yes"                           // bools as text
			m["cost_code"] = "01-100"                    // a bare cost code
			m["due_date"] = "2024-05-06T00:00:00Z"       // a timestamp for a date
		}), nil},
		{"DocumentedFieldsAreNotDrift", "list RFIs", rfiPage(func(m map[string]any) {
			m["translated_status"], m["origin_id"], m["custom_fields"] = "Open", nil, map[string]any{}
		}), nil},
		{"EachKindOnceForAWholePage", "list RFIs", `[` + strings.Repeat(`{"id":1,"number":"1","subject":"s","status":"draft","created_at":null,"updated_at":null,"new_flag":true},`, 99) +
			`{"id":2,"number":"2","subject":"s","status":"bogus","new_flag":true}]`,
			[]string{"missing_field created_at", "missing_field updated_at", "unknown_enum status", "unknown_field new_flag"}},
		{"ObservationNumericStatusIsKnown", "list observations",
			`[{"id":1,"name":"n","status":2,"created_at":null,"updated_at":null}]`, nil},
		{"ObservationUnknownStatusIsFound", "list observations",
			`[{"id":1,"name":"n","status":"in_review","created_at":null,"updated_at":null}]`, []string{"unknown_enum status"}},
		{"CommitmentEnumUsesTheAdaptersSpellings", "list subcontracts", commitmentPage("Out For Bid", "1.00"), nil},
		{"CommitmentUnknownStatusIsFound", "list subcontracts", commitmentPage("Under Negotiation", 1), []string{"unknown_enum status"}},
		{"EnvelopeIsUnwrapped", "list RFIs", `{"data":` + rfiPage(func(m map[string]any) { m["v2_only"] = 1 }) + `}`,
			[]string{"unknown_field v2_only"}},
		{"ShowResponseIsAnObject", "get RFI", strings.TrimSuffix(strings.TrimPrefix(rfiPage(func(m map[string]any) { m["v3"] = 1 }), "["), "]"),
			[]string{"unknown_field v3"}},
		{"BudgetRowColumnsAreNotDrift", "list budget rows", `[{"id":1,"revised_budget":"1.00","any_column":"2"}]`, nil},
		{"ABodyOfTheWrongTypeIsChangedType", "list RFIs", `"maintenance"`, []string{"changed_type "}},
		{"MalformedJSONEndsQuietly", "list RFIs", `[{"id":1,"subject":`, nil},
		{"EscapedNamesAreRead", "list RFIs", strings.Replace(rfiPage(nil), `"subject"`, `"sub\u006aect"`, 1), nil},
		{"UnknownOperationIsNotInspected", "list sprockets", rfiPage(func(m map[string]any) { m["x"] = 1 }), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDrift(DriftOptions{SampleEvery: 1, Logger: quietLogger()})
			body := []byte(tc.body)
			d.observe(tc.op, testRoute, body)
			if string(body) != tc.body {
				t.Fatal("the inspection changed the body, which is decoded next")
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, tc.op+" "+w)
			}
			if got := findings(d); !slices.Equal(got, want) {
				t.Fatalf("findings\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// TestDriftDecodingStaysTolerant: the drifted bodies above still decode,
// with UNKNOWN enums and zero values where the drift hit.
func TestDriftDecodingStaysTolerant(t *testing.T) {
	var rfis []wireRFI
	body := rfiPage(func(m map[string]any) {
		m["status"] = "in_design_review"
		m["subject"] = map[string]any{"text": "x"}
		m["cost_impact"] = map[string]any{"status": "pending_estimate"}
		m["new_flag"] = true
	})
	if ok, err := decodeListEasy([]byte(body), &rfis); !ok || err != nil || len(rfis) != 1 {
		t.Fatalf("decoded %d RFIs: %v", len(rfis), err)
	}
	r := rfis[0].rfi(1)
	if r.Status != adapter.RFIStatusUnknown || r.Subject != "" || r.CostImpact == nil || r.CostImpact.Status != adapter.ImpactUnknown {
		t.Fatalf("decoded %+v", r)
	}
	var cms []wireCommitment
	if ok, err := decodeListEasy([]byte(commitmentPage("Under Negotiation", map[string]any{"amount": "5"})), &cms); !ok || err != nil {
		t.Fatal(err)
	}
	if c := cms[0].commitment(1, adapter.CommitmentSubcontract); c.Status != adapter.CommitmentUnknown || !c.GrandTotal.IsZero() {
		t.Fatalf("decoded %+v", c)
	}
}

// logRecorder keeps the records a slog.Logger receives.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// warnings returns the Warn records as "message k=v k=v".
func (l *logRecorder) warnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Level != slog.LevelWarn {
			continue
		}
		s := r.Message
		r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
		out = append(out, s)
	}
	return out
}

// metric returns the value of a drift counter with the given labels.
func metric(t testing.TB, c prometheus.Collector, name string, labels map[string]string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func driftTotal(t testing.TB, d *Drift, op string, kind DriftKind) float64 {
	return metric(t, d, "procoregraph_procore_drift_total", map[string]string{"operation": op, "kind": string(kind)})
}

func TestDriftCountsLogsOnceAndLists(t *testing.T) {
	logs := &logRecorder{}
	clock := newFakeClock()
	t0 := clock.Now()
	d := NewDrift(DriftOptions{SampleEvery: 1, Logger: slog.New(logs), Clock: clock})
	body := []byte(rfiPage(func(m map[string]any) { m["status"] = "in_design_review"; m["secret_note"] = "do not log me" }))
	for range 3 {
		d.observe("list RFIs", testRoute, body)
		clock.Advance(time.Second)
	}
	d.observe("get RFI", func() string { return "/rest/v1.0/projects/{id}/rfis/{id}" }, []byte(`{"id":1,"number":"1","status":"in_design_review","subject":"s","created_at":null,"updated_at":null}`))

	t.Run("Counted", func(t *testing.T) {
		for _, c := range []struct {
			op   string
			kind DriftKind
			want float64
		}{{"list RFIs", DriftUnknownEnum, 3}, {"list RFIs", DriftUnknownField, 3}, {"get RFI", DriftUnknownEnum, 1},
			{"get RFI", DriftUnknownField, 0}, {"list RFIs", DriftMissingField, 0}} {
			if got := driftTotal(t, d, c.op, c.kind); got != c.want {
				t.Errorf("drift_total{%s,%s} = %v, want %v", c.op, c.kind, got, c.want)
			}
		}
		if got := metric(t, d, "procoregraph_procore_drift_inspected_total", map[string]string{"operation": "list RFIs"}); got != 3 {
			t.Errorf("inspected_total = %v, want 3", got)
		}
	})
	t.Run("LoggedOncePerOperationKindAndField", func(t *testing.T) {
		got := logs.warnings()
		want := []string{
			"procore response drift operation=list RFIs kind=unknown_enum field=status route=/rest/v1.0/projects/{id}/rfis",
			"procore response drift operation=list RFIs kind=unknown_field field=secret_note route=/rest/v1.0/projects/{id}/rfis",
			"procore response drift operation=get RFI kind=unknown_enum field=status route=/rest/v1.0/projects/{id}/rfis/{id}",
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("logs\n%q\nwant\n%q", got, want)
		}
		for _, l := range got {
			if strings.Contains(l, "in_design_review") || strings.Contains(l, "do not log me") {
				t.Fatalf("a log carries a response value: %s", l)
			}
		}
	})
	t.Run("Listed", func(t *testing.T) {
		s := d.Snapshot()
		if s.SampleEvery != 1 || s.Inspected["list RFIs"] != 3 || s.Inspected["get RFI"] != 1 || s.Dropped != 0 {
			t.Fatalf("snapshot %+v", s)
		}
		want := []DriftFinding{
			{Operation: "get RFI", Kind: DriftUnknownEnum, Field: "status", Route: "/rest/v1.0/projects/{id}/rfis/{id}", FirstSeen: t0.Add(3 * time.Second), LastSeen: t0.Add(3 * time.Second), Count: 1},
			{Operation: "list RFIs", Kind: DriftUnknownEnum, Field: "status", Route: testRoute(), FirstSeen: t0, LastSeen: t0.Add(2 * time.Second), Count: 3},
			{Operation: "list RFIs", Kind: DriftUnknownField, Field: "secret_note", Route: testRoute(), FirstSeen: t0, LastSeen: t0.Add(2 * time.Second), Count: 3},
		}
		if !slices.Equal(s.Findings, want) {
			t.Fatalf("findings\n%+v\nwant\n%+v", s.Findings, want)
		}
	})
	t.Run("ServedAsJSON", func(t *testing.T) {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/procore/drift", nil))
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%d %s", rec.Code, rec.Header().Get("Content-Type"))
		}
		var got struct {
			SampleEvery int              `json:"sampleEvery"`
			Inspected   map[string]int64 `json:"inspected"`
			Findings    []map[string]any `json:"findings"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Findings) != 3 || got.Findings[1]["operation"] != "list RFIs" || got.Findings[1]["kind"] != "unknown_enum" ||
			got.Findings[1]["field"] != "status" || got.Findings[1]["count"] != 3.0 || got.Findings[1]["firstSeen"] != t0.Format(time.RFC3339) {
			t.Fatalf("served %s", rec.Body)
		}
		if strings.Contains(rec.Body.String(), "in_design_review") {
			t.Fatal("the list carries a response value")
		}
		rec = httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/debug/procore/drift", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("POST: %d", rec.Code)
		}
	})
}

func TestDriftSamplesTheFirstResponseThenEveryNth(t *testing.T) {
	d := NewDrift(DriftOptions{SampleEvery: 4, Logger: quietLogger()})
	body := []byte(rfiPage(func(m map[string]any) { m["new"] = 1 }))
	for range 9 {
		d.observe("list RFIs", testRoute, body)
	}
	d.observe("get RFI", testRoute, []byte(`{"id":1,"number":"1","subject":"s","status":"open","created_at":null,"updated_at":null,"new":1}`))
	// list RFIs: responses 1, 5 and 9; get RFI: its first.
	if s := d.Snapshot(); s.Inspected["list RFIs"] != 3 || s.Inspected["get RFI"] != 1 {
		t.Fatalf("inspected %v", s.Inspected)
	}
	if got := driftTotal(t, d, "list RFIs", DriftUnknownField); got != 3 {
		t.Fatalf("counted %v, want 3", got)
	}
	if d := NewDrift(DriftOptions{}); d.every != DefaultDriftSampleEvery {
		t.Fatalf("default SampleEvery %d", d.every)
	}
}

func TestDriftListIsBoundedButCountingGoesOn(t *testing.T) {
	logs := &logRecorder{}
	d := NewDrift(DriftOptions{SampleEvery: 1, MaxFindings: 2, Logger: slog.New(logs)})
	body := []byte(rfiPage(func(m map[string]any) { m["a"], m["b"], m["c"] = 1, 2, 3 }))
	d.observe("list RFIs", testRoute, body)
	d.observe("list RFIs", testRoute, body)
	s := d.Snapshot()
	if len(s.Findings) != 2 || s.Dropped != 2 {
		t.Fatalf("%d listed, %d dropped", len(s.Findings), s.Dropped)
	}
	if got := driftTotal(t, d, "list RFIs", DriftUnknownField); got != 6 {
		t.Fatalf("counted %v, want 6", got)
	}
	if w := logs.warnings(); len(w) != 3 || !strings.Contains(w[2], "too many distinct findings") {
		t.Fatalf("logs %q", w)
	}
}

func TestDriftIsSafeForConcurrentUse(t *testing.T) {
	d := NewDrift(DriftOptions{SampleEvery: 1, Logger: quietLogger()})
	body := []byte(rfiPage(func(m map[string]any) { m["status"] = "bogus" }))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				d.observe("list RFIs", testRoute, body)
				_ = d.Snapshot()
			}
		})
	}
	wg.Wait()
	if got := driftTotal(t, d, "list RFIs", DriftUnknownEnum); got != 800 {
		t.Fatalf("counted %v, want 800", got)
	}
	if f := d.Snapshot().Findings; len(f) != 1 || f[0].Count != 800 {
		t.Fatalf("findings %+v", f)
	}
}

func TestNilDriftDetectsNothing(t *testing.T) {
	var d *Drift
	d.observe("list RFIs", testRoute, []byte(rfiPage(nil)))
}

// readEverything makes every read the adapter has (and the webhook reads)
// once against the e2e sandbox.
func readEverything(t *testing.T, e *e2e) {
	t.Helper()
	ctx := context.Background()
	c, cid, pid := e.client, e.companyID, e.projectID
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err := c.Me(ctx)
	must("Me", err)
	_, err = c.Companies(ctx)
	must("Companies", err)
	_, err = c.Projects(ctx, cid, adapter.ProjectFilter{}, adapter.ListOptions{})
	must("Projects", err)
	_, err = c.Project(ctx, cid, pid)
	must("Project", err)
	users, err := c.CompanyUsers(ctx, cid, adapter.ListOptions{})
	must("CompanyUsers", err)
	if len(users.Items) > 0 {
		_, err = c.CompanyUsers(ctx, cid, adapter.ListOptions{IDs: []int64{users.Items[0].ID}})
		must("CompanyUsers by id", err)
	}
	_, err = c.ProjectUsers(ctx, pid, adapter.ListOptions{})
	must("ProjectUsers", err)
	_, err = c.CompanyVendors(ctx, cid, adapter.ListOptions{})
	must("CompanyVendors", err)
	_, err = c.ProjectVendors(ctx, pid, adapter.ListOptions{})
	must("ProjectVendors", err)
	_, err = c.CostCodes(ctx, pid, adapter.ListOptions{})
	must("CostCodes", err)
	rfis, err := c.RFIs(ctx, pid, adapter.ListOptions{})
	must("RFIs", err)
	for _, r := range rfis.Items[:min(3, len(rfis.Items))] {
		_, err = c.RFI(ctx, pid, r.ID)
		must("RFI", err)
	}
	subs, err := c.Submittals(ctx, pid, adapter.ListOptions{})
	must("Submittals", err)
	for _, s := range subs.Items[:min(3, len(subs.Items))] {
		_, err = c.Submittal(ctx, pid, s.ID)
		must("Submittal", err)
	}
	_, err = c.SubmittalStatuses(ctx, cid)
	must("SubmittalStatuses", err)
	_, err = c.SubmittalResponses(ctx, pid)
	must("SubmittalResponses", err)
	cms, err := c.Commitments(ctx, pid, adapter.ListOptions{})
	must("Commitments", err)
	for _, x := range cms.Items[:min(4, len(cms.Items))] {
		_, err = c.Commitment(ctx, pid, x.Kind, x.ID)
		must("Commitment", err)
	}
	_, err = c.ChangeOrders(ctx, pid, nil)
	must("ChangeOrders", err)
	invs, err := c.Invoices(ctx, pid, adapter.InvoiceFilter{}, adapter.ListOptions{})
	must("Invoices", err)
	for _, x := range invs.Items[:min(3, len(invs.Items))] {
		_, err = c.Invoice(ctx, pid, x.ID)
		must("Invoice", err)
	}
	_, err = c.BillingPeriods(ctx, pid)
	must("BillingPeriods", err)
	views, err := c.BudgetViews(ctx, pid)
	must("BudgetViews", err)
	for _, v := range views {
		_, err = c.BudgetRows(ctx, pid, v.ID)
		must("BudgetRows", err)
	}
	today := adapter.DateOf(time.Now())
	_, err = c.DailyLogs(ctx, pid, adapter.DateRange{From: adapter.DateOf(time.Now().AddDate(-2, 0, 0)), To: today})
	must("DailyLogs", err)
	_, err = c.Observations(ctx, pid, adapter.ListOptions{})
	must("Observations", err)
	_, err = c.PunchItems(ctx, pid, adapter.ListOptions{})
	must("PunchItems", err)
	pcs, err := c.PrimeContracts(ctx, pid)
	must("PrimeContracts", err)
	for _, x := range pcs {
		_, err = c.PaymentApplications(ctx, pid, x.ID)
		must("PaymentApplications", err)
		_, err = c.PrimeContractPending(ctx, pid, x.ID)
		must("PrimeContractPending", err)
		_, err = c.PrimeContractLines(ctx, pid, x.ID)
		must("PrimeContractLines", err)
	}
	hook, err := c.CreateWebhookHook(ctx, cid, adapter.WebhookHookInput{Namespace: "drift-test", DestinationURL: "https://example.com/hook"})
	must("CreateWebhookHook", err)
	_, err = c.WebhookHooks(ctx, cid, "")
	must("WebhookHooks", err)
	_, err = c.CreateWebhookTrigger(ctx, cid, hook.ID, "RFIs", "update")
	must("CreateWebhookTrigger", err)
	_, err = c.WebhookTriggers(ctx, cid, hook.ID)
	must("WebhookTriggers", err)
}

// TestDriftBaselineIsClean: every read of the undrifted sandbox (which
// renders Procore's documented fields) is inspected and shows no drift, so
// every finding is real and every read operation has a schema.
func TestDriftBaselineIsClean(t *testing.T) {
	d := NewDrift(DriftOptions{SampleEvery: 1, Logger: quietLogger()})
	e := startE2E(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 20}},
		func(c *Config) { c.Drift = d })
	readEverything(t, e)
	if f := findings(d); len(f) > 0 {
		t.Errorf("drift in the undrifted sandbox:\n%s", strings.Join(f, "\n"))
	}
	d.mu.Lock()
	unmapped := slices.Sorted(func(yield func(string) bool) {
		for op := range d.unmapped {
			if !yield(op) {
				return
			}
		}
	})
	d.mu.Unlock()
	if len(unmapped) > 0 {
		t.Errorf("reads without a schema in driftRoots (not inspected): %q", unmapped)
	}
	s := d.Snapshot()
	for op := range driftRoots {
		if s.Inspected[op] == 0 {
			t.Errorf("driftRoots has %q, which no read used (renamed?)", op)
		}
	}
}

// TestDriftSandboxFaultsAreDetected: the sandbox's standing drift switches
// are found, and its "optional" missing fields are not missing_field.
func TestDriftSandboxFaultsAreDetected(t *testing.T) {
	d := NewDrift(DriftOptions{SampleEvery: 1, Logger: quietLogger()})
	e := startE2E(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 20},
		Faults: sandbox.Faults{Drift: sandbox.Drift{ExtraFields: true, MissingOptionalField: true, UnknownEnum: true}}},
		func(c *Config) { c.Drift = d })
	readEverything(t, e)
	got := findings(d)
	for _, want := range []string{
		"list RFIs unknown_field sandbox_unknown_field", "list RFIs unknown_field sandbox_unknown_object",
		"list RFIs unknown_field questions[].answers[].sandbox_unknown_field", "list RFIs unknown_enum status",
		"get RFI unknown_field cost_impact.sandbox_unknown_field",
		"list subcontracts unknown_enum status", "list invoices unknown_enum status", "list punch items unknown_enum status",
		"list observations unknown_enum status", "list projects unknown_field sandbox_unknown_field",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing finding %q", want)
		}
	}
	for _, f := range got {
		if strings.Contains(f, string(DriftMissingField)) || strings.Contains(f, string(DriftChangedType)) {
			t.Errorf("unexpected finding %q", f)
		}
	}
}

// BenchmarkDecodePageDrift measures decoding a 100-item page (easyjson) with
// no detection, with detection at the default sampling (the first response
// of an operation, then every 64th), and inspecting every response; and the
// inspection alone:
//
//	go test ./adapter/rest -run '^$' -bench DecodePageDrift -benchmem
func BenchmarkDecodePageDrift(b *testing.B) {
	pages := samplePages(b)
	for _, page := range []struct{ name, op string }{{"rfis", "list RFIs"}, {"submittals", "list submittals"},
		{"contracts", "list subcontracts"}, {"requisitions", "list invoices"}} {
		body := pages[page.name]
		b.Run(page.name+"/inspect-only", func(b *testing.B) {
			d := NewDrift(DriftOptions{SampleEvery: 1, Logger: quietLogger()})
			op := d.ops[page.op]
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				d.inspect(op, "/r", body)
			}
		})
		for _, mode := range []struct {
			name  string
			every int // 0: no detection
		}{{"off", 0}, {"sampled", DefaultDriftSampleEvery}, {"every", 1}} {
			b.Run(fmt.Sprintf("%s/%s", page.name, mode.name), func(b *testing.B) {
				var d *Drift
				if mode.every > 0 {
					d = NewDrift(DriftOptions{SampleEvery: mode.every, Logger: quietLogger()})
				}
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					d.observe(page.op, testRoute, body)
					n, err := decoders[page.name].easy(body)
					if err != nil || n == 0 {
						b.Fatalf("decoded %d items: %v", n, err)
					}
				}
				if d != nil && len(d.Snapshot().Findings) > 0 {
					b.Fatalf("drift in the sample page: %v", findings(d))
				}
			})
		}
	}
}

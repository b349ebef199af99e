package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"procoregraph/testwait"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"procoregraph/sandbox/auth"
)

const (
	companyA = int64(5_358_233_001)
	companyB = int64(5_358_233_002)
	projectA = int64(8_100_000_001)
	projectB = int64(8_100_000_002)
	userID   = int64(4_400_000_123)
)

// api is the Webhooks API over real HTTP, with a principal that sees companyA
// and companyB.
type api struct {
	t   *testing.T
	svc *Service
	srv *httptest.Server
}

func newAPI(t *testing.T, cfg Config) *api {
	t.Helper()
	svc := New(cfg)
	mux := http.NewServeMux()
	for pattern, h := range svc.Routes() {
		mux.HandleFunc(pattern, h)
	}
	p := auth.Principal{UserID: userID, ClientID: "test-client", TokenID: "tok", Kind: "client_credentials", CompanyIDs: []int64{companyA, companyB}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Anonymous") != "" {
			mux.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	}))
	t.Cleanup(func() { srv.Close(); svc.Close() })
	return &api{t: t, svc: svc, srv: srv}
}

// do sends a request as company (0: no Procore-Company-Id header) and decodes
// the JSON answer into out when out is not nil.
func (a *api) do(method, path string, company int64, body any, out any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if company != 0 {
		req.Header.Set("Procore-Company-Id", strconv.FormatInt(company, 10))
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: decoding %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// hook creates a hook (company scope when project is 0) with triggers given
// as "Resource Name/event", and returns its id.
func (a *api) hook(company, project int64, dest, authz string, triggers ...string) int64 {
	a.t.Helper()
	body := map[string]any{"hook": map[string]any{
		"api_version": "v2", "namespace": "procoregraph", "destination_url": dest,
		"destination_headers": map[string]string{"Authorization": authz},
	}}
	if project != 0 {
		body["project_id"] = project
	} else {
		body["company_id"] = company
	}
	var h hookJSON
	if status := a.do("POST", "/rest/v1.0/webhooks/hooks", company, body, &h); status != http.StatusCreated {
		a.t.Fatalf("create hook: status %d", status)
	}
	for _, tr := range triggers {
		name, event, _ := strings.Cut(tr, "/")
		tb := map[string]any{"company_id": company, "api_version": "v2", "trigger": map[string]string{"resource_name": name, "event_type": event}}
		if status := a.do("POST", fmt.Sprintf("/rest/v1.0/webhooks/hooks/%d/triggers", h.ID), company, tb, nil); status != http.StatusCreated {
			a.t.Fatalf("create trigger %s: status %d", tr, status)
		}
	}
	return h.ID
}

func (a *api) deliveries(company, hookID int64, query string) []deliveryJSON {
	a.t.Helper()
	var out []deliveryJSON
	if status := a.do("GET", fmt.Sprintf("/rest/v1.0/webhooks/hooks/%d/deliveries%s", hookID, query), company, nil, &out); status != http.StatusOK {
		a.t.Fatalf("deliveries: status %d", status)
	}
	return out
}

// receiver is a webhook destination recording every request.
type receiver struct {
	srv   *httptest.Server
	got   chan received
	calls atomic.Int64
}

type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

// newReceiver answers each request with status(n) for the n-th call (1-based).
func newReceiver(t *testing.T, status func(n int64) int) *receiver {
	t.Helper()
	rc := &receiver{got: make(chan received, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n := rc.calls.Add(1)
		rc.got <- received{header: r.Header.Clone(), body: b, at: time.Now()}
		w.WriteHeader(status(n))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func always(code int) func(int64) int { return func(int64) int { return code } }

func (rc *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook arrived within 5 s")
		return received{}
	}
}

// quiet asserts nothing else arrived.
func (rc *receiver) quiet(t *testing.T) {
	t.Helper()
	select {
	case r := <-rc.got:
		t.Fatalf("unexpected webhook: %s", r.body)
	default:
	}
}

type wirePayload struct {
	ID        json.Number `json:"id"`
	ULID      string      `json:"ulid"`
	Timestamp string      `json:"timestamp"`
	Metadata  struct {
		SourceUserID        *int64  `json:"source_user_id"`
		SourceProjectID     *int64  `json:"source_project_id"`
		SourceCompanyID     *int64  `json:"source_company_id"`
		SourceApplicationID *string `json:"source_application_id"`
		SourceOperationID   *int64  `json:"source_operation_id"`
	} `json:"metadata"`
	UserID       *int64 `json:"user_id"`
	CompanyID    *int64 `json:"company_id"`
	ProjectID    *int64 `json:"project_id"`
	APIVersion   string `json:"api_version"`
	EventType    string `json:"event_type"`
	ResourceName string `json:"resource_name"`
	ResourceID   int64  `json:"resource_id"`
}

func decodePayload(t *testing.T, b []byte) wirePayload {
	t.Helper()
	var p wirePayload
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&p); err != nil {
		t.Fatalf("payload %s: %v", b, err)
	}
	return p
}

func rfi(project, id int64, event string) Event {
	return Event{CompanyID: companyA, ProjectID: project, UserID: userID, ResourceName: "RFIs", ResourceID: id, EventType: event}
}

func TestDelivery(t *testing.T) {
	t.Run("ArrivesWithAuthorizationHeaderAndV2Payload", func(t *testing.T) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
		a := newAPI(t, Config{Seed: 7, Now: func() time.Time { return now }})
		rc := newReceiver(t, always(http.StatusOK))
		hookID := a.hook(companyA, 0, rc.srv.URL+"/webhooks/procore", "Bearer s3cret", "RFIs/update")

		e := rfi(projectA, 6_000_000_042, "update")
		e.ApplicationID = "test-client"
		a.svc.Emit(e)
		got := rc.next(t)

		if h := got.header.Get("Authorization"); h != "Bearer s3cret" {
			t.Errorf("Authorization = %q", h)
		}
		if ct := got.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		for k := range got.header {
			if strings.Contains(strings.ToLower(k), "signature") {
				t.Errorf("unexpected signature header %s", k)
			}
		}
		p := decodePayload(t, got.body)
		id, err := strconv.ParseInt(p.ID.String(), 10, 64)
		if err != nil || id <= 1<<53 {
			t.Errorf("id = %s, want an int64 above 2^53 (err %v)", p.ID, err)
		}
		if u, err := ulid.ParseStrict(p.ULID); err != nil || len(p.ULID) != 26 || u.Time() != ulid.Timestamp(now) {
			t.Errorf("ulid = %q (err %v), want a 26-char ULID at the injected time", p.ULID, err)
		}
		if p.Timestamp != "2026-01-02T03:04:05.123456Z" {
			t.Errorf("timestamp = %q, want microseconds UTC", p.Timestamp)
		}
		if p.APIVersion != "v2" || p.EventType != "update" || p.ResourceName != "RFIs" || p.ResourceID != 6_000_000_042 {
			t.Errorf("payload = %+v", p)
		}
		if p.CompanyID == nil || *p.CompanyID != companyA || p.ProjectID == nil || *p.ProjectID != projectA || p.UserID == nil || *p.UserID != userID {
			t.Errorf("scope ids = %v %v %v", p.CompanyID, p.ProjectID, p.UserID)
		}
		m := p.Metadata
		if m.SourceUserID == nil || *m.SourceUserID != userID || m.SourceCompanyID == nil || *m.SourceCompanyID != companyA ||
			m.SourceProjectID == nil || *m.SourceProjectID != projectA || m.SourceApplicationID == nil || *m.SourceApplicationID != "test-client" ||
			m.SourceOperationID == nil {
			t.Errorf("metadata = %+v", m)
		}

		var log []deliveryJSON
		testwait.For(t, "the delivery log", func() bool { log = a.deliveries(companyA, hookID, ""); return len(log) == 1 })
		if log[0].Outcome != outcomeOK || log[0].ResponseStatus == nil || *log[0].ResponseStatus != 200 || strconv.FormatInt(log[0].EventID, 10) != p.ID.String() {
			t.Errorf("delivery record = %+v", log[0])
		}
		if !bytes.Equal(log[0].Event, got.body) {
			t.Errorf("logged event %s differs from delivered %s", log[0].Event, got.body)
		}
	})

	t.Run("SameSeedGivesSameEventIdentity", func(t *testing.T) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		var bodies [2][]byte
		for i := range bodies {
			a := newAPI(t, Config{Seed: 42, Now: func() time.Time { return now }})
			rc := newReceiver(t, always(http.StatusOK))
			a.hook(companyA, 0, rc.srv.URL, "Bearer x", "RFIs/create")
			a.svc.Emit(rfi(projectA, 1, "create"))
			bodies[i] = rc.next(t).body
		}
		if !bytes.Equal(bodies[0], bodies[1]) {
			t.Errorf("same seed, different payloads:\n%s\n%s", bodies[0], bodies[1])
		}
	})

	t.Run("ForcedDuplicateArrivesTwiceWithSameID", func(t *testing.T) {
		a := newAPI(t, Config{Seed: 1, Duplicate: func() bool { return true }})
		rc := newReceiver(t, always(http.StatusOK))
		a.hook(companyA, 0, rc.srv.URL, "Bearer x", "RFIs/update")
		a.svc.Emit(rfi(projectA, 10, "update"))
		first, second := decodePayload(t, rc.next(t).body), decodePayload(t, rc.next(t).body)
		if first.ID != second.ID || first.ULID != second.ULID {
			t.Errorf("duplicate differs: %s/%s vs %s/%s", first.ID, first.ULID, second.ID, second.ULID)
		}
	})

	t.Run("ReorderDeliversHeldEventAfterTheNext", func(t *testing.T) {
		var calls atomic.Int64
		a := newAPI(t, Config{Seed: 1, ReorderHold: time.Minute, Reorder: func() bool { return calls.Add(1) == 1 }})
		rc := newReceiver(t, always(http.StatusOK))
		a.hook(companyA, 0, rc.srv.URL, "Bearer x", "RFIs/update")
		a.svc.Emit(rfi(projectA, 1, "update"))
		a.svc.Emit(rfi(projectA, 2, "update"))
		first, second := decodePayload(t, rc.next(t).body), decodePayload(t, rc.next(t).body)
		if first.ResourceID != 2 || second.ResourceID != 1 {
			t.Errorf("order = %d, %d; want 2, 1", first.ResourceID, second.ResourceID)
		}
		if second.ULID >= first.ULID {
			t.Errorf("the held event should keep its earlier ulid: got %s after %s", second.ULID, first.ULID)
		}
	})

	t.Run("HeldEventIsDeliveredWhenNoEventFollows", func(t *testing.T) {
		a := newAPI(t, Config{Seed: 1, ReorderHold: 20 * time.Millisecond, Reorder: func() bool { return true }})
		rc := newReceiver(t, always(http.StatusOK))
		a.hook(companyA, 0, rc.srv.URL, "Bearer x", "RFIs/update")
		a.svc.Emit(rfi(projectA, 1, "update"))
		if p := decodePayload(t, rc.next(t).body); p.ResourceID != 1 {
			t.Errorf("resource_id = %d", p.ResourceID)
		}
	})

	t.Run("FailingReceiverIsRetriedWithBackoffThenSucceedsInOrder", func(t *testing.T) {
		const minBackoff = 20 * time.Millisecond
		a := newAPI(t, Config{Seed: 1, MinBackoff: minBackoff, MaxBackoff: time.Second})
		rc := newReceiver(t, func(n int64) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusNoContent
		})
		hookID := a.hook(companyA, 0, rc.srv.URL, "Bearer x", "RFIs/update")
		a.svc.Emit(rfi(projectA, 1, "update"))
		a.svc.Emit(rfi(projectA, 2, "update"))

		var got []received
		for range 4 {
			got = append(got, rc.next(t))
		}
		var ids []int64
		for _, g := range got {
			ids = append(ids, decodePayload(t, g.body).ResourceID)
		}
		if fmt.Sprint(ids) != "[1 1 1 2]" {
			t.Fatalf("arrival order = %v, want the first event retried until it succeeds, then the second", ids)
		}
		if gap := got[1].at.Sub(got[0].at); gap < minBackoff {
			t.Errorf("first retry after %v, want >= %v", gap, minBackoff)
		}
		if gap := got[2].at.Sub(got[1].at); gap < 2*minBackoff {
			t.Errorf("second retry after %v, want >= %v (doubled)", gap, 2*minBackoff)
		}

		var log []deliveryJSON
		testwait.For(t, "four log records", func() bool { log = a.deliveries(companyA, hookID, ""); return len(log) == 4 })
		var outcomes []string
		for _, d := range log {
			outcomes = append(outcomes, d.Outcome)
		}
		if fmt.Sprint(outcomes) != "[retried retried ok ok]" {
			t.Errorf("outcomes = %v", outcomes)
		}
		if *log[0].ResponseStatus != 500 || log[0].ResponseError == nil || log[0].EventID != log[2].EventID {
			t.Errorf("first record = %+v", log[0])
		}
		if failing := a.deliveries(companyA, hookID, "?filters[status]=failing"); len(failing) != 2 {
			t.Errorf("failing filter returned %d records, want 2", len(failing))
		}
		if ok := a.deliveries(companyA, hookID, "?filter[status]=successful"); len(ok) != 2 {
			t.Errorf("successful filter returned %d records, want 2", len(ok))
		}
	})

	t.Run("FailingDestinationIsDiscardedAfterDiscardAfterThenRecovers", func(t *testing.T) {
		var clock atomic.Int64
		start := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
		now := func() time.Time { return start.Add(time.Duration(clock.Load())) }
		var healthy atomic.Bool
		a := newAPI(t, Config{Seed: 1, Now: now, MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, DiscardAfter: time.Hour})
		rc := newReceiver(t, func(int64) int {
			if healthy.Load() {
				return http.StatusOK
			}
			return http.StatusServiceUnavailable
		})
		hookID := a.hook(companyA, 0, rc.srv.URL, "Bearer x", "RFIs/update")
		a.svc.Emit(rfi(projectA, 1, "update"))
		a.svc.Emit(rfi(projectA, 2, "update"))
		rc.next(t)
		clock.Store(int64(2 * time.Hour))

		testwait.For(t, "both events discarded", func() bool {
			discarded := map[int64]bool{}
			for _, d := range a.deliveries(companyA, hookID, "?filters[status]=discarded") {
				discarded[d.EventID] = true
			}
			return len(discarded) == 2
		})
		healthy.Store(true)
		for len(rc.got) > 0 {
			<-rc.got
		}
		a.svc.Emit(rfi(projectA, 3, "update"))
		if p := decodePayload(t, rc.next(t).body); p.ResourceID != 3 {
			t.Errorf("after the discard, got resource %d, want the new event 3", p.ResourceID)
		}
	})

	t.Run("ProjectHookIgnoresOtherProjects", func(t *testing.T) {
		a := newAPI(t, Config{Seed: 1})
		rc := newReceiver(t, always(http.StatusOK))
		a.hook(companyA, projectA, rc.srv.URL, "Bearer x", "RFIs/update")
		a.svc.Emit(rfi(projectB, 1, "update")) // other project: ignored
		a.svc.Emit(rfi(projectA, 2, "update"))
		// Deliveries to one destination are ordered, so had the first event
		// been queued it would have arrived first.
		if p := decodePayload(t, rc.next(t).body); p.ResourceID != 2 || *p.ProjectID != projectA {
			t.Errorf("got resource %d of project %d", p.ResourceID, *p.ProjectID)
		}
		rc.quiet(t)
	})

	t.Run("CompanyHookGetsEveryProjectOfItsCompanyOnly", func(t *testing.T) {
		a := newAPI(t, Config{Seed: 1})
		rc := newReceiver(t, always(http.StatusOK))
		a.hook(companyA, 0, rc.srv.URL, "Bearer x", "RFIs/update")
		other := rfi(projectB, 1, "update")
		other.CompanyID = companyB
		a.svc.Emit(other)
		a.svc.Emit(rfi(projectB, 2, "update"))
		a.svc.Emit(rfi(projectA, 3, "update"))
		if a, b := decodePayload(t, rc.next(t).body), decodePayload(t, rc.next(t).body); a.ResourceID != 2 || b.ResourceID != 3 {
			t.Errorf("got resources %d, %d; want 2, 3", a.ResourceID, b.ResourceID)
		}
		rc.quiet(t)
	})

	t.Run("TriggersFilterResourceAndEventType", func(t *testing.T) {
		a := newAPI(t, Config{Seed: 1})
		rc := newReceiver(t, always(http.StatusOK))
		a.hook(companyA, 0, rc.srv.URL, "Bearer x", "RFIs/create", "Submittals/delete")
		sub := rfi(projectA, 1, "create")
		sub.ResourceName = "Submittals"
		a.svc.Emit(sub)                        // Submittals/create: no trigger
		a.svc.Emit(rfi(projectA, 2, "update")) // RFIs/update: no trigger
		a.svc.Emit(rfi(projectA, 3, "CREATE")) // RFIs/create: matches, case-insensitive
		sub.ResourceID, sub.EventType = 4, "delete"
		a.svc.Emit(sub) // Submittals/delete: matches
		first, second := decodePayload(t, rc.next(t).body), decodePayload(t, rc.next(t).body)
		if first.ResourceID != 3 || first.EventType != "create" || second.ResourceID != 4 || second.ResourceName != "Submittals" {
			t.Errorf("got %d %s/%s then %d %s/%s", first.ResourceID, first.ResourceName, first.EventType, second.ResourceID, second.ResourceName, second.EventType)
		}
		rc.quiet(t)
	})

	t.Run("DeletedHookStopsDeliveries", func(t *testing.T) {
		a := newAPI(t, Config{Seed: 1})
		gone := newReceiver(t, always(http.StatusOK))
		kept := newReceiver(t, always(http.StatusOK))
		goneID := a.hook(companyA, 0, gone.srv.URL, "Bearer x", "RFIs/update")
		a.hook(companyA, 0, kept.srv.URL, "Bearer y", "RFIs/update")
		if status := a.do("DELETE", fmt.Sprintf("/rest/v1.0/webhooks/hooks/%d", goneID), companyA, nil, nil); status != http.StatusNoContent {
			t.Fatalf("delete: %d", status)
		}
		a.svc.Emit(rfi(projectA, 1, "update"))
		kept.next(t)
		gone.quiet(t)
	})
}

func TestHooksAPI(t *testing.T) {
	hooksPath := "/rest/v1.0/webhooks/hooks"
	validHook := func(ns string) map[string]any {
		return map[string]any{"company_id": companyA, "hook": map[string]any{
			"api_version": "v2", "namespace": ns, "destination_url": "https://example.test/hook",
			"destination_headers": map[string]string{"Authorization": "Bearer z"},
		}}
	}

	t.Run("CreatedHookEchoesProcoreShape", func(t *testing.T) {
		a := newAPI(t, Config{})
		var h map[string]any
		if status := a.do("POST", hooksPath, companyA, validHook("acme-sync"), &h); status != http.StatusCreated {
			t.Fatalf("status %d", status)
		}
		for _, k := range []string{"id", "api_version", "namespace", "destination_url", "destination_headers", "owned_by_company_id", "owned_by_project_id", "owned_by_user_id"} {
			if _, ok := h[k]; !ok {
				t.Errorf("hook lacks %q: %v", k, h)
			}
		}
		if h["owned_by_project_id"] != nil || h["destination_headers"].(map[string]any)["Authorization"] != "Bearer z" {
			t.Errorf("hook = %v", h)
		}
	})

	refusals := []struct {
		name   string
		body   map[string]any
		field  string
		status int
	}{
		{"RefusesUppercaseNamespace", validHook("Acme_Sync"), "namespace", http.StatusUnprocessableEntity},
		{"RefusesMissingNamespace", validHook(""), "namespace", http.StatusUnprocessableEntity},
		{"RefusesRelativeDestinationURL", func() map[string]any {
			b := validHook("ok")
			b["hook"].(map[string]any)["destination_url"] = "/relative"
			return b
		}(), "destination_url", http.StatusUnprocessableEntity},
		{"RefusesUnknownAPIVersion", func() map[string]any {
			b := validHook("ok")
			b["hook"].(map[string]any)["api_version"] = "v9"
			return b
		}(), "api_version", http.StatusUnprocessableEntity},
		{"RefusesMissingScope", map[string]any{"hook": validHook("ok")["hook"]}, "", http.StatusBadRequest},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPI(t, Config{})
			var out struct {
				Errors any `json:"errors"`
			}
			if status := a.do("POST", hooksPath, companyA, tc.body, &out); status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if tc.field != "" {
				if m, ok := out.Errors.(map[string]any); !ok || m[tc.field] == nil {
					t.Errorf("errors = %v, want a message for %s", out.Errors, tc.field)
				}
			}
		})
	}

	t.Run("ListFiltersByNamespaceAndScope", func(t *testing.T) {
		a := newAPI(t, Config{})
		a.do("POST", hooksPath, companyA, validHook("one"), nil)
		a.do("POST", hooksPath, companyA, validHook("two"), nil)
		proj := validHook("one")
		delete(proj, "company_id")
		proj["project_id"] = projectA
		a.do("POST", hooksPath, companyA, proj, nil)
		count := func(q string) int {
			var out []hookJSON
			if status := a.do("GET", hooksPath+q, companyA, nil, &out); status != http.StatusOK {
				t.Fatalf("list %s: %d", q, status)
			}
			return len(out)
		}
		cases := map[string]int{
			fmt.Sprintf("?company_id=%d&namespace=one", companyA):   1,
			fmt.Sprintf("?company_id=%d&namespace=*", companyA):     2,
			fmt.Sprintf("?company_id=%d", companyA):                 2,
			fmt.Sprintf("?company_id=%d&namespace=three", companyA): 0,
			fmt.Sprintf("?project_id=%d&namespace=*", projectA):     1,
		}
		for q, want := range cases {
			if got := count(q); got != want {
				t.Errorf("%s: %d hooks, want %d", q, got, want)
			}
		}
	})

	t.Run("HookIsNotFoundUnderAnotherCompany", func(t *testing.T) {
		a := newAPI(t, Config{})
		var h hookJSON
		a.do("POST", hooksPath, companyA, validHook("ns"), &h)
		path := fmt.Sprintf("%s/%d/triggers", hooksPath, h.ID)
		if status := a.do("GET", path, companyB, nil, nil); status != http.StatusNotFound {
			t.Errorf("other company: %d, want 404", status)
		}
		if status := a.do("GET", path, companyA, nil, nil); status != http.StatusOK {
			t.Errorf("own company: %d, want 200", status)
		}
		if status := a.do("POST", hooksPath, companyA, map[string]any{"company_id": 999, "hook": validHook("x")["hook"]}, nil); status != http.StatusNotFound {
			t.Errorf("invisible company: %d, want 404", status)
		}
	})

	t.Run("UnknownProjectIsNotFoundWhenProjectsAreKnown", func(t *testing.T) {
		a := newAPI(t, Config{ProjectCompany: func(_ context.Context, p int64) (int64, bool) { return companyA, p == projectA }})
		body := map[string]any{"project_id": projectB, "hook": validHook("x")["hook"]}
		if status := a.do("POST", hooksPath, companyA, body, nil); status != http.StatusNotFound {
			t.Errorf("unknown project: %d, want 404", status)
		}
		body["project_id"] = projectA
		if status := a.do("POST", hooksPath, companyA, body, nil); status != http.StatusCreated {
			t.Errorf("known project: %d, want 201", status)
		}
	})

	t.Run("PatchChangesOnlyGivenFields", func(t *testing.T) {
		a := newAPI(t, Config{})
		var h hookJSON
		a.do("POST", hooksPath, companyA, validHook("ns"), &h)
		var got hookJSON
		patch := map[string]any{"hook": map[string]any{"destination_headers": map[string]string{"Authorization": "Bearer rotated"}}}
		if status := a.do("PATCH", fmt.Sprintf("%s/%d", hooksPath, h.ID), companyA, patch, &got); status != http.StatusOK {
			t.Fatalf("patch: %d", status)
		}
		if got.DestinationHeaders["Authorization"] != "Bearer rotated" || got.Namespace != "ns" || got.DestinationURL != h.DestinationURL {
			t.Errorf("patched hook = %+v", got)
		}
		bad := map[string]any{"hook": map[string]any{"namespace": "NO"}}
		if status := a.do("PATCH", fmt.Sprintf("%s/%d", hooksPath, h.ID), companyA, bad, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("invalid patch: %d, want 422", status)
		}
	})

	t.Run("UnauthenticatedIsRefused", func(t *testing.T) {
		a := newAPI(t, Config{})
		req, _ := http.NewRequest("GET", a.srv.URL+hooksPath+"?company_id=1", nil)
		req.Header.Set("X-Anonymous", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", resp.StatusCode)
		}
	})
}

func TestTriggersAPI(t *testing.T) {
	setup := func(t *testing.T, project int64) (*api, string) {
		a := newAPI(t, Config{})
		id := a.hook(companyA, project, "https://example.test/h", "Bearer x")
		return a, fmt.Sprintf("/rest/v1.0/webhooks/hooks/%d/triggers", id)
	}
	cases := []struct {
		name    string
		project int64
		body    map[string]any
		status  int
	}{
		{"AcceptsDocumentedBody", 0, map[string]any{"company_id": companyA, "api_version": "v2", "trigger": map[string]any{"resource_name": "RFIs", "event_type": "create"}}, http.StatusCreated},
		{"AcceptsPipedreamNestedBody", 0, map[string]any{"company_id": companyA, "hook": map[string]any{"api_version": "v2", "trigger": map[string]any{"resource_name": "Submittals", "event_type": "update"}}}, http.StatusCreated},
		{"AcceptsFlatBody", 0, map[string]any{"resource_name": "Punch Items", "event_type": "delete"}, http.StatusCreated},
		{"AcceptsRequisitionsForSubcontractorInvoices", 0, map[string]any{"trigger": map[string]any{"resource_name": "Requisitions", "event_type": "update"}}, http.StatusCreated},
		{"RefusesUnknownResource", 0, map[string]any{"trigger": map[string]any{"resource_name": "Subcontractor Invoice Items", "event_type": "create"}}, http.StatusUnprocessableEntity},
		{"RefusesUnknownEventType", 0, map[string]any{"trigger": map[string]any{"resource_name": "RFIs", "event_type": "touch"}}, http.StatusUnprocessableEntity},
		{"RefusesEventTheResourceDoesNotFire", 0, map[string]any{"trigger": map[string]any{"resource_name": "Company Users", "event_type": "delete"}}, http.StatusUnprocessableEntity},
		{"RefusesCompanyResourceOnProjectHook", projectA, map[string]any{"trigger": map[string]any{"resource_name": "Company Users", "event_type": "update"}}, http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, path := setup(t, tc.project)
			var tr triggerJSON
			status := a.do("POST", path, companyA, tc.body, &tr)
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if status == http.StatusCreated && (tr.ID == 0 || tr.HookID == 0 || tr.ResourceName == "" || tr.EventType == "" || tr.CompanyID == nil) {
				t.Errorf("trigger = %+v", tr)
			}
		})
	}

	t.Run("RefusesDuplicateTriggerAndDeletes", func(t *testing.T) {
		a, path := setup(t, 0)
		body := map[string]any{"trigger": map[string]any{"resource_name": "RFIs", "event_type": "update"}}
		var tr triggerJSON
		if status := a.do("POST", path, companyA, body, &tr); status != http.StatusCreated {
			t.Fatalf("first: %d", status)
		}
		if status := a.do("POST", path, companyA, body, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("duplicate: %d, want 422", status)
		}
		if status := a.do("DELETE", fmt.Sprintf("%s/%d", path, tr.ID), companyA, nil, nil); status != http.StatusNoContent {
			t.Errorf("delete: %d", status)
		}
		var list []triggerJSON
		a.do("GET", path, companyA, nil, &list)
		if len(list) != 0 {
			t.Errorf("triggers after delete = %v", list)
		}
		if status := a.do("DELETE", fmt.Sprintf("%s/%d", path, tr.ID), companyA, nil, nil); status != http.StatusNotFound {
			t.Errorf("second delete: %d, want 404", status)
		}
	})
}

func TestDeliveriesAPI(t *testing.T) {
	t.Run("PaginatesByCursor", func(t *testing.T) {
		a := newAPI(t, Config{Seed: 3})
		rc := newReceiver(t, always(http.StatusOK))
		hookID := a.hook(companyA, 0, rc.srv.URL, "Bearer x", "RFIs/update")
		for i := range 3 {
			a.svc.Emit(rfi(projectA, int64(i+1), "update"))
		}
		testwait.For(t, "three deliveries", func() bool { return len(a.deliveries(companyA, hookID, "")) == 3 })
		page1 := a.deliveries(companyA, hookID, "?page_size=2")
		if len(page1) != 2 {
			t.Fatalf("page 1 has %d records", len(page1))
		}
		page2 := a.deliveries(companyA, hookID, fmt.Sprintf("?page_size=2&page_start=%d", page1[1].ID))
		if len(page2) != 1 || page2[0].ID <= page1[1].ID {
			t.Fatalf("page 2 = %+v", page2)
		}
		seen := map[int64]bool{}
		for _, d := range append(page1, page2...) {
			seen[d.EventID] = true
		}
		if len(seen) != 3 {
			t.Errorf("pages cover %d distinct events, want 3", len(seen))
		}
	})
}

func TestResourcesAPI(t *testing.T) {
	a := newAPI(t, Config{})
	var company, project []map[string]any
	a.do("GET", fmt.Sprintf("/rest/v1.0/webhooks/resources?company_id=%d", companyA), companyA, nil, &company)
	a.do("GET", fmt.Sprintf("/rest/v1.0/webhooks/resources?project_id=%d", projectA), companyA, nil, &project)
	find := func(list []map[string]any, name string) map[string]any {
		for _, r := range list {
			if r["tools"] == name {
				return r
			}
		}
		return nil
	}
	t.Run("EntriesHaveTheDocumentedFieldsOnly", func(t *testing.T) {
		want := []string{"api_version", "create", "delete", "except", "product_category", "tools", "update"}
		for _, r := range company {
			var keys []string
			for k := range r {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, want) {
				t.Fatalf("entry %v has fields %v, want %v", r, keys, want)
			}
			if _, ok := r["tools"].(string); !ok || r["api_version"] != "v2" {
				t.Fatalf("entry %v: tools must be the resource name, api_version v2", r)
			}
		}
		users := find(company, "Company Users")
		if users == nil || fmt.Sprint(users["except"]) != "[delete]" || users["product_category"] != "Core" {
			t.Errorf("Company Users = %v, want except [delete] in Core", users)
		}
	})
	t.Run("ProjectScopeListsProjectResourcesOnly", func(t *testing.T) {
		if find(project, "RFIs") == nil || find(project, "Requisitions") == nil || find(project, "Company Users") != nil {
			t.Errorf("project catalog has %d entries, wrong membership", len(project))
		}
	})
	t.Run("CompanyScopeListsEverything", func(t *testing.T) {
		if find(company, "Company Users") == nil || find(company, "RFIs") == nil || len(company) <= len(project) {
			t.Errorf("company catalog has %d entries", len(company))
		}
	})
	t.Run("ListsTheItemsTheGatewayFollows", func(t *testing.T) {
		for _, name := range []string{ResourceRFIs, ResourceSubmittals, ResourcePunchItems, ResourceWorkOrderContracts,
			ResourcePurchaseOrderContracts, ResourceRequisitions, ResourcePaymentApplications} {
			if r := find(project, name); r == nil || r["product_category"] == "" {
				t.Errorf("%q missing from the project catalog", name)
			}
		}
	})
}

func TestEmitUsesCatalogNames(t *testing.T) {
	a := newAPI(t, Config{})
	rc := newReceiver(t, always(http.StatusOK))
	a.hook(companyA, 0, rc.srv.URL, "Bearer x", "Requisitions/update", "Payment Applications/update")
	inv := func(name string) Event {
		return Event{CompanyID: companyA, ProjectID: projectA, UserID: userID, ResourceName: name, ResourceID: 77, EventType: "update"}
	}
	for _, name := range []string{ResourceRequisitions, "requisitions"} {
		t.Run(strings.ReplaceAll(name, " ", ""), func(t *testing.T) {
			a.svc.Emit(inv(name))
			var p payloadV2
			if err := json.Unmarshal(rc.next(t).body, &p); err != nil {
				t.Fatal(err)
			}
			if p.ResourceName != ResourceRequisitions {
				t.Errorf("subcontractor invoice event %q sent as %q, want %q", name, p.ResourceName, ResourceRequisitions)
			}
		})
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	testDone := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client hanging up
		select {                           // never answers until the sender gives up
		case <-r.Context().Done():
		case <-testDone:
		}
	}))
	defer slow.Close()
	defer close(testDone)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()

	baseline := runtime.NumGoroutine()
	for round := range 3 {
		svc := New(Config{Seed: int64(round), MinBackoff: time.Hour, Reorder: func() bool { return true }, ReorderHold: time.Hour})
		defer svc.Close()
		mux := http.NewServeMux()
		for pattern, h := range svc.Routes() {
			mux.HandleFunc(pattern, h)
		}
		p := auth.Principal{UserID: userID, CompanyIDs: []int64{companyA}}
		for _, dest := range []string{slow.URL, failing.URL, ok.URL} {
			body := fmt.Sprintf(`{"company_id":%d,"hook":{"namespace":"n","destination_url":%q}}`, companyA, dest)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("POST", "/rest/v1.0/webhooks/hooks", strings.NewReader(body)).WithContext(auth.WithPrincipal(t.Context(), p)))
			var h hookJSON
			_ = json.Unmarshal(rec.Body.Bytes(), &h)
			rec = httptest.NewRecorder()
			tb := `{"trigger":{"resource_name":"RFIs","event_type":"update"}}`
			mux.ServeHTTP(rec, httptest.NewRequest("POST", fmt.Sprintf("/rest/v1.0/webhooks/hooks/%d/triggers", h.ID), strings.NewReader(tb)).WithContext(auth.WithPrincipal(t.Context(), p)))
			if rec.Code != http.StatusCreated {
				t.Fatalf("trigger: %d %s", rec.Code, rec.Body)
			}
		}
		for i := range 5 { // the last one stays held by Reorder
			svc.Emit(rfi(projectA, int64(i), "update"))
		}
		time.Sleep(20 * time.Millisecond) // let the workers reach the slow and failing receivers
		if n := runtime.NumGoroutine(); n <= baseline {
			t.Fatalf("round %d: %d goroutines while delivering, baseline %d: the test proves nothing", round, n, baseline)
		}
		svc.Close()
		svc.Emit(rfi(projectA, 99, "update")) // after Close: ignored, starts nothing
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, baseline %d\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}

func TestBackoffStaysWithinBounds(t *testing.T) {
	s := New(Config{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	defer s.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for n := 1; n <= 10; n++ {
		base := time.Duration(math.Min(float64(10*time.Millisecond)*math.Pow(2, float64(n-1)), float64(100*time.Millisecond)))
		if d := s.backoff(n); d < base || d > 100*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want within [%v, 100ms]", n, d, base)
		}
	}
}

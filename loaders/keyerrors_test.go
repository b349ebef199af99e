package loaders

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"procoregraph/adapter"
	"procoregraph/adapter/rest"
	"procoregraph/cache"
	"procoregraph/cache/cachetest"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
	"procoregraph/tenant"
)

// gatedTransport holds the requests match selects until gate is closed,
// announcing each on arrived and counting them.
type gatedTransport struct {
	base    http.RoundTripper
	match   func(*http.Request) bool
	mu      sync.Mutex
	gate    chan struct{}
	arrived chan struct{}
	calls   atomic.Int64
}

func (t *gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.match(r) {
		t.calls.Add(1)
		t.mu.Lock()
		gate, arrived := t.gate, t.arrived
		t.mu.Unlock()
		arrived <- struct{}{}
		select {
		case <-gate:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return t.base.RoundTrip(r)
}

// arm starts a new round: a closed gate and a zero count.
func (t *gatedTransport) arm() chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gate, t.arrived = make(chan struct{}), make(chan struct{}, 16)
	t.calls.Store(0)
	return t.gate
}

// readSignal is a Store whose GetMany, once armed, announces that it read.
type readSignal struct {
	cache.Store
	armed atomic.Bool
	read  chan struct{}
}

func (s *readSignal) GetMany(ctx context.Context, keys []string) (map[string]cache.Item, error) {
	items, err := s.Store.GetMany(ctx, keys)
	if s.armed.CompareAndSwap(true, false) {
		s.read <- struct{}{}
	}
	return items, err
}

// testStores are the cache stores the test runs over: memory, and Redis at
// REDIS_URL (skipped without it unless CI=true).
func testStores() []struct {
	name string
	open func(t *testing.T) cache.Store
} {
	return []struct {
		name string
		open func(t *testing.T) cache.Store
	}{
		{"Memory", func(t *testing.T) cache.Store { return cachetest.Memory(t) }},
		{"Redis", func(t *testing.T) cache.Store {
			s, _, _ := cachetest.Redis(t, "loaders")
			return s
		}},
	}
}

// sandboxClient starts a sandbox of one company with one project of rfis
// RFIs, and a REST client to it whose requests go through the transport
// wrap returns around a base one. It returns the sandbox, the client and
// the company's and the project's ids.
func sandboxClient(t *testing.T, seed int64, rfis int, wrap func(base http.RoundTripper, projectID int64) http.RoundTripper) (*sandbox.Running, *rest.Client, int64, int64) {
	t.Helper()
	run, err := sandbox.Start(context.Background(), sandbox.Config{Seed: seed, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, RFIsPerProject: rfis}}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Close)
	companyID, projectID := run.FirstProject()
	client, err := rest.New(rest.Config{APIURL: run.URL, ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret,
		CompanyID: companyID, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		HTTPClient: &http.Client{Transport: wrap(rest.NewBaseTransport(4), projectID)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.CloseIdleConnections)
	return run, client, companyID, projectID
}

// TestAWaiterOfAListThatFailedGetsProcoresErrorNotNotFound: Procore refuses
// a project's RFI list (403). One request's loader fetches it; another
// request's loader asks for the same list meanwhile and waits on that fetch
// through the cache. Both get FORBIDDEN; the waiter does not read the list as
// NOT_FOUND (which a client syncing through the gateway could take for
// "deleted"), and Procore is called once.
//
// Whether the second request joins the fetch depends on scheduling (the
// first may finish before the second looks for it, and the second then
// fetches itself); a round where it did not (two Procore calls) is run
// again.
func TestAWaiterOfAListThatFailedGetsProcoresErrorNotNotFound(t *testing.T) {
	for _, st := range testStores() {
		t.Run(st.name, func(t *testing.T) {
			var gated *gatedTransport
			run, client, companyID, projectID := sandboxClient(t, 7, 3, func(base http.RoundTripper, projectID int64) http.RoundTripper {
				rfis := fmt.Sprintf("/rest/v1.0/projects/%d/rfis", projectID)
				gated = &gatedTransport{base: base, match: func(r *http.Request) bool { return r.URL.Path == rfis }}
				return gated
			})
			const route = "GET /rest/v1.0/projects/{project_id}/rfis"
			run.SetFaults(sandbox.Faults{FailRoutes: map[string]int{route: http.StatusForbidden}})
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			store := &readSignal{Store: st.open(t), read: make(chan struct{}, 1)}
			c, err := cache.New(store, cache.Options{Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			conn := &tenant.Connection{ID: "conn-keyerrors", CompanyID: companyID, UserKey: "u1", Procore: client}
			key := NewListKey(projectID, 0, nil)

			const rounds = 20
			for round := range rounds {
				gate := gated.arm()
				ctx := context.Background()
				var leaderErr, waiterErr error
				var wg sync.WaitGroup
				wg.Go(func() { _, leaderErr = New(conn, Options{Cache: c}).RFIs.Load(ctx, key)() })
				<-gated.arrived // the leader's call is held
				store.armed.Store(true)
				wg.Go(func() { _, waiterErr = New(conn, Options{Cache: c}).RFIs.Load(ctx, key)() })
				<-store.read // the waiter missed the cache; it joins the held fetch next
				close(gate)
				wg.Wait()
				if code := adapter.ErrorCode(leaderErr); code != adapter.CodeForbidden {
					t.Fatalf("round %d: the fetching request got %v (%s), want FORBIDDEN", round, leaderErr, code)
				}
				if n := gated.calls.Load(); n != 1 {
					continue // the second request fetched itself: it did not wait
				}
				if code := adapter.ErrorCode(waiterErr); code != adapter.CodeForbidden {
					t.Fatalf("the waiting request got %v (%s), want Procore's FORBIDDEN", waiterErr, code)
				}
				return
			}
			t.Fatalf("in %d rounds the second request never waited on the first one's fetch", rounds)
		})
	}
}

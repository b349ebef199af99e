package loaders

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"

	"procoregraph/cache"
	"procoregraph/tenant"
)

// countingTransport counts the requests it carries.
type countingTransport struct {
	base  http.RoundTripper
	calls atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.calls.Add(1)
	return t.base.RoundTrip(r)
}

// TestAWarmKeyIsReadDirectlyAndEqualsWhatTheDataloaderGave: over each store,
// a project's RFI list is fetched once by one request; a later request
// (the value now in the cache) gets the equal value without a Procore call,
// as many times as it asks; a request asking for fresh data fetches again.
// Over Redis the direct read is off (a read is a round trip) and the
// dataloader answers from the cache: the same calls, the same value.
func TestAWarmKeyIsReadDirectlyAndEqualsWhatTheDataloaderGave(t *testing.T) {
	for _, st := range testStores() {
		t.Run(st.name, func(t *testing.T) {
			var counted *countingTransport
			_, client, companyID, projectID := sandboxClient(t, 3, 5, func(base http.RoundTripper, _ int64) http.RoundTripper {
				counted = &countingTransport{base: base}
				return counted
			})
			c, err := cache.New(st.open(t), cache.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			conn := &tenant.Connection{ID: "conn-direct", CompanyID: companyID, UserKey: "u1", Procore: client}
			opt := Options{Cache: c, RemoteCache: st.name == "Redis"}
			key := NewListKey(projectID, 0, nil)

			ctx, end := context.WithCancel(context.Background())
			first, err := New(conn, opt).RFIs.Load(ctx, key)()
			if err != nil {
				t.Fatal(err)
			}
			end()                             // the request is over: its write-behind starts
			if err := c.Close(); err != nil { // and has landed
				t.Fatal(err)
			}
			if len(first.Items) != 5 {
				t.Fatalf("first request: %d RFIs, want 5", len(first.Items))
			}
			before := counted.calls.Load()
			if before == 0 {
				t.Fatal("the first request made no Procore call")
			}

			l := New(conn, opt)
			direct := !opt.RemoteCache
			if got := l.RFIs.read != nil; got != direct {
				t.Fatalf("direct read on = %v, want %v", got, direct)
			}
			for i := range 3 {
				again, err := l.RFIs.Load(context.Background(), key)()
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(again, first) {
					t.Fatalf("read %d: got %+v, want %+v", i, again, first)
				}
			}
			if n := counted.calls.Load() - before; n != 0 {
				t.Fatalf("a warm key made %d Procore calls", n)
			}
			if _, err := New(conn, opt).RFIs.Load(cache.WithFresh(context.Background()), key)(); err != nil {
				t.Fatal(err)
			}
			if n := counted.calls.Load() - before; n == 0 {
				t.Fatal("a request for fresh data was answered from the cache")
			}
		})
	}
}

// TestAValueIsAtHandOnlyOnceItsLoadHasAnswered: Peek never loads and never
// waits. Over each store (the dataloader answering, in memory the direct
// read too) and without a cache, a key is not at hand before it is loaded,
// nor while its batch has not answered; it is once a thunk has returned
// it, with the value the thunk returned, and a key whose load failed
// never is.
func TestAValueIsAtHandOnlyOnceItsLoadHasAnswered(t *testing.T) {
	stores := append(testStores(), struct {
		name string
		open func(t *testing.T) cache.Store
	}{name: "NoCache"})
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			var counted *countingTransport
			_, client, companyID, projectID := sandboxClient(t, 3, 5, func(base http.RoundTripper, _ int64) http.RoundTripper {
				counted = &countingTransport{base: base}
				return counted
			})
			opt := Options{}
			if st.open != nil {
				c, err := cache.New(st.open(t), cache.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				opt = Options{Cache: c, RemoteCache: st.name == "Redis"}
			}
			conn := &tenant.Connection{ID: "conn-peek-" + st.name, CompanyID: companyID, UserKey: "u1", Procore: client}
			l := New(conn, opt)
			key := NewListKey(projectID, 0, nil)
			if _, ok := l.RFIs.Peek(key); ok {
				t.Fatal("at hand before any load")
			}
			if counted.calls.Load() != 0 {
				t.Fatal("Peek loaded")
			}
			thunk := l.RFIs.Load(context.Background(), key)
			v, err := thunk()
			if err != nil {
				t.Fatal(err)
			}
			got, ok := l.RFIs.Peek(key)
			if !ok || !reflect.DeepEqual(got, v) || len(got.Items) != 5 {
				t.Fatalf("after the load: at hand %v with %d items, want the thunk's 5", ok, len(got.Items))
			}
			calls := counted.calls.Load()
			if again, err := l.RFIs.Load(context.Background(), key)(); err != nil || !reflect.DeepEqual(again, v) || counted.calls.Load() != calls {
				t.Fatalf("a later Load: %v, %v, %d more calls; want the same value, no call", again.Items, err, counted.calls.Load()-calls)
			}
			missing := NewListKey(projectID+1_000_000, 0, nil) // no such project
			if _, err := l.RFIs.Load(context.Background(), missing)(); err == nil {
				t.Fatal("loading a project that does not exist succeeded")
			}
			if _, ok := l.RFIs.Peek(missing); ok {
				t.Error("a failed load is at hand")
			}
		})
	}
}

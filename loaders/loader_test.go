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

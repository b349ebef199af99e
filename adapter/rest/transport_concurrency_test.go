package rest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConcurrencyLimit(t *testing.T) {
	var inFlight, peak atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
	}))
	defer srv.Close()
	rt := newConcurrencyTransport(3, baseTransport())
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", srv.URL, nil)
			if resp, err := rt.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	for peak.Load() < 3 { // the first three reach the server whatever the scheduling
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // give a fourth the chance to get through if the bound leaked
	if p := peak.Load(); p != 3 {
		t.Errorf("peak in flight %d before release, want 3", p)
	}
	close(release)
	wg.Wait()
	if p := peak.Load(); p > 3 {
		t.Fatalf("peak in flight %d, want at most 3", p)
	}
}

func TestConcurrencyWaitRespectsContext(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	rt := newConcurrencyTransport(1, baseTransport())
	go func() {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if resp, err := rt.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	_, err := rt.RoundTrip(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline while waiting for a slot", err)
	}
}

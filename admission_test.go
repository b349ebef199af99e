package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"procoregraph/testwait"
	"sync"
	"testing"

	"procoregraph/admission"
	"procoregraph/events"
)

// holdingTransport holds every request to the sandbox while it is holding,
// announcing each on arrived.
type holdingTransport struct {
	next    http.RoundTripper
	mu      sync.Mutex
	gate    chan struct{}
	arrived chan string
}

func (h *holdingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	g := h.gate
	h.mu.Unlock()
	if g != nil {
		h.arrived <- r.URL.Path
		<-g
	}
	return h.next.RoundTrip(r)
}

func (h *holdingTransport) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gate = make(chan struct{})
}

func (h *holdingTransport) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.gate)
	h.gate = nil
}

// TestOperationsPastTheExecutionBudgetWaitTheirTurn: with a budget that
// holds one operation at a time (MAX_EXECUTING_COST=1), a second query
// waits while the first one's Procore call is held, reaching Procore not
// at all, and runs once the first ends: both answer with their data, and
// the budget is whole again. A waiting query whose client goes away leaves
// without a Procore call.
func TestOperationsPastTheExecutionBudgetWaitTheirTurn(t *testing.T) {
	gate := admission.New(1)
	holder := &holdingTransport{arrived: make(chan string, 16)}
	l := startLiveServerOpts(t, events.NewMemoryBus(events.MemoryOptions{}), liveOptions{
		admission: gate,
		upstream: func(next http.RoundTripper) http.RoundTripper {
			holder.next = next
			return holder
		},
	})
	post := func(ctx context.Context, q string) (int, []byte, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, l.srv.URL+"/graphql", bytes.NewReader(queryBody(q, nil)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, err = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes(), err
	}
	type answer struct {
		status int
		body   []byte
		err    error
	}
	send := func(ctx context.Context, q string) chan answer {
		c := make(chan answer, 1)
		go func() {
			s, b, err := post(ctx, q)
			c <- answer{s, b, err}
		}()
		return c
	}
	ok := func(what string, a answer) {
		t.Helper()
		var r struct {
			Data   map[string]any  `json:"data"`
			Errors json.RawMessage `json:"errors"`
		}
		if a.err != nil || a.status != http.StatusOK || json.Unmarshal(a.body, &r) != nil || r.Data["projects"] == nil || r.Errors != nil {
			t.Fatalf("%s: %d %v %s", what, a.status, a.err, a.body)
		}
	}

	holder.hold()
	first := send(context.Background(), `{ projects(first: 1) { nodes { id } } }`)
	<-holder.arrived // the first query executes, its Procore call held
	calls := l.calls.Load()
	second := send(context.Background(), `{ projects(first: 2) { nodes { id name } } }`)
	testwait.For(t, "the second query waits for the budget", func() bool { return gate.Waiting() == 1 })
	if n := l.calls.Load(); n != calls {
		t.Fatalf("%d Procore calls while the second query waited, want %d (the first query's only)", n, calls)
	}

	// A third waiter whose client goes away takes nothing and calls nothing.
	ctx, cancel := context.WithCancel(context.Background())
	third := send(ctx, `{ projects(first: 3) { nodes { id } } }`)
	testwait.For(t, "the third query waits too", func() bool { return gate.Waiting() == 2 })
	cancel()
	if a := <-third; a.err == nil {
		t.Fatalf("the canceled request answered: %d %s", a.status, a.body)
	}
	testwait.For(t, "the canceled query leaves the queue", func() bool { return gate.Waiting() == 1 })
	if n := l.calls.Load(); n != calls {
		t.Fatalf("%d Procore calls after the third query left, want %d", n, calls)
	}

	holder.release()
	ok("first query", <-first)
	ok("second query", <-second)
	if gate.InUse() != 0 || gate.Waiting() != 0 {
		t.Fatalf("after both answered: %d in use, %d waiting; want 0, 0", gate.InUse(), gate.Waiting())
	}
}

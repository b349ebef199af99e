package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"procoregraph/events"
	"procoregraph/streamlimit"
)

// TestSlowSocketDropsItsSharedSubscriptionsInOrderWhileTheOthersGetEveryEvent:
// 300 subscriptions on a socket whose client stops reading share one
// execution with a subscription on a socket that reads. Their answers are
// written directly to the socket until it is busy, then through gqlgen's
// transport, which drops them once they fall a bus buffer behind. Events are
// published until all 300 are dropped: the reading subscription gets every
// one of them. When the stopped client reads again, each of its
// subscriptions has every event up to its drop, in order, with no gap and
// none twice (the direct writes and the transport's never overtake each
// other), then SLOW_SUBSCRIBER with the cursor of the last one, then its
// completion.
func TestSlowSocketDropsItsSharedSubscriptionsInOrderWhileTheOthersGetEveryEvent(t *testing.T) {
	const slowSubs = 300
	p, vars := startPacedEvents(t)
	l, ctx := p.l, p.ctx

	slow, ack, err := initSocket(t, l.srv.URL, map[string]any{})
	if err != nil || !strings.Contains(string(ack), "connection_ack") {
		t.Fatalf("connection_init: %v %s", err, ack)
	}
	defer slow.CloseNow()
	slow.SetReadLimit(1 << 20)
	for i := range slowSubs {
		b, _ := json.Marshal(map[string]any{"id": fmt.Sprint("s", i), "type": "subscribe",
			"payload": map[string]any{"query": fanoutQuery, "variables": vars}})
		if err := slow.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	l.waitActive(t, 1+slowSubs)

	// Publish until every subscription of the stopped client is dropped.
	for l.active.Load() > 1 {
		if p.published == 5000 {
			t.Fatalf("5,000 events published and %d subscriptions still active, want 1", l.active.Load())
		}
		p.publish()
	}
	all, published := p.all(), p.published

	// The stopped client reads again.
	type history struct {
		cursors  []string
		dropped  string // lastCursor of the SLOW_SUBSCRIBER error, once seen
		droppedN int
		complete bool
	}
	subs := map[string]*history{}
	completed := 0
	for completed < slowSubs {
		_, b, err := slow.Read(ctx)
		if err != nil {
			t.Fatalf("reading the stopped client's socket after %d completions: %v", completed, err)
		}
		var m struct {
			ID      string `json:"id"`
			Type    string `json:"type"`
			Payload struct {
				Data   json.RawMessage `json:"data"`
				Errors []struct {
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("frame is not JSON: %.200s", b)
		}
		if m.Type == "ping" || m.Type == "pong" {
			continue
		}
		h := subs[m.ID]
		if h == nil {
			h = &history{}
			subs[m.ID] = h
		}
		if h.complete {
			t.Fatalf("%s: a %s after its completion", m.ID, m.Type)
		}
		switch {
		case m.Type == "complete":
			h.complete = true
			completed++
		case m.Type == "next" && len(m.Payload.Errors) > 0:
			ext := m.Payload.Errors[0].Extensions
			if ext["code"] != "SLOW_SUBSCRIBER" {
				t.Fatalf("%s: error %v, want SLOW_SUBSCRIBER", m.ID, ext)
			}
			h.dropped, _ = ext["lastCursor"].(string)
			h.droppedN++
		case m.Type == "next":
			if h.droppedN > 0 {
				t.Fatalf("%s: an event after SLOW_SUBSCRIBER", m.ID)
			}
			var p struct {
				BallInCourtChanged struct{ Cursor string } `json:"ballInCourtChanged"`
			}
			if err := json.Unmarshal(m.Payload.Data, &p); err != nil {
				t.Fatal(err)
			}
			h.cursors = append(h.cursors, p.BallInCourtChanged.Cursor)
		default:
			t.Fatalf("%s: unexpected %s: %.200s", m.ID, m.Type, b)
		}
	}
	if len(subs) != slowSubs {
		t.Fatalf("%d subscriptions answered on the stopped client's socket, want %d", len(subs), slowSubs)
	}
	for id, h := range subs {
		if h.droppedN != 1 {
			t.Fatalf("%s: %d SLOW_SUBSCRIBER errors, want 1", id, h.droppedN)
		}
		if len(h.cursors) == 0 || len(h.cursors) >= published {
			t.Fatalf("%s: %d events before its drop, of %d published", id, len(h.cursors), published)
		}
		if !slices.Equal(h.cursors, all[:len(h.cursors)]) {
			t.Fatalf("%s: events %v…, want the first %d of %v… in order", id, h.cursors[:min(5, len(h.cursors))],
				len(h.cursors), all[:min(5, len(all))])
		}
		if h.dropped != h.cursors[len(h.cursors)-1] {
			t.Fatalf("%s: SLOW_SUBSCRIBER's lastCursor %q, want its last event's %q", id, h.dropped, h.cursors[len(h.cursors)-1])
		}
	}
}

// pacedEvents publishes events on a live server, each once a subscription
// on a socket that reads every event has it: the reading subscription
// never falls behind, whatever the other sockets do.
type pacedEvents struct {
	t         *testing.T
	l         *liveServer
	ctx       context.Context
	mu        sync.Mutex
	cursors   []string // the reading subscription's, in order
	published int
}

// startPacedEvents starts a live server on the memory bus without
// subscription bounds, and opens the reading subscription on it; its ctx
// bounds the test to 2 minutes.
func startPacedEvents(t *testing.T) (*pacedEvents, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	l := startLiveServerOpts(t, events.NewMemoryBus(events.MemoryOptions{}), liveOptions{cached: true,
		subscriptions: streamlimit.Options{PerPrincipal: -1, Total: -1}, websockets: streamlimit.Options{PerPrincipal: -1, Total: -1}})
	vars := map[string]any{"p": fmt.Sprint(l.project)}
	p := &pacedEvents{t: t, l: l, ctx: ctx}
	reader := dialWS(t, l.srv.URL, func(_ string, payload json.RawMessage) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.cursors = append(p.cursors, cursorOf(t, payload))
	})
	t.Cleanup(reader.close)
	reader.subscribe(t, "reader", fanoutQuery, vars)
	l.waitActive(t, 1)
	return p, vars
}

// publish publishes the next event and waits for the reading subscription
// to get it.
func (p *pacedEvents) publish() {
	p.t.Helper()
	p.published++
	p.l.publish(p.t, int64(p.published))
	for {
		p.mu.Lock()
		n := len(p.cursors)
		p.mu.Unlock()
		if n == p.published {
			return
		}
		if p.ctx.Err() != nil {
			p.t.Fatalf("the reading subscription got %d of %d events", n, p.published)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// all returns the reading subscription's cursors, one per event published.
func (p *pacedEvents) all() []string {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(slices.Compact(slices.Clone(p.cursors))) != p.published {
		p.t.Fatalf("the reading subscription's %d cursors are not %d distinct events", len(p.cursors), p.published)
	}
	return slices.Clone(p.cursors)
}

func cursorOf(t *testing.T, payload json.RawMessage) string {
	var p struct {
		Data struct {
			BallInCourtChanged struct{ Cursor string } `json:"ballInCourtChanged"`
		} `json:"data"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Error(err)
	}
	return p.Data.BallInCourtChanged.Cursor
}

// TestBusySocketThatReadsAgainGetsEveryEventInOrder: 300 subscriptions on a
// socket whose client pauses share one execution with one on a socket that
// reads. Events are published until the paused socket is so far behind that
// all 300 take their answers through gqlgen's transport
// (procoregraph_websocket_direct_fallbacks_total); the client then reads
// again while more events are published. Every subscription gets every
// event exactly once and in order: no answer written directly overtakes
// one the transport still holds.
func TestBusySocketThatReadsAgainGetsEveryEventInOrder(t *testing.T) {
	const pausedSubs = 300
	p, vars := startPacedEvents(t)
	l, ctx := p.l, p.ctx

	got := map[string][]string{} // subscription id -> cursors, read by the paused client
	var gotMu sync.Mutex
	paused := dialWSPaused(t, l.srv.URL, func(id string, payload json.RawMessage) {
		gotMu.Lock()
		defer gotMu.Unlock()
		got[id] = append(got[id], cursorOf(t, payload))
	})
	defer paused.close()
	for i := range pausedSubs {
		paused.subscribe(t, fmt.Sprint("p", i), fanoutQuery, vars)
	}
	l.waitActive(t, 1+pausedSubs)

	for fallbacks(t, l) < pausedSubs {
		if p.published == 2000 {
			t.Fatalf("2,000 events published and %v of %d subscriptions fell back", fallbacks(t, l), pausedSubs)
		}
		p.publish()
	}
	if n := l.active.Load(); n != 1+pausedSubs {
		t.Fatalf("%d subscriptions active once the paused socket was busy, want %d (none dropped yet)", n, 1+pausedSubs)
	}
	atBusy := p.published
	paused.resume()
	for range 30 {
		p.publish()
	}
	all, published := p.all(), p.published
	for {
		gotMu.Lock()
		done := 0
		for _, c := range got {
			if len(c) >= published {
				done++
			}
		}
		gotMu.Unlock()
		if done == pausedSubs {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d paused subscriptions got all %d events", done, pausedSubs, published)
		}
		time.Sleep(time.Millisecond)
	}
	gotMu.Lock()
	defer gotMu.Unlock()
	for id, c := range got {
		if !slices.Equal(c, all) {
			t.Fatalf("%s got %d events, not the %d published in order: first difference at %d", id, len(c), len(all),
				firstDifferentCursor(c, all))
		}
	}
	t.Logf("%d events: the paused socket was busy after %d; %d subscriptions fell back", published, atBusy, int(fallbacks(t, l)))
}

// fallbacks reads procoregraph_websocket_direct_fallbacks_total.
func fallbacks(t *testing.T, l *liveServer) float64 {
	t.Helper()
	mfs, err := l.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "procoregraph_websocket_direct_fallbacks_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no procoregraph_websocket_direct_fallbacks_total")
	return 0
}

func firstDifferentCursor(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// pausedWS is a graphql-transport-ws client that reads nothing until
// resume.
type pausedWS struct {
	*wsClient
	resumed chan struct{}
}

func dialWSPaused(t *testing.T, url string, onNext func(id string, payload json.RawMessage)) *pausedWS {
	t.Helper()
	c, b, err := initSocket(t, url, map[string]any{})
	if err != nil || !strings.Contains(string(b), "connection_ack") {
		t.Fatalf("connection_init: %v %s", err, b)
	}
	c.SetReadLimit(1 << 20)
	p := &pausedWS{wsClient: &wsClient{c: c, onNext: onNext, done: make(chan struct{})}, resumed: make(chan struct{})}
	go func() {
		select {
		case <-p.resumed:
			p.read()
		case <-t.Context().Done():
			close(p.done)
		}
	}()
	return p
}

func (p *pausedWS) resume() { close(p.resumed) }

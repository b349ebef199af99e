package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"

	"procoregraph/subshare"
)

// TestSharedSubscriptionsAreWrittenDirectlyAsGqlgenWritesThem runs two
// shared executions (subshare), each with two subscriptions, on one socket,
// twice: through gqlgen's websocket transport on gqlgen's own coder/websocket
// implementation, and as the gateway runs it (frameWebsockets on
// coalescingWebsockets, direct writes). Every subscription's frame must be
// the same bytes, under its own id, on both subprotocols; and the answers
// must have been written directly (encoded once per execution).
func TestSharedSubscriptionsAreWrittenDirectlyAsGqlgenWritesThem(t *testing.T) {
	subs := map[string]string{ // id -> query; two by two the same
		"1":      `subscription { a: name }`,
		"two":    `subscription { b: name }`,
		"3<&>":   `subscription { a: name }`,
		"quatre": `subscription { b: name }`,
	}
	for _, sub := range []struct{ protocol, subscribe, next string }{
		{"graphql-transport-ws", "subscribe", "next"},
		{"graphql-ws", "start", "data"},
	} {
		t.Run(sub.protocol, func(t *testing.T) {
			var encodes atomic.Int64
			got := sharedFrames(t, sub.protocol, sub.subscribe, subs, &encodes,
				coalescingWebsockets{next: newFrameWebsockets(coderws.AcceptOptions{})}, true)
			if n := encodes.Load(); n != 2 {
				t.Fatalf("encoded %d answers for the two executions' one each, want 2 (written directly)", n)
			}
			want := sharedFrames(t, sub.protocol, sub.subscribe, subs, new(atomic.Int64),
				transport.CoderWebsocketImplementation{}, false)
			for id, query := range subs {
				if !bytes.Equal(got[id], want[id]) {
					t.Errorf("subscription %s: got %s, gqlgen writes %s", id, got[id], want[id])
				}
				var m struct {
					ID, Type string
					Payload  struct{ Data struct{ Query string } }
				}
				if err := json.Unmarshal(got[id], &m); err != nil || m.ID != id || m.Type != sub.next {
					t.Errorf("subscription %s: frame %s", id, got[id])
				}
				if m.Payload.Data.Query != query {
					t.Errorf("subscription %s (%s) got another's answer: %s", id, query, got[id])
				}
			}
		})
	}
}

// sharedFrames subscribes subs on one socket of a test server whose
// subscriptions share executions by query, sends one event to each
// execution once all joined, and returns each subscription's answer frame.
func sharedFrames(t *testing.T, protocol, subscribe string, subs map[string]string, encodes *atomic.Int64,
	impl transport.WebsocketImplementation, direct bool) map[string][]byte {
	t.Helper()
	var joined atomic.Int64
	g := subshare.New(subshare.Options{
		Key:   func(_ context.Context, oc *graphql.OperationContext) (string, bool) { return oc.RawQuery, true },
		Count: func(d int64) { joined.Add(d) },
		Encode: func(r *graphql.Response) ([]byte, error) {
			encodes.Add(1)
			return json.Marshal(r)
		},
	})
	srv := testserver.New()
	events := map[string]chan struct{}{}
	for _, query := range subs {
		events[query] = make(chan struct{}, 1)
	}
	wrap := func(exec graphql.GraphExecutor) graphql.GraphExecutor {
		return g.Executor(queryAnswers{GraphExecutor: exec, events: events})
	}
	srv.AddTransport(subscriptionTransport{Transport: transport.Websocket{Implementation: impl}, wrap: wrap, direct: direct})
	ctx, c, write := dialTestServer(t, srv, protocol)
	write(`{"type":"connection_init"}`)
	for id, query := range subs {
		b, _ := json.Marshal(map[string]any{"type": subscribe, "id": id, "payload": map[string]string{"query": query}})
		write(string(b))
	}
	// Two executions start; the other two subscriptions join them.
	for joined.Load() < int64(len(subs)-2) {
		if ctx.Err() != nil {
			t.Fatalf("%d subscriptions joined a running execution, want %d", joined.Load(), len(subs)-2)
		}
		time.Sleep(time.Millisecond)
	}
	for _, ch := range events {
		ch <- struct{}{}
	}
	got := map[string][]byte{}
	for len(got) < len(subs) {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("answers for %d of %d subscriptions: %v", len(got), len(subs), err)
		}
		var m struct{ Type, ID string }
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("frame is not JSON: %s", b)
		}
		if m.Type == "ka" || m.Type == "ping" || m.Type == "connection_ack" {
			continue
		}
		if _, seen := got[m.ID]; seen {
			t.Fatalf("subscription %s answered twice for one event", m.ID)
		}
		got[m.ID] = b
	}
	return got
}

// queryAnswers runs each operation by itself (the test server only parses
// and validates it): it answers once per event sent on its query's channel,
// with its own query text, so that an answer says which execution it comes
// from.
type queryAnswers struct {
	graphql.GraphExecutor
	events map[string]chan struct{}
}

func (e queryAnswers) DispatchOperation(ctx context.Context, oc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	data, _ := json.Marshal(map[string]string{"query": oc.RawQuery})
	events := e.events[oc.RawQuery]
	return func(ctx context.Context) *graphql.Response {
		select {
		case <-events:
			return &graphql.Response{Data: data}
		case <-ctx.Done():
			return nil
		}
	}, ctx
}

// TestTextFramesOfEverySizeAreReadWhole writes messages across the frame
// header's three length encodings (7-bit, 16-bit, 64-bit) straight into a
// coalescing socket, as WriteJSON and direct writes do, and reads them with
// coder/websocket's client.
func TestTextFramesOfEverySizeAreReadWhole(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 70000}
	accepted := make(chan *frameConn, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := coalescingWebsockets{next: newFrameWebsockets(coderws.AcceptOptions{})}.Accept(w, r, transport.WebsocketAcceptOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		accepted <- c.(*frameConn)
	}))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := coderws.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	fc := <-accepted
	if fc.queue == nil {
		t.Fatal("the socket does not coalesce")
	}
	for _, n := range sizes {
		// In two parts, as a direct write frames an answer.
		msg := bytes.Repeat([]byte{'x'}, n)
		if err := fc.writeText(true, msg[:n/2], msg[n/2:]); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range sizes {
		typ, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reading the %d-byte message: %v", n, err)
		}
		if typ != coderws.MessageText || len(b) != n || bytes.Count(b, []byte{'x'}) != n {
			t.Fatalf("read a %v message of %d bytes, want the %d-byte text message", typ, len(b), n)
		}
	}
}

// TestBusySocketRefusesAFrameWholeWithoutWaiting: a frame that may not wait
// is refused once the socket's queue holds more than the bound, and nothing
// of it is queued; frames that may wait still go out, after the others.
func TestBusySocketRefusesAFrameWholeWithoutWaiting(t *testing.T) {
	server, client := net.Pipe()
	cc := newCoalescingConn(server)
	defer cc.Close()
	frame := bytes.Repeat([]byte{'y'}, 1000)
	const max = 10_000
	accepted := 0
	// The flusher takes the first frame and blocks on the pipe, which
	// nothing reads yet; the others queue until the bound.
	for {
		err := cc.writeTextFrame(false, max, frame)
		if errors.Is(err, errCoalescingFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		accepted++
		if accepted > 100 {
			t.Fatal("the queue took 100 frames over a bound of 10")
		}
	}
	if q := cc.queued(); q <= max || q > max+len(frame)+10 {
		t.Fatalf("refused with %d bytes queued, want just over %d", q, max)
	}
	if err := cc.writeTextFrame(true, max, []byte("last")); err != nil {
		t.Fatal(err)
	}
	// Every accepted frame, then the last, arrive whole.
	want := accepted + 1
	got := 0
	for got < want {
		var h [4]byte
		if _, err := io.ReadFull(client, h[:2]); err != nil {
			t.Fatal(err)
		}
		n := int(h[1])
		if n == 126 {
			if _, err := io.ReadFull(client, h[2:4]); err != nil {
				t.Fatal(err)
			}
			n = int(h[2])<<8 | int(h[3])
		}
		if h[0] != 0x81 {
			t.Fatalf("frame %d starts %#x, want a final text frame", got, h[0])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(client, p); err != nil {
			t.Fatal(err)
		}
		if got < accepted && !bytes.Equal(p, frame) || got == accepted && string(p) != "last" {
			t.Fatalf("frame %d is %d bytes %.10q…", got, n, p)
		}
		got++
	}
}

// queued returns the bytes waiting to be written.
func (c *coalescingConn) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// TestIdleSocketGivesItsBufferBackAndABusyOneTakesItFromThePool: a socket
// keeps no buffer once its queue is written, and its next write queues into
// a pooled buffer rather than a new one.
func TestIdleSocketGivesItsBufferBackAndABusyOneTakesItFromThePool(t *testing.T) {
	server, client := net.Pipe()
	go func() { _, _ = io.Copy(io.Discard, client) }()
	pool := &listPool{}
	cc := newCoalescingConn(server)
	cc.buffers = pool
	defer cc.Close()
	idle := func() {
		t.Helper()
		for {
			cc.mu.Lock()
			flushing, idle := cc.flushing, cc.idle
			cc.mu.Unlock()
			if !flushing {
				break
			}
			<-idle
		}
		cc.mu.Lock()
		defer cc.mu.Unlock()
		if cc.pending != nil || cc.spare != nil {
			t.Fatalf("an idle socket keeps %d + %d bytes of buffer", cap(cc.pending), cap(cc.spare))
		}
	}
	if err := cc.writeTextFrame(true, 0, bytes.Repeat([]byte{'z'}, 3000)); err != nil {
		t.Fatal(err)
	}
	idle()
	b, ok := pool.Get().(*[]byte)
	if !ok || cap(*b) < 3000 {
		t.Fatal("the idle socket's buffer did not go back to the pool")
	}
	mark := &(*b)[:1][0]
	pool.Put(b)
	cc.mu.Lock()
	cc.reserve(10)
	took := &cc.pending[:1][0] == mark
	cc.mu.Unlock()
	if !took {
		t.Fatal("the next write did not queue into the pooled buffer")
	}
}

// listPool is a bufferPool that keeps everything put in it (a sync.Pool may
// drop what it holds).
type listPool struct {
	mu sync.Mutex
	l  []any
}

func (p *listPool) Get() any {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.l) == 0 {
		return nil
	}
	v := p.l[len(p.l)-1]
	p.l = p.l[:len(p.l)-1]
	return v
}

func (p *listPool) Put(v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.l = append(p.l, v)
}

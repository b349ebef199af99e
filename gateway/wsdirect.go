package gateway

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/subshare"
)

// A shared subscription on a websocket is written directly: the group's
// goroutine writes the one encoding of each answer to the socket of every
// subscription it has (subshare.Sink), framed as gqlgen's transport frames
// it. Without it, every answer woke one goroutine per subscription in
// gqlgen's transport, which encoded the same answer again for each
// (encoding/json) and wrapped it in a protocol message: most of the CPU of
// delivering one event to 10,000 subscriptions.
//
// gqlgen's transport does not tell the executor the protocol id of the
// operation it runs. It reads each message and, in the same goroutine and
// before it reads the next, creates the operation's context
// (CreateOperationContext); the operation then runs in a goroutine of its
// own (DispatchOperation). So the socket notes the id of the subscribe
// message it last handed the transport (frameConn.NextReader), the
// executor pairs it with the operation context created from that message,
// and DispatchOperation gives the subscription a sink that frames its
// answers with that id. Everything else (acknowledgements, errors,
// completion, the answer of a dropped subscription, subscriptions that
// are not shared) goes through gqlgen's transport as before.

// directQueueMax is the queued bytes (coalescingConn) over which a socket
// takes no more direct answers: the group does not wait for a socket, and
// a subscription whose socket is that busy takes its answers through
// gqlgen's transport from then on.
const directQueueMax = coalesceMaxPending / 2

// directIDsMax bounds the operations created and not yet dispatched on one
// socket: gqlgen's transport dispatches each on a goroutine of its own, so a
// client that sends many subscribe messages at once has as many waiting.
// Those over the bound are answered through gqlgen's transport.
const directIDsMax = 1024

type directSlotKey struct{}

// directSlot pairs the protocol ids of a websocket's subscribe messages with
// the operations created from them. Safe for concurrent use.
type directSlot struct {
	mu     sync.Mutex
	conn   *frameConn // the socket, once frameWebsockets accepted it
	lastID string     // the id of the subscribe message the transport reads now
	ids    map[*graphql.OperationContext]string
}

// withDirectSlot returns ctx with a new slot for its websocket.
func withDirectSlot(ctx context.Context) (context.Context, *directSlot) {
	s := &directSlot{}
	return context.WithValue(ctx, directSlotKey{}, s), s
}

func directSlotFrom(ctx context.Context) *directSlot {
	s, _ := ctx.Value(directSlotKey{}).(*directSlot)
	return s
}

// accepted binds the slot to its socket.
func (s *directSlot) accepted(c *frameConn) {
	s.mu.Lock()
	s.conn = c
	s.mu.Unlock()
}

// read notes the message the socket hands the transport: the id of a
// subscribe (graphql-transport-ws) or start (graphql-ws) message, or none.
func (s *directSlot) read(data []byte) {
	var m struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	id := ""
	if json.Unmarshal(data, &m) == nil && (m.Type == "subscribe" || m.Type == "start") {
		id = m.ID
	}
	s.mu.Lock()
	s.lastID = id
	s.mu.Unlock()
}

// created pairs oc with the id of the message being read.
func (s *directSlot) created(oc *graphql.OperationContext) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastID != "" && len(s.ids) < directIDsMax {
		if s.ids == nil {
			s.ids = map[*graphql.OperationContext]string{}
		}
		s.ids[oc] = s.lastID
	}
	s.lastID = ""
}

// dispatched returns (and forgets) oc's id and the socket.
func (s *directSlot) dispatched(oc *graphql.OperationContext) (string, *frameConn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.ids[oc]
	delete(s.ids, oc)
	return id, s.conn, ok && s.conn != nil
}

// directAnswers is the executor of one websocket request: it pairs each
// operation with its message id (directSlot) and gives each subscription a
// sink that writes its shared answers to the socket.
type directAnswers struct {
	graphql.GraphExecutor
	slot      *directSlot
	fallbacks prometheus.Counter // sinks that refused (nil: not counted)
}

// CreateOperationContext implements graphql.GraphExecutor.
func (e directAnswers) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	oc, errs := e.GraphExecutor.CreateOperationContext(ctx, params)
	if errs == nil && oc != nil {
		e.slot.created(oc)
	}
	return oc, errs
}

// DispatchOperation implements graphql.GraphExecutor.
func (e directAnswers) DispatchOperation(ctx context.Context, oc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	id, conn, ok := e.slot.dispatched(oc)
	if ok && oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		if sink, ok := newDirectSink(conn, id, e.fallbacks); ok {
			ctx = subshare.WithSink(ctx, sink)
		}
	}
	return e.GraphExecutor.DispatchOperation(ctx, oc)
}

// directSink writes a subscription's answers to its socket as gqlgen's
// transport writes them: {"payload":<answer>,"id":<id>,"type":<next or
// data>} (encodeMessage's encoding of its protocol messages).
type directSink struct {
	conn      *frameConn
	head      []byte // {"payload":
	tail      []byte // ,"id":"…","type":"next"}
	fallbacks prometheus.Counter
}

// newDirectSink returns the sink of subscription id on conn, or false when
// its protocol or id is not one it frames, or conn does not coalesce.
func newDirectSink(conn *frameConn, id string, fallbacks prometheus.Counter) (*directSink, bool) {
	if conn.queue == nil {
		return nil, false
	}
	var typ string
	switch conn.Subprotocol() {
	case "graphql-transport-ws":
		typ = "next"
	case "graphql-ws", "":
		typ = "data"
	default:
		return nil, false
	}
	tail := append([]byte(nil), `,"id":`...)
	tail, ok := appendJSONString(tail, id)
	if !ok || id == "" {
		return nil, false
	}
	tail = append(tail, `,"type":"`...)
	tail = append(tail, typ...)
	tail = append(tail, `"}`...)
	return &directSink{conn: conn, head: []byte(`{"payload":`), tail: tail, fallbacks: fallbacks}, true
}

// Deliver implements subshare.Sink: it queues one answer on the socket, or
// reports false when the socket is busy (its queue is over directQueueMax)
// or closed; the subscription's answers then go through gqlgen's
// transport, which waits for space and drops a subscription that falls
// too far behind. It never waits.
// Each refusal is counted in fallbacks (subshare offers a sink nothing more
// once it refused).
func (s *directSink) Deliver(answer []byte) bool {
	if s.conn.writeText(false, s.head, answer, s.tail) == nil {
		return true
	}
	if s.fallbacks != nil {
		s.fallbacks.Inc()
	}
	return false
}

// newDirectFallbacks returns (and registers with d.Metrics) the counter
// procoregraph_websocket_direct_fallbacks_total: shared subscriptions on a
// websocket whose answers went through gqlgen's transport from then on,
// because their socket was busy (its client did not keep up) or closed.
func newDirectFallbacks(d Deps) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "procoregraph_websocket_direct_fallbacks_total",
		Help: "Shared subscriptions on a websocket whose answers went through the per-subscription path from then on, because their socket had more than 512 KiB unsent or was closed.",
	})
	if d.Metrics != nil {
		d.Metrics.MustRegister(c)
	}
	return c
}

// Package subshare runs identical subscriptions as one: subscriptions with
// the same sharing key (the same document, operation, variables and
// visibility) share one execution, and every answer it produces is handed
// to each of them.
//
// Without it, one event to 10,000 subscriptions of the same dashboard is
// resolved and executed 10,000 times (gqlgen runs each subscription's
// selection on its own). With it, the event is resolved, executed and
// its answer built once; each subscription's transport still writes it
// to its own client.
//
// A shared execution (a group) starts with its first subscription, runs in a
// context of its own (the first subscription's values, none of its
// cancellation) and ends when its last subscription leaves or its stream
// ends. A subscription that joins a running group gets the answers produced
// after it joined, as a subscription started at that moment would. Each
// subscription holds at most Buffer unread answers: one that falls further
// behind is dropped on its own (it gets the answers it holds, then the
// answer Options.Dropped makes, then the end of its stream); the group and
// the other subscriptions go on.
package subshare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/safe"
)

// Options configure Groups.
type Options struct {
	// Key returns the sharing key of an operation, or false when it must
	// run on its own. Two operations with the same key must produce the
	// same answers for the same events: the key must name everything the
	// answers depend on (document, operation name, variables, and who may
	// see what). Required.
	Key func(ctx context.Context, oc *graphql.OperationContext) (string, bool)
	// Buffer is how many answers a subscription may hold unread before it
	// is dropped. Default 64.
	Buffer int
	// Dropped makes the last answer of a dropped subscription, given the
	// cursor of the last event it was handed ("" when none). Default: an
	// error that carries no cursor.
	Dropped func(lastCursor string) *graphql.Response
	// Count, when set, is called with +1 when a subscription joins a
	// running group and -1 when a subscription leaves a group that others
	// stay in, so that a gauge the shared execution counts once (as one
	// subscription) counts every subscription.
	Count func(delta int64)
	// Encode encodes an answer for the subscriptions that take it encoded
	// (WithSink), once for all of them. Default encoding/json, as gqlgen's
	// transports encode answers.
	Encode func(*graphql.Response) ([]byte, error)
}

// Sink takes a subscription's answers encoded (Options.Encode), instead of
// its response handler: a websocket that writes the one encoding of an
// answer to each of its subscriptions, without a goroutine and an encoding
// for each. Deliver is called with the group's lock held, in the order of
// the answers, and must not wait; it reports false when it did not take the
// answer (the socket is busy or gone). That answer and every later one then
// go to the subscription's response handler, as for a subscription without
// a sink (buffered, dropped when the buffer is full), and so does every
// answer from the first that fails to encode. Until then its response
// handler returns only the end of its stream.
type Sink interface {
	Deliver(encoded []byte) bool
}

type sinkKey struct{}

// WithSink returns ctx with s as the sink of the subscription dispatched
// with it.
func WithSink(ctx context.Context, s Sink) context.Context {
	return context.WithValue(ctx, sinkKey{}, s)
}

// Groups holds the running shared executions. Safe for concurrent use.
type Groups struct {
	o  Options
	mu sync.Mutex // guards m; taken before a group's mu, never after
	m  map[string]*group
}

// New returns Groups configured by o.
func New(o Options) *Groups {
	if o.Buffer <= 0 {
		o.Buffer = 64
	}
	if o.Dropped == nil {
		o.Dropped = func(string) *graphql.Response {
			return &graphql.Response{Errors: gqlerror.List{{Message: "subscription dropped: the client did not keep up"}}}
		}
	}
	if o.Encode == nil {
		o.Encode = func(r *graphql.Response) ([]byte, error) { return json.Marshal(r) }
	}
	return &Groups{o: o, m: map[string]*group{}}
}

// Len returns the number of running shared executions.
func (g *Groups) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}

// Executor returns next with its subscriptions shared: an operation whose
// Key reports a key joins (or starts) that key's group; every other
// operation goes to next unchanged.
func (g *Groups) Executor(next graphql.GraphExecutor) graphql.GraphExecutor {
	return executor{GraphExecutor: next, g: g}
}

type executor struct {
	graphql.GraphExecutor
	g *Groups
}

// DispatchOperation implements graphql.GraphExecutor.
func (e executor) DispatchOperation(ctx context.Context, oc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	key, ok := e.g.o.Key(ctx, oc)
	if !ok {
		return e.GraphExecutor.DispatchOperation(ctx, oc)
	}
	m := &member{ch: make(chan *graphql.Response, e.g.o.Buffer+1)} // the last slot is for the drop answer
	m.sink, _ = ctx.Value(sinkKey{}).(Sink)
	gr, created := e.g.join(key, m)
	// The subscription leaves its group when its operation ends, whichever
	// side ends it (gqlgen cancels the operation's context).
	context.AfterFunc(ctx, func() { e.g.leave(gr, m) })
	if created {
		e.g.start(ctx, gr, e.GraphExecutor, oc)
	}
	return m.next, ctx
}

// group is one shared execution.
type group struct {
	key string

	mu      sync.Mutex
	cancel  context.CancelFunc // ends the execution
	members map[*member]struct{}
	ended   bool // no member may join; the execution ends or has ended
	// cursors are the cursors of the elements the execution has been handed
	// and not yet answered, in order (Recorder).
	cursors cursorQueue
}

// member is one subscription in a group.
type member struct {
	ch   chan *graphql.Response
	sink Sink   // takes its answers encoded, when not nil
	last string // the cursor of the last answer handed to it
	gone bool   // dropped or left: nothing more is sent to ch
}

// next is the member's gqlgen response handler: its answers in order, then
// nil when its stream ends or its operation does.
func (m *member) next(ctx context.Context) *graphql.Response {
	select {
	case r, ok := <-m.ch:
		if !ok {
			return nil
		}
		return r
	case <-ctx.Done():
		return nil
	}
}

// join adds m to key's group, or starts one when none runs; created reports
// that the caller must start it.
func (g *Groups) join(key string, m *member) (gr *group, created bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gr := g.m[key]; gr != nil {
		gr.mu.Lock()
		joined := !gr.ended
		if joined {
			gr.members[m] = struct{}{}
		}
		gr.mu.Unlock()
		if joined {
			g.count(1)
			return gr, false
		}
	}
	gr = &group{key: key, members: map[*member]struct{}{m: {}}, cancel: func() {}}
	g.m[key] = gr
	return gr, true
}

// start runs gr's execution through next with the context and operation of
// its first subscription (its values, none of its cancellation), and hands
// each answer to every member.
func (g *Groups) start(ctx context.Context, gr *group, next graphql.GraphExecutor, oc *graphql.OperationContext) {
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	gctx = context.WithValue(gctx, recorderKey{}, gr)
	gr.mu.Lock()
	gr.cancel = cancel
	if gr.ended { // every member left before it started
		cancel()
	}
	gr.mu.Unlock()
	responses, rctx, err := dispatch(gctx, next, oc)
	if err != nil {
		// Every member gets what the first subscription alone would have.
		g.hand(gr, &graphql.Response{Errors: gqlerror.List{err}})
		cancel()
		g.end(gr)
		return
	}
	go func() {
		defer g.end(gr)
		defer cancel()
		defer safe.Recover(nil) // a panic ends this group's stream, not the process
		for {
			r := responses(rctx)
			if r == nil {
				return
			}
			// gqlgen's subscription executor writes every answer into one
			// buffer, reset for the next: the members, which write this one
			// later, need their own copy (one per answer, shared by all).
			r.Data = bytes.Clone(r.Data)
			g.hand(gr, r)
		}
	}()
}

// dispatch is next.DispatchOperation with a panic turned into the error
// the operation's recover function makes of it (gqlgen would otherwise
// recover it in the first subscription's transport alone, and the group's
// other members would wait for answers that never come).
func dispatch(ctx context.Context, next graphql.GraphExecutor, oc *graphql.OperationContext) (h graphql.ResponseHandler, rctx context.Context, err *gqlerror.Error) {
	defer func() {
		if r := recover(); r != nil {
			err = &gqlerror.Error{Message: "internal system error"}
			var ge *gqlerror.Error
			if oc.RecoverFunc != nil && errors.As(oc.Recover(ctx, r), &ge) {
				err = ge
			}
		}
	}()
	h, rctx = next.DispatchOperation(ctx, oc)
	return h, rctx, nil
}

// hand gives r to every member of gr: encoded (once for all of them) to
// each member's sink, else to its buffer; a member whose buffer is full is
// dropped.
func (g *Groups) hand(gr *group, r *graphql.Response) {
	gr.mu.Lock()
	cursor := gr.cursors.pop()
	empty := false
	var encoded []byte
	var encodeErr error
	for m := range gr.members {
		if m.sink != nil && encoded == nil && encodeErr == nil {
			encoded, encodeErr = g.o.Encode(r)
		}
		if m.sink != nil && (encodeErr != nil || !m.sink.Deliver(encoded)) {
			// Its response handler gets r, and every later answer, as a
			// member without a sink does: the answers stay in order.
			m.sink = nil
		}
		if m.sink != nil {
			m.last = cursor
			continue
		}
		if len(m.ch) >= g.o.Buffer {
			m.ch <- g.o.Dropped(m.last) // never blocks: the last slot is kept free
			empty = g.removeLocked(gr, m)
			continue
		}
		m.ch <- r
		m.last = cursor
	}
	gr.mu.Unlock()
	if empty {
		g.forget(gr)
	}
}

// leave removes m from gr (once; later calls do nothing).
func (g *Groups) leave(gr *group, m *member) {
	gr.mu.Lock()
	empty := g.removeLocked(gr, m)
	gr.mu.Unlock()
	if empty {
		g.forget(gr)
	}
}

// removeLocked ends m's stream and takes it out of gr; the last member out
// ends the execution, and removeLocked reports it (the caller then forgets
// gr). Called with gr.mu held.
func (g *Groups) removeLocked(gr *group, m *member) (emptied bool) {
	if m.gone {
		return false
	}
	m.gone = true
	close(m.ch)
	delete(gr.members, m)
	if gr.ended {
		return false
	}
	if len(gr.members) == 0 {
		// The execution counts itself (as one subscription) until it ends.
		gr.ended = true
		gr.cancel()
		return true
	}
	g.count(-1)
	return false
}

// end closes every member's stream once gr's execution has ended.
func (g *Groups) end(gr *group) {
	gr.mu.Lock()
	for m := range gr.members {
		if len(gr.members) > 1 {
			g.count(-1)
		}
		m.gone = true
		close(m.ch)
		delete(gr.members, m)
	}
	gr.ended = true
	gr.mu.Unlock()
	g.forget(gr)
}

// forget removes gr from the running groups, unless another group has
// taken its key since.
func (g *Groups) forget(gr *group) {
	g.mu.Lock()
	if g.m[gr.key] == gr {
		delete(g.m, gr.key)
	}
	g.mu.Unlock()
}

func (g *Groups) count(delta int64) {
	if g.o.Count != nil {
		g.o.Count(delta)
	}
}

type recorderKey struct{}

// Recorder is how a subscription resolver tells a shared execution which
// event each of its answers comes from, so that a subscription dropped
// for falling behind is told the last event it was handed. The zero
// Recorder (outside a shared execution) records nothing.
type Recorder struct{ gr *group }

// RecorderFrom returns ctx's Recorder: look it up once per subscription.
func RecorderFrom(ctx context.Context) Recorder {
	gr, _ := ctx.Value(recorderKey{}).(*group)
	return Recorder{gr: gr}
}

// Record notes that the next element the resolver hands its stream (one
// element, one answer) comes from the event with this cursor. Call it
// before handing the element over.
func (rc Recorder) Record(cursor string) {
	if rc.gr == nil {
		return
	}
	rc.gr.mu.Lock()
	rc.gr.cursors.push(cursor)
	rc.gr.mu.Unlock()
}

// cursorQueue is a bounded FIFO of cursors: a stream holds at most a bus
// buffer of elements, so more than maxCursors pending means the pairing was
// lost, and the oldest are forgotten rather than kept without bound.
type cursorQueue struct{ q []string }

const maxCursors = 4096

func (c *cursorQueue) push(s string) {
	if len(c.q) >= maxCursors {
		c.q = c.q[1:]
	}
	c.q = append(c.q, s)
}

func (c *cursorQueue) pop() string {
	if len(c.q) == 0 {
		return ""
	}
	s := c.q[0]
	c.q[0] = ""
	c.q = c.q[1:]
	if len(c.q) == 0 {
		c.q = c.q[:0:0]
	}
	return s
}

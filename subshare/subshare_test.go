package subshare_test

import (
	"context"
	"encoding/json"
	"fmt"
	"procoregraph/testwait"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/subshare"
)

// upstream is a fake executor: each dispatch is one stream whose elements
// the test publishes; like the resolvers, it records each element's cursor
// before handing it over, and counts itself active (as one subscription)
// while its context lives.
type upstream struct {
	graphql.GraphExecutor // only DispatchOperation is used
	active                atomic.Int64
	mu                    sync.Mutex
	streams               []*stream
}

type stream struct {
	ctx context.Context
	rec subshare.Recorder
	in  chan string
}

func (u *upstream) DispatchOperation(ctx context.Context, oc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	if oc.OperationName == "panics" {
		u.mu.Lock()
		u.streams = append(u.streams, &stream{ctx: ctx})
		u.mu.Unlock()
		panic("resolver bug")
	}
	s := &stream{ctx: ctx, rec: subshare.RecorderFrom(ctx), in: make(chan string, 1000)}
	u.active.Add(1)
	context.AfterFunc(ctx, func() { u.active.Add(-1) })
	u.mu.Lock()
	u.streams = append(u.streams, s)
	u.mu.Unlock()
	var buf []byte // reused for every answer, as gqlgen's executor does
	return func(ctx context.Context) *graphql.Response {
		select {
		case c, ok := <-s.in:
			if !ok {
				return nil
			}
			buf = append(append(append(buf[:0], '"'), c...), '"')
			return &graphql.Response{Data: buf}
		case <-ctx.Done():
			return nil
		}
	}, ctx
}

func (u *upstream) dispatched() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.streams)
}

func (u *upstream) stream(t *testing.T, i int) *stream {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if i >= len(u.streams) {
		t.Fatalf("stream %d not dispatched (%d were)", i, len(u.streams))
	}
	return u.streams[i]
}

// publish hands the stream one element, recording its cursor first.
func (s *stream) publish(cursor string) {
	s.rec.Record(cursor)
	s.in <- cursor
}

// sub is one subscription: its response handler and its cancel.
type sub struct {
	next   graphql.ResponseHandler
	ctx    context.Context
	cancel context.CancelFunc
}

func (s sub) get(t *testing.T) string {
	t.Helper()
	done := make(chan *graphql.Response, 1)
	go func() { done <- s.next(s.ctx) }()
	select {
	case r := <-done:
		if r == nil {
			return "<end>"
		}
		if len(r.Errors) > 0 {
			return "error:" + r.Errors[0].Message + ":" + toString(r.Errors[0].Extensions["lastCursor"])
		}
		var v string
		if err := json.Unmarshal(r.Data, &v); err != nil {
			t.Fatal(err)
		}
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10 s")
		return ""
	}
}

// expect reads one answer per want and fails at the first that differs.
func (s sub) expect(t *testing.T, who string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if got := s.get(t); got != want {
			t.Fatalf("%s got %q, want %q", who, got, want)
		}
	}
}

func toString(v any) string {
	s, _ := v.(string)
	return s
}

type opKey struct{}

// setup returns shared groups over a fake upstream; an operation's key is
// its OperationName, and "alone" runs alone. The gauge counts what the
// upstream counts plus what the groups add.
func setup(buffer int) (*upstream, *subshare.Groups, graphql.GraphExecutor, *atomic.Int64) {
	u := &upstream{}
	var added atomic.Int64
	g := subshare.New(subshare.Options{
		Key: func(_ context.Context, oc *graphql.OperationContext) (string, bool) {
			return oc.OperationName, oc.OperationName != "alone"
		},
		Buffer: buffer,
		Dropped: func(last string) *graphql.Response {
			return &graphql.Response{Errors: gqlerror.List{{Message: "dropped", Extensions: map[string]any{"lastCursor": last}}}}
		},
		Count: func(d int64) { added.Add(d) },
	})
	return u, g, g.Executor(u), &added
}

func subscribe(t *testing.T, ex graphql.GraphExecutor, name string) sub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	next, rctx := ex.DispatchOperation(ctx, &graphql.OperationContext{OperationName: name})
	return sub{next: next, ctx: rctx, cancel: cancel}
}

func TestIdenticalSubscriptionsShareOneExecutionAndEachGetsEveryAnswerInOrder(t *testing.T) {
	u, g, ex, added := setup(8)
	subs := []sub{subscribe(t, ex, "dash"), subscribe(t, ex, "dash"), subscribe(t, ex, "dash")}
	if n := u.dispatched(); n != 1 {
		t.Fatalf("dispatched %d executions for 3 identical subscriptions, want 1", n)
	}
	if got := u.active.Load() + added.Load(); got != 3 {
		t.Fatalf("active gauge %d, want 3 (one per subscription)", got)
	}
	s := u.stream(t, 0)
	for _, c := range []string{"c1", "c2", "c3"} {
		s.publish(c)
	}
	for i, sb := range subs {
		sb.expect(t, fmt.Sprint("subscription ", i), "c1", "c2", "c3")
	}
	if g.Len() != 1 {
		t.Fatalf("%d groups, want 1", g.Len())
	}
}

func TestDifferentKeysAndUnsharedOperationsRunOnTheirOwn(t *testing.T) {
	u, g, ex, _ := setup(8)
	a := subscribe(t, ex, "a")
	b := subscribe(t, ex, "b")
	alone1 := subscribe(t, ex, "alone")
	alone2 := subscribe(t, ex, "alone")
	if n := u.dispatched(); n != 4 {
		t.Fatalf("dispatched %d executions, want 4", n)
	}
	if g.Len() != 2 {
		t.Fatalf("%d groups, want 2 (the unshared run outside any)", g.Len())
	}
	u.stream(t, 0).publish("a1")
	u.stream(t, 1).publish("b1")
	u.stream(t, 2).publish("x1")
	u.stream(t, 3).publish("y1")
	for _, c := range []struct {
		s    sub
		want string
	}{{a, "a1"}, {b, "b1"}, {alone1, "x1"}, {alone2, "y1"}} {
		if got := c.s.get(t); got != c.want {
			t.Fatalf("got %q, want %q", got, c.want)
		}
	}
}

func TestLateJoinerGetsOnlyAnswersAfterItJoined(t *testing.T) {
	u, _, ex, _ := setup(8)
	first := subscribe(t, ex, "dash")
	s := u.stream(t, 0)
	s.publish("c1")
	first.expect(t, "first", "c1")
	late := subscribe(t, ex, "dash")
	s.publish("c2")
	late.expect(t, "the late joiner (c1 was answered before it joined)", "c2")
	first.expect(t, "first", "c2")
	if n := u.dispatched(); n != 1 {
		t.Fatalf("dispatched %d, want 1", n)
	}
}

func TestSlowSubscriptionIsDroppedAloneWithItsLastCursor(t *testing.T) {
	u, _, ex, added := setup(2)
	slow := subscribe(t, ex, "dash")
	fast := subscribe(t, ex, "dash")
	s := u.stream(t, 0)
	for _, c := range []string{"c1", "c2", "c3", "c4"} {
		s.publish(c)
		fast.expect(t, "fast", c)
	}
	// slow read nothing: it holds c1 and c2 (its buffer), was dropped at c3.
	slow.expect(t, "slow", "c1", "c2", "error:dropped:c2", "<end>")
	if got := u.active.Load() + added.Load(); got != 1 {
		t.Fatalf("active gauge %d after the drop, want 1", got)
	}
	s.publish("c5")
	if got := fast.get(t); got != "c5" {
		t.Fatalf("fast got %q after the drop, want c5", got)
	}
}

func TestLastSubscriptionLeavingEndsTheExecutionAndTheNextStartsAnew(t *testing.T) {
	u, g, ex, added := setup(8)
	a := subscribe(t, ex, "dash")
	b := subscribe(t, ex, "dash")
	a.cancel()
	if got := a.get(t); got != "<end>" {
		t.Fatalf("canceled subscription got %q", got)
	}
	testwait.For(t, "the gauge to count the one left", func() bool { return u.active.Load()+added.Load() == 1 })
	if err := u.stream(t, 0).ctx.Err(); err != nil {
		t.Fatal("the execution ended while a subscription remained")
	}
	b.cancel()
	testwait.For(t, "the execution to end", func() bool { return u.stream(t, 0).ctx.Err() != nil })
	testwait.For(t, "the gauge to reach 0", func() bool { return u.active.Load()+added.Load() == 0 })
	testwait.For(t, "the group to be forgotten", func() bool { return g.Len() == 0 })
	c := subscribe(t, ex, "dash")
	if n := u.dispatched(); n != 2 {
		t.Fatalf("dispatched %d, want 2 (a new execution after the last left)", n)
	}
	u.stream(t, 1).publish("n1")
	c.expect(t, "the new subscription", "n1")
}

func TestEndedStreamEndsEverySubscription(t *testing.T) {
	u, g, ex, added := setup(8)
	a := subscribe(t, ex, "dash")
	b := subscribe(t, ex, "dash")
	s := u.stream(t, 0)
	s.publish("c1")
	close(s.in)
	a.expect(t, "a", "c1", "<end>")
	b.expect(t, "b", "c1", "<end>")
	testwait.For(t, "the gauge to reach 0", func() bool { return u.active.Load()+added.Load() == 0 })
	testwait.For(t, "the group to be forgotten", func() bool { return g.Len() == 0 })
}

func TestPanickingStartGivesEveryMemberTheErrorAndIsNotReused(t *testing.T) {
	u, g, ex, _ := setup(8)
	ctx := context.Background()
	oc := &graphql.OperationContext{OperationName: "panics",
		RecoverFunc: func(context.Context, any) error { return &gqlerror.Error{Message: "recovered"} }}
	next, rctx := ex.DispatchOperation(ctx, oc)
	s := sub{next: next, ctx: rctx, cancel: func() {}}
	s.expect(t, "the subscription", "error:recovered:", "<end>")
	testwait.For(t, "the group to be forgotten", func() bool { return g.Len() == 0 })
	func() {
		defer func() { _ = recover() }()
		_, _ = ex.DispatchOperation(ctx, oc)
	}()
	if n := u.dispatched(); n != 2 {
		t.Fatalf("dispatched %d, want 2 (the failed group is not joined again)", n)
	}
}

// sink is a subshare.Sink that records the answers delivered to it and,
// from its refuseFrom-th delivery on (0: never), refuses.
type sink struct {
	mu         sync.Mutex
	got        []string
	calls      int
	refuseFrom int
}

func (s *sink) Deliver(encoded []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.refuseFrom > 0 && s.calls >= s.refuseFrom {
		return false
	}
	s.got = append(s.got, string(encoded))
	return true
}

func (s *sink) answers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// setupEncoded is setup with an Encode that counts its calls.
func setupEncoded(buffer int) (*upstream, graphql.GraphExecutor, *atomic.Int64) {
	u := &upstream{}
	var encodes atomic.Int64
	g := subshare.New(subshare.Options{
		Key:    func(_ context.Context, oc *graphql.OperationContext) (string, bool) { return oc.OperationName, true },
		Buffer: buffer,
		Encode: func(r *graphql.Response) ([]byte, error) {
			encodes.Add(1)
			return json.Marshal(r)
		},
	})
	return u, g.Executor(u), &encodes
}

func subscribeWithSink(t *testing.T, ex graphql.GraphExecutor, name string, s subshare.Sink) sub {
	t.Helper()
	ctx, cancel := context.WithCancel(subshare.WithSink(context.Background(), s))
	t.Cleanup(cancel)
	next, rctx := ex.DispatchOperation(ctx, &graphql.OperationContext{OperationName: name})
	return sub{next: next, ctx: rctx, cancel: cancel}
}

func TestSinksTakeEveryAnswerEncodedOnceForAllInOrder(t *testing.T) {
	u, ex, encodes := setupEncoded(8)
	sinks := []*sink{{}, {}, {}}
	var subs []sub
	for _, s := range sinks {
		subs = append(subs, subscribeWithSink(t, ex, "dash", s))
	}
	plain := subscribe(t, ex, "dash")
	st := u.stream(t, 0)
	for _, c := range []string{"c1", "c2", "c3"} {
		st.publish(c)
	}
	plain.expect(t, "the subscription without a sink", "c1", "c2", "c3")
	want := []string{`{"data":"c1"}`, `{"data":"c2"}`, `{"data":"c3"}`}
	for i, s := range sinks {
		testwait.For(t, fmt.Sprint("sink ", i, " to take 3 answers"), func() bool { return len(s.answers()) == 3 })
		if got := s.answers(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("sink %d took %v, want %v", i, got, want)
		}
	}
	if n := encodes.Load(); n != 3 {
		t.Fatalf("encoded %d times for 3 answers to 3 sinks, want 3", n)
	}
	// A subscription with a sink has nothing for its response handler but
	// the end of its stream.
	close(st.in)
	for i, sb := range subs {
		sb.expect(t, fmt.Sprint("subscription with sink ", i), "<end>")
	}
}

func TestRefusingSinkHandsThatAnswerAndEveryLaterOneToTheHandlerInOrder(t *testing.T) {
	u, ex, _ := setupEncoded(8)
	refusing := &sink{refuseFrom: 2}
	sb := subscribeWithSink(t, ex, "dash", refusing)
	st := u.stream(t, 0)
	for _, c := range []string{"c1", "c2", "c3"} {
		st.publish(c)
	}
	sb.expect(t, "the subscription whose sink refused c2", "c2", "c3")
	if got := refusing.answers(); len(got) != 1 || got[0] != `{"data":"c1"}` {
		t.Fatalf("the sink took %v, want c1 alone", got)
	}
	st.publish("c4")
	sb.expect(t, "the subscription after its sink refused", "c4")
	refusing.mu.Lock()
	calls := refusing.calls
	refusing.mu.Unlock()
	if calls != 2 {
		t.Fatalf("the sink was offered %d answers, want 2 (none after it refused)", calls)
	}
}

func TestAnswerThatFailsToEncodeGoesToTheHandler(t *testing.T) {
	u := &upstream{}
	g := subshare.New(subshare.Options{
		Key:    func(context.Context, *graphql.OperationContext) (string, bool) { return "k", true },
		Encode: func(*graphql.Response) ([]byte, error) { return nil, fmt.Errorf("cannot encode") },
	})
	s := &sink{}
	sb := subscribeWithSink(t, g.Executor(u), "dash", s)
	st := u.stream(t, 0)
	st.publish("c1")
	st.publish("c2")
	sb.expect(t, "the subscription", "c1", "c2")
	if got := s.answers(); len(got) != 0 {
		t.Fatalf("the sink took %v of answers that did not encode", got)
	}
}

package rest

import (
	"context"
	"sync"
)

// fairLimiter bounds the calls in flight on one connection and, when the
// bound is reached, hands freed slots to the waiting flows in turn (round
// robin), one call each, instead of first come first served. A flow is one
// client request (its request id): a dashboard's fan-out of 90 calls then
// delays another dashboard by at most one call per turn instead of queueing
// it behind all 90.
//
// Every waiter is a goroutine blocked in Acquire, so the queues are bounded
// by the callers; a waiter whose context ends leaves its queue.
type fairLimiter struct {
	mu       sync.Mutex
	capacity int
	inFlight int
	queues   map[string][]*fairWaiter
	ring     []string // flows with waiters, in turn order
	next     int      // index in ring of the flow served next
}

type fairWaiter struct {
	ready   chan struct{}
	granted bool // under mu: the slot was handed to this waiter
}

func newFairLimiter(capacity int) *fairLimiter {
	return &fairLimiter{capacity: max(capacity, 1), queues: map[string][]*fairWaiter{}}
}

// Acquire takes a slot for flow, waiting for its turn; it fails only with
// ctx's error, holding no slot then.
func (l *fairLimiter) Acquire(ctx context.Context, flow string) error {
	l.mu.Lock()
	if l.inFlight < l.capacity && len(l.ring) == 0 {
		l.inFlight++
		l.mu.Unlock()
		return nil
	}
	w := &fairWaiter{ready: make(chan struct{})}
	if len(l.queues[flow]) == 0 {
		l.ring = append(l.ring, flow)
	}
	l.queues[flow] = append(l.queues[flow], w)
	l.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	if w.granted {
		// The slot arrived as the context ended: pass it on.
		l.mu.Unlock()
		l.Release()
		return ctx.Err()
	}
	q := l.queues[flow]
	for i, x := range q {
		if x == w {
			q = append(q[:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		l.dropFlow(flow)
	} else {
		l.queues[flow] = q
	}
	l.mu.Unlock()
	return ctx.Err()
}

// Release frees a slot: the next flow in turn gets it, or it becomes free.
func (l *fairLimiter) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) == 0 {
		l.inFlight--
		return
	}
	if l.next >= len(l.ring) {
		l.next = 0
	}
	flow := l.ring[l.next]
	q := l.queues[flow]
	w := q[0]
	q[0] = nil
	if len(q) == 1 {
		l.dropFlow(flow) // the turn passes to the flow that slid into l.next
	} else {
		l.queues[flow] = q[1:]
		l.next++
	}
	w.granted = true
	close(w.ready)
}

// dropFlow removes flow (whose queue is empty) from the ring, keeping the
// turn order of the others. Called with mu held.
func (l *fairLimiter) dropFlow(flow string) {
	delete(l.queues, flow)
	for i, f := range l.ring {
		if f == flow {
			l.ring = append(l.ring[:i], l.ring[i+1:]...)
			if l.next > i {
				l.next--
			}
			break
		}
	}
	if l.next >= len(l.ring) {
		l.next = 0
	}
}

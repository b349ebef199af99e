package events

import (
	"context"
	"errors"
	"sync/atomic"

	"procoregraph/cache"
)

// MemoryQueueOptions configure NewMemoryQueue. Zero values mean the defaults.
type MemoryQueueOptions struct {
	QueueOptions
	// Seen records accepted event ids (SetNX under cache.AuxKey(conn,
	// "webhook", id) for DedupeTTL); the process's correctness-state store
	// (package state), which refuses rather than evicts, so an id is never
	// forgotten early and a duplicate never processed twice. Required.
	Seen cache.Store
	// Capacity is how many deliveries may wait. When it is reached Enqueue
	// returns ErrQueueFull, the receiver answers 503 and Procore retries the
	// delivery later (pausing that endpoint's deliveries meanwhile): nothing
	// is dropped. Default 1,024.
	Capacity int
}

// MemoryQueue is the single-process WebhookQueue: a bounded channel drained
// by Workers goroutines. It is not durable: deliveries waiting or in
// progress when the process exits are lost (the poller, when enabled, still
// finds those changes). Use RedisQueue when replicas share Redis.
type MemoryQueue struct {
	o        MemoryQueueOptions
	ch       chan Delivery
	inflight atomic.Int64
	lost     atomic.Int64 // attempts interrupted by Close
	c        queueCounters

	queueLife
	dead []DeadLetter // the latest, at most maxMemoryDeadLetters (under mu)
}

// DeadLetter is a delivery a queue gave up on.
type DeadLetter struct {
	Delivery Delivery
	Attempts int
	Err      string
}

const maxMemoryDeadLetters = 100

var _ WebhookQueue = (*MemoryQueue)(nil)

// NewMemoryQueue returns a queue; call Start to process, Close to stop.
func NewMemoryQueue(o MemoryQueueOptions) (*MemoryQueue, error) {
	if o.Seen == nil {
		return nil, errors.New("events: MemoryQueueOptions.Seen is required")
	}
	o.QueueOptions = o.QueueOptions.withDefaults()
	if o.Capacity <= 0 {
		o.Capacity = 1024
	}
	return &MemoryQueue{o: o, ch: make(chan Delivery, o.Capacity), queueLife: newQueueLife()}, nil
}

func seenKey(d Delivery) string { return cache.AuxKey(d.Conn, "webhook", d.EventID) }

// Enqueue implements WebhookQueue.
func (q *MemoryQueue) Enqueue(ctx context.Context, d Delivery) (bool, error) {
	if q.isClosed() {
		return false, ErrQueueClosed
	}
	key := seenKey(d)
	first, err := q.o.Seen.SetNX(ctx, key, []byte(d.ResourceName), q.o.DedupeTTL)
	if err != nil {
		return false, err
	}
	if !first {
		q.c.duplicates.Add(1)
		return false, nil
	}
	select {
	case q.ch <- d:
		q.c.accepted.Add(1)
		return true, nil
	default:
		// Forget the id, so that Procore's retry is accepted once there is room.
		if err := q.o.Seen.Delete(context.WithoutCancel(ctx), key); err != nil {
			q.o.Logger.Error("webhook queue: cannot forget a refused event id; its retry will be taken for a duplicate", "err", err)
		}
		q.c.full.Add(1)
		return false, ErrQueueFull
	}
}

// Start implements WebhookQueue.
func (q *MemoryQueue) Start(process ProcessFunc) error {
	return q.begin(func() {
		for range q.o.Workers {
			q.wg.Add(1)
			go q.work(process)
		}
	})
}

func (q *MemoryQueue) work(process ProcessFunc) {
	defer q.wg.Done()
	for {
		select {
		case <-q.ctx.Done():
			return
		case d := <-q.ch:
			q.inflight.Add(1)
			attempts, err := q.o.attempt(q.ctx, &q.c, d, process)
			switch {
			case err == nil:
			case q.ctx.Err() != nil:
				q.lost.Add(1)
			default:
				q.recordDead(d, attempts, err)
			}
			q.inflight.Add(-1)
		}
	}
}

func (q *MemoryQueue) recordDead(d Delivery, attempts int, err error) {
	q.mu.Lock()
	q.dead = append(q.dead, DeadLetter{Delivery: d, Attempts: attempts, Err: err.Error()})
	if len(q.dead) > maxMemoryDeadLetters {
		q.dead = append(q.dead[:0:0], q.dead[len(q.dead)-maxMemoryDeadLetters:]...)
	}
	q.mu.Unlock()
	q.o.deadLetter(&q.c, d, attempts, err)
}

// DeadLetters returns the latest dead-lettered deliveries (at most 100),
// oldest first.
func (q *MemoryQueue) DeadLetters() []DeadLetter {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]DeadLetter(nil), q.dead...)
}

// Depth implements WebhookQueue.
func (q *MemoryQueue) Depth(context.Context) (int64, error) {
	return int64(len(q.ch)) + q.inflight.Load(), nil
}

// Stats implements WebhookQueue.
func (q *MemoryQueue) Stats() QueueStats { return q.c.stats() }

// Close implements WebhookQueue: workers stop (an attempt in progress is
// cancelled) and Close waits for them; what was queued is dropped and logged.
func (q *MemoryQueue) Close() error {
	if !q.end() {
		return nil
	}
	if n := int64(len(q.ch)) + q.lost.Load(); n > 0 {
		q.o.Logger.Warn("webhook queue closed with deliveries not processed (in memory: lost)", "deliveries", n)
	}
	return nil
}

package events

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Delivery is one accepted webhook event, kept by a WebhookQueue until a
// worker has processed it. It holds only what Procore's payload said (ids,
// no resource body), so processing reads the item as it is then.
type Delivery struct {
	// Conn is the connection the event's company belongs to.
	Conn string `json:"conn"`
	// EventID is Procore's ulid (v2.0/v3.0), or its id when there is no
	// ulid; v4.0 sends the ulid as the id. Deduplication is by (Conn, EventID).
	EventID      string    `json:"event_id"`
	CompanyID    int64     `json:"company_id"`
	ProjectID    int64     `json:"project_id,omitempty"`
	ResourceName string    `json:"resource_name"`
	ResourceID   int64     `json:"resource_id,omitempty"`
	EventType    string    `json:"event_type"`
	ReceivedAt   time.Time `json:"received_at"`
}

// ProcessFunc handles one delivery. An error makes the queue try again after
// a backoff, unless it is Permanent or the attempts are spent; then the
// delivery is dead-lettered.
type ProcessFunc func(ctx context.Context, d Delivery) error

// WebhookQueue holds accepted webhook deliveries between the receiver, which
// must answer Procore within 5 s, and the workers that read Procore. The
// receiver acknowledges a delivery once Enqueue has accepted it.
//
// Two implementations: MemoryQueue (one process, bounded, lost on exit) and
// RedisQueue (Redis Streams shared by replicas, durable, recovered after a
// replica dies).
type WebhookQueue interface {
	// Enqueue accepts d, reporting false (and no error) when a delivery with
	// the same Conn and EventID was accepted within the dedupe window: Procore
	// delivers at least once, and each event is processed once. It returns
	// ErrQueueFull when the queue holds its maximum (the delivery is not
	// recorded, so Procore's retry is accepted once there is room) and
	// ErrQueueClosed after Close.
	Enqueue(ctx context.Context, d Delivery) (accepted bool, err error)
	// Start runs the workers, which call process for each delivery until
	// Close. It may be called once.
	Start(process ProcessFunc) error
	// Depth is the number of deliveries accepted and not yet processed or
	// dead-lettered (waiting or in progress), for metrics.
	Depth(ctx context.Context) (int64, error)
	// Stats are this process's counters since it started.
	Stats() QueueStats
	// Close stops the workers and waits for them. A delivery in progress is
	// interrupted: RedisQueue leaves it pending for another replica (or the
	// next start) to recover; MemoryQueue loses it and everything queued.
	Close() error
}

// QueueStats are a queue's counters in this process.
type QueueStats struct {
	Accepted     int64 // Enqueue accepted
	Duplicates   int64 // Enqueue refused as already accepted
	Full         int64 // Enqueue refused with ErrQueueFull
	Processed    int64 // processed without error
	Retries      int64 // failed attempts that were tried again
	DeadLettered int64 // gave up: attempts spent, permanent error, or delivered too often
	Recovered    int64 // claimed from a consumer that stopped (RedisQueue)
}

type queueCounters struct {
	accepted, duplicates, full, processed, retries, dead, recovered atomic.Int64
}

func (c *queueCounters) stats() QueueStats {
	return QueueStats{Accepted: c.accepted.Load(), Duplicates: c.duplicates.Load(), Full: c.full.Load(),
		Processed: c.processed.Load(), Retries: c.retries.Load(), DeadLettered: c.dead.Load(), Recovered: c.recovered.Load()}
}

var (
	// ErrQueueFull: the queue holds its maximum; the receiver answers 503 so
	// that Procore retries the delivery later.
	ErrQueueFull = errors.New("events: webhook queue is full")
	// ErrQueueClosed is returned by Enqueue and Start after Close.
	ErrQueueClosed = errors.New("events: webhook queue closed")
)

// Permanent marks err as one that trying again cannot fix (the credential
// may not read the item, the delivery names something that does not exist):
// the delivery is dead-lettered without further attempts.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// QueueOptions are the processing settings both queues share. Zero values
// mean the documented defaults.
type QueueOptions struct {
	// Workers is the number of deliveries processed at once by this
	// process. Default 4.
	Workers int
	// MaxAttempts is how many times a delivery is tried before it is
	// dead-lettered. Default 5.
	MaxAttempts int
	// MinBackoff is the wait after the first failed attempt; it doubles
	// after each further failure (with up to 25% jitter), capped at
	// MaxBackoff. Defaults 1 s and 30 s.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// AttemptTimeout bounds one attempt. Default 30 s.
	AttemptTimeout time.Duration
	// DedupeTTL is how long an accepted event id is remembered. Default 24 h
	// (Procore discards undelivered events after 12 h).
	DedupeTTL time.Duration
	// OnDeadLetter, when set, is called for every dead-lettered delivery
	// (after it is logged and recorded).
	OnDeadLetter func(d Delivery, attempts int, err error)
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

func (o QueueOptions) withDefaults() QueueOptions {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 30 * time.Second
	}
	if o.DedupeTTL <= 0 {
		o.DedupeTTL = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// attempt runs process on d until it succeeds, fails permanently or spends
// MaxAttempts, waiting a backoff between attempts. err is nil on success;
// when ctx ended (Close) err is ctx's error and the delivery was neither
// processed nor failed.
func (o QueueOptions) attempt(ctx context.Context, c *queueCounters, d Delivery, process ProcessFunc) (attempts int, err error) {
	wait := o.MinBackoff
	for attempts = 1; ; attempts++ {
		actx, cancel := context.WithTimeout(ctx, o.AttemptTimeout)
		err = process(actx, d)
		cancel()
		if err == nil {
			c.processed.Add(1)
			return attempts, nil
		}
		if ctx.Err() != nil {
			return attempts, ctx.Err()
		}
		if isPermanent(err) || attempts >= o.MaxAttempts {
			return attempts, err
		}
		c.retries.Add(1)
		o.Logger.Info("webhook processing failed; retrying", "resource", d.ResourceName, "resource_id", d.ResourceID,
			"event", d.EventID, "attempt", attempts, "err", err)
		t := time.NewTimer(wait + time.Duration(rand.Int64N(int64(wait)/4+1)))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return attempts, ctx.Err()
		}
		wait = min(wait*2, o.MaxBackoff)
	}
}

// deadLetter logs and counts a delivery given up on.
func (o QueueOptions) deadLetter(c *queueCounters, d Delivery, attempts int, err error) {
	c.dead.Add(1)
	o.Logger.Error("webhook delivery dead-lettered: its change reaches subscribers only through the poller or a later event",
		"resource", d.ResourceName, "resource_id", d.ResourceID, "project", d.ProjectID, "event", d.EventID,
		"conn", d.Conn, "attempts", attempts, "err", err)
	if o.OnDeadLetter != nil {
		o.OnDeadLetter(d, attempts, err)
	}
}

// queueLife is what both queues share about their lifetime: the workers'
// context, the wait for them, and whether the queue was started or closed
// (mu also guards what each queue keeps beside it).
type queueLife struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	started bool
	closed  bool
}

func newQueueLife() queueLife {
	ctx, cancel := context.WithCancel(context.Background())
	return queueLife{ctx: ctx, cancel: cancel}
}

// begin marks the queue started and runs start, under mu: ErrQueueClosed
// after Close, an error on a second Start.
func (l *queueLife) begin(start func()) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrQueueClosed
	}
	if l.started {
		return errors.New("events: webhook queue already started")
	}
	l.started = true
	start()
	return nil
}

func (l *queueLife) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// end closes the queue: its workers' context is cancelled and end waits for
// them. It reports false when the queue was already closed.
func (l *queueLife) end() bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
	return true
}

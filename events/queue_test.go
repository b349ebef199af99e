package events_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"procoregraph/testwait"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"procoregraph/cache"
	"procoregraph/cache/cachetest"
	"procoregraph/events"
)

// fastRetries are QueueOptions that retry within milliseconds.
func fastRetries(o events.QueueOptions) events.QueueOptions {
	o.MinBackoff, o.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	if o.Workers == 0 {
		o.Workers = 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

type queueMaker func(t *testing.T, o events.QueueOptions) events.WebhookQueue

func memoryQueues(t *testing.T) queueMaker {
	return func(t *testing.T, o events.QueueOptions) events.WebhookQueue {
		t.Helper()
		store, err := cache.NewMemory(cache.MemoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		q, err := events.NewMemoryQueue(events.MemoryQueueOptions{QueueOptions: fastRetries(o), Seen: store})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = q.Close() })
		return q
	}
}

// redisQueues makes queues on REDIS_URL under one prefix per test, so that
// the queues one test makes are replicas of one another.
func redisQueues(t *testing.T) queueMaker {
	rdb := cachetest.Client(t)
	prefixes := map[*testing.T]string{}
	var mu sync.Mutex
	return func(t *testing.T, o events.QueueOptions) events.WebhookQueue {
		t.Helper()
		mu.Lock()
		prefix, ok := prefixes[t]
		if !ok {
			prefix = cachetest.Prefix(t, rdb, "webhook-queue")
			prefixes[t] = prefix
		}
		mu.Unlock()
		q, err := events.NewRedisQueue(events.RedisQueueOptions{QueueOptions: fastRetries(o), Client: rdb, Prefix: prefix,
			ClaimIdle: 300 * time.Millisecond, Block: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = q.Close() })
		return q
	}
}

func delivery(n int) events.Delivery {
	return events.Delivery{Conn: "c1", EventID: fmt.Sprintf("01J%023d", n), CompanyID: 7, ProjectID: 8,
		ResourceName: events.ResourceRFIs, ResourceID: int64(100 + n), EventType: "update", ReceivedAt: time.Now().UTC()}
}

func enqueue(t *testing.T, q events.WebhookQueue, d events.Delivery) bool {
	t.Helper()
	ok, err := q.Enqueue(context.Background(), d)
	if err != nil {
		t.Fatalf("enqueue %s: %v", d.EventID, err)
	}
	return ok
}

func depth(t *testing.T, q events.WebhookQueue) int64 {
	t.Helper()
	n, err := q.Depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// calls counts ProcessFunc calls per event id.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) add(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[id]++
	return c.n[id]
}

func (c *calls) of(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

func (c *calls) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	sum := 0
	for _, n := range c.n {
		sum += n
	}
	return sum
}

func TestWebhookQueue(t *testing.T) {
	t.Run("Memory", func(t *testing.T) { queueContract(t, memoryQueues(t)) })
	t.Run("Redis", func(t *testing.T) { queueContract(t, redisQueues(t)) })
}

// queueContract is what both queues promise.
func queueContract(t *testing.T, newQueue queueMaker) {
	t.Run("AcceptsBeforeProcessing", func(t *testing.T) {
		q := newQueue(t, events.QueueOptions{})
		release := make(chan struct{})
		started := make(chan string, 1)
		var done atomic.Int64
		if err := q.Start(func(ctx context.Context, d events.Delivery) error {
			started <- d.EventID
			<-release
			done.Add(1)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		d := delivery(1)
		if !enqueue(t, q, d) {
			t.Fatal("a new delivery was not accepted")
		}
		if done.Load() != 0 {
			t.Fatal("Enqueue waited for processing")
		}
		if got := <-started; got != d.EventID {
			t.Fatalf("processing %s", got)
		}
		if n := depth(t, q); n != 1 {
			t.Fatalf("depth %d while the delivery is in progress, want 1", n)
		}
		close(release)
		testwait.For(t, "the delivery processed", func() bool { return q.Stats().Processed == 1 })
		testwait.For(t, "an empty queue", func() bool { return depth(t, q) == 0 })
	})

	t.Run("RetriesFailedAttemptThenSucceeds", func(t *testing.T) {
		q := newQueue(t, events.QueueOptions{MaxAttempts: 5})
		var c calls
		if err := q.Start(func(ctx context.Context, d events.Delivery) error {
			if c.add(d.EventID) < 3 {
				return errors.New("Procore answered 503")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		d := delivery(2)
		enqueue(t, q, d)
		testwait.For(t, "the delivery processed", func() bool { return q.Stats().Processed == 1 })
		if st := q.Stats(); c.of(d.EventID) != 3 || st.Retries != 2 || st.DeadLettered != 0 {
			t.Fatalf("%d attempts, stats %+v; want 3 attempts, 2 retries, no dead letter", c.of(d.EventID), st)
		}
		testwait.For(t, "an empty queue", func() bool { return depth(t, q) == 0 })
	})

	t.Run("DeadLettersAfterMaxAttempts", func(t *testing.T) {
		var dead atomic.Pointer[events.Delivery]
		q := newQueue(t, events.QueueOptions{MaxAttempts: 3, OnDeadLetter: func(d events.Delivery, attempts int, err error) {
			if attempts == 3 {
				dead.Store(&d)
			}
		}})
		var c calls
		if err := q.Start(func(ctx context.Context, d events.Delivery) error {
			c.add(d.EventID)
			return errors.New("Procore keeps failing")
		}); err != nil {
			t.Fatal(err)
		}
		d := delivery(3)
		enqueue(t, q, d)
		testwait.For(t, "the dead letter", func() bool { return dead.Load() != nil })
		if got := dead.Load(); got.EventID != d.EventID || got.ResourceID != d.ResourceID {
			t.Fatalf("dead letter %+v, want %+v", got, d)
		}
		if st := q.Stats(); c.of(d.EventID) != 3 || st.DeadLettered != 1 || st.Processed != 0 {
			t.Fatalf("%d attempts, stats %+v", c.of(d.EventID), st)
		}
		testwait.For(t, "an empty queue", func() bool { return depth(t, q) == 0 })
		switch q := q.(type) {
		case *events.MemoryQueue:
			if dl := q.DeadLetters(); len(dl) != 1 || dl[0].Attempts != 3 || dl[0].Delivery.EventID != d.EventID {
				t.Fatalf("dead letters %+v", dl)
			}
		case *events.RedisQueue:
			if n, err := q.DeadLetterCount(context.Background()); err != nil || n != 1 {
				t.Fatalf("dead-letter stream holds %d (%v), want 1", n, err)
			}
		}
		if enqueue(t, q, d) {
			t.Fatal("a dead-lettered event id was accepted again")
		}
	})

	t.Run("PermanentErrorIsDeadLetteredWithoutRetry", func(t *testing.T) {
		q := newQueue(t, events.QueueOptions{MaxAttempts: 5})
		var c calls
		if err := q.Start(func(ctx context.Context, d events.Delivery) error {
			c.add(d.EventID)
			return events.Permanent(errors.New("forbidden"))
		}); err != nil {
			t.Fatal(err)
		}
		d := delivery(4)
		enqueue(t, q, d)
		testwait.For(t, "the dead letter", func() bool { return q.Stats().DeadLettered == 1 })
		if c.of(d.EventID) != 1 {
			t.Fatalf("%d attempts, want 1", c.of(d.EventID))
		}
	})

	t.Run("DuplicateDeliveryIsProcessedOnce", func(t *testing.T) {
		q := newQueue(t, events.QueueOptions{})
		var c calls
		if err := q.Start(func(ctx context.Context, d events.Delivery) error { c.add(d.EventID); return nil }); err != nil {
			t.Fatal(err)
		}
		d := delivery(5)
		if !enqueue(t, q, d) || enqueue(t, q, d) {
			t.Fatal("want the first delivery accepted and its duplicate refused")
		}
		testwait.For(t, "the delivery processed", func() bool { return q.Stats().Processed == 1 })
		time.Sleep(50 * time.Millisecond)
		if enqueue(t, q, d) || c.of(d.EventID) != 1 {
			t.Fatalf("processed %d times, want once; a late duplicate must be refused too", c.of(d.EventID))
		}
		if st := q.Stats(); st.Duplicates != 2 || st.Accepted != 1 {
			t.Fatalf("stats %+v", st)
		}
	})

	t.Run("CloseStopsWorkers", func(t *testing.T) {
		q := newQueue(t, events.QueueOptions{Workers: 3})
		before := runtime.NumGoroutine()
		inProgress := make(chan struct{})
		interrupted := make(chan error, 1)
		if err := q.Start(func(ctx context.Context, d events.Delivery) error {
			close(inProgress)
			<-ctx.Done()
			interrupted <- ctx.Err()
			return ctx.Err()
		}); err != nil {
			t.Fatal(err)
		}
		enqueue(t, q, delivery(6))
		<-inProgress
		closed := make(chan struct{})
		go func() { _ = q.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not return")
		}
		if err := <-interrupted; err == nil {
			t.Fatal("the attempt in progress was not cancelled")
		}
		if _, err := q.Enqueue(context.Background(), delivery(7)); !errors.Is(err, events.ErrQueueClosed) {
			t.Fatalf("Enqueue after Close: %v, want ErrQueueClosed", err)
		}
		if st := q.Stats(); st.Processed != 0 || st.DeadLettered != 0 {
			t.Fatalf("an interrupted delivery was counted as finished: %+v", st)
		}
		testwait.For(t, "the workers gone", func() bool { return runtime.NumGoroutine() <= before })
	})
}

func TestMemoryQueueWhenFullRefusesAndForgetsTheID(t *testing.T) {
	store, _ := cache.NewMemory(cache.MemoryOptions{})
	q, err := events.NewMemoryQueue(events.MemoryQueueOptions{Seen: store, Capacity: 1,
		QueueOptions: fastRetries(events.QueueOptions{Workers: 1})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	release := make(chan struct{})
	busy := make(chan struct{}, 10)
	if err := q.Start(func(ctx context.Context, d events.Delivery) error {
		busy <- struct{}{}
		<-release
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, delivery(1)) // taken by the only worker
	<-busy
	enqueue(t, q, delivery(2)) // waits in the queue
	if _, err := q.Enqueue(context.Background(), delivery(3)); !errors.Is(err, events.ErrQueueFull) {
		t.Fatalf("third delivery: %v, want ErrQueueFull", err)
	}
	if st := q.Stats(); st.Full != 1 || st.Accepted != 2 {
		t.Fatalf("stats %+v", st)
	}
	close(release)
	testwait.For(t, "room", func() bool { return depth(t, q) == 0 })
	if !enqueue(t, q, delivery(3)) {
		t.Fatal("Procore's retry of the refused delivery was taken for a duplicate")
	}
}

func TestRedisQueueAcrossReplicas(t *testing.T) {
	newQueue := redisQueues(t)
	rdb := cachetest.Client(t)
	ctx := context.Background()

	t.Run("DeduplicatesAcrossReplicas", func(t *testing.T) {
		a, b := newQueue(t, events.QueueOptions{}), newQueue(t, events.QueueOptions{})
		var c calls
		process := func(ctx context.Context, d events.Delivery) error { c.add(d.EventID); return nil }
		if err := a.Start(process); err != nil {
			t.Fatal(err)
		}
		if err := b.Start(process); err != nil {
			t.Fatal(err)
		}
		d := delivery(1)
		var accepted atomic.Int64
		var wg sync.WaitGroup
		for i := range 16 { // Procore's duplicates reach both replicas at once
			wg.Add(1)
			go func() {
				defer wg.Done()
				q := a
				if i%2 == 1 {
					q = b
				}
				if ok, err := q.Enqueue(ctx, d); err == nil && ok {
					accepted.Add(1)
				}
			}()
		}
		wg.Wait()
		if accepted.Load() != 1 {
			t.Fatalf("%d replicas accepted the event, want 1", accepted.Load())
		}
		testwait.For(t, "the delivery processed", func() bool { return c.total() == 1 })
		time.Sleep(200 * time.Millisecond)
		if c.of(d.EventID) != 1 {
			t.Fatalf("processed %d times", c.of(d.EventID))
		}
	})

	t.Run("ExactlyOneReplicaProcessesEachDelivery", func(t *testing.T) {
		a, b := newQueue(t, events.QueueOptions{}), newQueue(t, events.QueueOptions{})
		var c calls
		var byA, byB atomic.Int64
		if err := a.Start(func(ctx context.Context, d events.Delivery) error { c.add(d.EventID); byA.Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := b.Start(func(ctx context.Context, d events.Delivery) error { c.add(d.EventID); byB.Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		const n = 40
		for i := range n {
			enqueue(t, a, delivery(100+i))
		}
		testwait.For(t, "every delivery processed", func() bool { return c.total() == n })
		time.Sleep(200 * time.Millisecond)
		for i := range n {
			if got := c.of(delivery(100 + i).EventID); got != 1 {
				t.Fatalf("delivery %d processed %d times", i, got)
			}
		}
		t.Logf("replica A processed %d, replica B %d", byA.Load(), byB.Load())
	})

	t.Run("DeliveryClaimedByDeadConsumerIsRecoveredByAnother", func(t *testing.T) {
		a := newQueue(t, events.QueueOptions{}).(*events.RedisQueue)
		d := delivery(2)
		enqueue(t, a, d) // accepted by a replica that never processes it
		// A consumer that took it and died: in the group's pending list, never acknowledged.
		if err := rdb.XGroupCreateMkStream(ctx, a.StreamKey(), "procoregraph-webhooks", "0").Err(); err != nil {
			t.Fatal(err)
		}
		got, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "procoregraph-webhooks", Consumer: "dead-replica",
			Streams: []string{a.StreamKey(), ">"}, Count: 1}).Result()
		if err != nil || len(got) != 1 || len(got[0].Messages) != 1 {
			t.Fatalf("the dead consumer's read: %v %v", got, err)
		}
		b := newQueue(t, events.QueueOptions{}).(*events.RedisQueue)
		var c calls
		if err := b.Start(func(ctx context.Context, d events.Delivery) error { c.add(d.EventID); return nil }); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, "the abandoned delivery processed", func() bool { return c.of(d.EventID) == 1 })
		// Processed is counted once the processing returned and was acknowledged.
		testwait.For(t, "the delivery counted processed", func() bool { return b.Stats().Processed == 1 })
		if st := b.Stats(); st.Recovered != 1 || st.Processed != 1 {
			t.Fatalf("stats %+v", st)
		}
		testwait.For(t, "an empty queue", func() bool { return depth(t, b) == 0 })
		pending, err := rdb.XPending(ctx, b.StreamKey(), "procoregraph-webhooks").Result()
		if err != nil || pending.Count != 0 {
			t.Fatalf("pending after recovery: %+v %v", pending, err)
		}
	})

	t.Run("SlowDeliveryIsNotTakenFromLiveConsumer", func(t *testing.T) {
		a, b := newQueue(t, events.QueueOptions{Workers: 1}), newQueue(t, events.QueueOptions{Workers: 1})
		var c calls
		slow := func(ctx context.Context, d events.Delivery) error {
			c.add(d.EventID)
			select { // four times ClaimIdle: only the heartbeat keeps it ours
			case <-time.After(1200 * time.Millisecond):
			case <-ctx.Done():
			}
			return nil
		}
		if err := a.Start(slow); err != nil {
			t.Fatal(err)
		}
		d := delivery(3)
		enqueue(t, a, d)
		testwait.For(t, "processing started", func() bool { return c.of(d.EventID) == 1 })
		if err := b.Start(slow); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, "the delivery processed", func() bool { return a.Stats().Processed+b.Stats().Processed == 1 })
		if c.of(d.EventID) != 1 || b.Stats().Recovered != 0 {
			t.Fatalf("processed %d times, recovered by B %d times", c.of(d.EventID), b.Stats().Recovered)
		}
	})

	t.Run("DeliveryAbandonedTooOftenIsDeadLettered", func(t *testing.T) {
		rdb := cachetest.Client(t)
		prefix := cachetest.Prefix(t, rdb, "webhook-queue")
		mk := func() *events.RedisQueue {
			q, err := events.NewRedisQueue(events.RedisQueueOptions{QueueOptions: fastRetries(events.QueueOptions{}), Client: rdb,
				Prefix: prefix, ClaimIdle: 100 * time.Millisecond, Block: 100 * time.Millisecond, MaxDeliveries: 2})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = q.Close() })
			return q
		}
		a := mk()
		enqueue(t, a, delivery(4))
		_ = rdb.XGroupCreateMkStream(ctx, a.StreamKey(), "procoregraph-webhooks", "0").Err()
		// Two consumers took it in turn and died without finishing it.
		if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "procoregraph-webhooks", Consumer: "dead-0",
			Streams: []string{a.StreamKey(), ">"}, Count: 1}).Err(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
		if _, _, err := rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: a.StreamKey(), Group: "procoregraph-webhooks",
			MinIdle: 100 * time.Millisecond, Start: "0-0", Count: 10, Consumer: "dead-1"}).Result(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
		b := mk()
		var c calls
		if err := b.Start(func(ctx context.Context, d events.Delivery) error { c.add(d.EventID); return nil }); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, "the dead letter", func() bool { return b.Stats().DeadLettered == 1 })
		if c.total() != 0 {
			t.Fatal("a delivery handed out more than MaxDeliveries times was processed again")
		}
		if n, _ := b.DeadLetterCount(ctx); n != 1 {
			t.Fatalf("dead-letter stream holds %d", n)
		}
	})
}

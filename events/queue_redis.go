package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisQueueOptions configure NewRedisQueue. Zero values mean the defaults.
type RedisQueueOptions struct {
	QueueOptions
	// Client is the Redis client, standalone or Cluster. Required; the queue
	// does not close it.
	Client redis.UniversalClient
	// Prefix goes in front of every key, as for RedisBusOptions. Default "".
	Prefix string
	// Group is the consumer group every replica joins: each delivery is
	// handed to exactly one consumer of it. Default "procoregraph-webhooks".
	Group string
	// Consumer names this process in the group. Default
	// "<hostname>-<pid>-<random>", new at every start.
	Consumer string
	// MaxLen is how many deliveries the stream may hold (waiting or in
	// progress); at it Enqueue returns ErrQueueFull and the receiver answers
	// 503 so that Procore retries later. Default 100,000.
	MaxLen int64
	// ClaimIdle is how long a delivery may stay with a consumer that shows no
	// sign of life before another replica claims it (XAUTOCLAIM). A live
	// consumer refreshes its deliveries every ClaimIdle/3 while it works on
	// them, however long the attempts and backoffs take. Default 30 s.
	ClaimIdle time.Duration
	// ClaimInterval is how often this process looks for such deliveries.
	// Default ClaimIdle/2.
	ClaimInterval time.Duration
	// MaxDeliveries dead-letters, without processing it again, a recovered
	// delivery that consumers have already been handed this many times (one
	// that keeps crashing its process). Default 5.
	MaxDeliveries int64
	// Block is how long one XREADGROUP waits for new deliveries; it bounds
	// how long Close waits. Default 1 s.
	Block time.Duration
	// DeadLetterMaxLen bounds the dead-letter stream (XADD MAXLEN ~).
	// Default 10,000.
	DeadLetterMaxLen int64
}

// RedisQueue is the WebhookQueue replicas share, on Redis Streams:
//
//   - Enqueue runs one Lua script that checks and records the event id (SET
//     NX, DedupeTTL) and XADDs the delivery, atomically, so an event is in
//     the stream at most once however many replicas receive it, and a
//     delivery answered 200 is durable;
//   - every replica's workers read the stream through one consumer group
//     (XREADGROUP ">"), so exactly one replica processes each delivery;
//   - a delivery is XACKed and XDELed when processed, or moved to the
//     dead-letter stream (<prefix>pg:webhooks:{queue}:dead) when the attempts
//     are spent, so the stream holds only unfinished deliveries and its length
//     is the depth;
//   - deliveries pending with a consumer idle for ClaimIdle (its replica died
//     or hung) are claimed by another replica with XAUTOCLAIM and processed
//     there, unless they were handed out more than MaxDeliveries times.
//
// Processing is at least once: a replica that dies after processing but
// before XACK has its delivery processed again elsewhere, which the differ
// makes harmless (the same state publishes nothing).
type RedisQueue struct {
	o         RedisQueueOptions
	stream    string
	dead      string
	recovered chan redis.XMessage
	c         queueCounters
	queueLife
}

var _ WebhookQueue = (*RedisQueue)(nil)

// NewRedisQueue returns a queue on o.Client; it makes no Redis call before
// Enqueue or Start.
func NewRedisQueue(o RedisQueueOptions) (*RedisQueue, error) {
	if o.Client == nil {
		return nil, errors.New("events: RedisQueueOptions.Client is required")
	}
	o.QueueOptions = o.QueueOptions.withDefaults()
	if o.Group == "" {
		o.Group = "procoregraph-webhooks"
	}
	if o.Consumer == "" {
		o.Consumer = consumerName()
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 100_000
	}
	if o.ClaimIdle <= 0 {
		o.ClaimIdle = 30 * time.Second
	}
	if o.ClaimInterval <= 0 {
		o.ClaimInterval = max(o.ClaimIdle/2, 10*time.Millisecond)
	}
	if o.MaxDeliveries <= 0 {
		o.MaxDeliveries = 5
	}
	if o.Block <= 0 {
		o.Block = time.Second
	}
	if o.DeadLetterMaxLen <= 0 {
		o.DeadLetterMaxLen = 10_000
	}
	// One hash tag for every key, so the script and the transactions stay in
	// one Redis Cluster slot.
	base := o.Prefix + "pg:webhooks:{queue}:"
	return &RedisQueue{o: o, stream: base + "stream", dead: base + "dead", queueLife: newQueueLife(),
		recovered: make(chan redis.XMessage)}, nil
}

func consumerName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// StreamKey is the Redis key of the delivery stream.
func (q *RedisQueue) StreamKey() string { return q.stream }

// DeadLetterKey is the Redis key of the dead-letter stream. Its entries hold
// the delivery ("d", JSON), "attempts", "err" and "at".
func (q *RedisQueue) DeadLetterKey() string { return q.dead }

// Consumer is this process's name in the consumer group.
func (q *RedisQueue) Consumer() string { return q.o.Consumer }

func (q *RedisQueue) seenKey(d Delivery) string {
	return q.o.Prefix + "pg:webhooks:{queue}:seen:" + url.QueryEscape(d.Conn) + ":" + url.QueryEscape(d.EventID)
}

// enqueueScript: KEYS[1] the event id's record, KEYS[2] the stream; ARGV[1]
// the record's TTL in ms, ARGV[2] MaxLen, ARGV[3] the delivery. Returns 1
// accepted, 0 duplicate, -1 full.
var enqueueScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[2]) then return -1 end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('XADD', KEYS[2], '*', 'd', ARGV[3])
return 1
`)

// Enqueue implements WebhookQueue.
func (q *RedisQueue) Enqueue(ctx context.Context, d Delivery) (bool, error) {
	if q.isClosed() {
		return false, ErrQueueClosed
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return false, err
	}
	n, err := enqueueScript.Run(ctx, q.o.Client, []string{q.seenKey(d), q.stream},
		q.o.DedupeTTL.Milliseconds(), q.o.MaxLen, raw).Int()
	if err != nil {
		return false, fmt.Errorf("events: enqueue webhook delivery: %w", err)
	}
	switch n {
	case 1:
		q.c.accepted.Add(1)
		return true, nil
	case 0:
		q.c.duplicates.Add(1)
		return false, nil
	default:
		q.c.full.Add(1)
		return false, ErrQueueFull
	}
}

// Start implements WebhookQueue: Workers readers and one claimer of
// abandoned deliveries.
func (q *RedisQueue) Start(process ProcessFunc) error {
	return q.begin(func() {
		if err := q.ensureGroup(); err != nil {
			// Not fatal: the workers create it when Redis answers again.
			q.o.Logger.Warn("webhook queue: cannot create the consumer group yet", "err", err)
		}
		for range q.o.Workers {
			q.wg.Add(1)
			go q.work(process)
		}
		q.wg.Add(1)
		go q.claimLoop()
	})
}

// ensureGroup creates the consumer group (and the stream) reading from the
// start, so deliveries enqueued before the first replica started are read too.
func (q *RedisQueue) ensureGroup() error {
	ctx, cancel := context.WithTimeout(q.ctx, 5*time.Second)
	defer cancel()
	err := q.o.Client.XGroupCreateMkStream(ctx, q.stream, q.o.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

func (q *RedisQueue) work(process ProcessFunc) {
	defer q.wg.Done()
	backoff := 50 * time.Millisecond
	for q.ctx.Err() == nil {
		select {
		case m := <-q.recovered:
			q.handle(m, process)
			continue
		default:
		}
		res, err := q.o.Client.XReadGroup(q.ctx, &redis.XReadGroupArgs{Group: q.o.Group, Consumer: q.o.Consumer,
			Streams: []string{q.stream, ">"}, Count: 1, Block: q.o.Block}).Result()
		if q.ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			if isNoGroup(err) {
				err = q.ensureGroup()
			}
			if err != nil {
				q.o.Logger.Warn("webhook queue: reading the stream failed; retrying", "err", err)
			}
			q.sleep(backoff)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		for _, s := range res {
			for _, m := range s.Messages {
				q.handle(m, process)
			}
		}
	}
}

func (q *RedisQueue) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-q.ctx.Done():
	}
}

// handle processes one stream entry and acknowledges or dead-letters it.
// When the queue closes mid-way the entry stays pending for recovery.
func (q *RedisQueue) handle(m redis.XMessage, process ProcessFunc) {
	raw, _ := m.Values["d"].(string)
	var d Delivery
	if err := json.Unmarshal([]byte(raw), &d); err != nil || d.EventID == "" {
		q.toDeadLetter(m.ID, raw, d, 0, Permanent(fmt.Errorf("undecodable stream entry: %v", err)))
		return
	}
	hbCtx, stopHeartbeat := context.WithCancel(q.ctx)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		q.heartbeat(hbCtx, m.ID)
	}()
	attempts, err := q.o.attempt(q.ctx, &q.c, d, process)
	stopHeartbeat()
	<-hbDone
	switch {
	case err == nil:
		q.ack(m.ID)
	case q.ctx.Err() != nil:
		// Closing: left pending; another replica (or the next start) claims it.
	default:
		q.toDeadLetter(m.ID, raw, d, attempts, err)
	}
}

// heartbeat resets the entry's idle time (XCLAIM to ourselves, JUSTID: the
// delivery count is unchanged) so that no replica claims it while we work.
func (q *RedisQueue) heartbeat(ctx context.Context, id string) {
	t := time.NewTicker(max(q.o.ClaimIdle/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := q.o.Client.XClaimJustID(ctx, &redis.XClaimArgs{Stream: q.stream, Group: q.o.Group,
				Consumer: q.o.Consumer, MinIdle: 0, Messages: []string{id}}).Err()
			if err != nil && ctx.Err() == nil {
				q.o.Logger.Warn("webhook queue: cannot refresh a delivery in progress; another replica may take it", "err", err)
			}
		}
	}
}

// finishCtx gives the acknowledgement its own deadline: a delivery processed
// as the queue closes is still acknowledged.
func finishCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

func (q *RedisQueue) ack(id string) {
	ctx, cancel := finishCtx()
	defer cancel()
	pipe := q.o.Client.TxPipeline()
	pipe.XAck(ctx, q.stream, q.o.Group, id)
	pipe.XDel(ctx, q.stream, id)
	if _, err := pipe.Exec(ctx); err != nil {
		q.o.Logger.Warn("webhook queue: cannot acknowledge a processed delivery; it will be processed again", "id", id, "err", err)
	}
}

func (q *RedisQueue) toDeadLetter(id, raw string, d Delivery, attempts int, cause error) {
	ctx, cancel := finishCtx()
	defer cancel()
	pipe := q.o.Client.TxPipeline()
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: q.dead, MaxLen: q.o.DeadLetterMaxLen, Approx: true, Values: map[string]any{
		"d": raw, "attempts": attempts, "err": cause.Error(), "at": time.Now().UTC().Format(time.RFC3339Nano),
		"consumer": q.o.Consumer,
	}})
	pipe.XAck(ctx, q.stream, q.o.Group, id)
	pipe.XDel(ctx, q.stream, id)
	if _, err := pipe.Exec(ctx); err != nil {
		q.o.Logger.Warn("webhook queue: cannot move a delivery to the dead letters; it stays pending", "id", id, "err", err)
	}
	q.o.deadLetter(&q.c, d, attempts, cause)
}

// claimLoop periodically claims deliveries abandoned by other consumers and
// hands them to this process's workers.
func (q *RedisQueue) claimLoop() {
	defer q.wg.Done()
	t := time.NewTicker(q.o.ClaimInterval)
	defer t.Stop()
	lastPrune := time.Now()
	for {
		select {
		case <-q.ctx.Done():
			return
		case <-t.C:
			q.reclaim()
			if time.Since(lastPrune) > 10*time.Minute {
				q.pruneConsumers()
				lastPrune = time.Now()
			}
		}
	}
}

// reclaim claims (XAUTOCLAIM) deliveries idle for ClaimIdle, at most Workers
// at a time, and waits until a worker takes each one.
func (q *RedisQueue) reclaim() {
	start := "0-0"
	for range 1000 { // bounded: at most 1000 pages per round
		msgs, next, err := q.o.Client.XAutoClaim(q.ctx, &redis.XAutoClaimArgs{Stream: q.stream, Group: q.o.Group,
			MinIdle: q.o.ClaimIdle, Start: start, Count: int64(q.o.Workers), Consumer: q.o.Consumer}).Result()
		if q.ctx.Err() != nil {
			return
		}
		if err != nil {
			if isNoGroup(err) {
				_ = q.ensureGroup()
				return
			}
			q.o.Logger.Warn("webhook queue: claiming abandoned deliveries failed", "err", err)
			return
		}
		for _, m := range msgs {
			if m.ID == "" || m.Values == nil { // deleted since (Redis 6.2 answers nil entries)
				continue
			}
			if n := q.handedOut(m.ID); n > q.o.MaxDeliveries {
				raw, _ := m.Values["d"].(string)
				var d Delivery
				_ = json.Unmarshal([]byte(raw), &d)
				q.toDeadLetter(m.ID, raw, d, 0, Permanent(fmt.Errorf("handed to consumers %d times without being finished", n)))
				continue
			}
			q.c.recovered.Add(1)
			q.o.Logger.Info("webhook queue: recovered a delivery abandoned by another consumer", "id", m.ID)
			select {
			case q.recovered <- m:
			case <-q.ctx.Done():
				return
			}
		}
		if next == "" || next == "0-0" {
			return
		}
		start = next
	}
}

// handedOut is how many times the entry has been delivered to a consumer
// (the claim that just happened included); 0 when unknown.
func (q *RedisQueue) handedOut(id string) int64 {
	p, err := q.o.Client.XPendingExt(q.ctx, &redis.XPendingExtArgs{Stream: q.stream, Group: q.o.Group,
		Start: id, End: id, Count: 1}).Result()
	if err != nil || len(p) == 0 {
		return 0
	}
	return p[0].RetryCount
}

// pruneConsumers removes consumers of stopped replicas once they hold
// nothing, so the group does not accumulate one consumer per start.
func (q *RedisQueue) pruneConsumers() {
	cs, err := q.o.Client.XInfoConsumers(q.ctx, q.stream, q.o.Group).Result()
	if err != nil {
		return
	}
	for _, c := range cs {
		if c.Name != q.o.Consumer && c.Pending == 0 && c.Idle > time.Hour {
			_ = q.o.Client.XGroupDelConsumer(q.ctx, q.stream, q.o.Group, c.Name).Err()
		}
	}
}

// Depth implements WebhookQueue: the stream's length (waiting and in
// progress, on every replica).
func (q *RedisQueue) Depth(ctx context.Context) (int64, error) {
	return q.o.Client.XLen(ctx, q.stream).Result()
}

// DeadLetterCount is the dead-letter stream's length.
func (q *RedisQueue) DeadLetterCount(ctx context.Context) (int64, error) {
	return q.o.Client.XLen(ctx, q.dead).Result()
}

// Stats implements WebhookQueue.
func (q *RedisQueue) Stats() QueueStats { return q.c.stats() }

// Close implements WebhookQueue: workers stop within about Block, and a
// delivery in progress stays pending in Redis for recovery.
func (q *RedisQueue) Close() error {
	q.end()
	return nil
}

// String describes the queue for logs.
func (q *RedisQueue) String() string {
	return "redis stream " + q.stream + " group " + q.o.Group + " consumer " + q.o.Consumer +
		" (max " + strconv.FormatInt(q.o.MaxLen, 10) + ")"
}

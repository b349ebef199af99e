package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"procoregraph/adapter"
	"procoregraph/cache"
)

// RedisBusOptions configures NewRedisBus. Zero values mean the defaults.
type RedisBusOptions struct {
	// Client is the Redis client, standalone or Cluster. Required. The bus
	// does not close it.
	Client redis.UniversalClient
	// Prefix goes in front of every stream key, as cache.RedisOptions.Prefix
	// does for the cache. Default "".
	Prefix string
	// MaxLen caps each connection's stream (XADD MAXLEN ~). Default 100,000
	// events.
	MaxLen int64
	// Retention is how long events stay replayable: streams are trimmed with
	// XTRIM MINID ~ now-Retention (at most once a minute per stream and
	// replica) and expire Retention after their last event. Default 24 h.
	Retention time.Duration
	// Buffer is how many events may wait for one subscriber. A subscriber
	// that falls this far behind is dropped with ErrSlowSubscriber. Default
	// 256.
	Buffer int
	// Block is how long one XREAD waits for new entries. It bounds how long
	// an idle reader takes to stop after its last subscriber leaves, and how
	// long Close waits. Default 1 s.
	Block time.Duration
	// Logger for reader errors. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock used for MINID trimming. Default time.Now.
	Now func() time.Time
}

// RedisBus is a Bus on Redis Streams, shared by every replica: one stream per
// connection (key <Prefix>pg:aux:{<conn>}:events, so a connection's events
// live in its Redis Cluster slot), XADD to publish (the stream id is the
// cursor), and on each replica one reader goroutine per stream with local
// subscribers, which XREADs new entries and fans them out to those
// subscribers' channels. A subscriber resuming from a cursor first replays the
// stream with XRANGE and then continues live, with no gap and no duplicate.
//
// A subscriber whose channel is full is dropped (its channel closed, Err
// ErrSlowSubscriber); the reader never waits for one. When Redis fails the
// reader retries with backoff from the last id it read, so subscribers lose
// nothing that the retention window still holds.
type RedisBus struct {
	o      RedisBusOptions
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	readers atomic.Int64 // hub readers running

	mu       sync.Mutex
	closed   bool
	hubs     map[string]*redisHub // by connection
	lastTrim map[string]time.Time // by stream key
}

var _ Bus = (*RedisBus)(nil)

// redisHub is one stream's local subscribers and its reader.
type redisHub struct {
	conn string
	key  string
	subs map[*redisSub]struct{}
}

// redisSub is one subscriber: the events queued for its goroutine (feed)
// and how it ended. Every field but f and notify is guarded by RedisBus.mu.
type redisSub struct {
	f      Filter
	notify chan struct{} // capacity 1: "the queue or done changed"
	queue  []Event
	err    error
	done   bool
	// sink, when set, takes the events instead of queue (SubscribeSink);
	// stop releases the context.AfterFunc that ends it with its context.
	sink *Sink
	stop func() bool
}

func (s *redisSub) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// NewRedisBus returns a bus on o.Client. It makes no Redis call until the
// first Publish or Subscribe.
func NewRedisBus(o RedisBusOptions) (*RedisBus, error) {
	if o.Client == nil {
		return nil, errors.New("events: RedisBusOptions.Client is required")
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 100_000
	}
	if o.Retention <= 0 {
		o.Retention = 24 * time.Hour
	}
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
	if o.Block <= 0 {
		o.Block = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &RedisBus{o: o, ctx: ctx, cancel: cancel, hubs: map[string]*redisHub{}, lastTrim: map[string]time.Time{}}, nil
}

// StreamKey is the Redis key of conn's event stream.
func (b *RedisBus) StreamKey(conn string) string {
	return b.o.Prefix + cache.AuxKey(conn, "events")
}

// Publish appends e to its connection's stream and returns the stream id,
// which is the event's cursor.
func (b *RedisBus) Publish(ctx context.Context, e Event) (string, error) {
	if e.Conn == "" {
		return "", errors.New("events: Publish: event without a connection")
	}
	if b.isClosed() {
		return "", ErrClosed
	}
	data, err := json.Marshal(toWire(e))
	if err != nil {
		return "", fmt.Errorf("events: encode event: %w", err)
	}
	key := b.StreamKey(e.Conn)
	pipe := b.o.Client.Pipeline()
	add := pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: b.o.MaxLen, Approx: true, Values: []any{"e", data}})
	pipe.PExpire(ctx, key, b.o.Retention)
	if b.trimDue(key) {
		minID := strconv.FormatInt(b.o.Now().Add(-b.o.Retention).UnixMilli(), 10)
		pipe.XTrimMinIDApprox(ctx, key, minID, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return "", fmt.Errorf("events: publish to Redis: %w", err)
	}
	return add.Val(), nil
}

var _ BatchPublisher = (*RedisBus)(nil)

// PublishBatch appends evs, which must share one connection, to its stream
// in one MULTI/EXEC transaction: all of them or none, with consecutive
// cursors. It returns their cursors in order.
func (b *RedisBus) PublishBatch(ctx context.Context, evs []Event) ([]string, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	conn := evs[0].Conn
	if conn == "" {
		return nil, errors.New("events: PublishBatch: event without a connection")
	}
	if b.isClosed() {
		return nil, ErrClosed
	}
	datas := make([][]byte, len(evs))
	for i, e := range evs {
		if e.Conn != conn {
			return nil, fmt.Errorf("events: PublishBatch: events of connections %q and %q in one batch", conn, e.Conn)
		}
		data, err := json.Marshal(toWire(e))
		if err != nil {
			return nil, fmt.Errorf("events: encode event: %w", err)
		}
		datas[i] = data
	}
	key := b.StreamKey(conn)
	tx := b.o.Client.TxPipeline()
	adds := make([]*redis.StringCmd, len(evs))
	for i, data := range datas {
		adds[i] = tx.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: b.o.MaxLen, Approx: true, Values: []any{"e", data}})
	}
	tx.PExpire(ctx, key, b.o.Retention)
	if b.trimDue(key) {
		minID := strconv.FormatInt(b.o.Now().Add(-b.o.Retention).UnixMilli(), 10)
		tx.XTrimMinIDApprox(ctx, key, minID, 0)
	}
	if _, err := tx.Exec(ctx); err != nil {
		return nil, fmt.Errorf("events: publish to Redis: %w", err)
	}
	ids := make([]string, len(adds))
	for i, a := range adds {
		ids[i] = a.Val()
	}
	return ids, nil
}

// trimDue reports whether key's MINID trim is due, and if so records it.
func (b *RedisBus) trimDue(key string) bool {
	now := b.o.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.lastTrim[key]) < time.Minute {
		return false
	}
	b.lastTrim[key] = now
	return true
}

// Subscribe delivers f.Conn's events matching f that follow cursor after
// ("" = only events published from now on). A cursor older than the
// retention window replays what the stream still holds. An after that is not
// a cursor this bus issued is a BAD_USER_INPUT *adapter.Error wrapping
// ErrBadCursor.
//
// Each subscription has one goroutine that feeds C from a queue the reader
// appends to; the queue holds at most Buffer events (memory grows only with
// a subscriber's backlog). A subscriber whose queue is full is dropped: it
// still receives what was queued, then C closes and Err is
// ErrSlowSubscriber, so the last cursor it received resumes it losslessly.
// (A SubscribeSink subscription has no goroutine: the reader delivers to
// its Sink.)
func (b *RedisBus) Subscribe(ctx context.Context, f Filter, after string) (*Subscription, error) {
	if f.Conn == "" {
		return nil, errors.New("events: Subscribe: filter without a connection")
	}
	if after != "" && !validStreamID(after) {
		return nil, &adapter.Error{Code: adapter.CodeBadUserInput, Message: fmt.Sprintf("invalid event cursor %q", after),
			Err: ErrBadCursor}
	}
	// Registered before the replay reads the stream: whatever the replay does
	// not return arrives live; ids the replay already delivered are skipped.
	sub, err := b.register(ctx, f, nil)
	if err != nil {
		return nil, err
	}
	out := make(chan Event)
	b.wg.Add(1)
	go b.feed(ctx, sub, after, out)
	return &Subscription{C: out, Err: b.errOf(sub)}, nil
}

// feed is a subscription's goroutine: the replay after cursor (if any), then
// the live queue, into out, which it closes when the subscription ends.
//
// Whatever way it returns (cancelled while the replay's XRANGE is in flight,
// while sending, or while waiting), sub leaves its hub before out closes, so
// the hub's reader stops reading for a subscriber that is gone.
func (b *RedisBus) feed(ctx context.Context, sub *redisSub, after string, out chan<- Event) {
	defer b.wg.Done()
	defer close(out)
	defer b.remove(sub, nil) // a no-op when sub already ended (its Err is kept)
	send := func(e Event) bool {
		select {
		case out <- e:
			return true
		case <-ctx.Done():
			return false
		case <-b.ctx.Done():
			return false
		}
	}
	last := ""
	if after != "" {
		var err error
		last, err = b.replay(ctx, sub.f, after, send)
		if err != nil {
			if ctx.Err() == nil && b.ctx.Err() == nil {
				b.remove(sub, err)
			}
			return
		}
	}
	for {
		select {
		case <-sub.notify:
		case <-ctx.Done():
			return
		case <-b.ctx.Done():
			return
		}
		b.mu.Lock()
		batch, done, slow := sub.queue, sub.done, errors.Is(sub.err, ErrSlowSubscriber)
		sub.queue = nil
		b.mu.Unlock()
		if done && !slow {
			return // cancelled or closed: nothing more to say
		}
		for _, e := range batch {
			if last != "" && !streamIDAfter(e.ID, last) {
				continue
			}
			if !send(e) {
				return
			}
		}
		if done {
			return
		}
	}
}

// replay sends the stream's matching entries after cursor, in pages, and
// returns the id of the last entry it read ("" when none).
func (b *RedisBus) replay(ctx context.Context, f Filter, after string, send func(Event) bool) (string, error) {
	key := b.StreamKey(f.Conn)
	last := ""
	from := "(" + after
	for {
		msgs, err := b.o.Client.XRangeN(ctx, key, from, "+", 512).Result()
		if err != nil {
			return last, fmt.Errorf("events: replay from Redis: %w", err)
		}
		for _, m := range msgs {
			last = m.ID
			e, ok := b.decode(f.Conn, m)
			if !ok || !f.Match(e) {
				continue
			}
			if !send(e) {
				return last, ErrClosed
			}
		}
		if len(msgs) < 512 {
			return last, nil
		}
		from = "(" + last
	}
}

// register adds a subscriber to f.Conn's hub, starting the hub's reader
// (from the stream's current last id) when it has none.
func (b *RedisBus) register(ctx context.Context, f Filter, sink *Sink) (*redisSub, error) {
	sub := &redisSub{f: f, sink: sink}
	if sink == nil {
		sub.notify = make(chan struct{}, 1)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if h := b.hubs[f.Conn]; h != nil {
		h.subs[sub] = struct{}{}
		b.mu.Unlock()
		return sub, nil
	}
	b.mu.Unlock()
	// Read the stream's position before registering, so that every event
	// published after Subscribe returns is read by the hub's reader.
	key := b.StreamKey(f.Conn)
	start := "0-0"
	msgs, err := b.o.Client.XRevRangeN(ctx, key, "+", "-", 1).Result()
	if err != nil {
		return nil, fmt.Errorf("events: subscribe: read stream position: %w", err)
	}
	if len(msgs) == 1 {
		start = msgs[0].ID
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	h := b.hubs[f.Conn]
	if h == nil {
		h = &redisHub{conn: f.Conn, key: key, subs: map[*redisSub]struct{}{}}
		b.hubs[f.Conn] = h
		b.wg.Add(1)
		b.readers.Add(1)
		go b.read(h, start)
	}
	h.subs[sub] = struct{}{}
	return sub, nil
}

// remove ends sub with err (nil for a normal cancel) unless it already ended.
func (b *RedisBus) remove(sub *redisSub, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(sub, err)
}

func (b *RedisBus) removeLocked(sub *redisSub, err error) {
	if sub.done {
		return
	}
	sub.done, sub.err = true, err
	if err == nil {
		sub.queue = nil
	}
	if h := b.hubs[sub.f.Conn]; h != nil {
		delete(h.subs, sub)
	}
	if sub.sink != nil {
		if sub.stop != nil {
			sub.stop()
		}
		sub.sink.End(err)
		return
	}
	sub.wake()
}

var _ SinkSubscriber = (*RedisBus)(nil)

// SubscriberBuffer implements SinkSubscriber: RedisBusOptions.Buffer.
func (b *RedisBus) SubscriberBuffer() int { return b.o.Buffer }

// SubscribeSink implements SinkSubscriber: the stream's reader hands the
// subscription's events to s.Deliver (from the stream's current end).
func (b *RedisBus) SubscribeSink(ctx context.Context, f Filter, s Sink) error {
	if f.Conn == "" {
		return errors.New("events: Subscribe: filter without a connection")
	}
	sub, err := b.register(ctx, f, &s)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { b.remove(sub, nil) })
	b.mu.Lock()
	defer b.mu.Unlock()
	if sub.done {
		stop()
	} else {
		sub.stop = stop
	}
	return nil
}

// Subscribers returns how many subscribers this replica's hubs hold, over
// every connection: each one that has not ended. A cancelled subscription
// leaves the count before its channel closes.
func (b *RedisBus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, h := range b.hubs {
		n += len(h.subs)
	}
	return n
}

// Readers returns how many hub readers (one per connection with local
// subscribers) are running on this replica. A reader stops within about
// Block after its hub's last subscriber leaves.
func (b *RedisBus) Readers() int { return int(b.readers.Load()) }

func (b *RedisBus) errOf(sub *redisSub) func() error {
	return func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		return sub.err
	}
}

// read is h's reader: it XREADs entries after id and fans them out until the
// hub has no subscribers or the bus closes.
func (b *RedisBus) read(h *redisHub, id string) {
	defer b.wg.Done()
	defer b.readers.Add(-1)
	backoff := 50 * time.Millisecond
	for {
		if b.stopIfIdle(h) {
			return
		}
		res, err := b.o.Client.XRead(b.ctx, &redis.XReadArgs{
			Streams: []string{h.key, id}, Count: 512, Block: b.o.Block,
		}).Result()
		if b.ctx.Err() != nil {
			b.stopIfIdle(h)
			return
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			b.o.Logger.Warn("events: reading the Redis event stream failed; retrying", "conn", h.conn, "err", err)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-b.ctx.Done():
				t.Stop()
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		for _, s := range res {
			for _, m := range s.Messages {
				id = m.ID
				if e, ok := b.decode(h.conn, m); ok {
					b.fanout(h, e)
				}
			}
		}
	}
}

// stopIfIdle removes h and reports true when it has no subscribers or the bus
// is closing.
func (b *RedisBus) stopIfIdle(h *redisHub) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(h.subs) > 0 && b.ctx.Err() == nil {
		return false
	}
	for sub := range h.subs {
		b.removeLocked(sub, nil)
	}
	if b.hubs[h.conn] == h {
		delete(b.hubs, h.conn)
	}
	return true
}

// fanout queues e for every matching subscriber of h without waiting: a
// subscriber whose queue is full is dropped.
func (b *RedisBus) fanout(h *redisHub, e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range h.subs {
		if !sub.f.Match(e) {
			continue
		}
		if sub.sink != nil {
			if !sub.sink.Deliver(e) {
				b.removeLocked(sub, ErrSlowSubscriber)
				b.o.Logger.Info("events: dropped a slow subscriber", "conn", h.conn, "buffer", b.o.Buffer)
			}
			continue
		}
		if len(sub.queue) >= b.o.Buffer {
			b.removeLocked(sub, ErrSlowSubscriber)
			b.o.Logger.Info("events: dropped a slow subscriber", "conn", h.conn, "buffer", b.o.Buffer)
			continue
		}
		sub.queue = append(sub.queue, e)
		sub.wake()
	}
}

func (b *RedisBus) decode(conn string, m redis.XMessage) (Event, bool) {
	raw, _ := m.Values["e"].(string)
	var w wireEvent
	if err := json.Unmarshal([]byte(raw), &w); err != nil {
		b.o.Logger.Warn("events: skipping an undecodable stream entry", "conn", conn, "id", m.ID, "err", err)
		return Event{}, false
	}
	e := w.event()
	e.ID = m.ID
	if e.Conn != conn { // never deliver across connections, whatever the stream holds
		return Event{}, false
	}
	return e, true
}

func (b *RedisBus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Close ends every subscription (Err nil), stops the readers and waits for
// them (at most about Block). It does not close the Redis client.
func (b *RedisBus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for _, h := range b.hubs {
		for sub := range h.subs {
			b.removeLocked(sub, nil)
		}
	}
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	return nil
}

// validStreamID reports whether s is a Redis stream id "<ms>-<seq>".
func validStreamID(s string) bool {
	_, _, ok := parseStreamID(s)
	return ok
}

func parseStreamID(s string) (ms, seq uint64, ok bool) {
	a, c, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(c, 10, 64)
	return ms, seq, err1 == nil && err2 == nil
}

// streamIDAfter reports whether stream id a follows b.
func streamIDAfter(a, b string) bool {
	am, as, _ := parseStreamID(a)
	bm, bs, _ := parseStreamID(b)
	return am > bm || (am == bm && as > bs)
}

// wireEvent is an Event as stored in the stream.
type wireEvent struct {
	Conn      string               `json:"conn"`
	ProjectID int64                `json:"project_id,string"`
	Kind      Kind                 `json:"kind"`
	ItemKind  ItemKind             `json:"item_kind"`
	ItemID    int64                `json:"item_id,string"`
	Title     string               `json:"title,omitempty"`
	PrevSt    string               `json:"previous_status,omitempty"`
	NewSt     string               `json:"new_status,omitempty"`
	PrevSS    *wireSubmittalStatus `json:"previous_submittal_status,omitempty"`
	NewSS     *wireSubmittalStatus `json:"new_submittal_status,omitempty"`
	PrevBIC   []wirePerson         `json:"previous_ball_in_court,omitempty"`
	NewBIC    []wirePerson         `json:"new_ball_in_court,omitempty"`
	At        time.Time            `json:"at"`
	Source    Source               `json:"source"`
}

// wireSubmittalStatus is a submittal's status object in a stored event.
type wireSubmittalStatus struct {
	ID     int64  `json:"id,string"`
	Name   string `json:"name,omitempty"`
	Status string `json:"status,omitempty"`
}

func toWireSubmittalStatus(s *adapter.SubmittalStatus) *wireSubmittalStatus {
	if s == nil {
		return nil
	}
	return &wireSubmittalStatus{ID: s.ID, Name: s.Name, Status: s.Status}
}

func (w *wireSubmittalStatus) status() *adapter.SubmittalStatus {
	if w == nil {
		return nil
	}
	return &adapter.SubmittalStatus{ID: w.ID, Name: w.Name, Status: w.Status}
}

type wirePerson struct {
	ID    int64  `json:"id,string"`
	Login string `json:"login,omitempty"`
	Name  string `json:"name,omitempty"`
}

func toWire(e Event) wireEvent {
	return wireEvent{
		Conn: e.Conn, ProjectID: e.ProjectID, Kind: e.Kind, ItemKind: e.ItemKind, ItemID: e.ItemID,
		Title: e.Title, PrevSt: e.PreviousStatus, NewSt: e.NewStatus,
		PrevSS: toWireSubmittalStatus(e.PreviousSubmittalStatus), NewSS: toWireSubmittalStatus(e.NewSubmittalStatus),
		PrevBIC: toWirePeople(e.PreviousBallInCourt), NewBIC: toWirePeople(e.NewBallInCourt),
		At: e.At.UTC(), Source: e.Source,
	}
}

func (w wireEvent) event() Event {
	return Event{
		Conn: w.Conn, ProjectID: w.ProjectID, Kind: w.Kind, ItemKind: w.ItemKind, ItemID: w.ItemID,
		Title: w.Title, PreviousStatus: w.PrevSt, NewStatus: w.NewSt,
		PreviousSubmittalStatus: w.PrevSS.status(), NewSubmittalStatus: w.NewSS.status(),
		PreviousBallInCourt: fromWirePeople(w.PrevBIC), NewBallInCourt: fromWirePeople(w.NewBIC),
		At: w.At, Source: w.Source,
	}
}

func toWirePeople(ps []adapter.Person) []wirePerson {
	if len(ps) == 0 {
		return nil
	}
	out := make([]wirePerson, len(ps))
	for i, p := range ps {
		out[i] = wirePerson{ID: p.ID, Login: p.Login, Name: p.Name}
	}
	return out
}

func fromWirePeople(ws []wirePerson) []adapter.Person {
	if len(ws) == 0 {
		return nil
	}
	out := make([]adapter.Person, len(ws))
	for i, w := range ws {
		out[i] = adapter.Person{ID: w.ID, Login: w.Login, Name: w.Name}
	}
	return out
}

var _ ChangeLog = (*RedisBus)(nil)

// maxClockSkew is how far the gateway's clock may be from Redis's for the
// change feed's end cursors (see ReadPage).
const maxClockSkew = 5 * time.Minute

// ReadPage implements ChangeLog on f.Conn's stream.
//
// An end cursor (the watermark, or the End of a page that reached the end of
// the stream) is at least "<now-5min>-0" by the gateway's clock: every entry
// added later gets an id after it (Redis ids follow Redis's clock, assumed
// within 5 minutes of ours), and a client that keeps syncing holds a recent
// cursor even when nothing happens.
//
// A cursor is expired when entries after it may have been trimmed: the
// stream lost entries (entries-added > length), the cursor precedes the
// first entry left, and either the cursor is older than Retention (at least
// 5 minutes; the MINID trim removes only entries older than Retention) or
// the stream is near MaxLen
// (whose trim can remove younger ones). A cursor older than Retention of a
// stream that is gone (it expires Retention after its last event or read) is
// expired too: a client of a quiet log that reads at least once per
// Retention minus 5 minutes keeps a valid cursor (each End is at most 5
// minutes old), one that does not must sync fully. Reading refreshes the stream's expiry.
func (b *RedisBus) ReadPage(ctx context.Context, f Filter, after string, limit, scan int) (Page, error) {
	if f.Conn == "" {
		return Page{}, errors.New("events: ReadPage: filter without a connection")
	}
	if after != "" && !validStreamID(after) {
		return Page{}, fmt.Errorf("%w %q", ErrBadCursor, after)
	}
	now := b.o.Now()
	floor := strconv.FormatInt(now.Add(-maxClockSkew).UnixMilli(), 10) + "-0"
	// End cursors run up to maxClockSkew behind: a cursor is compared with
	// the retention or that margin, whichever is longer. (A retention under
	// 5 minutes therefore cannot tell every trim apart: keep it longer.)
	oldest := uint64(max(now.Add(-max(b.o.Retention, maxClockSkew)).UnixMilli(), 0))
	// A stream that is gone expired Retention after its last event or read.
	expiredBefore := uint64(max(now.Add(-b.o.Retention).UnixMilli(), 0))
	afterMS, _, _ := parseStreamID(after)
	latest := func(ids ...string) string {
		m := ids[0]
		for _, id := range ids[1:] {
			if streamIDAfter(id, m) {
				m = id
			}
		}
		return m
	}
	key := b.StreamKey(f.Conn)
	info, err := b.o.Client.XInfoStream(ctx, key).Result()
	missing := err != nil && strings.Contains(err.Error(), "no such key")
	if err != nil && !missing {
		return Page{}, fmt.Errorf("events: read the event stream: %w", err)
	}
	switch {
	case missing && after != "" && afterMS < expiredBefore:
		return Page{}, ErrCursorExpired // the stream expired, and its events with it
	case missing:
		end := floor
		if after != "" {
			end = latest(after, floor)
		}
		return Page{Events: []Event{}, End: end}, nil
	case after == "":
		return Page{Events: []Event{}, End: latest(info.LastGeneratedID, floor)}, nil
	}
	if info.EntriesAdded > info.Length && streamIDAfter(info.LastGeneratedID, after) &&
		(info.Length == 0 || streamIDAfter(info.FirstEntry.ID, after)) &&
		(afterMS < oldest || info.Length >= b.o.MaxLen*9/10) {
		return Page{}, ErrCursorExpired
	}
	if err := b.o.Client.PExpire(ctx, key, b.o.Retention).Err(); err != nil {
		return Page{}, fmt.Errorf("events: refresh the event stream's expiry: %w", err)
	}
	p := Page{Events: []Event{}}
	last, scanned := after, 0
	for len(p.Events) < limit && scanned < scan {
		n := min(512, scan-scanned)
		msgs, err := b.o.Client.XRangeN(ctx, key, "("+last, "+", int64(n)).Result()
		if err != nil {
			return Page{}, fmt.Errorf("events: read the event stream: %w", err)
		}
		for _, m := range msgs {
			if len(p.Events) == limit {
				p.More = true
				break
			}
			last = m.ID
			scanned++
			if e, ok := b.decode(f.Conn, m); ok && f.Match(e) {
				p.Events = append(p.Events, e)
			}
		}
		if p.More {
			break
		}
		if len(msgs) < n {
			// The end of the stream now: every later entry gets an id after
			// the last one generated when XINFO ran, and after the floor.
			p.End = latest(last, info.LastGeneratedID, floor)
			return p, nil
		}
	}
	if !p.More {
		// Stopped at limit or scan exactly: more may follow.
		more, err := b.o.Client.XRangeN(ctx, key, "("+last, "+", 1).Result()
		if err != nil {
			return Page{}, fmt.Errorf("events: read the event stream: %w", err)
		}
		if p.More = len(more) > 0; !p.More {
			last = latest(last, info.LastGeneratedID, floor)
		}
	}
	p.End = last
	return p, nil
}

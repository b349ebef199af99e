package events

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemoryOptions configure a MemoryBus. Zero values mean the documented default.
type MemoryOptions struct {
	// Buffer is how many undelivered live events one subscriber may hold
	// before it is dropped with ErrSlowSubscriber. Default 64 (each slot holds
	// an Event by value, so the buffer is most of a subscription's memory).
	Buffer int
	// Retention is how long published events stay available for replay by
	// cursor. Default 1h.
	Retention time.Duration
	// MaxRetained bounds the events kept for replay, oldest dropped first.
	// Default 10,000.
	MaxRetained int
	// Now is the clock used for retention. Default time.Now.
	Now func() time.Time
}

func (o MemoryOptions) withDefaults() MemoryOptions {
	if o.Buffer <= 0 {
		o.Buffer = 64
	}
	if o.Retention <= 0 {
		o.Retention = time.Hour
	}
	if o.MaxRetained <= 0 {
		o.MaxRetained = 10_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// ErrClosed is returned by Publish and Subscribe after Close.
var ErrClosed = errors.New("events: bus closed")

// ErrBadCursor wraps a cursor that is not one of this bus's cursors.
var ErrBadCursor = errors.New("events: malformed cursor")

// MemoryBus is the single-process Bus (the default when no Redis is
// configured). Events are kept in memory for replay within the retention
// window; cursors are "<epoch>-<seq>", where epoch identifies this bus
// instance, so a cursor from another process (or before a restart) is
// treated as expired and replays everything retained.
//
// A subscriber with nothing to replay reads its buffer directly: Publish
// sends to it, and the bus closes it when the subscriber's context is done,
// when the subscriber is dropped, or when the bus is closed, with no
// goroutine of its own. A subscriber that replays retained events first gets
// one goroutine that feeds its channel (the replay, then the buffer); it
// ends in the same three cases, so no goroutine outlives its subscription.
// A Sink (SubscribeSink) takes its events from Publish itself. Publish
// never blocks on a subscriber: a subscriber whose buffer is full is dropped
// with ErrSlowSubscriber and may resume from the last cursor it received.
//
// Events are delivered to every subscriber as the same value: subscribers
// must treat slices in them (ball-in-court people) as read-only.
type MemoryBus struct {
	opt   MemoryOptions
	epoch string

	mu       sync.Mutex
	closed   bool
	seq      uint64
	dropped  uint64          // the newest seq trimmed away (0: none)
	retained []retainedEvent // oldest first, seq ascending
	subs     map[*memSub]struct{}
}

type retainedEvent struct {
	seq uint64
	at  time.Time
	e   Event
}

type memSub struct {
	ctx context.Context
	f   Filter
	in  chan Event // live events, written by Publish without blocking
	// direct: in is the subscription's channel, closed by the bus (under
	// mu, by whoever removes s from subs) when s ends; stop releases the
	// context.AfterFunc that ends it with its context. Otherwise a pump
	// goroutine feeds the subscription, and quit is closed when the bus
	// drops the subscriber or closes.
	direct bool
	stop   func() bool
	quit   chan struct{}
	// sink, when set, takes the events instead of in (SubscribeSink); stop
	// is then set too.
	sink *Sink

	errMu sync.Mutex
	err   error
}

func (s *memSub) setErr(err error) {
	s.errMu.Lock()
	s.err = err
	s.errMu.Unlock()
}

func (s *memSub) getErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// NewMemoryBus returns an empty in-memory bus.
func NewMemoryBus(o MemoryOptions) *MemoryBus {
	o = o.withDefaults()
	return &MemoryBus{
		opt:   o,
		epoch: strconv.FormatInt(o.Now().UnixNano(), 36),
		subs:  make(map[*memSub]struct{}),
	}
}

var _ Bus = (*MemoryBus)(nil)

func (b *MemoryBus) cursor(seq uint64) string {
	return b.epoch + "-" + strconv.FormatUint(seq, 10)
}

// parseCursor returns the sequence number after which to replay, and whether
// the cursor belongs to this bus instance.
func (b *MemoryBus) parseCursor(c string) (uint64, bool, error) {
	epoch, seq, ok := strings.Cut(c, "-")
	if !ok || epoch == "" {
		return 0, false, fmt.Errorf("%w %q", ErrBadCursor, c)
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w %q", ErrBadCursor, c)
	}
	return n, epoch == b.epoch, nil
}

// Publish implements Bus. It assigns the event's cursor, retains it for
// replay and hands it to every matching subscriber without blocking.
func (b *MemoryBus) Publish(ctx context.Context, e Event) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return "", ErrClosed
	}
	b.seq++
	e.ID = b.cursor(b.seq)
	now := b.opt.Now()
	b.retained = append(b.retained, retainedEvent{seq: b.seq, at: now, e: e})
	b.trimLocked(now)
	for s := range b.subs {
		if !s.f.Match(e) {
			continue
		}
		if s.sink != nil {
			if !s.sink.Deliver(e) {
				if s.ctx.Err() == nil {
					s.setErr(ErrSlowSubscriber)
				}
				b.endLocked(s)
			}
			continue
		}
		select {
		case s.in <- e:
		default:
			// Full: drop it rather than block the publisher and everyone
			// else (unless it is already leaving on its own). A direct
			// subscriber still reads what its buffer holds, then sees the
			// channel close.
			if s.ctx.Err() == nil {
				s.setErr(ErrSlowSubscriber)
			}
			b.endLocked(s)
		}
	}
	return e.ID, nil
}

// endLocked removes s and ends its channel (directly, or through its pump).
func (b *MemoryBus) endLocked(s *memSub) {
	if _, ok := b.subs[s]; !ok {
		return
	}
	delete(b.subs, s)
	switch {
	case s.sink != nil:
		s.stop()
		s.sink.End(s.getErr())
	case s.direct:
		s.stop()
		close(s.in)
	default:
		close(s.quit)
	}
}

var _ SinkSubscriber = (*MemoryBus)(nil)

// SubscriberBuffer implements SinkSubscriber: MemoryOptions.Buffer.
func (b *MemoryBus) SubscriberBuffer() int { return b.opt.Buffer }

// SubscribeSink implements SinkSubscriber: Publish hands the subscription's
// events to s.Deliver.
func (b *MemoryBus) SubscribeSink(ctx context.Context, f Filter, s Sink) error {
	if f.Conn == "" {
		return errors.New("events: a subscription needs a connection")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sub := &memSub{ctx: ctx, f: f, sink: &s}
	b.subs[sub] = struct{}{}
	sub.stop = context.AfterFunc(ctx, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.endLocked(sub)
	})
	return nil
}

func (b *MemoryBus) trimLocked(now time.Time) {
	cut := 0
	if over := len(b.retained) - b.opt.MaxRetained; over > 0 {
		cut = over
	}
	limit := now.Add(-b.opt.Retention)
	for cut < len(b.retained) && b.retained[cut].at.Before(limit) {
		cut++
	}
	if cut > 0 {
		b.dropped = b.retained[cut-1].seq
		clear(b.retained[:cut])
		b.retained = b.retained[cut:]
	}
}

// Subscribe implements Bus. after == "" delivers only events published from
// now on; a cursor of this bus replays the retained events after it (all
// retained ones when it has expired); a cursor of another bus instance
// replays everything retained. A malformed cursor is ErrBadCursor.
func (b *MemoryBus) Subscribe(ctx context.Context, f Filter, after string) (*Subscription, error) {
	if f.Conn == "" {
		return nil, errors.New("events: a subscription needs a connection")
	}
	var from uint64
	replayAll := false
	if after != "" {
		seq, ours, err := b.parseCursor(after)
		if err != nil {
			return nil, err
		}
		from, replayAll = seq, !ours
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		b.mu.Unlock()
		return nil, err
	}
	var replay []Event
	if after != "" {
		b.trimLocked(b.opt.Now())
		for _, r := range b.retained {
			if (replayAll || r.seq > from) && f.Match(r.e) {
				replay = append(replay, r.e)
			}
		}
	}
	s := &memSub{ctx: ctx, f: f, in: make(chan Event, b.opt.Buffer)}
	if len(replay) == 0 {
		s.direct = true
		b.subs[s] = struct{}{}
		// Set before anything can end s: AfterFunc runs its func in a
		// goroutine of its own, which waits for mu.
		s.stop = context.AfterFunc(ctx, func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.endLocked(s)
		})
		b.mu.Unlock()
		return &Subscription{C: s.in, Err: s.getErr}, nil
	}
	s.quit = make(chan struct{})
	b.subs[s] = struct{}{}
	b.mu.Unlock()

	out := make(chan Event)
	go b.pump(ctx, s, replay, out)
	return &Subscription{C: out, Err: s.getErr}, nil
}

// pump is the subscriber's goroutine: replay first, then live events, until
// the context is done or the bus lets go of the subscriber.
func (b *MemoryBus) pump(ctx context.Context, s *memSub, replay []Event, out chan<- Event) {
	defer close(out)
	defer b.remove(s)
	send := func(e Event) bool {
		select {
		case out <- e:
			return true
		case <-ctx.Done():
			return false
		case <-s.quit:
			return false
		}
	}
	for _, e := range replay {
		if !send(e) {
			return
		}
	}
	for {
		select {
		case e := <-s.in:
			if !send(e) {
				return
			}
		case <-ctx.Done():
			return
		case <-s.quit:
			return
		}
	}
}

func (b *MemoryBus) remove(s *memSub) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

// Subscribers returns the number of live subscriptions (for tests and metrics).
func (b *MemoryBus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close ends every subscription (their Err stays nil) and refuses further
// publishes and subscriptions. It is safe to call more than once.
func (b *MemoryBus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	for s := range b.subs {
		b.endLocked(s)
	}
	b.retained = nil
	return nil
}

var _ ChangeLog = (*MemoryBus)(nil)

// ReadPage implements ChangeLog. A cursor of another bus instance (another
// process, or before a restart) is ErrCursorExpired, as is one after which
// events were trimmed (Retention, MaxRetained).
func (b *MemoryBus) ReadPage(ctx context.Context, f Filter, after string, limit, scan int) (Page, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	var from uint64
	if after != "" {
		seq, ours, err := b.parseCursor(after)
		if err != nil {
			return Page{}, err
		}
		if !ours {
			return Page{}, ErrCursorExpired
		}
		from = seq
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Page{}, ErrClosed
	}
	b.trimLocked(b.opt.Now())
	switch {
	case after == "":
		return Page{End: b.cursor(b.seq)}, nil
	case from > b.seq:
		return Page{}, fmt.Errorf("%w %q (ahead of this log)", ErrBadCursor, after)
	case from < b.dropped:
		return Page{}, ErrCursorExpired
	}
	i, _ := slices.BinarySearchFunc(b.retained, from+1, func(r retainedEvent, seq uint64) int { return cmp.Compare(r.seq, seq) })
	p := Page{Events: []Event{}}
	last := from
	for scanned := 0; i < len(b.retained) && len(p.Events) < limit && scanned < scan; i, scanned = i+1, scanned+1 {
		r := b.retained[i]
		last = r.seq
		if f.Match(r.e) {
			p.Events = append(p.Events, r.e)
		}
	}
	p.More = i < len(b.retained)
	if !p.More {
		last = b.seq
	}
	p.End = b.cursor(last)
	return p, nil
}

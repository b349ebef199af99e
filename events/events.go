// Package events turns "a Procore resource changed" into typed, resumable
// events: status changes and ball-in-court moves.
//
// Sources (our own mutations, Procore webhooks, the poller) hand the new state
// of a resource to an Observer (the differ), which compares it with the last
// state it saw (kept in the cache, shared by replicas) and publishes only real
// transitions to a Bus. Subscriptions read the Bus, filtered by connection and
// project, and resume from a cursor.
package events

import (
	"context"
	"errors"
	"time"

	"procoregraph/adapter"
)

// ItemKind is the kind of resource an event is about.
type ItemKind string

const (
	ItemRFI        ItemKind = "RFI"
	ItemSubmittal  ItemKind = "SUBMITTAL"
	ItemPunchItem  ItemKind = "PUNCH_ITEM"
	ItemInvoice    ItemKind = "INVOICE"
	ItemCommitment ItemKind = "COMMITMENT"
	// ItemChangeEvent is a change event (status and scope changes).
	ItemChangeEvent ItemKind = "CHANGE_EVENT"
	// ItemPrimeChangeOrder is a prime contract change order (1- and 2-tier).
	ItemPrimeChangeOrder ItemKind = "PRIME_CHANGE_ORDER"
	// ItemChangeOrderPackage is a change order package (3-tier: the prime
	// contract change order there).
	ItemChangeOrderPackage ItemKind = "CHANGE_ORDER_PACKAGE"
	// ItemPotentialChangeOrder is a potential change order (2- and 3-tier).
	ItemPotentialChangeOrder ItemKind = "POTENTIAL_CHANGE_ORDER"
	// ItemCommitmentChangeOrder is a commitment change order.
	ItemCommitmentChangeOrder ItemKind = "COMMITMENT_CHANGE_ORDER"
	// ItemPaymentApplication is an owner invoice (prime contract payment
	// application).
	ItemPaymentApplication ItemKind = "PAYMENT_APPLICATION"
)

// Kind is what changed.
type Kind string

const (
	// KindStatusChanged: the item's status changed (Previous/NewStatus set).
	KindStatusChanged Kind = "STATUS_CHANGED"
	// KindBallInCourtChanged: the people who must act next changed.
	KindBallInCourtChanged Kind = "BALL_IN_COURT_CHANGED"
	// KindCreated: the item was first seen (no previous state).
	KindCreated Kind = "CREATED"
	// KindDeleted: the item was deleted (sent to Procore's recycle bin). A
	// tombstone: PreviousStatus and NewStatus are the last status known (""
	// when the gateway never saw the item), NewBallInCourt is empty.
	KindDeleted Kind = "DELETED"
)

// Source says where a change was learned.
type Source string

const (
	SourceMutation Source = "MUTATION"
	SourceWebhook  Source = "WEBHOOK"
	SourcePoller   Source = "POLLER"
)

// Snapshot is the state of one resource that the differ compares. Status is
// the normalized status string (e.g. "OPEN", "UNDER_REVIEW", "APPROVED");
// BallInCourt is sorted by id by the differ.
type Snapshot struct {
	Conn      string
	ProjectID int64
	ItemKind  ItemKind
	ItemID    int64
	Title     string // subject, title or number, for display
	Status    string
	// SubmittalStatus is a submittal's company-configured status object
	// (nil for other kinds, or a submittal without one). Events carry it
	// whole; the differ compares Status only.
	SubmittalStatus *adapter.SubmittalStatus
	BallInCourt     []adapter.Person
	UpdatedAt       time.Time
	// Created says the source knows the item was just created (a create
	// mutation, a webhook "create" event). The first sight of an item is a
	// CREATED event only then; otherwise it is a silent baseline, so a
	// poller's first pass does not announce every existing item.
	Created bool
	// Deleted says the item was deleted (a webhook "delete" event, an entry
	// of Procore's recycle bin). The differ publishes DELETED once per
	// deletion, however many sources report it, and ignores later reports
	// of the item's older, undeleted state.
	Deleted bool
}

// Event is one published transition.
type Event struct {
	// ID is the bus cursor of the event (assigned by Publish); resume after it.
	ID        string
	Conn      string
	ProjectID int64
	Kind      Kind
	ItemKind  ItemKind
	ItemID    int64
	Title     string

	PreviousStatus string
	NewStatus      string
	// PreviousSubmittalStatus and NewSubmittalStatus are a submittal's
	// status objects before and now (nil for other kinds, for none, and in
	// events stored before they were kept).
	PreviousSubmittalStatus *adapter.SubmittalStatus
	NewSubmittalStatus      *adapter.SubmittalStatus
	PreviousBallInCourt     []adapter.Person
	NewBallInCourt          []adapter.Person

	// At is when the change happened (the resource's updated_at when known).
	At     time.Time
	Source Source
}

// Observer is the differ's input: every source reports the current state of a
// resource it fetched or wrote. Observe publishes zero or more events (one per
// real transition) and returns them; reporting the same state twice publishes
// nothing, which is what makes duplicated or reordered webhooks harmless.
type Observer interface {
	Observe(ctx context.Context, s Snapshot, src Source) ([]Event, error)
}

// Filter selects events for a subscriber.
type Filter struct {
	Conn      string // required: a subscriber only ever sees its connection's events
	ProjectID int64  // 0 = every project
	// ProjectIDs, when not empty, admits only events of these projects (on
	// top of ProjectID).
	ProjectIDs []int64
	ItemKinds  []ItemKind // empty = every kind
	Kinds      []Kind     // empty = every kind
	ItemID     int64      // 0 = every item
}

// Match reports whether e passes f.
func (f Filter) Match(e Event) bool {
	if e.Conn != f.Conn {
		return false
	}
	if f.ProjectID != 0 && e.ProjectID != f.ProjectID {
		return false
	}
	if len(f.ProjectIDs) > 0 && !contains(f.ProjectIDs, e.ProjectID) {
		return false
	}
	if f.ItemID != 0 && e.ItemID != f.ItemID {
		return false
	}
	if len(f.ItemKinds) > 0 && !contains(f.ItemKinds, e.ItemKind) {
		return false
	}
	if len(f.Kinds) > 0 && !contains(f.Kinds, e.Kind) {
		return false
	}
	return true
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Bus carries events between replicas.
type Bus interface {
	// Publish appends e (its ID is ignored) and returns its cursor.
	Publish(ctx context.Context, e Event) (string, error)
	// Subscribe delivers events matching f published after cursor `after`
	// ("" = only new events; an expired cursor replays what the retention
	// window still holds). The channel closes when ctx is done or the
	// subscriber is dropped for being too slow (Err then says why).
	Subscribe(ctx context.Context, f Filter, after string) (*Subscription, error)
	Close() error
}

// BatchPublisher is a Bus that can publish several events at once, all or
// none, in order: the differ publishes the events of one change (a status
// change that also moves the ball in court) this way when the bus offers it.
type BatchPublisher interface {
	// PublishBatch appends evs (their IDs are ignored) in order and returns
	// their cursors; on error none of them was published.
	PublishBatch(ctx context.Context, evs []Event) ([]string, error)
}

// Subscription is one subscriber's stream.
type Subscription struct {
	// C delivers events in order; it is closed when the subscription ends.
	C <-chan Event
	// Err returns why the subscription ended (nil while open or after a
	// normal cancel; ErrSlowSubscriber when it was dropped).
	Err func() error
}

// Sink receives one subscription's events from the bus's own goroutine (the
// publisher's on the in-memory bus, the stream reader's on Redis), with no
// goroutine of the subscription's own. Both funcs run under the bus's lock:
// they must be fast, must not block, and must not call the bus.
type Sink struct {
	// Deliver is called with every matching event, once, in order. It
	// returns false when it cannot take the event (its buffer is full): the
	// bus then drops the subscriber, and End gets ErrSlowSubscriber.
	Deliver func(Event) bool
	// End is called once, after the last Deliver, when the subscription
	// ends: err is nil when its context was done or the bus closed, and
	// ErrSlowSubscriber when it was dropped.
	End func(err error)
}

// SinkSubscriber is a Bus that can deliver to a Sink: subscriptions that
// replay nothing cost no goroutine of their own. Both buses implement it.
type SinkSubscriber interface {
	// SubscribeSink delivers events matching f published after it returns,
	// until ctx is done, the bus closes or Deliver refuses one.
	SubscribeSink(ctx context.Context, f Filter, s Sink) error
	// SubscriberBuffer is how many undelivered events one subscriber may
	// hold (the bus's Buffer option): the size of a Sink's own buffer.
	SubscriberBuffer() int
}

// ErrSlowSubscriber ends a subscription whose reader fell behind its buffer;
// it is dropped rather than allowed to block other subscribers.
var ErrSlowSubscriber = errors.New("subscriber too slow: dropped")

// ChangeLog is a Bus whose retained events can be read back in pages: the
// changes feed a BI sync reads (Query.changes). Both buses implement it.
type ChangeLog interface {
	// ReadPage returns up to limit events of f.Conn matching f that follow
	// cursor after, oldest first, scanning at most scan retained events
	// (matching or not) so that a narrow filter cannot make one call walk
	// the whole log.
	//
	// after == "" reads nothing and returns the log's current end as
	// Page.End: a watermark to take before a full sync. A malformed cursor
	// is ErrBadCursor; a cursor after which events may have been dropped
	// (older than the retention window, or from another bus instance) is
	// ErrCursorExpired: the client must sync fully again.
	ReadPage(ctx context.Context, f Filter, after string, limit, scan int) (Page, error)
}

// Page is one page of the change log.
type Page struct {
	// Events match the filter, in log order.
	Events []Event
	// End is the cursor to pass as after next time: the last event read
	// (matching or not), or the log's end when More is false. Never "".
	End string
	// More is true when the log holds events after End already.
	More bool
}

// ErrCursorExpired is the answer to a cursor after which the log may have
// lost events (retention, a trimmed or restarted log).
var ErrCursorExpired = errors.New("events: cursor expired: events after it are no longer retained")

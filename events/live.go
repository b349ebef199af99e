package events

import (
	"context"
	"sync/atomic"

	"procoregraph/tenant"
)

// Live is what the Subscription resolvers need; the gateway puts it in every
// request's context (WithLive) and resolvers read it with LiveFrom.
type Live struct {
	// Bus delivers events. Required.
	Bus Bus
	// Prime, when set, records the differ's baseline for the items a
	// subscription watches before the subscription starts (see Primer).
	Prime func(ctx context.Context, conn *tenant.Connection, projectID int64, kinds []ItemKind) error
	// Hold, when set, records that a subscription watches kinds in
	// projectID (0: every project) until the returned release is called
	// (Demand.Hold: the poller follows costly kinds only while, and where,
	// they are watched).
	Hold func(ctx context.Context, conn *tenant.Connection, projectID int64, kinds []ItemKind) (release func())
	// Active, when set, counts open subscriptions (after priming, so a
	// subscription counted here misses nothing that happens next).
	Active *atomic.Int64
	// Delivered, when set, is called with every event sent to a subscriber
	// (e.g. to measure the lag from Event.At). It must be fast and safe for
	// concurrent use.
	Delivered func(Event)
}

type liveKey struct{}

// WithLive returns ctx carrying l.
func WithLive(ctx context.Context, l *Live) context.Context {
	return context.WithValue(ctx, liveKey{}, l)
}

// LiveFrom returns the Live in ctx, or nil.
func LiveFrom(ctx context.Context) *Live {
	l, _ := ctx.Value(liveKey{}).(*Live)
	return l
}

// LogOf returns l's Bus as a ChangeLog, false when l is nil or its bus
// cannot be read in pages.
func (l *Live) LogOf() (ChangeLog, bool) {
	if l == nil {
		return nil, false
	}
	cl, ok := l.Bus.(ChangeLog)
	return cl, ok
}

package rest

import (
	"context"
	"time"
)

// Clock is the time source of the client: token expiry, rate-limit windows and
// retry waits all read it, so tests can run them without real sleeps.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d, or returns ctx's error as soon as ctx is done.
	// A d of zero or less returns at once (nil unless ctx is already done).
	Sleep(ctx context.Context, d time.Duration) error
}

// WallClock is the real clock (time.Now and a timer), the default Clock.
type WallClock struct{}

func (WallClock) Now() time.Time { return time.Now() }

func (WallClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

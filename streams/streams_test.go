package streams_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"procoregraph/streams"
)

// deadline bounds every wait for something asynchronous; it is generous so
// that a slow machine never fails a test.
const deadline = 10 * time.Second

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRegistry(t *testing.T, o streams.Options) *streams.Registry {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet()
	}
	r := streams.NewRegistry(o)
	t.Cleanup(r.Close)
	return r
}

func ok(context.Context) error { return nil }

func ended(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// waitEnded waits for ctx to end, failing the test after deadline.
func waitEnded(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(deadline):
		t.Fatalf("%s did not end within %v", what, deadline)
	}
}

// waitLen polls r.Len until it is n, failing the test after deadline.
func waitLen(t *testing.T, r *streams.Registry, n int) {
	t.Helper()
	end := time.Now().Add(deadline)
	for r.Len() != n {
		if time.Now().After(end) {
			t.Fatalf("Len() = %d, want %d", r.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func revokedCause(ctx context.Context) bool { return errors.Is(context.Cause(ctx), streams.ErrRevoked) }

func TestRevoked(t *testing.T) {
	r := newRegistry(t, streams.Options{Recheck: -1})
	a1 := r.Track(context.Background(), "s-a", ok)
	a2 := r.Track(context.Background(), "s-a", ok)
	b := r.Track(context.Background(), "s-b", ok)
	if r.Len() != 3 {
		t.Fatalf("Len() = %d, want 3", r.Len())
	}
	n := r.Revoked("s-a")

	t.Run("ReportsHowManyStreamsEnded", func(t *testing.T) {
		if n != 2 {
			t.Fatalf("Revoked = %d, want 2", n)
		}
	})
	t.Run("EveryStreamOfTheSessionEndsWithErrRevoked", func(t *testing.T) {
		for i, ctx := range []context.Context{a1, a2} {
			if !ended(ctx) {
				t.Fatalf("stream %d of the revoked session is still open", i)
			}
			if !revokedCause(ctx) {
				t.Fatalf("stream %d cause = %v, want ErrRevoked", i, context.Cause(ctx))
			}
			if !errors.Is(ctx.Err(), context.Canceled) {
				t.Fatalf("stream %d Err = %v, want context.Canceled", i, ctx.Err())
			}
		}
	})
	t.Run("OtherSessionsStreamsStayOpen", func(t *testing.T) {
		if ended(b) {
			t.Fatalf("a stream of another session ended: %v", context.Cause(b))
		}
	})
	t.Run("RevokedStreamsAreNoLongerTracked", func(t *testing.T) {
		if r.Len() != 1 {
			t.Fatalf("Len() = %d, want 1", r.Len())
		}
	})
	t.Run("RevokingAgainEndsNothing", func(t *testing.T) {
		if n := r.Revoked("s-a"); n != 0 {
			t.Fatalf("Revoked = %d, want 0", n)
		}
	})
	t.Run("UnknownSessionEndsNothing", func(t *testing.T) {
		if n := r.Revoked("s-none"); n != 0 || ended(b) {
			t.Fatalf("Revoked = %d, other stream ended %v", n, ended(b))
		}
	})
}

func TestTrackedStreamEndsWithItsContext(t *testing.T) {
	r := newRegistry(t, streams.Options{Recheck: -1})
	t.Run("CancelledStreamIsUntracked", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		ctx := r.Track(parent, "s-1", ok)
		r.Track(context.Background(), "s-1", ok)
		if r.Len() != 2 {
			t.Fatalf("Len() = %d, want 2", r.Len())
		}
		cancel()
		if !ended(ctx) {
			t.Fatal("the tracked context did not end with its parent")
		}
		if revokedCause(ctx) {
			t.Fatal("a stream closed by its client reports ErrRevoked")
		}
		waitLen(t, r, 1)
	})
	t.Run("LastStreamGoneLeavesNothingTracked", func(t *testing.T) {
		r := newRegistry(t, streams.Options{Recheck: -1})
		var cancels []context.CancelFunc
		for _, id := range []string{"s-1", "s-1", "s-2"} {
			parent, cancel := context.WithCancel(context.Background())
			cancels = append(cancels, cancel)
			r.Track(parent, id, ok)
		}
		for _, c := range cancels {
			c()
		}
		waitLen(t, r, 0)
		if n := r.Revoked("s-1"); n != 0 {
			t.Fatalf("Revoked after the streams closed = %d, want 0", n)
		}
	})
	t.Run("ParentValuesAreKept", func(t *testing.T) {
		type key struct{}
		ctx := r.Track(context.WithValue(context.Background(), key{}, "v"), "s-v", ok)
		if ctx.Value(key{}) != "v" {
			t.Fatal("the tracked context lost its parent's values")
		}
	})
}

// session is a fake session store entry whose validity a test controls and
// whose checks are counted.
type session struct {
	err    atomic.Pointer[error]
	checks atomic.Int32
}

func (s *session) check(context.Context) error {
	s.checks.Add(1)
	if e := s.err.Load(); e != nil {
		return *e
	}
	return nil
}

func (s *session) fail(err error) { s.err.Store(&err) }

func TestRecheckAll(t *testing.T) {
	r := newRegistry(t, streams.Options{Recheck: -1})
	gone, alive, storeDown := &session{}, &session{}, &session{}
	gone.fail(errors.New("session revoked"))
	storeDown.fail(context.DeadlineExceeded)

	gone1 := r.Track(context.Background(), "gone", gone.check)
	gone2 := r.Track(context.Background(), "gone", gone.check)
	alive1 := r.Track(context.Background(), "alive", alive.check)
	alive2 := r.Track(context.Background(), "alive", alive.check)
	down := r.Track(context.Background(), "down", storeDown.check)

	r.RecheckAll(context.Background())

	t.Run("StreamsOfAGoneSessionEnd", func(t *testing.T) {
		for i, ctx := range []context.Context{gone1, gone2} {
			if !ended(ctx) || !revokedCause(ctx) {
				t.Fatalf("stream %d: ended %v, cause %v; want ended with ErrRevoked", i, ended(ctx), context.Cause(ctx))
			}
		}
	})
	t.Run("UnconfirmedSessionFailsClosed", func(t *testing.T) {
		if !ended(down) || !revokedCause(down) {
			t.Fatalf("ended %v, cause %v; want ended with ErrRevoked", ended(down), context.Cause(down))
		}
	})
	t.Run("StreamsOfAValidSessionStayOpen", func(t *testing.T) {
		if ended(alive1) || ended(alive2) {
			t.Fatal("a stream of a valid session ended")
		}
	})
	t.Run("EachSessionIsCheckedOncePerPass", func(t *testing.T) {
		if g, a, d := gone.checks.Load(), alive.checks.Load(), storeDown.checks.Load(); g != 1 || a != 1 || d != 1 {
			t.Fatalf("checks: gone %d, alive %d, down %d; want 1 each", g, a, d)
		}
	})
	t.Run("EndedStreamsAreUntracked", func(t *testing.T) {
		waitLen(t, r, 2)
	})
	t.Run("NextPassChecksRemainingSessionsAgain", func(t *testing.T) {
		r.RecheckAll(context.Background())
		if a := alive.checks.Load(); a != 2 {
			t.Fatalf("alive checked %d times, want 2", a)
		}
		if g := gone.checks.Load(); g != 1 {
			t.Fatalf("gone checked %d times after its streams ended, want 1", g)
		}
		if ended(alive1) || ended(alive2) {
			t.Fatal("a stream of a valid session ended")
		}
	})
	t.Run("SessionRevokedLaterEndsOnTheNextPass", func(t *testing.T) {
		alive.fail(errors.New("expired"))
		r.RecheckAll(context.Background())
		if !ended(alive1) || !ended(alive2) || !revokedCause(alive1) {
			t.Fatal("the streams of a session that became invalid are still open")
		}
		waitLen(t, r, 0)
	})
	t.Run("EmptyRegistryChecksNothing", func(t *testing.T) {
		r := newRegistry(t, streams.Options{Recheck: -1})
		r.RecheckAll(context.Background())
	})
}

func TestPeriodicRecheck(t *testing.T) {
	s := &session{}
	r := newRegistry(t, streams.Options{Recheck: 5 * time.Millisecond})
	ctx := r.Track(context.Background(), "s-1", s.check)
	t.Run("ValidSessionIsCheckedAndKept", func(t *testing.T) {
		end := time.Now().Add(deadline)
		for s.checks.Load() < 2 {
			if time.Now().After(end) {
				t.Fatalf("checked %d times within %v, want periodic checks", s.checks.Load(), deadline)
			}
			time.Sleep(time.Millisecond)
		}
		if ended(ctx) {
			t.Fatalf("a valid session's stream ended: %v", context.Cause(ctx))
		}
	})
	t.Run("InvalidSessionIsEnded", func(t *testing.T) {
		s.fail(errors.New("revoked"))
		waitEnded(t, ctx, "the stream of a revoked session")
		if !revokedCause(ctx) {
			t.Fatalf("cause %v, want ErrRevoked", context.Cause(ctx))
		}
	})
	t.Run("CloseIsIdempotentAndRecheckAllStillWorks", func(t *testing.T) {
		r.Close()
		r.Close() // idempotent
		other := &session{}
		r.Track(context.Background(), "s-2", other.check)
		// No timing assertion: the registry just must not panic or block
		// after Close; RecheckAll still works when asked.
		r.RecheckAll(context.Background())
		if other.checks.Load() < 1 {
			t.Fatal("RecheckAll after Close did not check")
		}
	})
}

func TestLocalPublisher(t *testing.T) {
	r := newRegistry(t, streams.Options{Recheck: -1})
	var pub streams.Publisher = streams.Local{R: r}
	a := r.Track(context.Background(), "s-a", ok)
	b := r.Track(context.Background(), "s-b", ok)
	if err := pub.Revoke(context.Background(), "s-a"); err != nil {
		t.Fatal(err)
	}
	t.Run("RevokedSessionsStreamEnds", func(t *testing.T) {
		if !ended(a) || !revokedCause(a) {
			t.Fatalf("ended %v, cause %v", ended(a), context.Cause(a))
		}
	})
	t.Run("OtherSessionsStreamStaysOpen", func(t *testing.T) {
		if ended(b) {
			t.Fatal("another session's stream ended")
		}
	})
}

func TestErrRevokedMessage(t *testing.T) {
	if streams.ErrRevoked.Error() == "" {
		t.Fatal("ErrRevoked has no message")
	}
}

package streams_test

import (
	"context"
	"testing"

	"procoregraph/cache/cachetest"
	"procoregraph/streams"
)

func newBroadcast(t *testing.T, r *streams.Registry, o streams.RedisOptions) *streams.RedisBroadcast {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	b, err := streams.NewRedisBroadcast(ctx, r, o)
	if err != nil {
		t.Fatalf("NewRedisBroadcast: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestRedisBroadcastRequiresClient(t *testing.T) {
	r := newRegistry(t, streams.Options{Recheck: -1})
	if _, err := streams.NewRedisBroadcast(context.Background(), r, streams.RedisOptions{}); err == nil {
		t.Fatal("NewRedisBroadcast accepted options without a client")
	}
}

func TestRedisBroadcast(t *testing.T) {
	cachetest.URL(t)
	// Two replicas: each its own client, registry and broadcast, on one
	// channel under a prefix of this test's own.
	rdbA, rdbB := cachetest.Client(t), cachetest.Client(t)
	prefix := cachetest.Prefix(t, rdbA, "streams")
	regA := newRegistry(t, streams.Options{Recheck: -1})
	regB := newRegistry(t, streams.Options{Recheck: -1})
	pubA := newBroadcast(t, regA, streams.RedisOptions{Client: rdbA, Prefix: prefix, Logger: quiet()})
	newBroadcast(t, regB, streams.RedisOptions{Client: rdbB, Prefix: prefix, Logger: quiet()})

	// A replica on another prefix must not hear this test's revocations.
	regC := newRegistry(t, streams.Options{Recheck: -1})
	newBroadcast(t, regC, streams.RedisOptions{Client: rdbB, Prefix: prefix + "other:", Logger: quiet()})
	pubOther := newBroadcast(t, newRegistry(t, streams.Options{Recheck: -1}),
		streams.RedisOptions{Client: rdbA, Prefix: prefix + "other:", Logger: quiet()})

	onA := regA.Track(context.Background(), "s-revoked", ok)
	onB := regB.Track(context.Background(), "s-revoked", ok)
	keptB := regB.Track(context.Background(), "s-kept", ok)
	onC := regC.Track(context.Background(), "s-revoked", ok)
	sentinelC := regC.Track(context.Background(), "s-sentinel", ok)

	if err := pubA.Revoke(context.Background(), "s-revoked"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}

	t.Run("LocalStreamEndsAtOnce", func(t *testing.T) {
		if !ended(onA) || !revokedCause(onA) {
			t.Fatalf("the revoking replica's stream: ended %v, cause %v", ended(onA), context.Cause(onA))
		}
	})
	t.Run("OtherReplicasStreamEnds", func(t *testing.T) {
		waitEnded(t, onB, "the other replica's stream of the revoked session")
		if !revokedCause(onB) {
			t.Fatalf("cause %v, want ErrRevoked", context.Cause(onB))
		}
		waitLen(t, regB, 1)
	})
	t.Run("OtherSessionStaysOpen", func(t *testing.T) {
		if ended(keptB) {
			t.Fatal("a stream of another session ended")
		}
	})
	t.Run("OtherPrefixIsNotReached", func(t *testing.T) {
		// C's subscriber handles its messages in publication order: once a
		// later revocation on C's own channel has arrived, the earlier one
		// would have too, had C been subscribed to this test's channel.
		if err := pubOther.Revoke(context.Background(), "s-sentinel"); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		waitEnded(t, sentinelC, "the other prefix's own revocation")
		if ended(onC) {
			t.Fatal("a replica on another prefix ended its stream")
		}
	})
}

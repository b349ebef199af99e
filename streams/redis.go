package streams

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a RedisBroadcast.
type RedisOptions struct {
	// Client is the Redis connection (shared with the cache). Required.
	Client redis.UniversalClient
	// Prefix namespaces the channel (CACHE_PREFIX).
	Prefix string
	// Logger receives subscription trouble. Default slog.Default().
	Logger *slog.Logger
}

// RedisBroadcast carries revocations between replicas over Redis pub/sub:
// Revoke publishes, and every replica's subscriber ends its streams of the
// revoked session. On every (re)subscription it re-checks all tracked
// streams, since messages published while it was away are lost.
type RedisBroadcast struct {
	o       RedisOptions
	r       *Registry
	channel string
	ps      *redis.PubSub
	wg      sync.WaitGroup
}

// NewRedisBroadcast subscribes (and waits for Redis to confirm) and starts
// delivering revocations to r.
func NewRedisBroadcast(ctx context.Context, r *Registry, o RedisOptions) (*RedisBroadcast, error) {
	if o.Client == nil {
		return nil, errors.New("streams: RedisOptions.Client is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	b := &RedisBroadcast{o: o, r: r, channel: o.Prefix + "procoregraph:session-revocations"}
	b.ps = o.Client.Subscribe(ctx, b.channel)
	if _, err := b.ps.Receive(ctx); err != nil {
		_ = b.ps.Close()
		return nil, err
	}
	ch := b.ps.ChannelWithSubscriptions()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for m := range ch {
			switch v := m.(type) {
			case *redis.Message:
				r.Revoked(v.Payload)
			case *redis.Subscription:
				if v.Kind == "subscribe" {
					// (Re)subscribed after Receive: a reconnect, and what was
					// published meanwhile is lost.
					r.RecheckAll(context.Background())
				}
			}
		}
	}()
	return b, nil
}

// Revoke implements Publisher: it ends this replica's streams of sessionID
// at once and tells the others.
func (b *RedisBroadcast) Revoke(ctx context.Context, sessionID string) error {
	b.r.Revoked(sessionID)
	return b.o.Client.Publish(ctx, b.channel, sessionID).Err()
}

// Close unsubscribes.
func (b *RedisBroadcast) Close() error {
	err := b.ps.Close()
	b.wg.Wait()
	return err
}

// Package oauthstore keeps a connection's OAuth token pair in the shared cache
// store (Redis when configured), so every replica uses the same access token
// and, because Procore refresh tokens are single-use, only one replica at a
// time refreshes: it implements rest.TokenStore and rest.TokenLocker.
package oauthstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"

	"procoregraph/cache"
	"procoregraph/sealbox"
)

// Options configure a Store. Zero values mean the defaults.
type Options struct {
	// Lease bounds how long a refresh lock is held if its holder dies.
	// Default 30 s.
	Lease time.Duration
	// Poll is how often a waiter retries the lock. Default 50 ms.
	Poll time.Duration
	// Box, when set, encrypts the stored pair (the refresh token is a
	// credential): sealed with the store key as additional data. Default:
	// plain JSON.
	Box *sealbox.Box
	// TTL, when set, expires the stored pair (a person's sign-in session
	// ends). Default: no expiry.
	TTL time.Duration
}

// Store is one connection's token pair in a cache.Store.
type Store struct {
	store     cache.Store
	key, lock string
	o         Options
}

// New returns the token store of connection conn.
func New(store cache.Store, conn string, o Options) *Store {
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 50 * time.Millisecond
	}
	return &Store{store: store, key: cache.AuxKey(conn, "oauth-token"), lock: cache.AuxKey(conn, "oauth-refresh-lock"), o: o}
}

// Load returns the stored token, or (nil, nil) when none is stored.
func (s *Store) Load(ctx context.Context) (*oauth2.Token, error) {
	it, ok, err := s.store.Get(ctx, s.key)
	if err != nil || !ok {
		return nil, err
	}
	raw := it.Value
	if s.o.Box != nil {
		if raw, err = s.o.Box.Open(s.key, raw); err != nil {
			return nil, fmt.Errorf("oauthstore: stored token: %w", err)
		}
	}
	var t oauth2.Token
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("oauthstore: stored token: %w", err)
	}
	return &t, nil
}

// Save replaces the stored pair in one write (no expiry: the refresh token
// outlives the access token).
func (s *Store) Save(ctx context.Context, t *oauth2.Token) error {
	if t == nil {
		return s.store.Delete(ctx, s.key)
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if s.o.Box != nil {
		if b, err = s.o.Box.Seal(s.key, b); err != nil {
			return err
		}
	}
	return s.store.Set(ctx, s.key, b, s.o.TTL)
}

// LockRefresh takes the connection's refresh lock (a lease, so a crashed
// holder cannot block refreshes for longer than Options.Lease) and returns
// its release, which removes the lock only if this caller still holds it.
func (s *Store) LockRefresh(ctx context.Context) (func(), error) {
	token := make([]byte, 16)
	_, _ = rand.Read(token)
	for {
		won, err := s.store.SetNX(ctx, s.lock, token, s.o.Lease)
		if err != nil {
			return nil, err
		}
		if won {
			return func() {
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, _ = s.store.CompareAndDelete(rctx, s.lock, token)
			}, nil
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(errors.New("oauthstore: waiting for the refresh lock"), ctx.Err())
		case <-time.After(s.o.Poll):
		}
	}
}

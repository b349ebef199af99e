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
	// ends); every Save renews it. Default: no expiry (the store may still
	// give one: package state gives every key a TTL).
	TTL time.Duration
	// MigratePlaintext, with Box, lets Load read a pair an earlier version
	// stored as plain JSON: it is returned and stored again sealed (if that
	// write fails, the next Load migrates it). Without it such an entry is
	// an error.
	MigratePlaintext bool
	// Legacy, when set, is the store an earlier version kept the pair in
	// (under the same key): when this store holds no pair, Load reads it
	// there (plain JSON with MigratePlaintext, or sealed), saves it here and
	// deletes it there. Default: none.
	Legacy cache.Store
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
	if err != nil {
		return nil, err
	}
	if !ok {
		return s.loadLegacy(ctx)
	}
	return s.open(ctx, it.Value)
}

// loadLegacy moves the pair from Options.Legacy into this store.
func (s *Store) loadLegacy(ctx context.Context) (*oauth2.Token, error) {
	if s.o.Legacy == nil {
		return nil, nil
	}
	it, ok, err := s.o.Legacy.Get(ctx, s.key)
	if err != nil || !ok {
		return nil, err
	}
	t, _, err := s.decode(it.Value)
	if err != nil {
		return nil, err
	}
	b, err := s.seal(t)
	if err != nil {
		return nil, err
	}
	// Only if no replica stored a pair meanwhile: it may have refreshed,
	// spending the legacy refresh token.
	won, err := s.store.SetNX(ctx, s.key, b, s.o.TTL)
	if err != nil {
		return nil, err
	}
	_ = s.o.Legacy.Delete(ctx, s.key)
	if won {
		return t, nil
	}
	it, ok, err = s.store.Get(ctx, s.key)
	if err != nil || !ok {
		return nil, err
	}
	return s.open(ctx, it.Value)
}

// open decodes a stored pair, sealing a plaintext one in place when
// Options.MigratePlaintext allows it.
func (s *Store) open(ctx context.Context, raw []byte) (*oauth2.Token, error) {
	t, plain, err := s.decode(raw)
	if err == nil && plain {
		if b, err := s.seal(t); err == nil {
			_, _ = s.store.CompareAndSwap(ctx, s.key, raw, b, s.o.TTL) // sealed from now on
		}
	}
	return t, err
}

// decode reads a stored pair: sealed with Options.Box when set, or plain
// JSON (without a Box, or with MigratePlaintext: then plain reports it).
func (s *Store) decode(raw []byte) (t *oauth2.Token, plain bool, err error) {
	if s.o.Box != nil {
		opened, err := s.o.Box.Open(s.key, raw)
		if err != nil {
			if t, ok := s.plaintext(raw); ok {
				return t, true, nil
			}
			return nil, false, fmt.Errorf("oauthstore: stored token: %w", err)
		}
		raw = opened
	}
	t = new(oauth2.Token)
	if err := json.Unmarshal(raw, t); err != nil {
		return nil, false, fmt.Errorf("oauthstore: stored token: %w", err)
	}
	return t, false, nil
}

// plaintext reads raw as a pair stored unsealed by an earlier version, when
// Options.MigratePlaintext allows it.
func (s *Store) plaintext(raw []byte) (*oauth2.Token, bool) {
	if !s.o.MigratePlaintext || len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var t oauth2.Token
	if err := json.Unmarshal(raw, &t); err != nil || t.AccessToken == "" && t.RefreshToken == "" {
		return nil, false
	}
	return &t, true
}

// Save replaces the stored pair in one write, sealed with Options.Box when
// set, expiring after Options.TTL (renewed at every save: the refresh token
// outlives the access token).
func (s *Store) Save(ctx context.Context, t *oauth2.Token) error {
	if t == nil {
		return s.store.Delete(ctx, s.key)
	}
	b, err := s.seal(t)
	if err != nil {
		return err
	}
	return s.store.Set(ctx, s.key, b, s.o.TTL)
}

// seal encodes t for storage (JSON, sealed with Options.Box when set).
func (s *Store) seal(t *oauth2.Token) ([]byte, error) {
	b, err := json.Marshal(t)
	if err != nil || s.o.Box == nil {
		return b, err
	}
	return s.o.Box.Seal(s.key, b)
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

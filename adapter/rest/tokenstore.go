package rest

import (
	"context"
	"sync"

	"golang.org/x/oauth2"
)

// TokenStore persists the OAuth token of one connection. Procore refresh
// tokens are single-use: a refresh consumes the old one, so Save must persist
// the new access and refresh token together, atomically, before anything else
// uses the store. Implementations must be safe for concurrent use.
type TokenStore interface {
	// Load returns the stored token, or (nil, nil) when none is stored.
	Load(ctx context.Context) (*oauth2.Token, error)
	// Save replaces the stored token with t.
	Save(ctx context.Context, t *oauth2.Token) error
}

// TokenLocker is optionally implemented by a TokenStore shared by several
// replicas (e.g. Redis). The client holds the lock around "load, refresh if
// still needed, save", so two replicas never spend the same refresh token.
type TokenLocker interface {
	// LockRefresh blocks until this caller holds the connection's refresh
	// lock or ctx is done, and returns the function that releases it.
	LockRefresh(ctx context.Context) (unlock func(), err error)
}

// MemoryTokenStore is a TokenStore in process memory. The zero value is an
// empty store ready to use.
type MemoryTokenStore struct {
	mu    sync.Mutex
	token *oauth2.Token
	saves int
}

// NewMemoryTokenStore returns a store holding a copy of initial (nil for empty).
func NewMemoryTokenStore(initial *oauth2.Token) *MemoryTokenStore {
	s := &MemoryTokenStore{}
	if initial != nil {
		t := *initial
		s.token = &t
	}
	return s
}

// Load returns a copy of the stored token, or nil when empty.
func (s *MemoryTokenStore) Load(ctx context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == nil {
		return nil, nil
	}
	t := *s.token
	return &t, nil
}

// Save stores a copy of t.
func (s *MemoryTokenStore) Save(ctx context.Context, t *oauth2.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t == nil {
		s.token = nil
	} else {
		c := *t
		s.token = &c
	}
	s.saves++
	return nil
}

// Saves returns how many times Save was called (for tests and diagnostics).
func (s *MemoryTokenStore) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

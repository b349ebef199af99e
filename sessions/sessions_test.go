package sessions

import (
	"context"
	"sync"
	"testing"
	"time"

	"procoregraph/adapter"
	"procoregraph/adapter/portal"
	"procoregraph/adapter/rest"
	"procoregraph/tenant"
)

// fakeManager knows sessions by id; Revoke forgets one.
type fakeManager struct {
	mu       sync.Mutex
	sessions map[string]portal.Session
}

func (m *fakeManager) CreateSession(context.Context, portal.Login) (portal.Session, error) {
	return portal.Session{}, nil
}

func (m *fakeManager) Session(_ context.Context, id string) (portal.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return portal.Session{}, adapter.Errorf(adapter.CodeUnauthenticated, "no such session")
	}
	return s, nil
}

func (m *fakeManager) Refresh(ctx context.Context, id string) (portal.Session, error) {
	return m.Session(ctx, id)
}

func (m *fakeManager) Revoke(_ context.Context, id string) error {
	m.mu.Lock()
	delete(m.sessions, id)
	m.mu.Unlock()
	return nil
}

func (m *fakeManager) Rotate(_ context.Context, id string) (portal.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return portal.Session{}, adapter.Errorf(adapter.CodeUnauthenticated, "no such session")
	}
	delete(m.sessions, id)
	s.ID = id + "r"
	m.sessions[s.ID] = s
	return s, nil
}

func (m *fakeManager) Credentials(string) rest.Credentials { return nil }

// TestWatchRunsWhileAConnectionHasALiveToken: the Watch of a connection
// starts when a token first resolves to it, is shared by its other tokens,
// and stops when the last of them is revoked; Close stops the rest.
func TestWatchRunsWhileAConnectionHasALiveToken(t *testing.T) {
	m := &fakeManager{sessions: map[string]portal.Session{
		TokenPrefix + "a1": {ID: TokenPrefix + "a1", ConnID: "conn-a", CompanyID: 1},
		TokenPrefix + "a2": {ID: TokenPrefix + "a2", ConnID: "conn-a", CompanyID: 1},
		TokenPrefix + "b":  {ID: TokenPrefix + "b", ConnID: "conn-b", CompanyID: 1},
	}}
	var mu sync.Mutex
	running := map[string]int{}
	stopped := make(chan string, 4)
	s, err := New(Options{Manager: m, LoginURL: "https://login.example",
		NewClient: func(rest.Credentials, int64) (adapter.Procore, error) { return nil, nil },
		Watch: func(ctx context.Context, c *tenant.Connection) {
			mu.Lock()
			running[c.ID]++
			mu.Unlock()
			<-ctx.Done()
			stopped <- c.ID
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tok := range []string{"a1", "a2", "b", "a1"} {
		if _, err := s.Connection(ctx, TokenPrefix+tok); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("both watches", func() bool { mu.Lock(); defer mu.Unlock(); return running["conn-a"] == 1 && running["conn-b"] == 1 })

	if err := s.Revoke(ctx, TokenPrefix+"a1"); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-stopped:
		t.Fatalf("watch of %s stopped while conn-a still has token a2", id)
	case <-time.After(50 * time.Millisecond):
	}
	if err := s.Revoke(ctx, TokenPrefix+"a2"); err != nil {
		t.Fatal(err)
	}
	if id := <-stopped; id != "conn-a" {
		t.Fatalf("stopped %s, want conn-a", id)
	}
	s.Close()
	if id := <-stopped; id != "conn-b" {
		t.Fatalf("Close stopped %s, want conn-b", id)
	}
	mu.Lock()
	defer mu.Unlock()
	if running["conn-a"] != 1 || running["conn-b"] != 1 {
		t.Fatalf("watches started %v, want one per connection", running)
	}
}

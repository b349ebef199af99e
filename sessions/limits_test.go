package sessions

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"procoregraph/adapter"
	"procoregraph/adapter/portal"
	"procoregraph/adapter/rest"
	"procoregraph/audit"
	"procoregraph/cache"
)

// loginManager logs in when the password is "right"; it counts logins,
// and can be told to fail revocations (a store outage).
type loginManager struct {
	fakeManager
	mu         sync.Mutex
	logins     int
	revokeErr  error
	revoked    []string
	nextID     int
	companyIDs []int64
}

func newLoginManager() *loginManager {
	return &loginManager{fakeManager: fakeManager{sessions: map[string]portal.Session{}}}
}

func (m *loginManager) CreateSession(_ context.Context, l portal.Login) (portal.Session, error) {
	m.mu.Lock()
	m.logins++
	m.nextID++
	id := TokenPrefix + strings.Repeat("x", m.nextID)
	m.mu.Unlock()
	if l.Password != "right" {
		return portal.Session{}, &adapter.Error{Code: adapter.CodeUnauthenticated, Message: "Invalid email or password.", Err: portal.ErrInvalidCredentials}
	}
	s := portal.Session{ID: id, ConnID: "conn-" + id, Email: l.Email, CompanyID: l.CompanyID, State: portal.StateActive}
	m.fakeManager.mu.Lock()
	m.sessions[id] = s
	m.fakeManager.mu.Unlock()
	return s, nil
}

func (m *loginManager) Revoke(ctx context.Context, id string) error {
	m.mu.Lock()
	err := m.revokeErr
	if err == nil {
		m.revoked = append(m.revoked, id)
	}
	m.mu.Unlock()
	if err != nil {
		return err
	}
	return m.fakeManager.Revoke(ctx, id)
}

func (m *loginManager) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.logins
}

// companies is an adapter.Procore that only lists companies.
type companies struct {
	adapter.Procore
	list []adapter.Company
}

func (c companies) Companies(context.Context) ([]adapter.Company, error) { return c.list, nil }

// announcer records revocations announced to the replicas.
type announcer struct {
	mu  sync.Mutex
	ids []string
}

func (a *announcer) Revoke(_ context.Context, id string) error {
	a.mu.Lock()
	a.ids = append(a.ids, id)
	a.mu.Unlock()
	return nil
}

func newService(t *testing.T, m *loginManager, store cache.Store, l Limits, list []adapter.Company, ann *announcer) *Service {
	t.Helper()
	s, err := New(Options{Manager: m, LoginURL: "https://login.example", Store: store, Limits: l, Revocations: ann,
		NewClient: func(rest.Credentials, int64) (adapter.Procore, error) { return companies{list: list}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func memoryStore(t *testing.T) cache.Store {
	t.Helper()
	m, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func from(addr string) context.Context { return audit.WithRemote(context.Background(), addr) }

// generous buckets, so that only the lockout is under test.
var lockoutOnly = Limits{PerAddress: rate.Inf, PerUsername: rate.Inf, MaxFailures: 3, Lockout: time.Hour}

func TestLoginLimits(t *testing.T) {
	t.Run("RepeatedFailuresLockTheUsernameOnEveryReplica", func(t *testing.T) {
		store, m := memoryStore(t), newLoginManager()
		a := newService(t, m, store, lockoutOnly, nil, nil)
		b := newService(t, m, store, lockoutOnly, nil, nil) // another replica, same store
		for i := 0; i < 3; i++ {
			if _, err := a.Create(from("10.0.0.1"), CreateInput{Username: "pat@example.com", Password: "wrong"}); !errors.Is(err, portal.ErrInvalidCredentials) {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		before := m.count()
		_, err := b.Create(from("10.0.0.2"), CreateInput{Username: "PAT@example.com", Password: "right"})
		var ae *adapter.Error
		if !errors.As(err, &ae) || ae.Code != adapter.CodeRateLimited || ae.RetryAfter <= 0 {
			t.Fatalf("a locked username on another replica and address: %v, want RATE_LIMITED with a retry time", err)
		}
		if m.count() != before {
			t.Fatal("a locked-out attempt reached Procore")
		}
		if _, err := b.Create(from("10.0.0.2"), CreateInput{Username: "sam@example.com", Password: "right"}); err != nil {
			t.Fatalf("another username from another address: %v", err)
		}
	})

	t.Run("RepeatedFailuresLockTheAddress", func(t *testing.T) {
		store, m := memoryStore(t), newLoginManager()
		s := newService(t, m, store, lockoutOnly, nil, nil)
		for _, u := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			_, _ = s.Create(from("10.0.0.9"), CreateInput{Username: u, Password: "wrong"})
		}
		if _, err := s.Create(from("10.0.0.9"), CreateInput{Username: "d@example.com", Password: "right"}); adapter.ErrorCode(err) != adapter.CodeRateLimited {
			t.Fatalf("a fourth username from an address that failed three times: %v, want RATE_LIMITED", err)
		}
	})

	t.Run("SuccessClearsTheUsernamesFailures", func(t *testing.T) {
		store, m := memoryStore(t), newLoginManager()
		s := newService(t, m, store, lockoutOnly, nil, nil)
		for i := 0; i < 2; i++ {
			_, _ = s.Create(from("10.0.1.1"), CreateInput{Username: "kim@example.com", Password: "wrong"})
		}
		if _, err := s.Create(from("10.0.1.2"), CreateInput{Username: "kim@example.com", Password: "right"}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			_, _ = s.Create(from("10.0.1.3"), CreateInput{Username: "kim@example.com", Password: "wrong"})
		}
		if _, err := s.Create(from("10.0.1.4"), CreateInput{Username: "kim@example.com", Password: "right"}); err != nil {
			t.Fatalf("two failures after a success locked the username: %v", err)
		}
	})

	t.Run("AddressBucketRefusesBursts", func(t *testing.T) {
		store, m := memoryStore(t), newLoginManager()
		s := newService(t, m, store, Limits{PerAddress: rate.Every(time.Hour), AddressBurst: 2, PerUsername: rate.Inf}, nil, nil)
		for i, u := range []string{"a@example.com", "b@example.com"} {
			if _, err := s.Create(from("10.0.2.1"), CreateInput{Username: u, Password: "right"}); err != nil {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		if _, err := s.Create(from("10.0.2.1"), CreateInput{Username: "c@example.com", Password: "right"}); adapter.ErrorCode(err) != adapter.CodeRateLimited {
			t.Fatalf("third attempt from one address within the burst: %v, want RATE_LIMITED", err)
		}
		if _, err := s.Create(from("10.0.2.2"), CreateInput{Username: "c@example.com", Password: "right"}); err != nil {
			t.Fatalf("another address: %v", err)
		}
	})

	t.Run("UsernameBucketRefusesBursts", func(t *testing.T) {
		store, m := memoryStore(t), newLoginManager()
		s := newService(t, m, store, Limits{PerAddress: rate.Inf, PerUsername: rate.Every(time.Hour), UsernameBurst: 1}, nil, nil)
		_, _ = s.Create(from("10.0.3.1"), CreateInput{Username: "lee@example.com", Password: "right"})
		if _, err := s.Create(from("10.0.3.2"), CreateInput{Username: "lee@example.com", Password: "right"}); adapter.ErrorCode(err) != adapter.CodeRateLimited {
			t.Fatalf("second attempt for one username: %v, want RATE_LIMITED", err)
		}
	})
}

func TestCreateWithoutCompanyWhenThePersonSeesSeveralIsRefused(t *testing.T) {
	store, m := memoryStore(t), newLoginManager()
	s := newService(t, m, store, lockoutOnly, []adapter.Company{{ID: 11, Name: "Acme Builders"}, {ID: 22, Name: "Beta Owners"}}, nil)
	_, err := s.Create(from("10.0.4.1"), CreateInput{Username: "max@example.com", Password: "right"})
	var ae *adapter.Error
	if !errors.As(err, &ae) || ae.Code != adapter.CodeBadUserInput || len(ae.Fields) != 1 || ae.Fields[0].Field[0] != "companyId" ||
		!strings.Contains(ae.Message, "11 (Acme Builders)") || !strings.Contains(ae.Message, "22 (Beta Owners)") {
		t.Fatalf("create without companyId: %v, want BAD_USER_INPUT on companyId listing both companies", err)
	}
	if len(m.revoked) != 1 {
		t.Fatalf("the session made without a company was not ended: revoked %v", m.revoked)
	}
	sess, err := s.Create(from("10.0.4.1"), CreateInput{Username: "max@example.com", Password: "right", CompanyID: 22})
	if err != nil || sess.CompanyID != 22 {
		t.Fatalf("create with companyId: %+v %v", sess, err)
	}
}

func TestRefreshRotatesTheToken(t *testing.T) {
	store, m, ann := memoryStore(t), newLoginManager(), &announcer{}
	s := newService(t, m, store, lockoutOnly, nil, ann)
	old, err := s.Create(from("10.0.5.1"), CreateInput{Username: "ana@example.com", Password: "right", CompanyID: 1})
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.Refresh(context.Background(), old.ID)
	if err != nil || next.ID == old.ID || next.ID == "" {
		t.Fatalf("refresh: %+v %v, want a new token", next, err)
	}
	if _, err := s.Identity(context.Background(), old.ID); adapter.ErrorCode(err) != adapter.CodeUnauthenticated {
		t.Fatalf("the old token after refresh: %v, want UNAUTHENTICATED", err)
	}
	if _, err := s.Identity(context.Background(), next.ID); err != nil {
		t.Fatalf("the new token: %v", err)
	}
	if len(ann.ids) != 1 || ann.ids[0] != SessionID(old.ID) {
		t.Fatalf("announced revocations %v, want the old token's session id", ann.ids)
	}
}

func TestRevokeFailsClosed(t *testing.T) {
	store, m, ann := memoryStore(t), newLoginManager(), &announcer{}
	s := newService(t, m, store, lockoutOnly, nil, ann)
	sess, err := s.Create(from("10.0.6.1"), CreateInput{Username: "bo@example.com", Password: "right", CompanyID: 1})
	if err != nil {
		t.Fatal(err)
	}
	m.revokeErr = &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "cannot delete the stored session"}
	if err := s.Revoke(context.Background(), sess.ID); adapter.ErrorCode(err) != adapter.CodeUpstreamUnavailable {
		t.Fatalf("revoke with the store down: %v, want UPSTREAM_UNAVAILABLE (not a silent success)", err)
	}
	if len(ann.ids) != 0 {
		t.Fatalf("a failed revocation was announced: %v", ann.ids)
	}
}

func TestSessionActionsAreAudited(t *testing.T) {
	store, m, mem := memoryStore(t), newLoginManager(), &audit.Memory{}
	s, err := New(Options{Manager: m, LoginURL: "https://login.example", Store: store, Limits: lockoutOnly, Audit: audit.New(mem),
		NewClient: func(rest.Credentials, int64) (adapter.Procore, error) { return companies{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := from("10.0.7.1")
	_, _ = s.Create(ctx, CreateInput{Username: "eve@example.com", Password: "wrong"})
	sess, err := s.Create(ctx, CreateInput{Username: "eve@example.com", Password: "right", CompanyID: 1})
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.Refresh(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, next.ID); err != nil {
		t.Fatal(err)
	}
	want := []struct{ event, outcome string }{
		{audit.EventSessionCreate, audit.OutcomeRejected}, {audit.EventSessionCreate, audit.OutcomeOK},
		{audit.EventSessionRefresh, audit.OutcomeOK}, {audit.EventSessionRevoke, audit.OutcomeOK},
	}
	recs := mem.Records()
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(recs), len(want), recs)
	}
	for i, w := range want {
		r := recs[i]
		if r.Event != w.event || r.Outcome != w.outcome || r.Principal.Name != "eve@example.com" || r.Remote != "10.0.7.1" {
			t.Fatalf("record %d %+v, want %s %s by eve@example.com from 10.0.7.1", i, r, w.event, w.outcome)
		}
		for _, v := range r.Inputs {
			if strings.HasPrefix(v, TokenPrefix) {
				t.Fatalf("record %d holds a session token: %+v", i, r)
			}
		}
	}
}

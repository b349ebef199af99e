// Package sessions turns Procore browser sessions (adapter/portal) into
// gateway connections. A client logs in once with createSession (GraphQL) or
// POST /sessions (REST) and gets a gateway token; every request that carries
// it as `Authorization: Bearer <token>` runs against exactly one Procore
// connection, served over that user's web session, with cache keys and events
// scoped by the session's connection id (Identity, called by package authn).
package sessions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"procoregraph/adapter"
	"procoregraph/adapter/portal"
	"procoregraph/adapter/rest"
	"procoregraph/audit"
	"procoregraph/authn"
	"procoregraph/cache"
	"procoregraph/principal"
	"procoregraph/streams"
	"procoregraph/tenant"
)

// TokenPrefix starts every gateway session token (portal session ids).
const TokenPrefix = "pgs_"

// Manager is the part of portal.Manager the service uses.
type Manager interface {
	CreateSession(ctx context.Context, l portal.Login) (portal.Session, error)
	Session(ctx context.Context, id string) (portal.Session, error)
	Refresh(ctx context.Context, id string) (portal.Session, error)
	Revoke(ctx context.Context, id string) error
	Rotate(ctx context.Context, id string) (portal.Session, error)
	Credentials(id string) rest.Credentials
}

// Options configure a Service.
type Options struct {
	// Manager logs in and keeps sessions. Required.
	Manager Manager
	// LoginURL is Procore's web login host every session logs in to; clients
	// cannot choose another (no requests to hosts we were not configured
	// with). Required.
	LoginURL string
	// NewClient builds the REST client of one session from its credentials
	// and company. Required.
	NewClient func(creds rest.Credentials, companyID int64) (adapter.Procore, error)
	// Watch, when set, runs (on its own goroutine) for each session
	// connection this process starts serving, until ctx ends: when every
	// token of the connection is revoked or expired, or the Service closes.
	// The gateway uses it to poll Procore for the connection's changes.
	Watch func(ctx context.Context, c *tenant.Connection)
	// Revocations ends a revoked session's open websockets and SSE streams
	// on every replica. Nil: they end with their clients.
	Revocations streams.Publisher
	// Audit records session creations, refreshes and revocations. Nil: none.
	Audit *audit.Logger
	// Store counts refused logins, so that lockouts hold on every replica
	// (Redis when configured). Nil: an in-memory store of this Service.
	Store cache.Store
	// Limits bound login attempts per client address and per username,
	// with a lockout after repeated failures.
	Limits Limits
}

// Service maps gateway tokens to connections and runs the session lifecycle.
type Service struct {
	o        Options
	limits   *limiter
	mu       sync.Mutex
	conns    map[string]*tenant.Connection // by session id
	watchers map[string]*watcher           // by connection id
	closed   bool
	wg       sync.WaitGroup
	sweeping bool
	stop     chan struct{}
}

// sweepEvery is how often watched sessions are checked for having ended
// elsewhere (revoked on another replica, or expired), so their Watch stops.
const sweepEvery = 30 * time.Second

// watcher is one running Options.Watch and the tokens that keep it alive.
type watcher struct {
	cancel context.CancelFunc
	tokens map[string]bool
}

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.Manager == nil || o.LoginURL == "" || o.NewClient == nil {
		return nil, errors.New("sessions: Manager, LoginURL and NewClient are required")
	}
	if o.Store == nil {
		m, err := cache.NewMemory(cache.MemoryOptions{})
		if err != nil {
			return nil, err
		}
		o.Store = m
	}
	return &Service{o: o, limits: newLimiter(o.Limits, o.Store), conns: map[string]*tenant.Connection{},
		watchers: map[string]*watcher{}, stop: make(chan struct{})}, nil
}

// Close stops every Watch and waits for them.
func (s *Service) Close() {
	s.mu.Lock()
	if !s.closed {
		close(s.stop)
	}
	s.closed = true
	for id, w := range s.watchers {
		w.cancel()
		delete(s.watchers, id)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// watchLocked starts (or joins) the Watch of c for token. s.mu is held.
func (s *Service) watchLocked(token string, c *tenant.Connection) {
	if s.o.Watch == nil || s.closed {
		return
	}
	if w, ok := s.watchers[c.ID]; ok {
		w.tokens[token] = true
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.watchers[c.ID] = &watcher{cancel: cancel, tokens: map[string]bool{token: true}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.o.Watch(ctx, c)
	}()
	if !s.sweeping {
		s.sweeping = true
		s.wg.Add(1)
		go s.sweep()
	}
}

// sweep forgets, every sweepEvery, the tokens whose sessions ended without
// a request here noticing, until Close.
func (s *Service) sweep() {
	defer s.wg.Done()
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		tokens := make([]string, 0, len(s.conns))
		for token := range s.conns {
			tokens = append(tokens, token)
		}
		s.mu.Unlock()
		for _, token := range tokens {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := s.o.Manager.Session(ctx, token)
			cancel()
			if adapter.ErrorCode(err) == adapter.CodeUnauthenticated {
				s.mu.Lock()
				s.forgetLocked(token)
				s.mu.Unlock()
			}
		}
	}
}

// forgetLocked drops token's connection; the connection's Watch stops with
// its last token. s.mu is held.
func (s *Service) forgetLocked(token string) {
	c, ok := s.conns[token]
	delete(s.conns, token)
	if !ok {
		return
	}
	if w, ok := s.watchers[c.ID]; ok {
		delete(w.tokens, token)
		if len(w.tokens) == 0 {
			w.cancel()
			delete(s.watchers, c.ID)
		}
	}
}

// CreateInput is what a person types to log in.
type CreateInput struct {
	Username, Password string
	MFA                portal.MFA
	CompanyID          int64
}

// Create logs in (one attempt) and returns the new session; its ID is the
// gateway token. Attempts are bounded per client address and per username
// (Limits): RATE_LIMITED, with no login at Procore, when a bucket is empty
// or repeated failures locked the username or the address out. When no
// company was given and the person sees several, the session is not kept
// and BAD_USER_INPUT lists the companies to choose from.
func (s *Service) Create(ctx context.Context, in CreateInput) (portal.Session, error) {
	addr := audit.RemoteFrom(ctx)
	if err := s.limits.allow(ctx, in.Username, addr); err != nil {
		s.audit(ctx, audit.EventSessionCreate, in.Username, "", err)
		return portal.Session{}, err
	}
	sess, err := s.o.Manager.CreateSession(ctx, portal.Login{BaseURL: s.o.LoginURL, Email: in.Username,
		Password: in.Password, MFA: in.MFA, CompanyID: in.CompanyID})
	switch {
	case errors.Is(err, portal.ErrInvalidCredentials) || errors.Is(err, portal.ErrInvalidCode) || errors.Is(err, portal.ErrMFAMismatch):
		s.limits.failed(ctx, in.Username, addr)
	case err == nil:
		s.limits.succeeded(ctx, in.Username)
		if in.CompanyID == 0 {
			err = s.requireOneCompany(ctx, sess)
		}
	}
	if err != nil {
		sess = portal.Session{}
	}
	s.audit(ctx, audit.EventSessionCreate, in.Username, sess.ID, err)
	return sess, err
}

// requireOneCompany ends a new session made without a company when its
// person sees several companies, answering which ones.
func (s *Service) requireOneCompany(ctx context.Context, sess portal.Session) error {
	p, err := s.o.NewClient(s.o.Manager.Credentials(sess.ID), 0)
	if err != nil {
		return nil
	}
	companies, err := p.Companies(ctx)
	if err != nil || len(companies) <= 1 {
		return nil // one company, or discovery later (Connection) says what is wrong
	}
	if rerr := s.o.Manager.Revoke(context.WithoutCancel(ctx), sess.ID); rerr != nil {
		slog.Default().WarnContext(ctx, "sessions: could not end a session made without a company", "err", rerr)
	}
	names := make([]string, len(companies))
	for i, c := range companies {
		names[i] = fmt.Sprintf("%d (%s)", c.ID, c.Name)
	}
	msg := fmt.Sprintf("this Procore user sees %d companies: choose one with companyId: %s", len(companies), strings.Join(names, ", "))
	return &adapter.Error{Code: adapter.CodeBadUserInput, Message: msg,
		Fields: []adapter.FieldError{{Field: []string{"companyId"}, Message: msg, Code: adapter.CodeBadUserInput}}}
}

// Refresh logs the session in again now, extends its life and rotates its
// token: the returned session carries a new token, and the old one stops
// working at once on every replica (its open streams end).
func (s *Service) Refresh(ctx context.Context, token string) (portal.Session, error) {
	if !strings.HasPrefix(token, TokenPrefix) {
		return portal.Session{}, adapter.Errorf(adapter.CodeUnauthenticated, "not a session token")
	}
	sess, err := s.o.Manager.Refresh(ctx, token)
	if err == nil {
		sess, err = s.o.Manager.Rotate(ctx, token)
	}
	if err == nil {
		s.mu.Lock()
		s.forgetLocked(token)
		s.mu.Unlock()
		s.announce(ctx, token)
	}
	s.audit(ctx, audit.EventSessionRefresh, sess.Email, token, err)
	return sess, err
}

// announce ends the open streams of token's session on every replica.
func (s *Service) announce(ctx context.Context, token string) {
	if s.o.Revocations == nil {
		return
	}
	if err := s.o.Revocations.Revoke(ctx, SessionID(token)); err != nil {
		// The session is gone from the store: the other replicas' periodic
		// re-check ends its streams.
		slog.Default().WarnContext(ctx, "sessions: could not announce a revocation to the other replicas", "err", err)
	}
}

// Revoke logs the session out at Procore and forgets it, and ends its open
// streams on every replica. Revocation fails closed: when the store cannot
// delete the session an error is returned and the session is not reported
// revoked.
func (s *Service) Revoke(ctx context.Context, token string) error {
	if !strings.HasPrefix(token, TokenPrefix) {
		return adapter.Errorf(adapter.CodeUnauthenticated, "not a session token")
	}
	var email string
	if sess, err := s.o.Manager.Session(ctx, token); err == nil {
		email = sess.Email
	}
	s.mu.Lock()
	s.forgetLocked(token)
	s.mu.Unlock()
	err := s.o.Manager.Revoke(ctx, token)
	if err == nil {
		s.announce(ctx, token)
	}
	s.audit(ctx, audit.EventSessionRevoke, email, token, err)
	return err
}

// audit records a session action by the person it concerns (never the
// token: the session id is a hash of it).
func (s *Service) audit(ctx context.Context, event, email, token string, err error) {
	if s.o.Audit == nil {
		return
	}
	rec := audit.Record{Event: event, Operation: event, Outcome: audit.OutcomeOK, Remote: audit.RemoteFrom(ctx),
		Principal: principal.Ref{Kind: principal.KindBrowserSession, Name: email}}
	if token != "" {
		rec.Inputs = map[string]string{"sessionId": SessionID(token)}
	}
	if err != nil {
		rec.Outcome, rec.Code = audit.OutcomeError, string(adapter.ErrorCode(err))
		if c := adapter.ErrorCode(err); c == adapter.CodeUnauthenticated || c == adapter.CodeBadUserInput {
			rec.Outcome = audit.OutcomeRejected
		}
	}
	s.o.Audit.Record(ctx, rec)
}

// Identity implements authn.SessionResolver: the person behind a session
// token (every scope: Procore's own permissions for that user apply) and
// the session's connection.
func (s *Service) Identity(ctx context.Context, token string) (authn.Identity, error) {
	c, sess, err := s.connection(ctx, token)
	if err != nil {
		return authn.Identity{}, err
	}
	return authn.Identity{Conn: c, Principal: principal.Principal{Kind: principal.KindBrowserSession, Name: sess.Email,
		Scopes: slices.Clone(principal.AllScopes), SessionID: SessionID(token)}}, nil
}

// SessionID is the non-secret id of a session token: what revocations and
// logs carry instead of the token.
func SessionID(token string) string {
	h := sha256.Sum256([]byte("procoregraph session id\x00" + token))
	return "s" + hex.EncodeToString(h[:12])
}

// Connection returns the connection of a session token, or UNAUTHENTICATED
// when the session is unknown, revoked or expired (REAUTH_REQUIRED when its
// stored credentials stopped working).
func (s *Service) Connection(ctx context.Context, token string) (*tenant.Connection, error) {
	c, _, err := s.connection(ctx, token)
	return c, err
}

func (s *Service) connection(ctx context.Context, token string) (*tenant.Connection, portal.Session, error) {
	sess, err := s.o.Manager.Session(ctx, token)
	if err != nil {
		if adapter.ErrorCode(err) == adapter.CodeUnauthenticated {
			s.mu.Lock()
			s.forgetLocked(token) // expired or revoked elsewhere
			s.mu.Unlock()
		}
		return nil, sess, err
	}
	if sess.State == portal.StateReauthRequired {
		return nil, sess, adapter.Errorf(adapter.CodeReauthRequired,
			"Procore no longer accepts this session's credentials: create the session again")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[token]; ok {
		return c, sess, nil
	}
	p, err := s.o.NewClient(s.o.Manager.Credentials(token), sess.CompanyID)
	if err != nil {
		return nil, sess, err
	}
	company := sess.CompanyID
	if company == 0 {
		// No company chosen: the one the user sees (Procore lets a web
		// session list companies without the company header).
		d, ok := p.(interface {
			CompanyID(ctx context.Context) (int64, error)
		})
		if !ok {
			return nil, sess, adapter.Errorf(adapter.CodeBadUserInput, "this session has no company: create it with companyId")
		}
		if company, err = d.CompanyID(ctx); err != nil {
			return nil, sess, err
		}
	}
	c := &tenant.Connection{ID: sess.ConnID, CompanyID: company, UserKey: sess.ConnID, Procore: p}
	s.conns[token] = c
	s.watchLocked(token, c)
	return c, sess, nil
}

// BearerToken returns the request's bearer token.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

type ctxKey struct{}

// NewContext returns ctx carrying s (for the session mutations).
func NewContext(ctx context.Context, s *Service) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// FromContext returns the Service in ctx, or nil.
func FromContext(ctx context.Context) *Service {
	s, _ := ctx.Value(ctxKey{}).(*Service)
	return s
}

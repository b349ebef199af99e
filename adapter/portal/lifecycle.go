package portal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"procoregraph/adapter"
	"procoregraph/adapter/rest"
)

// Credentials returns the rest.Credentials of a session: Apply puts its
// cookies (and X-CSRF-Token on methods other than GET, HEAD and OPTIONS) on
// each request, logging in again first when the cookie expired or Procore
// refused it; Invalidate (called by the REST client on a 401 or a redirect
// to the login page) marks the refused cookie so that the next Apply logs in.
// Concurrent callers share one login per session on this replica, and the
// store lock makes them share it across replicas. Apply's errors:
// UNAUTHENTICATED (unknown or revoked session), REAUTH_REQUIRED (Procore
// refused the stored credentials once; nothing is retried), and
// UPSTREAM_UNAVAILABLE (the login or the store failed; after a failed login
// calls fail fast for Options.RetryAfterFailure).
func (m *Manager) Credentials(sessionID string) rest.Credentials {
	return &sessionCredentials{m: m, id: sessionID}
}

type sessionCredentials struct {
	m  *Manager
	id string
}

func (c *sessionCredentials) Apply(ctx context.Context, req *http.Request) error {
	r, err := c.m.current(ctx, c.id)
	if err != nil {
		return err
	}
	applyWeb(req, r.Web)
	return nil
}

func (c *sessionCredentials) Invalidate(_ context.Context, refused *http.Request, _ error) {
	if refused == nil {
		return
	}
	if ck, err := refused.Cookie(SessionCookie); err == nil {
		c.m.reject(c.id, ck.Value)
	}
}

// reject records that Procore refused cookie value v of session id.
func (m *Manager) reject(id, v string) {
	e := m.entry(id)
	e.mu.Lock()
	e.rejected = v
	e.mu.Unlock()
}

// current returns the session with a cookie that can be sent now, logging in
// again when there is none.
func (m *Manager) current(ctx context.Context, id string) (*record, error) {
	e := m.entry(id)
	now := m.o.Clock.Now()
	e.mu.Lock()
	mem, rejected, loadedAt := e.rec, e.rejected, e.loadedAt
	e.mu.Unlock()
	if mem != nil && now.Sub(loadedAt) < m.o.Recheck && mem.cookieLive(now, rejected) {
		m.maybeRefresh(id, e, mem, now)
		return mem, nil
	}
	r, err := m.load(ctx, id)
	if err != nil {
		if errors.Is(err, ErrSessionNotFound) {
			m.forget(id)
			return nil, err
		}
		if mem != nil && mem.cookieLive(now, rejected) {
			m.o.Logger.Warn("portal: session store unavailable; using the cookie held in memory", "conn", ConnID(id))
			return mem, nil
		}
		return nil, err
	}
	m.remember(id, r, now)
	if r.State == StateReauthRequired {
		return nil, reauthError(r)
	}
	if r.cookieLive(now, rejected) {
		m.maybeRefresh(id, e, r, now)
		return r, nil
	}
	return m.relogin(ctx, id, -1)
}

// maybeRefresh starts one background re-login when the cookie is inside its
// refresh window.
func (m *Manager) maybeRefresh(id string, e *entry, r *record, now time.Time) {
	if !r.refreshDue(now, m.o.RefreshBefore) {
		return
	}
	e.mu.Lock()
	if e.refreshing {
		e.mu.Unlock()
		return
	}
	e.refreshing = true
	e.mu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.bg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.bg.Done()
		defer func() {
			e.mu.Lock()
			e.refreshing = false
			e.mu.Unlock()
		}()
		if _, err := m.relogin(context.Background(), id, r.Gen); err != nil {
			m.o.Logger.Warn("portal: proactive refresh failed", "conn", ConnID(id), "code", string(adapter.ErrorCode(err)), "reason", safeReason(err))
		}
	}()
}

// relogin returns the session after a login. after < 0 asks for a cookie
// that is live and not refused; after >= 0 asks for a login newer than
// generation after (Refresh, proactive refresh). Callers on this replica
// share one flight per session.
func (m *Manager) relogin(ctx context.Context, id string, after int64) (*record, error) {
	for range 3 {
		ch := m.flight.DoChan(id, func() (any, error) { return m.loginOnce(ctx, id, after) })
		select {
		case res := <-ch:
			if res.Err != nil {
				return nil, res.Err
			}
			r := res.Val.(*record)
			if after < 0 || r.Gen > after {
				return r, nil
			}
			// A flight that only needed a live cookie found one; a forced
			// refresh needs its own login.
		case <-ctx.Done():
			return nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable,
				Message: "cancelled while waiting for the Procore login", Err: context.Cause(ctx)}
		}
	}
	return nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "could not get a fresh Procore login"}
}

func lockToken() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return []byte(hex.EncodeToString(b))
}

// loginOnce runs inside the flight. It re-reads the store (another replica
// may have logged in already), takes the session's store lock (SET NX with a
// lease) or waits for its holder to finish, logs in, writes the result and
// releases the lock (compare-and-delete, so only its own lease).
func (m *Manager) loginOnce(caller context.Context, id string, after int64) (*record, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(caller), m.o.LoginTimeout+m.o.LockLease)
	defer cancel()
	conn := ConnID(id)
	e := m.entry(id)
	satisfied := func(r *record) bool {
		now := m.o.Clock.Now()
		if after >= 0 {
			return r.Gen > after && r.cookieLive(now, "")
		}
		e.mu.Lock()
		rej := e.rejected
		e.mu.Unlock()
		return r.cookieLive(now, rej)
	}
	token := lockToken()
	locked, waited := false, false
	var base *record
	for {
		r, err := m.load(ctx, id)
		now := m.o.Clock.Now()
		if err != nil {
			if errors.Is(err, ErrSessionNotFound) || adapter.ErrorCode(err) != adapter.CodeUpstreamUnavailable {
				return nil, err
			}
			e.mu.Lock()
			base = e.rec
			e.mu.Unlock()
			if base == nil || base.State != StateActive {
				return nil, err
			}
			m.o.Logger.Warn("portal: session store unavailable; logging in without the replica lock", "conn", conn)
			break
		}
		m.remember(id, r, now)
		if r.State == StateReauthRequired {
			return nil, reauthError(r)
		}
		if satisfied(r) {
			if waited {
				m.lockWaits.Add(1)
			}
			return r, nil
		}
		if now.Before(r.RetryAt) {
			wait := r.RetryAt.Sub(now)
			return nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable, RetryAfter: wait,
				Message: "the last Procore login of this session failed; not trying again for " + wait.Round(time.Second).String()}
		}
		won, err := m.o.Store.SetNX(ctx, lockKey(id), token, m.o.LockLease)
		if err != nil {
			m.o.Logger.Warn("portal: login lock unavailable; logging in without it", "conn", conn, "err", err)
			base = r
			break
		}
		if won {
			locked, base = true, r
			break
		}
		if !waited {
			m.o.Logger.Debug("portal: another replica is logging in; waiting for its session", "conn", conn)
			waited = true
		}
		if err := m.o.Clock.Sleep(ctx, m.o.LockPoll); err != nil {
			return nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable,
				Message: "timed out waiting for another replica's Procore login", Err: err}
		}
	}
	if locked {
		defer func() {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := m.o.Store.CompareAndDelete(rctx, lockKey(id), token); err != nil {
				m.o.Logger.Warn("portal: could not release the login lock; it expires with its lease", "conn", conn, "err", err)
			}
		}()
		// The previous holder may have finished between our read and SetNX.
		if r, err := m.load(ctx, id); err == nil {
			if r.State == StateReauthRequired {
				return nil, reauthError(r)
			}
			if satisfied(r) {
				return r, nil
			}
			base = r
		}
	}

	ws, err := m.browserLogin(ctx, conn, base.Login)
	now := m.o.Clock.Now()
	if err != nil {
		if refusedCredentials(err) {
			reason := safeReason(err)
			m.refused.Add(1)
			mark := func(r *record) error {
				r.State, r.Reason, r.Web = StateReauthRequired, reason, WebSession{}
				return nil
			}
			r, uerr := m.update(ctx, id, mark)
			if uerr != nil {
				c := *base
				_ = mark(&c)
				r = &c
			}
			m.remember(id, r, now)
			m.o.Logger.Warn("portal: Procore refused the stored credentials; the session needs re-authentication", "conn", conn, "reason", reason)
			return nil, reauthError(r)
		}
		if _, uerr := m.update(ctx, id, func(r *record) error {
			r.RetryAt = now.Add(m.o.RetryAfterFailure)
			return nil
		}); uerr != nil {
			m.o.Logger.Warn("portal: could not record the failed login", "conn", conn, "err", uerr)
		}
		return nil, err
	}
	apply := func(r *record) error {
		r.Web, r.Gen, r.LoggedInAt, r.Logins = ws, max(r.Gen, base.Gen)+1, now, r.Logins+1
		r.State, r.Reason, r.RetryAt = StateActive, "", time.Time{}
		return nil
	}
	r, err := m.update(ctx, id, apply)
	if err != nil {
		if errors.Is(err, ErrSessionNotFound) {
			// Revoked while we logged in: end the new Procore session too.
			c := *base
			c.Web = ws
			m.logout(ctx, &c)
			return nil, err
		}
		m.o.Logger.Warn("portal: could not store the new session; it lives in this replica's memory only", "conn", conn, "err", err)
		c := *base
		_ = apply(&c)
		r = &c
	}
	m.remember(id, r, now)
	return r, nil
}

// Health is the outcome of a session health check.
type Health struct {
	State SessionState
	// Alive reports whether Procore accepted the session's cookie just now.
	Alive bool
	// Status is the HTTP status of the probe (0 when none was sent).
	Status           int
	CheckedAt        time.Time
	ProcoreExpiresAt time.Time
}

// Check probes the session: it loads Options.HealthPath with the session's
// cookies. A 200 means alive; a 401 or a redirect to the login page means
// Procore dropped the cookie, which is then marked refused so that the next
// use (or Maintain) logs in again. Check never logs in itself. Errors: as
// Session, and UPSTREAM_UNAVAILABLE when the probe fails or answers
// something else.
func (m *Manager) Check(ctx context.Context, id string) (Health, error) {
	r, err := m.load(ctx, id)
	if err != nil {
		return Health{}, err
	}
	now := m.o.Clock.Now()
	h := Health{State: r.State, CheckedAt: now, ProcoreExpiresAt: r.Web.ExpiresAt}
	if r.State != StateActive {
		return h, nil
	}
	cookie := r.Web.value(SessionCookie)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Login.BaseURL+m.o.HealthPath, nil)
	if err != nil {
		return h, &adapter.Error{Code: adapter.CodeInternal, Message: "cannot build the health check request", Err: err}
	}
	applyWeb(req, r.Web)
	resp, err := m.noRedirect().Do(req)
	if err != nil {
		return h, &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "the session health check failed: " + redactURLError(err)}
	}
	resp.Body.Close()
	h.Status = resp.StatusCode
	switch {
	case resp.StatusCode == http.StatusOK:
		h.Alive = true
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		resp.StatusCode >= 300 && resp.StatusCode < 400 && strings.Contains(strings.ToLower(resp.Header.Get("Location")), "/login"):
		m.reject(id, cookie)
	default:
		return h, &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Status: resp.StatusCode,
			Message: "the session health check got an unexpected answer"}
	}
	return h, nil
}

// Maintain runs one keep-alive pass over the sessions this replica has used:
// a session whose cookie is in its refresh window (or expired) is logged in
// again; the others are health-checked, and one Procore dropped is logged in
// again. Sessions marked REAUTH_REQUIRED are skipped. The store lock keeps
// replicas running Maintain at once from logging a session in twice. It
// returns the first error met (after trying every session).
func (m *Manager) Maintain(ctx context.Context) error {
	m.mu.Lock()
	ids := make([]string, 0, len(m.entries))
	for id := range m.entries {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r, err := m.load(ctx, id)
		if errors.Is(err, ErrSessionNotFound) {
			m.forget(id)
			continue
		}
		if err != nil {
			keep(err)
			continue
		}
		if r.State != StateActive {
			continue
		}
		now := m.o.Clock.Now()
		if r.refreshDue(now, m.o.RefreshBefore) || !r.cookieLive(now, "") {
			_, err := m.relogin(ctx, id, r.Gen)
			keep(err)
			continue
		}
		h, err := m.Check(ctx, id)
		if err != nil {
			keep(err)
			continue
		}
		if !h.Alive {
			// Log in again unless someone (a request's 401, another
			// replica) already did since the state this check looked at.
			_, err := m.relogin(ctx, id, r.Gen)
			keep(err)
		}
	}
	return first
}

// Run calls Maintain every interval (default 1 minute when interval <= 0)
// until ctx is done; errors are logged, not returned.
func (m *Manager) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	for {
		if err := m.o.Clock.Sleep(ctx, interval); err != nil {
			return
		}
		if err := m.Maintain(ctx); err != nil && ctx.Err() == nil {
			m.o.Logger.Warn("portal: session maintenance", "code", string(adapter.ErrorCode(err)), "reason", safeReason(err))
		}
	}
}

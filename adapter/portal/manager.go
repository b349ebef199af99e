package portal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"procoregraph/adapter"
	"procoregraph/adapter/rest"
	"procoregraph/cache"
)

// MFAMethod is a Procore second factor.
type MFAMethod string

// Second factors.
const (
	MFANone  MFAMethod = "none"
	MFATOTP  MFAMethod = "totp"  // authenticator app codes from a stored secret
	MFASMS   MFAMethod = "sms"   // codes by text message, through a CodeProvider
	MFAEmail MFAMethod = "email" // codes by email, through a CodeProvider
)

// MFA is the second factor of a login.
type MFA struct {
	// Method is the second factor; "" means MFANone.
	Method MFAMethod `json:"method"`
	// TOTPSecret is the base32 secret of the authenticator enrolment
	// (RFC 6238: SHA-1, 6 digits, 30 s). Required for MFATOTP.
	TOTPSecret string `json:"-"`
	// CodeProvider names the Options.CodeProviders entry that delivers SMS or
	// email codes. Default: the only registered provider. Required for
	// MFASMS and MFAEmail when several are registered.
	CodeProvider string `json:"code_provider,omitempty"`
	// CodeAddress is no longer accepted: a non-empty value is refused as
	// BAD_USER_INPUT. Where codes are sent is decided by the server, never
	// by the client: email codes go to the login email, SMS codes to the
	// number configured for the login (Options.SMSNumbers). A value stored
	// in an older session is ignored.
	CodeAddress string `json:"code_address,omitempty"`
}

// String keeps the TOTP secret out of formatted output.
func (m MFA) String() string {
	return fmt.Sprintf("portal.MFA{Method:%q CodeProvider:%q}", m.Method, m.CodeProvider)
}

// GoString is String, for %#v.
func (m MFA) GoString() string { return m.String() }

// LogValue keeps the TOTP secret out of logs.
func (m MFA) LogValue() slog.Value { return slog.StringValue(m.String()) }

// Login is what a person types to sign in to Procore's web app.
type Login struct {
	// BaseURL is Procore's web login host, e.g. https://login.procore.com, or
	// the sandbox's URL. Required.
	BaseURL string `json:"base_url"`
	// Email and Password are the user's credentials. Required.
	Email    string `json:"email"`
	Password string `json:"-"`
	MFA      MFA    `json:"mfa"`
	// CompanyID is the Procore company the session works in (carried for
	// the caller's rest.Config); 0 lets the REST client discover it.
	CompanyID int64 `json:"company_id,omitempty"`
}

// LogValue keeps the password and the TOTP secret out of logs.
func (l Login) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", l.BaseURL), slog.String("email", l.Email),
		slog.String("mfa", string(l.MFA.Method)), slog.Int64("company_id", l.CompanyID))
}

// String keeps the password and the TOTP secret out of formatted output.
func (l Login) String() string {
	return fmt.Sprintf("portal.Login{BaseURL:%q Email:%q MFA:%q CompanyID:%d}", l.BaseURL, l.Email, l.MFA.Method, l.CompanyID)
}

// GoString is String, for %#v.
func (l Login) GoString() string { return l.String() }

// SessionState says whether a session can still be used.
type SessionState string

// Session states.
const (
	// StateActive: the session works or will be re-logged into on demand.
	StateActive SessionState = "ACTIVE"
	// StateReauthRequired: Procore refused the stored credentials on a
	// re-login; every use fails with REAUTH_REQUIRED until the session is
	// created again with working credentials.
	StateReauthRequired SessionState = "REAUTH_REQUIRED"
)

// Session describes a browser session; it holds no secret.
type Session struct {
	// ID names the session in every Manager call. It is unguessable (192
	// random bits); treat it as a credential, or map a gateway token to it.
	ID string
	// ConnID is the connection id for cache keys and events: stable for the
	// session's life and not derivable back to ID.
	ConnID    string
	BaseURL   string
	Email     string
	CompanyID int64
	MFAMethod MFAMethod
	State     SessionState
	// CreatedAt is when the session was created.
	CreatedAt time.Time
	// ExpiresAt is when the gateway forgets the session: Options.MaxAge after
	// its creation or its last Refresh.
	ExpiresAt time.Time
	// ProcoreExpiresAt is when the current Procore cookie expires (re-logins
	// renew it); zero when Procore set no expiry.
	ProcoreExpiresAt time.Time
	// LoggedInAt is when the current cookie was obtained.
	LoggedInAt time.Time
	// Logins counts the browser logins made for the session, the first one
	// included.
	Logins int
}

// Options configures a Manager. Zero values mean the defaults.
type Options struct {
	// Store keeps the encrypted sessions, the login locks and the TOTP step
	// claims: a cache.RedisStore shared by every replica, or a MemoryStore
	// for one process. Required.
	Store cache.Store
	// Key is the AES-256-GCM key (32 bytes; see ParseKey) that encrypts
	// sessions at rest. Required.
	Key []byte
	// OldKeys still decrypt sessions written under earlier keys (rotation);
	// writes always use Key. Default: none.
	OldKeys [][]byte
	// Driver performs the browser logins. Default: a Browser with
	// BrowserOptions (started on the first login, closed by Close).
	Driver Driver
	// BrowserOptions configure the default Driver.
	BrowserOptions BrowserOptions
	// CodeProviders deliver SMS and email codes, by name (MFA.CodeProvider).
	// Default: none, so SMS and email MFA are refused as BAD_USER_INPUT.
	CodeProviders map[string]CodeProvider
	// SMSNumbers is the phone number that receives each login's SMS codes,
	// keyed by login email (PORTAL_SMS_NUMBERS); emails match without
	// regard to case or surrounding spaces. Write the numbers as the SMS
	// gateway reports them (E.164 for Twilio). An SMS login whose email has
	// no number is refused as BAD_USER_INPUT, unless its code provider is
	// the sandbox outbox (ProviderOutbox), which matches the login email.
	// Default: none.
	SMSNumbers map[string]string
	// HTTPClient makes health checks and logouts (never following
	// redirects). Default: a client with a 15s timeout.
	HTTPClient *http.Client
	// Clock is the time source for expiry, refresh, TOTP steps and waits.
	// Default: the wall clock.
	Clock rest.Clock
	// Logger receives lifecycle events (logins, refusals, lock waits); it
	// never receives passwords, secrets, codes, cookies or session ids.
	// Default: slog.Default().
	Logger *slog.Logger

	// MaxAge is how long a session lives after CreateSession or Refresh.
	// Default: 30 days.
	MaxAge time.Duration
	// RefreshBefore starts a background re-login when the Procore cookie
	// expires within this window (capped at a quarter of the cookie's
	// lifetime); calls keep using the old cookie meanwhile. Default: 10m.
	RefreshBefore time.Duration
	// LoginTimeout bounds one browser login, MFA waits included.
	// Default: 2m.
	LoginTimeout time.Duration
	// CodeTimeout bounds the wait for an SMS or email code. Default: 90s.
	CodeTimeout time.Duration
	// LockLease is how long a replica's login lock lives if the replica dies
	// holding it. Default: LoginTimeout + 30s.
	LockLease time.Duration
	// LockPoll is how often a replica waiting for another's login re-reads
	// the store. Default: 100ms.
	LockPoll time.Duration
	// RetryAfterFailure is how long, after a re-login failed for a reason
	// other than refused credentials (Procore down, a page that did not
	// load), calls fail fast instead of trying again. Default: 30s.
	RetryAfterFailure time.Duration
	// Recheck is how long a replica trusts its in-memory copy of a session
	// before reading the store again (to see revocations and other replicas'
	// re-logins). Default: 30s.
	Recheck time.Duration
	// TOTPMinValidity skips a TOTP code that expires sooner than this and
	// waits for the next one. Default: 5s.
	TOTPMinValidity time.Duration
	// HealthPath is the page Check loads with the session's cookies; 200 means
	// alive, 401 or a redirect to the login means expired. Default: "/app".
	HealthPath string
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = rest.WallClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 30 * 24 * time.Hour
	}
	if o.RefreshBefore <= 0 {
		o.RefreshBefore = 10 * time.Minute
	}
	if o.LoginTimeout <= 0 {
		o.LoginTimeout = 2 * time.Minute
	}
	if o.CodeTimeout <= 0 {
		o.CodeTimeout = 90 * time.Second
	}
	if o.LockLease <= 0 {
		o.LockLease = o.LoginTimeout + 30*time.Second
	}
	if o.LockPoll <= 0 {
		o.LockPoll = 100 * time.Millisecond
	}
	if o.RetryAfterFailure <= 0 {
		o.RetryAfterFailure = 30 * time.Second
	}
	if o.Recheck <= 0 {
		o.Recheck = 30 * time.Second
	}
	if o.TOTPMinValidity <= 0 {
		o.TOTPMinValidity = 5 * time.Second
	}
	if o.HealthPath == "" {
		o.HealthPath = "/app"
	}
	if len(o.SMSNumbers) > 0 {
		numbers := make(map[string]string, len(o.SMSNumbers))
		for email, number := range o.SMSNumbers {
			if number = strings.TrimSpace(number); number != "" {
				numbers[normAddress(email)] = number
			}
		}
		o.SMSNumbers = numbers
	}
	return o
}

// Stats counts what a Manager did since it was created.
type Stats struct {
	// Logins is the number of successful browser logins (creations,
	// re-logins and refreshes).
	Logins int64
	// FailedLogins is the number of browser logins that failed, refused
	// credentials included.
	FailedLogins int64
	// Refused is the number of sessions marked REAUTH_REQUIRED.
	Refused int64
	// LockWaits is the number of re-logins that waited for another
	// replica's login instead of logging in.
	LockWaits int64
}

// Manager creates, keeps alive, refreshes and revokes Procore browser
// sessions. Sessions live encrypted in the Store, so every replica sharing
// the Store serves every session, and at most one replica logs a session in
// at a time. It is safe for concurrent use.
type Manager struct {
	o      Options
	seal   *sealer
	totp   *totpCodes
	driver Driver
	own    *Browser // the default driver, closed by Close
	flight singleflight.Group
	bg     sync.WaitGroup

	mu      sync.Mutex
	entries map[string]*entry
	closed  bool

	logins, failed, refused, lockWaits atomic.Int64
}

// entry is a replica's in-memory view of one session.
type entry struct {
	mu         sync.Mutex
	rec        *record // immutable once set
	loadedAt   time.Time
	rejected   string // a _procore_session value Procore refused
	refreshing bool
}

// record is the stored (encrypted) session.
type record struct {
	V          int          `json:"v"`
	ID         string       `json:"id"`
	Login      Login        `json:"login"` // without Password and TOTPSecret (json:"-")
	Password   string       `json:"password,omitempty"`
	TOTPSecret string       `json:"totp_secret,omitempty"`
	Web        WebSession   `json:"web"`
	Gen        int64        `json:"gen"` // increments with every login
	State      SessionState `json:"state"`
	Reason     string       `json:"reason,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
	ExpiresAt  time.Time    `json:"expires_at"`
	LoggedInAt time.Time    `json:"logged_in_at"`
	Logins     int          `json:"logins"`
	RetryAt    time.Time    `json:"retry_at,omitzero"`
	// Conn is the connection id, kept across token rotations (Rotate);
	// empty in records written before rotation existed: ConnID(ID).
	Conn string `json:"conn,omitempty"`
}

// connID is the record's connection id, stable across rotations.
func (r *record) connID() string {
	if r.Conn != "" {
		return r.Conn
	}
	return ConnID(r.ID)
}

// New returns a Manager. It starts nothing: the default browser starts on the
// first login.
func New(o Options) (*Manager, error) {
	if o.Store == nil {
		return nil, errors.New("portal: Options.Store is required")
	}
	s, err := newSealer(o.Key, o.OldKeys)
	if err != nil {
		return nil, err
	}
	o = o.withDefaults()
	m := &Manager{o: o, seal: s, driver: o.Driver, entries: map[string]*entry{}}
	if m.driver == nil {
		bo := o.BrowserOptions
		if bo.Logger == nil {
			bo.Logger = o.Logger
		}
		m.own = NewBrowser(bo)
		m.driver = m.own
	}
	m.totp = newTOTPCodes(o.Store, o.Clock, s, o.TOTPMinValidity, o.Logger)
	return m, nil
}

// Close waits for background refreshes and closes the default browser (a
// Driver passed in Options is left open).
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.bg.Wait()
	if m.own != nil {
		return m.own.Close()
	}
	return nil
}

// Stats returns the Manager's counters.
func (m *Manager) Stats() Stats {
	return Stats{Logins: m.logins.Load(), FailedLogins: m.failed.Load(), Refused: m.refused.Load(), LockWaits: m.lockWaits.Load()}
}

// Browser returns the default Browser, nil when Options.Driver was set.
func (m *Manager) Browser() *Browser { return m.own }

const idPrefix = "pgs_"

func newSessionID() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return idPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func validID(id string) bool {
	rest, ok := strings.CutPrefix(id, idPrefix)
	if !ok || len(rest) != 32 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

// ConnID returns the connection id of a session id (see Session.ConnID).
func ConnID(sessionID string) string {
	h := sha256.Sum256([]byte("procoregraph portal connection\x00" + sessionID))
	return "portal-" + hex.EncodeToString(h[:12])
}

func recordKey(id string) string { return cache.AuxKey(ConnID(id), "portal", "session") }
func lockKey(id string) string   { return cache.AuxKey(ConnID(id), "portal", "login-lock") }

func (r *record) session() Session {
	return Session{
		ID: r.ID, ConnID: r.connID(), BaseURL: r.Login.BaseURL, Email: r.Login.Email,
		CompanyID: r.Login.CompanyID, MFAMethod: r.Login.MFA.Method, State: r.State,
		CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, ProcoreExpiresAt: r.Web.ExpiresAt,
		LoggedInAt: r.LoggedInAt, Logins: r.Logins,
	}
}

// expirySkew: a cookie this close to its expiry counts as expired already.
const expirySkew = 5 * time.Second

// cookieLive reports whether the record's cookie can still be sent.
func (r *record) cookieLive(now time.Time, rejected string) bool {
	v := r.Web.value(SessionCookie)
	if r.State != StateActive || v == "" || v == rejected {
		return false
	}
	return r.Web.ExpiresAt.IsZero() || now.Before(r.Web.ExpiresAt.Add(-expirySkew))
}

// refreshDue reports whether the cookie is inside its refresh window.
func (r *record) refreshDue(now time.Time, before time.Duration) bool {
	if r.Web.ExpiresAt.IsZero() {
		return false
	}
	if life := r.Web.ExpiresAt.Sub(r.LoggedInAt); life > 0 && before > life/4 {
		before = life / 4
	}
	return !now.Before(r.Web.ExpiresAt.Add(-before))
}

// validate checks and normalizes a Login, answering BAD_USER_INPUT with a
// field per problem.
func (m *Manager) validate(l Login) (Login, error) {
	var fields []adapter.FieldError
	bad := func(msg string, path ...string) {
		fields = append(fields, adapter.FieldError{Field: path, Message: msg, Code: adapter.CodeBadUserInput})
	}
	l.BaseURL = strings.TrimRight(strings.TrimSpace(l.BaseURL), "/")
	if u, err := url.Parse(l.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("must be an absolute http(s) URL", "baseURL")
	}
	l.Email = strings.TrimSpace(l.Email)
	if l.Email == "" {
		bad("is required", "email")
	}
	if l.Password == "" {
		bad("is required", "password")
	}
	if l.CompanyID < 0 {
		bad("must be positive", "companyId")
	}
	if l.MFA.CodeAddress != "" {
		bad(codeAddressRefused, "mfa", "codeAddress")
		l.MFA.CodeAddress = ""
	}
	switch l.MFA.Method {
	case "", MFANone:
		l.MFA = MFA{Method: MFANone}
	case MFATOTP:
		if !validTOTPSecret(l.MFA.TOTPSecret) {
			bad("must be the base32 secret of the authenticator enrolment", "mfa", "totpSecret")
		}
		l.MFA.CodeProvider, l.MFA.CodeAddress = "", ""
	case MFASMS, MFAEmail:
		l.MFA.TOTPSecret = ""
		if l.MFA.CodeProvider == "" && len(m.o.CodeProviders) == 1 {
			for name := range m.o.CodeProviders {
				l.MFA.CodeProvider = name
			}
		}
		if _, ok := m.o.CodeProviders[l.MFA.CodeProvider]; !ok {
			bad(fmt.Sprintf("must name a configured code provider (%s)", providerNames(m.o.CodeProviders)), "mfa", "codeProvider")
		} else if l.Email != "" {
			if _, err := m.codeAddress(l, l.MFA.Method); err != nil {
				bad(err.Error(), "mfa", "method")
			}
		}
	default:
		bad("must be none, totp, sms or email", "mfa", "method")
	}
	if len(fields) > 0 {
		return l, &adapter.Error{Code: adapter.CodeBadUserInput, Message: "invalid Procore login", Fields: fields}
	}
	return l, nil
}

// codeAddressRefused answers a Login that names where its codes go.
const codeAddressRefused = "is no longer accepted: email codes go to the login's email and SMS codes to the number configured for the login (PORTAL_SMS_NUMBERS)"

// errNoSMSNumber: an SMS login whose email has no Options.SMSNumbers entry.
var errNoSMSNumber = errors.New("cannot be sms: no SMS number is configured for this login (PORTAL_SMS_NUMBERS)")

// codeAddress resolves, on the server, where the login's codes of method
// are sent: the login email for email codes; for SMS codes the number
// Options.SMSNumbers configures for the email, or the login email when the
// login's provider is the sandbox outbox (it matches the login email). The
// client's MFA.CodeAddress is never used.
func (m *Manager) codeAddress(l Login, method MFAMethod) (string, error) {
	if method != MFASMS {
		return l.Email, nil
	}
	if n := m.o.SMSNumbers[normAddress(l.Email)]; n != "" {
		return n, nil
	}
	if isOutbox(l.MFA.CodeProvider, m.o.CodeProviders[l.MFA.CodeProvider]) {
		return l.Email, nil
	}
	return "", errNoSMSNumber
}

// isOutbox reports whether the provider is the sandbox outbox.
func isOutbox(name string, p CodeProvider) bool {
	_, ok := p.(*OutboxCodes)
	return ok || (name == ProviderOutbox && p != nil)
}

func providerNames(p map[string]CodeProvider) string {
	if len(p) == 0 {
		return "none configured"
	}
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

// CreateSession logs in through the browser and stores the new session. It
// makes exactly one login attempt. Errors: BAD_USER_INPUT (with Fields) for
// an invalid Login; UNAUTHENTICATED wrapping ErrInvalidCredentials,
// ErrInvalidCode or ErrMFAMismatch when Procore refused the credentials;
// UPSTREAM_UNAVAILABLE when Procore, the code provider or the store failed;
// INTERNAL when no browser could be started.
func (m *Manager) CreateSession(ctx context.Context, l Login) (Session, error) {
	l, err := m.validate(l)
	if err != nil {
		return Session{}, err
	}
	id := newSessionID()
	conn := ConnID(id)
	now := m.o.Clock.Now()
	rec := &record{V: 1, ID: id, Login: l, State: StateActive, CreatedAt: now, ExpiresAt: now.Add(m.o.MaxAge)}
	ws, err := m.browserLogin(ctx, conn, l)
	if err != nil {
		return Session{}, err
	}
	now = m.o.Clock.Now()
	rec.Web, rec.Gen, rec.LoggedInAt, rec.Logins = ws, 1, now, 1
	blob, err := m.sealRecord(rec)
	if err != nil {
		return Session{}, &adapter.Error{Code: adapter.CodeInternal, Message: "cannot encrypt the session", Err: err}
	}
	if err := m.o.Store.Set(ctx, recordKey(id), blob, rec.ExpiresAt.Sub(now)); err != nil {
		m.logout(context.WithoutCancel(ctx), rec)
		return Session{}, &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "cannot store the new session", Err: err}
	}
	m.remember(id, rec, now)
	m.o.Logger.Info("portal: session created", "conn", conn, "mfa", string(l.MFA.Method))
	return rec.session(), nil
}

// Session returns the stored session. Errors: UNAUTHENTICATED wrapping
// ErrSessionNotFound for an unknown, revoked or expired id;
// UPSTREAM_UNAVAILABLE when the store fails.
func (m *Manager) Session(ctx context.Context, id string) (Session, error) {
	rec, err := m.load(ctx, id)
	if err != nil {
		return Session{}, err
	}
	m.remember(id, rec, m.o.Clock.Now())
	return rec.session(), nil
}

// Refresh logs the session in anew now (sharing a login already running for
// it, here or on another replica, when that one started after the call) and
// extends its life to MaxAge from now. Errors: as Session, plus
// REAUTH_REQUIRED when the stored credentials are (or turn out to be)
// refused, and the login errors of CreateSession as UPSTREAM_UNAVAILABLE.
func (m *Manager) Refresh(ctx context.Context, id string) (Session, error) {
	rec, err := m.load(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if rec.State == StateReauthRequired {
		return Session{}, reauthError(rec)
	}
	if _, err := m.relogin(ctx, id, rec.Gen); err != nil {
		return Session{}, err
	}
	now := m.o.Clock.Now()
	rec, err = m.update(ctx, id, func(r *record) error {
		r.ExpiresAt = now.Add(m.o.MaxAge)
		return nil
	})
	if err != nil {
		return Session{}, err
	}
	m.remember(id, rec, now)
	return rec.session(), nil
}

// Rotate replaces the session's id (the gateway token) with a new one and
// returns the session under it; the old id stops working at once on every
// replica. The connection id stays the same, so cached data and pollers
// carry over. Errors: as Session, plus UPSTREAM_UNAVAILABLE when the store
// cannot be written (then the old id still works).
func (m *Manager) Rotate(ctx context.Context, id string) (Session, error) {
	rec, err := m.load(ctx, id)
	if err != nil {
		return Session{}, err
	}
	next := *rec
	next.Conn = rec.connID()
	next.ID = newSessionID()
	blob, err := m.sealRecord(&next)
	if err != nil {
		return Session{}, &adapter.Error{Code: adapter.CodeInternal, Message: "cannot encrypt the session", Err: err}
	}
	now := m.o.Clock.Now()
	if err := m.o.Store.Set(ctx, recordKey(next.ID), blob, next.ExpiresAt.Sub(now)); err != nil {
		return Session{}, &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "cannot store the rotated session", Err: err}
	}
	if err := m.o.Store.Delete(ctx, recordKey(id), lockKey(id)); err != nil {
		_ = m.o.Store.Delete(context.WithoutCancel(ctx), recordKey(next.ID))
		return Session{}, &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "cannot retire the old session token", Err: err}
	}
	m.forget(id)
	m.remember(next.ID, &next, now)
	m.o.Logger.Info("portal: session token rotated", "conn", next.Conn)
	return next.session(), nil
}

// Revoke ends the session: it logs out of Procore (best effort, so the
// cookie stops working everywhere at once), deletes the stored session and
// forgets it. Revoking an unknown session is not an error.
func (m *Manager) Revoke(ctx context.Context, id string) error {
	rec, err := m.load(ctx, id)
	if errors.Is(err, ErrSessionNotFound) {
		m.forget(id)
		return nil
	}
	if err != nil {
		return err
	}
	m.logout(ctx, rec)
	if err := m.o.Store.Delete(ctx, recordKey(id), lockKey(id)); err != nil {
		return &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "cannot delete the stored session", Err: err}
	}
	m.forget(id)
	m.o.Logger.Info("portal: session revoked", "conn", ConnID(id))
	return nil
}

// browserLogin runs one driver login with the Login's second factor. SMS
// and email codes are asked for at the address resolved on the server
// (codeAddress) and bound to this attempt by a random login id.
func (m *Manager) browserLogin(ctx context.Context, conn string, l Login) (WebSession, error) {
	ctx, cancel := context.WithTimeout(ctx, m.o.LoginTimeout)
	defer cancel()
	started := m.o.Clock.Now()
	attempt := newLoginID()
	in := DriverLogin{BaseURL: l.BaseURL, Email: l.Email, Password: l.Password, MFA: l.MFA.Method,
		Code: func(ctx context.Context, method MFAMethod) (string, error) {
			switch method {
			case MFATOTP:
				return m.totp.code(ctx, l.MFA.TOTPSecret)
			case MFASMS, MFAEmail:
				p := m.o.CodeProviders[l.MFA.CodeProvider]
				if p == nil {
					return "", loginError(adapter.CodeBadUserInput, "no code provider configured for "+string(method)+" codes", ErrNoCode)
				}
				address, err := m.codeAddress(l, method)
				if err != nil {
					return "", loginError(adapter.CodeBadUserInput, "no SMS number is configured for this login (PORTAL_SMS_NUMBERS)", ErrNoCode)
				}
				cctx, cancel := context.WithTimeout(ctx, m.o.CodeTimeout)
				defer cancel()
				code, err := p.Code(cctx, CodeQuery{BaseURL: l.BaseURL, Email: l.Email, Method: method, Address: address, Login: attempt, SentAfter: started})
				if errors.Is(err, ErrAddressBusy) {
					return "", loginError(adapter.CodeUpstreamUnavailable, "another login is waiting for a code at this address: try again when it is done", errors.Join(ErrNoCode, err))
				}
				if err != nil {
					return "", loginError(adapter.CodeUpstreamUnavailable, "no "+string(method)+" verification code arrived", errors.Join(ErrNoCode, err))
				}
				return code, nil
			}
			return "", loginError(adapter.CodeUnauthenticated, "unsupported second factor "+string(method), ErrMFAMismatch)
		}}
	ws, err := m.driver.Login(ctx, in)
	d := m.o.Clock.Now().Sub(started)
	if err != nil {
		m.failed.Add(1)
		m.o.Logger.Warn("portal: login failed", "conn", conn, "code", string(adapter.ErrorCode(err)),
			"refused", refusedCredentials(err), "ms", d.Milliseconds(), "reason", safeReason(err))
		return WebSession{}, err
	}
	m.logins.Add(1)
	m.o.Logger.Info("portal: logged in", "conn", conn, "ms", d.Milliseconds())
	return ws, nil
}

// safeReason is the loggable part of a login error: its message, which by
// construction never holds a secret (the wrapped cause may hold a URL).
func safeReason(err error) string {
	var ae *adapter.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return "unclassified error"
}

func reauthError(r *record) *adapter.Error {
	msg := "Procore no longer accepts the stored credentials of this session (password changed or MFA reset?): create the session again"
	if r.Reason != "" {
		msg += " (" + r.Reason + ")"
	}
	return &adapter.Error{Code: adapter.CodeReauthRequired, Message: msg, Err: ErrReauthRequired}
}

func (m *Manager) sealRecord(r *record) ([]byte, error) {
	c := *r
	c.Password, c.TOTPSecret = r.Login.Password, r.Login.MFA.TOTPSecret
	plain, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	return m.seal.seal(recordKey(r.ID), plain)
}

// loadRaw reads and decrypts the stored session, returning the raw blob too
// (for CompareAndSwap).
func (m *Manager) loadRaw(ctx context.Context, id string) ([]byte, *record, error) {
	if !validID(id) {
		return nil, nil, notFound()
	}
	it, ok, err := m.o.Store.Get(ctx, recordKey(id))
	if err != nil {
		return nil, nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "cannot read the session store", Err: err}
	}
	if !ok {
		return nil, nil, notFound()
	}
	plain, err := m.seal.open(recordKey(id), it.Value)
	if err != nil {
		m.o.Logger.Error("portal: a stored session cannot be decrypted (wrong key or tampered)", "conn", ConnID(id))
		return nil, nil, &adapter.Error{Code: adapter.CodeUnauthenticated, Message: "the session cannot be read with this gateway's key", Err: errors.Join(ErrSessionNotFound, err)}
	}
	r := &record{}
	if err := json.Unmarshal(plain, r); err != nil || r.ID != id {
		return nil, nil, &adapter.Error{Code: adapter.CodeInternal, Message: "the stored session is malformed"}
	}
	r.Login.Password, r.Login.MFA.TOTPSecret = r.Password, r.TOTPSecret
	r.Password, r.TOTPSecret = "", ""
	if !m.o.Clock.Now().Before(r.ExpiresAt) {
		return nil, nil, notFound()
	}
	return it.Value, r, nil
}

func (m *Manager) load(ctx context.Context, id string) (*record, error) {
	_, r, err := m.loadRaw(ctx, id)
	return r, err
}

func notFound() *adapter.Error {
	return &adapter.Error{Code: adapter.CodeUnauthenticated, Message: "unknown, revoked or expired Procore session", Err: ErrSessionNotFound}
}

// update applies fn to the stored session atomically (compare-and-swap,
// retried when another writer got in between) and returns the new record.
func (m *Manager) update(ctx context.Context, id string, fn func(*record) error) (*record, error) {
	for range 8 {
		raw, r, err := m.loadRaw(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := fn(r); err != nil {
			return nil, err
		}
		blob, err := m.sealRecord(r)
		if err != nil {
			return nil, &adapter.Error{Code: adapter.CodeInternal, Message: "cannot encrypt the session", Err: err}
		}
		ttl := r.ExpiresAt.Sub(m.o.Clock.Now())
		if ttl <= 0 {
			return nil, notFound()
		}
		ok, err := m.o.Store.CompareAndSwap(ctx, recordKey(id), raw, blob, ttl)
		if err != nil {
			return nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "cannot write the session store", Err: err}
		}
		if ok {
			return r, nil
		}
	}
	return nil, &adapter.Error{Code: adapter.CodeConflict, Message: "the session kept changing while being updated"}
}

func (m *Manager) entry(id string) *entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[id]
	if e == nil {
		e = &entry{}
		m.entries[id] = e
	}
	return e
}

func (m *Manager) remember(id string, r *record, now time.Time) {
	e := m.entry(id)
	e.mu.Lock()
	if e.rec == nil || r.Gen >= e.rec.Gen || r.State != StateActive {
		e.rec = r
	}
	e.loadedAt = now
	e.mu.Unlock()
}

func (m *Manager) forget(id string) {
	m.mu.Lock()
	delete(m.entries, id)
	m.mu.Unlock()
}

// logout ends the Procore web session (POST {base}/logout with the cookies),
// best effort and bounded.
func (m *Manager) logout(ctx context.Context, r *record) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.Login.BaseURL+"/logout", nil)
	if err != nil {
		return
	}
	applyWeb(req, r.Web)
	resp, err := m.noRedirect().Do(req)
	if err != nil {
		m.o.Logger.Warn("portal: Procore logout failed; the cookie lives until it expires", "conn", ConnID(r.ID), "err", redactURLError(err))
		return
	}
	resp.Body.Close()
}

func (m *Manager) noRedirect() *http.Client {
	c := *m.o.HTTPClient
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Jar = nil
	return &c
}

// redactURLError drops the URL from a *url.Error (it may carry a query).
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// applyWeb puts the session's cookies on req, and the CSRF token on
// requests that change state.
func applyWeb(req *http.Request, ws WebSession) {
	for _, c := range ws.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if ws.CSRF != "" {
			req.Header.Set(CSRFHeader, ws.CSRF)
		}
	}
}

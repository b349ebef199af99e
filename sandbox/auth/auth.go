package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Client is an OAuth application registered with the sandbox.
type Client struct {
	// ID and Secret are the OAuth client_id and client_secret.
	ID, Secret string
	// CompanyIDs are the companies where the app is installed: what a client_credentials (DMSA)
	// token may see. Tokens from the user flows carry no company list (the user's own access applies).
	CompanyIDs []int64
	// ServiceUserID is the DMSA service account's user id: the resource owner of client_credentials tokens.
	ServiceUserID int64
	// RedirectURIs are the registered redirect URIs. Optional: empty allows any absolute http(s)
	// URI and urn:ietf:wg:oauth:2.0:oob (real Procore only allows the registered ones).
	RedirectURIs []string
}

// WebUser is a person who can log in through the web portal.
type WebUser struct {
	UserID   int64
	Email    string // the login; matched case-insensitively
	Password string
	Name     string // shown on /app
	// MFA is the second factor: "totp", "sms", "email", or "" for none.
	MFA string
	// TOTPSecret is the base32 RFC 6238 secret (SHA-1, 6 digits, 30 s) when MFA is "totp".
	TOTPSecret string
	// Phone receives SMS codes when MFA is "sms"; empty means the codes go to Email.
	Phone string
	// SSO sends the user through the SSO IdP page (/sso/idp) before the password step.
	SSO bool
}

// Config configures a Service. Zero values mean the documented default.
type Config struct {
	Clients []Client
	Users   []WebUser
	// TokenTTL is the access token lifetime (expires_in). Default 5400 s, as Procore.
	TokenTTL time.Duration
	// SessionTTL is the web session lifetime (the _procore_session cookie's Expires). Default 2 h.
	SessionTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Issuer is the "iss" claim inside access tokens. Default "procore-sandbox".
	Issuer string
}

// Defaults and fixed lifetimes.
const (
	DefaultTokenTTL   = 5400 * time.Second
	DefaultSessionTTL = 2 * time.Hour
	DefaultIssuer     = "procore-sandbox"
	// AuthCodeTTL is how long an authorization code stays valid (single use), as Procore.
	AuthCodeTTL = 10 * time.Minute
	// OneTimeCodeTTL is how long an SMS or email MFA code stays valid (single use).
	OneTimeCodeTTL = 10 * time.Minute
	// LoginFlowTTL is how long a half-finished web login (the _procore_login cookie) lives.
	LoginFlowTTL = 15 * time.Minute
)

// Cookie names.
const (
	SessionCookie   = "_procore_session"
	CSRFCookie      = "csrf_token"
	LoginFlowCookie = "_procore_login"
	// CSRFHeader must carry the session's CSRF token on non-GET requests authenticated by cookie.
	CSRFHeader = "X-CSRF-Token"
)

// Principal kinds.
const (
	KindClientCredentials = "client_credentials"
	KindUser              = "user"
	KindSession           = "session"
)

// Errors returned by Authenticate. Every one of them means 401 to the caller.
var (
	ErrNoCredentials  = errors.New("auth: no bearer token or session cookie")
	ErrInvalidToken   = errors.New("auth: the access token is invalid")
	ErrTokenExpired   = errors.New("auth: the access token expired")
	ErrTokenRevoked   = errors.New("auth: the access token was revoked")
	ErrInvalidSession = errors.New("auth: the session is invalid")
	ErrSessionExpired = errors.New("auth: the session expired")
	ErrCSRF           = errors.New("auth: missing or wrong " + CSRFHeader + " header")
)

// Principal is who an authenticated request acts as.
type Principal struct {
	// UserID is the acting Procore user: the resource owner, the DMSA service user, or the session's user.
	UserID int64
	// ClientID is the OAuth application; empty for web sessions.
	ClientID string
	// TokenID is a stable, non-secret id of the token or session (a short hash), for stats and rate limits.
	TokenID string
	// Kind is "client_credentials", "user" (authorization_code / refresh_token) or "session" (cookie).
	Kind string
	// CompanyIDs are the companies a client_credentials token may see; nil for other kinds.
	CompanyIDs []int64
}

// Message is a one-time code sent by SMS or email. The JSON form is the /_sandbox/outbox item.
type Message struct {
	To      string    `json:"to"`      // email address or phone number
	Channel string    `json:"channel"` // "sms" or "email"
	Code    string    `json:"code"`
	SentAt  time.Time `json:"sent_at"`
}

type accessToken struct {
	clientID   string
	userID     int64
	kind       string
	companyIDs []int64
	refresh    string // paired refresh token, "" for client_credentials
	createdAt  time.Time
	expiresAt  time.Time
	revoked    bool
}

type refreshToken struct {
	clientID string
	userID   int64
	access   string // the access token issued with it
}

type authCode struct {
	clientID    string
	redirectURI string
	userID      int64
	expiresAt   time.Time
	// challenge and challengeMethod ("S256" or "plain") are the PKCE code_challenge the code
	// was requested with; both "" when there was none.
	challenge, challengeMethod string
}

// grantKey names an approval a user gave an OAuth client on the consent page.
type grantKey struct {
	userID   int64
	clientID string
}

type session struct {
	userID    int64
	csrf      string
	expiresAt time.Time
}

type outboxEntry struct {
	Message
	email string // the recipient user's email, so Outbox(email) also finds SMS
}

// Service is the sandbox's login host: OAuth endpoints and the web portal. It is safe for
// concurrent use. State lives in memory only.
type Service struct {
	tokenTTL   time.Duration
	sessionTTL time.Duration
	now        func() time.Time
	issuer     string
	signKey    []byte
	clients    map[string]Client
	users      map[string]WebUser // by lower-case email
	usersByID  map[int64]WebUser
	pages      *template.Template

	mu            sync.RWMutex
	access        map[string]*accessToken
	refresh       map[string]*refreshToken // only live (unused, unrevoked) refresh tokens
	codes         map[string]*authCode
	grants        map[grantKey]bool // consent given: the authorize page asks only once per user and client
	sessions      map[string]*session
	flows         map[string]*loginFlow
	lastTOTPStep  map[int64]uint64 // per user: the newest TOTP time step accepted (replay guard)
	outbox        []outboxEntry
	logins        int
	loginFailures int
	lastPrune     time.Time
}

// New returns a Service for cfg. Clients and users are copied; later changes to cfg have no effect.
func New(cfg Config) *Service {
	s := &Service{
		tokenTTL:     cfg.TokenTTL,
		sessionTTL:   cfg.SessionTTL,
		now:          cfg.Now,
		issuer:       cfg.Issuer,
		signKey:      randomBytes(32),
		clients:      make(map[string]Client, len(cfg.Clients)),
		users:        make(map[string]WebUser, len(cfg.Users)),
		usersByID:    make(map[int64]WebUser, len(cfg.Users)),
		pages:        parsePages(),
		access:       map[string]*accessToken{},
		refresh:      map[string]*refreshToken{},
		codes:        map[string]*authCode{},
		grants:       map[grantKey]bool{},
		sessions:     map[string]*session{},
		flows:        map[string]*loginFlow{},
		lastTOTPStep: map[int64]uint64{},
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = DefaultTokenTTL
	}
	if s.sessionTTL <= 0 {
		s.sessionTTL = DefaultSessionTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.issuer == "" {
		s.issuer = DefaultIssuer
	}
	for _, c := range cfg.Clients {
		c.CompanyIDs = append([]int64{}, c.CompanyIDs...)
		c.RedirectURIs = append([]string(nil), c.RedirectURIs...)
		s.clients[c.ID] = c
	}
	for _, u := range cfg.Users {
		s.users[strings.ToLower(u.Email)] = u
		s.usersByID[u.UserID] = u
	}
	return s
}

// Register adds the login host routes to mux (see the package doc for the list).
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /oauth/token", s.handleToken)
	mux.HandleFunc("GET /oauth/token/info", s.handleTokenInfo)
	mux.HandleFunc("POST /oauth/revoke", s.handleRevoke)
	mux.HandleFunc("GET /oauth/authorize", s.handleAuthorize)
	mux.HandleFunc("POST /oauth/authorize", s.handleAuthorizeDecision)
	mux.HandleFunc("GET /oauth/authorize/native", s.handleAuthorizeNative)

	mux.HandleFunc("GET /login", s.handleLoginPage)
	mux.HandleFunc("POST /login", s.handleLoginEmail)
	mux.HandleFunc("GET /login/password", s.handlePasswordPage)
	mux.HandleFunc("POST /login/password", s.handlePassword)
	mux.HandleFunc("GET /login/mfa", s.handleMFAPage)
	mux.HandleFunc("POST /login/mfa", s.handleMFA)
	mux.HandleFunc("POST /login/mfa/resend", s.handleMFAResend)
	mux.HandleFunc("GET /sso/idp", s.handleIdP)
	mux.HandleFunc("POST /sso/acs", s.handleACS)
	mux.HandleFunc("GET /app", s.handleApp)
	mux.HandleFunc("GET /logout", s.handleLogout)
	mux.HandleFunc("POST /logout", s.handleLogout)
}

// Authenticate resolves the request's credentials: an "Authorization: Bearer" access token, or
// else the _procore_session cookie. A cookie session on a method other than GET, HEAD or OPTIONS
// also needs the X-CSRF-Token header equal to the session's CSRF token. Any error means 401;
// the errors are the Err* values of this package.
func (s *Service) Authenticate(r *http.Request) (Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := bearerToken(h)
		if !ok {
			return Principal{}, ErrInvalidToken
		}
		return s.authenticateToken(tok)
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return Principal{}, ErrNoCredentials
	}
	now := s.now()
	s.mu.RLock()
	sess, ok := s.sessions[c.Value]
	var userID int64
	var csrf string
	var expired bool
	if ok {
		userID, csrf, expired = sess.userID, sess.csrf, !now.Before(sess.expiresAt)
	}
	s.mu.RUnlock()
	switch {
	case !ok:
		return Principal{}, ErrInvalidSession
	case expired:
		return Principal{}, ErrSessionExpired
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if !constantEqual(r.Header.Get(CSRFHeader), csrf) {
			return Principal{}, ErrCSRF
		}
	}
	return Principal{UserID: userID, TokenID: tokenID(c.Value), Kind: KindSession}, nil
}

func (s *Service) authenticateToken(tok string) (Principal, error) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	at, ok := s.access[tok]
	switch {
	case !ok:
		return Principal{}, ErrInvalidToken
	case at.revoked:
		return Principal{}, ErrTokenRevoked
	case !now.Before(at.expiresAt):
		return Principal{}, ErrTokenExpired
	}
	p := Principal{UserID: at.userID, ClientID: at.clientID, TokenID: tokenID(tok), Kind: at.kind}
	if at.kind == KindClientCredentials {
		p.CompanyIDs = append([]int64{}, at.companyIDs...)
	}
	return p, nil
}

// ExpireTokens makes every access token issued so far expire now. Refresh tokens keep working.
func (s *Service) ExpireTokens() {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range s.access {
		if now.Before(at.expiresAt) {
			at.expiresAt = now
		}
	}
}

// ExpireSessions makes every web session expire now.
func (s *Service) ExpireSessions() {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		if now.Before(sess.expiresAt) {
			sess.expiresAt = now
		}
	}
}

// Outbox returns, oldest first, the SMS and email codes sent to to (never nil): either the message's
// recipient (email address or phone number) or the email of the user it was sent for, so a
// user's email finds their SMS codes too. Matching is case-insensitive.
func (s *Service) Outbox(to string) []Message {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Message{}
	for _, m := range s.outbox {
		if strings.EqualFold(m.To, to) || strings.EqualFold(m.email, to) {
			out = append(out, m.Message)
		}
	}
	return out
}

// Logins returns the number of completed web logins (sessions created).
func (s *Service) Logins() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.logins
}

// LoginFailures returns the number of refused web login steps (wrong password, unknown email,
// wrong or replayed MFA code).
func (s *Service) LoginFailures() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.loginFailures
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the Principal stored by WithPrincipal, and whether there was one.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// pruneLocked drops dead state at most once a minute so memory stays bounded. s.mu must be held.
func (s *Service) pruneLocked(now time.Time) {
	if now.Sub(s.lastPrune) < time.Minute {
		return
	}
	s.lastPrune = now
	for k, at := range s.access {
		if at.revoked || !now.Before(at.expiresAt) {
			delete(s.access, k)
		}
	}
	for k, c := range s.codes {
		if !now.Before(c.expiresAt) {
			delete(s.codes, k)
		}
	}
	for k, sess := range s.sessions {
		if !now.Before(sess.expiresAt) {
			delete(s.sessions, k)
		}
	}
	for k, f := range s.flows {
		if !now.Before(f.expiresAt) {
			delete(s.flows, k)
		}
	}
}

// issueLocked creates an access token (and a refresh token unless kind is client_credentials).
// s.mu must be held.
func (s *Service) issueLocked(c Client, userID int64, kind string, now time.Time) tokenResponse {
	s.pruneLocked(now)
	access := s.newAccessToken(c.ID, userID, now)
	at := &accessToken{
		clientID:  c.ID,
		userID:    userID,
		kind:      kind,
		createdAt: now,
		expiresAt: now.Add(s.tokenTTL),
	}
	resp := tokenResponse{
		AccessToken: access,
		TokenType:   "bearer",
		ExpiresIn:   int64(s.tokenTTL / time.Second),
		CreatedAt:   now.Unix(),
	}
	if kind == KindClientCredentials {
		at.companyIDs = append([]int64{}, c.CompanyIDs...)
	} else {
		rt := randomToken(32)
		at.refresh = rt
		s.refresh[rt] = &refreshToken{clientID: c.ID, userID: userID, access: access}
		resp.RefreshToken = rt
	}
	s.access[access] = at
	return resp
}

// newAccessToken returns a JWT-shaped (HS256, random key per Service) token. Only the server-side
// record decides validity; the claims are informational.
func (s *Service) newAccessToken(clientID string, userID int64, now time.Time) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{
		"iss": s.issuer,
		"sub": userID,
		"aud": clientID,
		"iat": now.Unix(),
		"exp": now.Add(s.tokenTTL).Unix(),
		"jti": randomToken(16),
	})
	signing := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, s.signKey)
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// tokenID is a short, stable, non-reversible id for a secret.
func tokenID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:8])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return b
}

func randomToken(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

func constantEqual(a, b string) bool {
	return a != "" && hmac.Equal([]byte(a), []byte(b))
}

// Package authn finds who is asking. Authenticate resolves an HTTP request
// (a GraphQL POST or GET, an SSE stream, a websocket's connection_init) to
// one Identity: a principal (package principal) and the Procore connection
// it acts through.
//
// Credentials, in this order (the first present one decides; a present but
// invalid one is refused, never skipped):
//
//  1. `Authorization: Bearer <token>`:
//     - pgk_… an API key (API_KEYS): the service connection, within the
//     key's scopes and project allowlist;
//     - pgs_… a headless browser session (createSession): that person's
//     connection;
//     - pgu_… a "Sign in with Procore" session: that person's own Procore
//     permissions;
//     - a JWT from the configured identity provider: the service connection
//     within the token's scopes;
//     - anything else is refused (it never falls back to the service
//     account).
//  2. the sign-in session cookie (browser frontends).
//  3. none: anonymous. Anonymous callers act as the service account with
//     every scope only when Options.Anonymous is set (the embedded sandbox,
//     or ANONYMOUS=service); otherwise they have no scope and no connection.
//
// The company: a request names the Procore company it acts in with the
// Procore-Company-Id header (CompanyHeader; a websocket in its
// connection_init payload). Service principals (API keys, JWTs, anonymous)
// get that company's service connection when the gateway serves it
// (Options.Companies) and the principal may use it (Principal.Companies);
// without the header, the default company (Options.Service) when allowed,
// else the principal's first allowed company the gateway serves. People
// (pgs_, pgu_, the cookie) stay in their session's company: the header must
// name it or be absent. A malformed header is BAD_USER_INPUT; a company not
// served, not allowed or not the session's is FORBIDDEN. Either way nothing
// reaches Procore.
package authn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"procoregraph/adapter"
	"procoregraph/adapter/restrict"
	"procoregraph/apikeys"
	"procoregraph/principal"
	"procoregraph/tenant"
)

// Token prefixes of the gateway's own session tokens.
const (
	BrowserSessionPrefix = "pgs_"
	SignInPrefix         = "pgu_"
)

// CompanyHeader names the Procore company a request acts in (Procore's own
// header name). Absent: the default company.
const CompanyHeader = "Procore-Company-Id"

// DefaultCookie is the name of the sign-in session cookie.
const DefaultCookie = "pg_session"

// Identity is who asks and the connection it acts through.
type Identity struct {
	Principal principal.Principal
	// Conn is nil for a principal without a Procore connection (an
	// anonymous caller where anonymous access is off).
	Conn *tenant.Connection
	// Companies are the Procore companies the principal may use on this
	// gateway: the served companies within its allowlist, or a person's
	// session company. Nil without Conn.
	Companies []int64
}

// SessionResolver turns a gateway session token into its identity.
type SessionResolver interface {
	// Identity returns the session's principal and connection; an
	// *adapter.Error with CodeUnauthenticated when the token is unknown,
	// revoked or expired (CodeReauthRequired when Procore stopped accepting
	// its credentials); CodeUpstreamUnavailable when the session store cannot
	// be read (revocation fails closed: no store, no access).
	Identity(ctx context.Context, token string) (Identity, error)
}

// TokenVerifier verifies bearer tokens issued by an identity provider.
type TokenVerifier interface {
	// Accepts reports whether token has the provider's shape (e.g. a JWT),
	// so that other tokens get a clearer refusal.
	Accepts(token string) bool
	// Verify checks the token's signature and claims and returns the
	// principal it names; an error when it is invalid.
	Verify(ctx context.Context, token string) (principal.Principal, error)
}

// Options configure an Authenticator.
type Options struct {
	// Service is the configured OAuth connection that API keys, JWT callers
	// and (when allowed) anonymous callers act through: the default company's.
	// Required.
	Service *tenant.Connection
	// Companies returns the service connection of company id, when the
	// gateway serves it (PROCORE_COMPANY_IDS). Nil: Service's company only.
	Companies func(id int64) (*tenant.Connection, bool)
	// CompanyIDs lists the companies served, the default first, for
	// messages. Nil: Service's company only.
	CompanyIDs []int64
	// Anonymous lets requests without a credential act as Service with every
	// scope (the embedded sandbox demo, or ANONYMOUS=service). Default off.
	Anonymous bool
	// Keys are the API keys. Nil: none.
	Keys *apikeys.Set
	// BrowserSessions resolves pgs_ tokens. Nil: refused.
	BrowserSessions SessionResolver
	// SignIn resolves pgu_ tokens and the session cookie. Nil: refused.
	SignIn SessionResolver
	// Cookie is the sign-in session cookie's name. Default DefaultCookie.
	Cookie string
	// JWT verifies identity-provider tokens. Nil: JWTs are refused.
	JWT TokenVerifier
}

// Authenticator resolves requests to identities. It is safe for concurrent
// use.
type Authenticator struct {
	o        Options
	mu       sync.Mutex
	narrowed map[narrowKey]*tenant.Connection // bounded by the configured keys (only API keys have allowlists)
}

// New returns an Authenticator.
func New(o Options) (*Authenticator, error) {
	if o.Service == nil {
		return nil, errors.New("authn: Options.Service is required")
	}
	if o.Cookie == "" {
		o.Cookie = DefaultCookie
	}
	return &Authenticator{o: o, narrowed: map[narrowKey]*tenant.Connection{}}, nil
}

// Cookie is the sign-in session cookie's name.
func (a *Authenticator) Cookie() string { return a.o.Cookie }

// AnonymousAllowed reports whether callers without a credential act as the
// service account.
func (a *Authenticator) AnonymousAllowed() bool { return a.o.Anonymous }

// Refusal is why a credential was refused, for the audit log (never the
// credential itself).
type Refusal struct {
	// Credential is the kind of credential presented: api_key,
	// browser_session, procore_user, jwt, cookie or unknown.
	Credential string
	Err        error
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// Authenticate resolves r, in the company its Procore-Company-Id names (see
// the package doc). A present but invalid credential answers an error
// wrapping *Refusal and an *adapter.Error with CodeUnauthenticated
// (CodeUpstreamUnavailable when a session store cannot be read); a company
// it may not use, CodeForbidden (CodeBadUserInput when malformed).
func (a *Authenticator) Authenticate(r *http.Request) (Identity, error) {
	id, err := a.authenticate(r)
	if err != nil {
		return id, err
	}
	return a.inCompany(id, r.Header.Get(CompanyHeader))
}

func (a *Authenticator) authenticate(r *http.Request) (Identity, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return Identity{}, refuse("unknown", adapter.Errorf(adapter.CodeUnauthenticated,
				"the Authorization header must be `Bearer <token>`"))
		}
		return a.token(ctx, tok)
	}
	if c, err := r.Cookie(a.o.Cookie); err == nil && c.Value != "" {
		if a.o.SignIn == nil || !strings.HasPrefix(c.Value, SignInPrefix) {
			return Identity{}, refuse("cookie", adapter.Errorf(adapter.CodeUnauthenticated, "the session cookie is not valid: sign in again"))
		}
		id, err := a.o.SignIn.Identity(ctx, c.Value)
		if err != nil {
			return Identity{}, refuse("cookie", err)
		}
		id.Principal.ViaCookie = true
		return id, nil
	}
	return a.anonymous(), nil
}

func (a *Authenticator) anonymous() Identity {
	if !a.o.Anonymous {
		return Identity{Principal: principal.Principal{Kind: principal.KindAnonymous}}
	}
	return Identity{Principal: principal.Principal{Kind: principal.KindAnonymous, Name: "anonymous",
		Scopes: slices.Clone(principal.AllScopes)}, Conn: a.o.Service}
}

func (a *Authenticator) token(ctx context.Context, tok string) (Identity, error) {
	switch {
	case strings.HasPrefix(tok, apikeys.Prefix):
		k, ok := a.o.Keys.Lookup(tok)
		if !ok {
			return Identity{}, refuse("api_key", adapter.Errorf(adapter.CodeUnauthenticated, "unknown API key"))
		}
		p := k.Principal()
		return Identity{Principal: p, Conn: a.connFor(p)}, nil
	case strings.HasPrefix(tok, BrowserSessionPrefix):
		if a.o.BrowserSessions == nil {
			return Identity{}, refuse("browser_session", adapter.Errorf(adapter.CodeUnauthenticated, "browser sessions are not enabled on this gateway"))
		}
		id, err := a.o.BrowserSessions.Identity(ctx, tok)
		if err != nil {
			return Identity{}, refuse("browser_session", err)
		}
		return id, nil
	case strings.HasPrefix(tok, SignInPrefix):
		if a.o.SignIn == nil {
			return Identity{}, refuse("procore_user", adapter.Errorf(adapter.CodeUnauthenticated, "Sign in with Procore is not enabled on this gateway"))
		}
		id, err := a.o.SignIn.Identity(ctx, tok)
		if err != nil {
			return Identity{}, refuse("procore_user", err)
		}
		return id, nil
	case a.o.JWT != nil && a.o.JWT.Accepts(tok):
		p, err := a.o.JWT.Verify(ctx, tok)
		if err != nil {
			return Identity{}, refuse("jwt", &adapter.Error{Code: adapter.CodeUnauthenticated, Message: "the bearer token was refused: " + err.Error(), Err: err})
		}
		return Identity{Principal: p, Conn: a.connFor(p)}, nil
	}
	return Identity{}, refuse("unknown", adapter.Errorf(adapter.CodeUnauthenticated,
		"the bearer token is not a credential of this gateway (an API key pgk_…, a session token pgs_… or pgu_…, or a token of the configured identity provider)"))
}

func refuse(kind string, err error) error {
	return &Refusal{Credential: kind, Err: err}
}

// inCompany moves a service identity to the company header names (the
// default company when it is absent), or checks that a person's header
// names their session's company.
func (a *Authenticator) inCompany(id Identity, header string) (Identity, error) {
	header = strings.TrimSpace(header)
	if id.Conn == nil {
		return id, nil // no connection: the authorizer answers 401
	}
	var want int64
	if header != "" {
		n, err := strconv.ParseInt(header, 10, 64)
		if err != nil || n <= 0 {
			return Identity{}, adapter.Errorf(adapter.CodeBadUserInput,
				"the %s header must be a Procore company id (a positive integer)", CompanyHeader)
		}
		want = n
	}
	switch id.Principal.Kind {
	case principal.KindAPIKey, principal.KindJWT, principal.KindAnonymous:
	default: // people: their session's connection and company
		if want != 0 && want != id.Conn.CompanyID {
			return Identity{}, adapter.Errorf(adapter.CodeForbidden,
				"this session works in Procore company %d, not %d: sign in for that company, or drop the %s header",
				id.Conn.CompanyID, want, CompanyHeader)
		}
		id.Companies = []int64{id.Conn.CompanyID}
		return id, nil
	}
	p := id.Principal
	id.Companies = a.usable(p)
	if want == 0 {
		if p.AllowsCompany(a.o.Service.CompanyID) {
			return a.withCompanies(id), nil // the default company
		}
		for _, c := range p.Companies {
			if _, ok := a.service(c); ok {
				want = c
				break
			}
		}
		if want == 0 {
			return Identity{}, adapter.Errorf(adapter.CodeForbidden,
				"%s may use none of the companies this gateway serves (%s)", who(p), a.companyList())
		}
	}
	if !p.AllowsCompany(want) {
		return Identity{}, adapter.Errorf(adapter.CodeForbidden,
			"%s may not use Procore company %d (it may use %s)", who(p), want, joinIDs(p.Companies))
	}
	base, ok := a.service(want)
	if !ok {
		return Identity{}, adapter.Errorf(adapter.CodeForbidden,
			"this gateway does not serve Procore company %d (it serves %s; see PROCORE_COMPANY_IDS)", want, a.companyList())
	}
	if base != a.o.Service { // connFor narrowed the default company's
		id.Conn = a.connIn(base, p)
	}
	return a.withCompanies(id), nil
}

// usable are the served companies p may use, the default first.
func (a *Authenticator) usable(p principal.Principal) []int64 {
	ids := a.o.CompanyIDs
	if len(ids) == 0 {
		ids = []int64{a.o.Service.CompanyID}
	}
	var out []int64
	for _, c := range ids {
		if p.AllowsCompany(c) {
			out = append(out, c)
		}
	}
	return out
}

// maxCompanyViews bounds the connections kept for company allowlists (JWT
// claims are the caller's to choose); past it they are built per request.
const maxCompanyViews = 4096

// withCompanies gives a principal with a company allowlist a connection
// of its own cache user key, so that answers that depend on the allowlist
// (Query.companies) are never served from, or to, a wider credential's.
func (a *Authenticator) withCompanies(id Identity) Identity {
	if id.Principal.Companies == nil {
		return id
	}
	list := "companies:" + joinIDs(id.Companies)
	key := narrowKey{base: id.Conn, list: list}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.narrowed[key]; ok {
		id.Conn = c
		return id
	}
	h := sha256.Sum256([]byte(list))
	c := *id.Conn
	c.UserKey += "|" + hex.EncodeToString(h[:6])
	if len(a.narrowed) < maxCompanyViews {
		a.narrowed[key] = &c
	}
	id.Conn = &c
	return id
}

// service returns the service connection of company id.
func (a *Authenticator) service(id int64) (*tenant.Connection, bool) {
	if id == a.o.Service.CompanyID {
		return a.o.Service, true
	}
	if a.o.Companies == nil {
		return nil, false
	}
	return a.o.Companies(id)
}

func (a *Authenticator) companyList() string {
	if len(a.o.CompanyIDs) == 0 {
		return strconv.FormatInt(a.o.Service.CompanyID, 10)
	}
	return joinIDs(a.o.CompanyIDs)
}

func who(p principal.Principal) string {
	switch p.Kind {
	case principal.KindAPIKey:
		return "the API key " + strconv.Quote(p.Name)
	case principal.KindJWT:
		return "this token"
	}
	return "this caller"
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

// connFor is the service connection, narrowed to p's project allowlist.
func (a *Authenticator) connFor(p principal.Principal) *tenant.Connection {
	return a.connIn(a.o.Service, p)
}

// connIn is base narrowed to p's project allowlist.
func (a *Authenticator) connIn(base *tenant.Connection, p principal.Principal) *tenant.Connection {
	if p.Projects == nil {
		return base
	}
	return a.Narrow(base, p.Projects)
}

type narrowKey struct {
	base *tenant.Connection
	list string
}

// Narrow returns base restricted to the projects in allowed: the same
// connection id (so invalidations and events are shared with the company),
// its own cache user key (so nothing cached for a wider credential is
// served to it) and an adapter that answers NOT_FOUND for any other
// project. Connections are kept per base and allowlist.
func (a *Authenticator) Narrow(base *tenant.Connection, allowed []int64) *tenant.Connection {
	ids := make([]string, len(allowed))
	for i, id := range allowed {
		ids[i] = strconv.FormatInt(id, 10)
	}
	list := strings.Join(ids, ",")
	key := narrowKey{base: base, list: list}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.narrowed[key]; ok {
		return c
	}
	h := sha256.Sum256([]byte(list))
	rp := restrict.New(base.Procore, allowed)
	c := &tenant.Connection{
		ID:        base.ID,
		CompanyID: base.CompanyID,
		UserKey:   base.UserKey + "|projects-" + hex.EncodeToString(h[:6]),
		Procore:   rp,
		CanSeeProject: func(ctx context.Context, id int64) bool {
			return rp.Allows(id) && base.Sees(ctx, id)
		},
	}
	a.narrowed[key] = c
	return c
}

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

// DefaultCookie is the name of the sign-in session cookie.
const DefaultCookie = "pg_session"

// Identity is who asks and the connection it acts through.
type Identity struct {
	Principal principal.Principal
	// Conn is nil for a principal without a Procore connection (an
	// anonymous caller where anonymous access is off).
	Conn *tenant.Connection
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
	// and (when allowed) anonymous callers act through. Required.
	Service *tenant.Connection
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

// Authenticate resolves r. A present but invalid credential answers an
// error wrapping *Refusal and an *adapter.Error with CodeUnauthenticated
// (CodeUpstreamUnavailable when a session store cannot be read).
func (a *Authenticator) Authenticate(r *http.Request) (Identity, error) {
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

// connFor is the service connection, narrowed to p's project allowlist.
func (a *Authenticator) connFor(p principal.Principal) *tenant.Connection {
	if p.Projects == nil {
		return a.o.Service
	}
	return a.Narrow(a.o.Service, p.Projects)
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

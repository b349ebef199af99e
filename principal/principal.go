// Package principal names who is asking: every request, graphql-ws
// connection and SSE stream carries exactly one Principal, resolved once by
// the gateway's authenticator (package authn) before any resolver runs.
//
// A Principal says what the caller may do (Scopes), which projects it may
// see (Projects, an allowlist; nil means every project its Procore
// credential sees) and how to name it in the audit log (Kind, Name,
// ProcoreUserID). It holds no secret.
package principal

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// Kind is how a principal proved who it is.
type Kind string

// Principal kinds.
const (
	// KindAPIKey is a service key from API_KEYS; it acts through the
	// configured OAuth connection within its scopes and project allowlist.
	KindAPIKey Kind = "api_key"
	// KindProcoreUser is a person who signed in with Procore (OAuth
	// authorization code with PKCE); it acts with that person's own Procore
	// permissions.
	KindProcoreUser Kind = "procore_user"
	// KindBrowserSession is a person logged in through a headless browser
	// session (createSession, pgs_ tokens), acting as that Procore user.
	KindBrowserSession Kind = "browser_session"
	// KindJWT is a caller whose bearer token was verified against the
	// identity provider's keys (JWT_JWKS_URL); it acts through the
	// configured OAuth connection within the token's scopes.
	KindJWT Kind = "jwt"
	// KindAnonymous sent no credential. Over the embedded sandbox (or with
	// ANONYMOUS=service) it acts as the service account with every scope;
	// otherwise it has no scope and no connection.
	KindAnonymous Kind = "anonymous"
)

// Scope is one permission a principal may hold.
type Scope string

// Scopes.
const (
	// ScopeRead runs queries.
	ScopeRead Scope = "read"
	// ScopeWrite runs mutations and uploads.
	ScopeWrite Scope = "write"
	// ScopeSubscribe opens subscriptions.
	ScopeSubscribe Scope = "subscribe"
)

// AllScopes are every scope, in their documented order.
var AllScopes = []Scope{ScopeRead, ScopeWrite, ScopeSubscribe}

// ParseScopes reads a comma- or space-separated list of scope names ("*"
// means all) and reports the first unknown name.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	all := false
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '+' }) {
		if f == "*" {
			all = true
			continue
		}
		sc := Scope(strings.ToLower(f))
		if !slices.Contains(AllScopes, sc) {
			return nil, &UnknownScopeError{Name: f}
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if all {
		return slices.Clone(AllScopes), nil
	}
	return out, nil
}

// UnknownScopeError names a scope that is not read, write or subscribe.
type UnknownScopeError struct{ Name string }

func (e *UnknownScopeError) Error() string {
	return "unknown scope " + strconv.Quote(e.Name) + " (the scopes are read, write, subscribe)"
}

// Principal is who is asking. The zero value is an anonymous caller with no
// scope.
type Principal struct {
	// Kind says how the principal authenticated.
	Kind Kind
	// Name names it in logs and the audit trail: the API key's name, the
	// Procore login of a person, the JWT subject. Never a secret.
	Name string
	// ProcoreUserID is the Procore user the principal acts as, when known
	// (people); 0 for service principals.
	ProcoreUserID int64
	// Scopes are what it may do.
	Scopes []Scope
	// Projects, when not nil, are the only projects it may see: any other
	// project is NOT_FOUND on every path (fields, entities, subscriptions,
	// mutations). Nil means every project its Procore credential sees.
	Projects []int64
	// Companies, when not nil, are the only Procore companies it may use
	// (the Procore-Company-Id a request asks for): an API key's company=
	// options, a JWT's companies claim. Nil means every company the gateway
	// serves (people are bound to their session's company instead).
	Companies []int64
	// SessionID identifies the gateway session behind a person's token (a
	// non-secret hash), so that revoking the session can end its open
	// streams on every replica. Empty for principals without a session.
	SessionID string
	// MaxCost, when > 0, replaces the gateway's limit of estimated Procore
	// calls per operation for this principal (an API key's cost=).
	MaxCost int
	// RequestsPerMinute and CallsPerMinute, when > 0, replace the gateway's
	// rate limits for this principal (an API key's rpm= and cpm=).
	RequestsPerMinute, CallsPerMinute int
	// MaxSubscriptions, when > 0, replaces the gateway's bound of the
	// subscriptions, and of the websockets, this principal holds open at
	// once on one replica (an API key's subs=).
	MaxSubscriptions int
	// ViaCookie is true when the credential came from the session cookie:
	// state-changing requests then need a CSRF-safe shape (JSON body or a
	// header that forces a CORS preflight).
	ViaCookie bool
}

// Can reports whether p holds scope s.
func (p Principal) Can(s Scope) bool { return slices.Contains(p.Scopes, s) }

// AllowsProject reports whether p may see project id.
func (p Principal) AllowsProject(id int64) bool {
	return p.Projects == nil || slices.Contains(p.Projects, id)
}

// AllowsCompany reports whether p may use company id (Companies).
func (p Principal) AllowsCompany(id int64) bool {
	return p.Companies == nil || slices.Contains(p.Companies, id)
}

// Authenticated reports whether p presented a credential.
func (p Principal) Authenticated() bool { return p.Kind != "" && p.Kind != KindAnonymous }

// RateKey names whose budget a request spends: the key, person or subject;
// for anonymous callers their address (remote).
func (p Principal) RateKey(remote string) string {
	switch {
	case !p.Authenticated():
		return "anonymous:" + remote
	case p.ProcoreUserID != 0:
		return string(p.Kind) + ":" + strconv.FormatInt(p.ProcoreUserID, 10)
	case p.SessionID != "":
		return string(p.Kind) + ":" + p.SessionID
	}
	return string(p.Kind) + ":" + p.Name
}

// Ref is the principal as the audit log records it.
func (p Principal) Ref() Ref {
	k := p.Kind
	if k == "" {
		k = KindAnonymous
	}
	return Ref{Kind: k, Name: p.Name, ProcoreUserID: p.ProcoreUserID}
}

// Ref names a principal in records: kind, name and Procore user id.
type Ref struct {
	Kind          Kind   `json:"kind"`
	Name          string `json:"name,omitempty"`
	ProcoreUserID int64  `json:"procoreUserId,omitempty"`
}

type ctxKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the principal in ctx; the zero (anonymous, no scope)
// Principal when none was set.
func From(ctx context.Context) Principal {
	p, _ := ctx.Value(ctxKey{}).(Principal)
	return p
}

// Package jwtauth verifies bearer tokens issued by a company's identity
// provider, so that a federation router which authenticates people can
// forward their tokens and the gateway acts within the scopes the token
// grants (through the configured service connection). Signatures are checked
// against the provider's JWKS (github.com/MicahParks/keyfunc, refreshed in
// the background and on unknown key ids) with github.com/golang-jwt/jwt; only
// asymmetric algorithms are accepted, and issuer, audience and expiry are
// required.
package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"procoregraph/principal"
)

// Options configure a Verifier. Zero values mean the defaults.
type Options struct {
	// JWKSURL is the provider's JSON Web Key Set (JWT_JWKS_URL). Required.
	JWKSURL string
	// Issuer is the required "iss" (JWT_ISSUER). Required.
	Issuer string
	// Audience is an "aud" the token must name (JWT_AUDIENCE). Required.
	Audience string
	// ScopesClaim holds the granted scopes, as a space-separated string or a
	// list (JWT_SCOPES_CLAIM). Default "scope".
	ScopesClaim string
	// ScopePrefix is stripped from the provider's scope names before they
	// are matched against read, write and subscribe, e.g. "procoregraph:"
	// (JWT_SCOPE_PREFIX). Scopes without it are ignored. Default "".
	ScopePrefix string
	// NameClaim names the caller in the audit log. Default "sub".
	NameClaim string
	// CompaniesClaim, when set, is the claim listing the Procore company ids
	// the caller may use (a list of numbers or strings, or a space- or
	// comma-separated string); a token without it is refused. Default ""
	// (JWT_COMPANIES_CLAIM): every company the gateway serves.
	CompaniesClaim string
	// Leeway tolerates clock skew on exp, nbf and iat. Default 30 s.
	Leeway time.Duration
	// Algorithms are the accepted signing algorithms. Default RS256, RS384,
	// RS512, PS256, ES256, ES384, EdDSA (never HS* or none).
	Algorithms []string
	// RefreshInterval is how often the key set is fetched again. Default 1 h.
	RefreshInterval time.Duration
	// HTTPClient fetches the key set. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives key-set refresh failures. Default slog.Default().
	Logger *slog.Logger
}

// Verifier verifies tokens. It is safe for concurrent use.
type Verifier struct {
	o      Options
	keys   keyfunc.Keyfunc
	parser *jwt.Parser
}

// New returns a Verifier whose key set is refreshed until ctx ends. An
// unreachable key set at start is not an error: tokens are refused until it
// can be fetched.
func New(ctx context.Context, o Options) (*Verifier, error) {
	if o.JWKSURL == "" || o.Issuer == "" || o.Audience == "" {
		return nil, errors.New("JWT_JWKS_URL, JWT_ISSUER and JWT_AUDIENCE are all required to accept identity-provider tokens")
	}
	if o.ScopesClaim == "" {
		o.ScopesClaim = "scope"
	}
	if o.NameClaim == "" {
		o.NameClaim = "sub"
	}
	if o.Leeway == 0 {
		o.Leeway = 30 * time.Second
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}
	}
	for _, a := range o.Algorithms {
		if strings.HasPrefix(a, "HS") || a == "none" {
			return nil, fmt.Errorf("jwtauth: algorithm %q is not accepted (only asymmetric signatures)", a)
		}
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = time.Hour
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	keys, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{o.JWKSURL}, keyfunc.Override{
		Client:            o.HTTPClient,
		RefreshInterval:   o.RefreshInterval,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(time.Minute), 1),
		RefreshErrorHandlerFunc: func(u string) func(ctx context.Context, err error) {
			return func(ctx context.Context, err error) {
				o.Logger.WarnContext(ctx, "jwtauth: cannot refresh the identity provider's keys", "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("jwtauth: key set %s: %w", o.JWKSURL, err)
	}
	return &Verifier{o: o, keys: keys, parser: jwt.NewParser(
		jwt.WithValidMethods(o.Algorithms),
		jwt.WithIssuer(o.Issuer),
		jwt.WithAudience(o.Audience),
		jwt.WithLeeway(o.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)}, nil
}

// Accepts reports whether token has a JWT's shape (three base64url parts,
// a JSON header).
func (v *Verifier) Accepts(token string) bool {
	return strings.HasPrefix(token, "eyJ") && strings.Count(token, ".") == 2
}

// Verify checks the token's signature, issuer, audience and lifetime and
// returns its principal: kind jwt, named by NameClaim, with the scopes of
// ScopesClaim that are read, write or subscribe (after ScopePrefix). A token
// granting none of them is refused.
func (v *Verifier) Verify(ctx context.Context, token string) (principal.Principal, error) {
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.keys.KeyfuncCtx(ctx)); err != nil {
		return principal.Principal{}, errors.New(reason(err))
	}
	name, _ := claims[v.o.NameClaim].(string)
	if name == "" {
		return principal.Principal{}, fmt.Errorf("the token has no %q claim", v.o.NameClaim)
	}
	var raw []string
	switch s := claims[v.o.ScopesClaim].(type) {
	case string:
		raw = strings.Fields(s)
	case []any:
		for _, x := range s {
			if str, ok := x.(string); ok {
				raw = append(raw, str)
			}
		}
	}
	var scopes []principal.Scope
	for _, r := range raw {
		n, ok := strings.CutPrefix(r, v.o.ScopePrefix)
		if !ok {
			continue
		}
		if sc, err := principal.ParseScopes(n); err == nil && len(sc) == 1 && n != "*" {
			scopes = append(scopes, sc[0])
		}
	}
	if len(scopes) == 0 {
		return principal.Principal{}, fmt.Errorf("the token grants none of the scopes %sread, %swrite, %ssubscribe in %q",
			v.o.ScopePrefix, v.o.ScopePrefix, v.o.ScopePrefix, v.o.ScopesClaim)
	}
	if len(name) > 128 {
		name = name[:128]
	}
	p := principal.Principal{Kind: principal.KindJWT, Name: name, Scopes: scopes}
	if v.o.CompaniesClaim != "" {
		ids, err := companyIDs(claims[v.o.CompaniesClaim])
		if err != nil {
			return principal.Principal{}, fmt.Errorf("the %q claim: %w", v.o.CompaniesClaim, err)
		}
		p.Companies = ids
	}
	return p, nil
}

// maxCompanies bounds the company ids one token may list.
const maxCompanies = 1000

// companyIDs reads a companies claim: a list of numbers or numeric strings,
// or one string of ids separated by spaces or commas. Missing or empty is an
// error: a token that names no company may use none.
func companyIDs(v any) ([]int64, error) {
	var raw []any
	switch x := v.(type) {
	case nil:
		return nil, errors.New("missing: the token names no Procore company")
	case string:
		for _, f := range strings.FieldsFunc(x, func(r rune) bool { return r == ' ' || r == ',' }) {
			raw = append(raw, f)
		}
	case []any:
		raw = x
	default:
		raw = []any{x}
	}
	if len(raw) == 0 || len(raw) > maxCompanies {
		return nil, fmt.Errorf("want 1 to %d Procore company ids", maxCompanies)
	}
	out := make([]int64, 0, len(raw))
	for _, r := range raw {
		var id int64
		switch x := r.(type) {
		case float64:
			if x != float64(int64(x)) {
				return nil, fmt.Errorf("%v is not a company id", x)
			}
			id = int64(x)
		case string:
			n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a company id", x)
			}
			id = n
		default:
			return nil, fmt.Errorf("%v is not a company id", x)
		}
		if id <= 0 {
			return nil, fmt.Errorf("%d is not a company id", id)
		}
		out = append(out, id)
	}
	return out, nil
}

// reason says why a token was refused, without echoing it.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token's issuer is not the configured one"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token is not for this audience"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token's signature does not verify against the provider's keys"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token lacks a required claim (exp)"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is malformed"
	}
	return "the token is invalid"
}

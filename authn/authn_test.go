package authn_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"procoregraph/adapter"
	"procoregraph/apikeys"
	"procoregraph/authn"
	"procoregraph/principal"
	"procoregraph/tenant"
)

// fakeProcore answers Project for any id and counts the calls that reach it.
// The embedded interface is nil: only Project may be called.
type fakeProcore struct {
	adapter.Procore
	mu    sync.Mutex
	calls []int64
}

func (f *fakeProcore) Project(_ context.Context, _, projectID int64) (adapter.Project, error) {
	f.mu.Lock()
	f.calls = append(f.calls, projectID)
	f.mu.Unlock()
	return adapter.Project{ID: projectID}, nil
}

func (f *fakeProcore) Calls() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// fakeSessions is a SessionResolver over a fixed map of tokens.
type fakeSessions struct {
	mu     sync.Mutex
	ids    map[string]authn.Identity
	err    error // answered for every token when set
	tokens []string
}

func (s *fakeSessions) Identity(_ context.Context, token string) (authn.Identity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = append(s.tokens, token)
	if s.err != nil {
		return authn.Identity{}, s.err
	}
	id, ok := s.ids[token]
	if !ok {
		return authn.Identity{}, adapter.Errorf(adapter.CodeUnauthenticated, "unknown session")
	}
	return id, nil
}

func (s *fakeSessions) Seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tokens)
}

// fakeJWT accepts tokens that start with "eyJ" and verifies "eyJgood".
type fakeJWT struct{ p principal.Principal }

func (fakeJWT) Accepts(token string) bool { return strings.HasPrefix(token, "eyJ") }

func (v fakeJWT) Verify(_ context.Context, token string) (principal.Principal, error) {
	if token != "eyJgood" {
		return principal.Principal{}, errors.New("signature invalid")
	}
	return v.p, nil
}

const companyID int64 = 77

type fixture struct {
	service      *tenant.Connection
	serviceAPI   *fakeProcore
	browserConn  *tenant.Connection
	signInConn   *tenant.Connection
	browser      *fakeSessions
	signIn       *fakeSessions
	readKey      string // read, every project
	narrowKey    string // read+write, projects 1 and 2
	unknownKey   string
	keys         *apikeys.Set
	jwtPrincipal principal.Principal
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{serviceAPI: &fakeProcore{}}
	f.service = &tenant.Connection{ID: "conn-service", CompanyID: companyID, UserKey: "service", Procore: f.serviceAPI}
	f.browserConn = &tenant.Connection{ID: "conn-service", CompanyID: companyID, UserKey: "user-5", Procore: &fakeProcore{}}
	f.signInConn = &tenant.Connection{ID: "conn-service", CompanyID: companyID, UserKey: "user-6", Procore: &fakeProcore{}}
	f.browser = &fakeSessions{ids: map[string]authn.Identity{
		"pgs_valid": {Principal: principal.Principal{Kind: principal.KindBrowserSession, Name: "bea@example.com", ProcoreUserID: 5,
			Scopes: principal.AllScopes, SessionID: "s-browser"}, Conn: f.browserConn},
	}}
	f.signIn = &fakeSessions{ids: map[string]authn.Identity{
		"pgu_valid": {Principal: principal.Principal{Kind: principal.KindProcoreUser, Name: "sam@example.com", ProcoreUserID: 6,
			Scopes: principal.AllScopes, SessionID: "s-signin"}, Conn: f.signInConn},
	}}
	mint := func(name string, scopes []principal.Scope, projects []int64) (string, string) {
		secret, k, err := apikeys.Mint(name, scopes, projects, apikeys.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return secret, k.Entry()
	}
	var e1, e2 string
	f.readKey, e1 = mint("reader", []principal.Scope{principal.ScopeRead}, nil)
	f.narrowKey, e2 = mint("narrow", []principal.Scope{principal.ScopeRead, principal.ScopeWrite}, []int64{1, 2})
	f.unknownKey, _ = mint("unknown", []principal.Scope{principal.ScopeRead}, nil)
	keys, err := apikeys.Parse(e1 + ";" + e2)
	if err != nil {
		t.Fatal(err)
	}
	f.keys = keys
	f.jwtPrincipal = principal.Principal{Kind: principal.KindJWT, Name: "subject-1", Scopes: []principal.Scope{principal.ScopeRead}}
	return f
}

func (f *fixture) options() authn.Options {
	return authn.Options{
		Service:         f.service,
		Keys:            f.keys,
		BrowserSessions: f.browser,
		SignIn:          f.signIn,
		JWT:             fakeJWT{p: f.jwtPrincipal},
	}
}

func newAuth(t *testing.T, o authn.Options) *authn.Authenticator {
	t.Helper()
	a, err := authn.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func request(auth string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

func TestNewRequiresService(t *testing.T) {
	if _, err := authn.New(authn.Options{}); err == nil {
		t.Fatal("New accepted options without Service")
	}
}

func TestDefaults(t *testing.T) {
	a := newAuth(t, authn.Options{Service: &tenant.Connection{ID: "c"}})
	if a.Cookie() != authn.DefaultCookie {
		t.Errorf("Cookie() = %q, want %q", a.Cookie(), authn.DefaultCookie)
	}
	if a.AnonymousAllowed() {
		t.Error("anonymous access is on by default")
	}
}

func TestAuthenticateAccepts(t *testing.T) {
	f := newFixture(t)
	cookie := func(v string) *http.Cookie { return &http.Cookie{Name: authn.DefaultCookie, Value: v} }
	tests := []struct {
		name      string
		opts      func(o *authn.Options)
		req       *http.Request
		wantKind  principal.Kind
		wantName  string
		wantConn  func() *tenant.Connection // the exact connection expected, when not narrowed
		narrowed  bool                      // the service connection narrowed to an allowlist
		wantScope []principal.Scope
		viaCookie bool
	}{
		{
			name: "APIKeyActsAsServiceWithinItsScopes", req: request("Bearer " + f.readKey),
			wantKind: principal.KindAPIKey, wantName: "reader", wantConn: func() *tenant.Connection { return f.service },
			wantScope: []principal.Scope{principal.ScopeRead},
		},
		{
			name: "LowercaseBearerIsAccepted", req: request("bearer " + f.readKey),
			wantKind: principal.KindAPIKey, wantName: "reader", wantConn: func() *tenant.Connection { return f.service },
			wantScope: []principal.Scope{principal.ScopeRead},
		},
		{
			name: "APIKeyWithAllowlistGetsANarrowedConnection", req: request("Bearer " + f.narrowKey),
			wantKind: principal.KindAPIKey, wantName: "narrow", narrowed: true,
			wantScope: []principal.Scope{principal.ScopeRead, principal.ScopeWrite},
		},
		{
			name: "JWTWithProjectsGetsANarrowedConnection",
			opts: func(o *authn.Options) {
				o.JWT = fakeJWT{p: principal.Principal{Kind: principal.KindJWT, Name: "subject-2", Scopes: []principal.Scope{principal.ScopeRead}, Projects: []int64{4}}}
			},
			req:      request("Bearer eyJgood"),
			wantKind: principal.KindJWT, wantName: "subject-2", narrowed: true,
			wantScope: []principal.Scope{principal.ScopeRead},
		},
		{
			name: "BrowserSessionTokenGoesToBrowserSessions", req: request("Bearer pgs_valid"),
			wantKind: principal.KindBrowserSession, wantName: "bea@example.com", wantConn: func() *tenant.Connection { return f.browserConn },
			wantScope: principal.AllScopes,
		},
		{
			name: "SignInTokenGoesToSignIn", req: request("Bearer pgu_valid"),
			wantKind: principal.KindProcoreUser, wantName: "sam@example.com", wantConn: func() *tenant.Connection { return f.signInConn },
			wantScope: principal.AllScopes,
		},
		{
			name: "VerifiedJWTActsAsService", req: request("Bearer eyJgood"),
			wantKind: principal.KindJWT, wantName: "subject-1", wantConn: func() *tenant.Connection { return f.service },
			wantScope: []principal.Scope{principal.ScopeRead},
		},
		{
			name: "SignInCookieIsAcceptedViaCookie", req: request("", cookie("pgu_valid")),
			wantKind: principal.KindProcoreUser, wantName: "sam@example.com", wantConn: func() *tenant.Connection { return f.signInConn },
			wantScope: principal.AllScopes, viaCookie: true,
		},
		{
			name: "ConfiguredCookieNameIsRead", opts: func(o *authn.Options) { o.Cookie = "my_session" },
			req:      request("", &http.Cookie{Name: "my_session", Value: "pgu_valid"}),
			wantKind: principal.KindProcoreUser, wantName: "sam@example.com", wantConn: func() *tenant.Connection { return f.signInConn },
			wantScope: principal.AllScopes, viaCookie: true,
		},
		{
			name: "HeaderWinsOverCookie", req: request("Bearer "+f.readKey, cookie("pgu_valid")),
			wantKind: principal.KindAPIKey, wantName: "reader", wantConn: func() *tenant.Connection { return f.service },
			wantScope: []principal.Scope{principal.ScopeRead},
		},
		{
			name: "AnonymousActsAsServiceWhenAllowed", opts: func(o *authn.Options) { o.Anonymous = true }, req: request(""),
			wantKind: principal.KindAnonymous, wantName: "anonymous", wantConn: func() *tenant.Connection { return f.service },
			wantScope: principal.AllScopes,
		},
		{
			name: "EmptyCookieIsAnonymous", opts: func(o *authn.Options) { o.Anonymous = true }, req: request("", cookie("")),
			wantKind: principal.KindAnonymous, wantName: "anonymous", wantConn: func() *tenant.Connection { return f.service },
			wantScope: principal.AllScopes,
		},
		{
			name: "OtherCookieIsAnonymous", opts: func(o *authn.Options) { o.Anonymous = true },
			req:      request("", &http.Cookie{Name: "unrelated", Value: "pgu_valid"}),
			wantKind: principal.KindAnonymous, wantName: "anonymous", wantConn: func() *tenant.Connection { return f.service },
			wantScope: principal.AllScopes,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := f.options()
			if tt.opts != nil {
				tt.opts(&o)
			}
			id, err := newAuth(t, o).Authenticate(tt.req)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			p := id.Principal
			if p.Kind != tt.wantKind || p.Name != tt.wantName {
				t.Fatalf("principal %+v, want kind %q name %q", p, tt.wantKind, tt.wantName)
			}
			if !slices.Equal(p.Scopes, tt.wantScope) {
				t.Fatalf("scopes %v, want %v", p.Scopes, tt.wantScope)
			}
			if p.ViaCookie != tt.viaCookie {
				t.Fatalf("ViaCookie = %v, want %v", p.ViaCookie, tt.viaCookie)
			}
			if id.Conn == nil {
				t.Fatal("no connection")
			}
			if tt.narrowed {
				if id.Conn == f.service || id.Conn.ID != f.service.ID || id.Conn.UserKey == f.service.UserKey {
					t.Fatalf("connection %+v is not the service connection narrowed", id.Conn)
				}
				return
			}
			if want := tt.wantConn(); id.Conn != want {
				t.Fatalf("connection %+v, want %+v", id.Conn, want)
			}
		})
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	f := newFixture(t)
	storeDown := &fakeSessions{err: adapter.Errorf(adapter.CodeUpstreamUnavailable, "session store unavailable")}
	reauth := &fakeSessions{err: adapter.Errorf(adapter.CodeReauthRequired, "sign in again")}
	cookie := func(v string) *http.Cookie { return &http.Cookie{Name: authn.DefaultCookie, Value: v} }
	tests := []struct {
		name       string
		opts       func(o *authn.Options)
		req        *http.Request
		credential string
		code       adapter.Code
	}{
		{"UnknownKeyIsRefused", nil, request("Bearer " + f.unknownKey), "api_key", adapter.CodeUnauthenticated},
		{"KeyWithoutConfiguredKeysIsRefused", func(o *authn.Options) { o.Keys = nil }, request("Bearer " + f.readKey), "api_key", adapter.CodeUnauthenticated},
		{"MalformedKeyIsRefused", nil, request("Bearer pgk_short"), "api_key", adapter.CodeUnauthenticated},
		{"UnknownBrowserSessionIsRefused", nil, request("Bearer pgs_unknown"), "browser_session", adapter.CodeUnauthenticated},
		{"BrowserSessionWhenDisabledIsRefused", func(o *authn.Options) { o.BrowserSessions = nil }, request("Bearer pgs_valid"), "browser_session", adapter.CodeUnauthenticated},
		{"BrowserSessionStoreDownFailsClosed", func(o *authn.Options) { o.BrowserSessions = storeDown }, request("Bearer pgs_valid"), "browser_session", adapter.CodeUpstreamUnavailable},
		{"UnknownSignInSessionIsRefused", nil, request("Bearer pgu_unknown"), "procore_user", adapter.CodeUnauthenticated},
		{"SignInWhenDisabledIsRefused", func(o *authn.Options) { o.SignIn = nil }, request("Bearer pgu_valid"), "procore_user", adapter.CodeUnauthenticated},
		{"SignInReauthIsPassedOn", func(o *authn.Options) { o.SignIn = reauth }, request("Bearer pgu_valid"), "procore_user", adapter.CodeReauthRequired},
		{"SignInStoreDownFailsClosed", func(o *authn.Options) { o.SignIn = storeDown }, request("Bearer pgu_valid"), "procore_user", adapter.CodeUpstreamUnavailable},
		{"InvalidJWTIsRefused", nil, request("Bearer eyJforged"), "jwt", adapter.CodeUnauthenticated},
		{"JWTWithoutVerifierIsRefused", func(o *authn.Options) { o.JWT = nil }, request("Bearer eyJgood"), "unknown", adapter.CodeUnauthenticated},
		{"UnrecognisedTokenIsRefused", nil, request("Bearer some-opaque-token"), "unknown", adapter.CodeUnauthenticated},
		{"UnrecognisedTokenIsRefusedEvenWithAnonymous", func(o *authn.Options) { o.Anonymous = true }, request("Bearer some-opaque-token"), "unknown", adapter.CodeUnauthenticated},
		{"BasicAuthIsRefused", nil, request("Basic dXNlcjpwYXNz"), "unknown", adapter.CodeUnauthenticated},
		{"BareTokenIsRefused", nil, request(f.readKey), "unknown", adapter.CodeUnauthenticated},
		{"EmptyBearerIsRefused", func(o *authn.Options) { o.Anonymous = true }, request("Bearer   "), "unknown", adapter.CodeUnauthenticated},
		{"InvalidHeaderIsRefusedDespiteValidCookie", nil, request("Bearer pgu_unknown", cookie("pgu_valid")), "procore_user", adapter.CodeUnauthenticated},
		{"CookieWithoutPrefixIsRefused", nil, request("", cookie("pgs_valid")), "cookie", adapter.CodeUnauthenticated},
		{"CookieWithoutSignInIsRefused", func(o *authn.Options) { o.SignIn = nil }, request("", cookie("pgu_valid")), "cookie", adapter.CodeUnauthenticated},
		{"UnknownCookieSessionIsRefused", nil, request("", cookie("pgu_unknown")), "cookie", adapter.CodeUnauthenticated},
		{"UnknownCookieIsRefusedEvenWithAnonymous", func(o *authn.Options) { o.Anonymous = true }, request("", cookie("pgu_unknown")), "cookie", adapter.CodeUnauthenticated},
		{"CookieStoreDownFailsClosed", func(o *authn.Options) { o.SignIn = storeDown }, request("", cookie("pgu_valid")), "cookie", adapter.CodeUpstreamUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := f.options()
			if tt.opts != nil {
				tt.opts(&o)
			}
			id, err := newAuth(t, o).Authenticate(tt.req)
			if err == nil {
				t.Fatalf("Authenticate accepted: %+v", id.Principal)
			}
			var ref *authn.Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("error %T %v does not wrap *authn.Refusal", err, err)
			}
			if ref.Credential != tt.credential {
				t.Fatalf("Refusal.Credential = %q, want %q", ref.Credential, tt.credential)
			}
			if got := adapter.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q, want %q (%v)", got, tt.code, err)
			}
			if id.Conn != nil || id.Principal.Kind != "" || len(id.Principal.Scopes) != 0 {
				t.Fatalf("a refusal came with an identity: %+v", id)
			}
			for _, secret := range []string{f.readKey, f.unknownKey, "pgu_valid", "pgu_unknown", "pgs_valid", "eyJforged"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the refusal repeats the credential: %v", err)
				}
			}
		})
	}
}

func TestAuthenticateRoutesTokensToTheirResolver(t *testing.T) {
	f := newFixture(t)
	a := newAuth(t, f.options())
	t.Run("BrowserSessionTokenReachesOnlyBrowserSessions", func(t *testing.T) {
		if _, err := a.Authenticate(request("Bearer pgs_valid")); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(f.browser.Seen(), "pgs_valid") || slices.Contains(f.signIn.Seen(), "pgs_valid") {
			t.Fatalf("browser %q, sign-in %q", f.browser.Seen(), f.signIn.Seen())
		}
	})
	t.Run("SignInTokenReachesOnlySignIn", func(t *testing.T) {
		if _, err := a.Authenticate(request("Bearer pgu_valid")); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(f.signIn.Seen(), "pgu_valid") || slices.Contains(f.browser.Seen(), "pgu_valid") {
			t.Fatalf("browser %q, sign-in %q", f.browser.Seen(), f.signIn.Seen())
		}
	})
	t.Run("APIKeyReachesNoResolver", func(t *testing.T) {
		before := len(f.browser.Seen()) + len(f.signIn.Seen())
		if _, err := a.Authenticate(request("Bearer " + f.readKey)); err != nil {
			t.Fatal(err)
		}
		if after := len(f.browser.Seen()) + len(f.signIn.Seen()); after != before {
			t.Fatal("an API key was sent to a session resolver")
		}
	})
}

func TestAuthenticateAnonymous(t *testing.T) {
	f := newFixture(t)
	t.Run("AnonymousOnHasEveryScopeAndTheServiceConnection", func(t *testing.T) {
		o := f.options()
		o.Anonymous = true
		a := newAuth(t, o)
		if !a.AnonymousAllowed() {
			t.Fatal("AnonymousAllowed() = false")
		}
		id, err := a.Authenticate(request(""))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range principal.AllScopes {
			if !id.Principal.Can(s) {
				t.Errorf("anonymous cannot %q", s)
			}
		}
		if id.Conn != f.service {
			t.Errorf("Conn = %+v, want the service connection", id.Conn)
		}
		if id.Principal.Kind != principal.KindAnonymous || id.Principal.Authenticated() {
			t.Errorf("principal %+v, want anonymous", id.Principal)
		}
	})
	t.Run("AnonymousOffHasNoScopeAndNoConnection", func(t *testing.T) {
		id, err := newAuth(t, f.options()).Authenticate(request(""))
		if err != nil {
			t.Fatal(err)
		}
		if len(id.Principal.Scopes) != 0 {
			t.Errorf("anonymous scopes %v, want none", id.Principal.Scopes)
		}
		if id.Conn != nil {
			t.Errorf("Conn = %+v, want nil", id.Conn)
		}
		if id.Principal.Kind != principal.KindAnonymous || id.Principal.Authenticated() {
			t.Errorf("principal %+v, want anonymous", id.Principal)
		}
	})
}

func TestNarrow(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := newAuth(t, f.options())
	id, err := a.Authenticate(request("Bearer " + f.narrowKey))
	if err != nil {
		t.Fatal(err)
	}
	c := id.Conn

	t.Run("KeepsTheBaseConnectionID", func(t *testing.T) {
		if c.ID != f.service.ID || c.CompanyID != f.service.CompanyID {
			t.Fatalf("narrowed %q/%d, base %q/%d", c.ID, c.CompanyID, f.service.ID, f.service.CompanyID)
		}
	})
	t.Run("HasItsOwnUserKey", func(t *testing.T) {
		if c.UserKey == f.service.UserKey || c.UserKey == "" {
			t.Fatalf("narrowed UserKey %q, base %q", c.UserKey, f.service.UserKey)
		}
	})
	t.Run("OtherProjectIsNotFoundWithoutReachingProcore", func(t *testing.T) {
		before := len(f.serviceAPI.Calls())
		_, err := c.Procore.Project(ctx, companyID, 3)
		if !adapter.IsNotFound(err) {
			t.Fatalf("Project(3) error %v, want NOT_FOUND", err)
		}
		if len(f.serviceAPI.Calls()) != before {
			t.Fatal("a refused project reached the service adapter")
		}
	})
	t.Run("AllowedProjectReachesTheServiceAdapter", func(t *testing.T) {
		p, err := c.Procore.Project(ctx, companyID, 2)
		if err != nil || p.ID != 2 {
			t.Fatalf("Project(2) = %+v, %v", p, err)
		}
		if calls := f.serviceAPI.Calls(); len(calls) == 0 || calls[len(calls)-1] != 2 {
			t.Fatalf("service adapter calls %v", calls)
		}
	})
	t.Run("CanSeeProjectFollowsTheAllowlist", func(t *testing.T) {
		if !c.Sees(ctx, 1) || !c.Sees(ctx, 2) || c.Sees(ctx, 3) {
			t.Fatalf("Sees(1,2,3) = %v,%v,%v, want true,true,false", c.Sees(ctx, 1), c.Sees(ctx, 2), c.Sees(ctx, 3))
		}
	})
	t.Run("SameKeyGetsTheSameConnection", func(t *testing.T) {
		again, err := a.Authenticate(request("Bearer " + f.narrowKey))
		if err != nil {
			t.Fatal(err)
		}
		if again.Conn != c {
			t.Fatal("a second request with the same key got another connection")
		}
	})
	t.Run("ServiceConnectionIsUnchanged", func(t *testing.T) {
		if f.service.UserKey != "service" || f.service.Procore != f.serviceAPI || f.service.CanSeeProject != nil {
			t.Fatalf("the service connection was modified: %+v", f.service)
		}
	})
}

func TestNarrowDirect(t *testing.T) {
	ctx := context.Background()
	api := &fakeProcore{}
	// The base itself sees only projects 1 to 9.
	base := &tenant.Connection{ID: "c", CompanyID: 1, UserKey: "u", Procore: api,
		CanSeeProject: func(_ context.Context, id int64) bool { return id < 10 }}
	a := newAuth(t, authn.Options{Service: &tenant.Connection{ID: "svc"}})

	one := a.Narrow(base, []int64{1, 20})
	two := a.Narrow(base, []int64{2})
	t.Run("CanSeeProjectNeedsAllowlistAndBase", func(t *testing.T) {
		if !one.Sees(ctx, 1) {
			t.Error("allowed project the base sees is not seen")
		}
		if one.Sees(ctx, 20) {
			t.Error("allowed project the base cannot see is seen")
		}
		if one.Sees(ctx, 2) {
			t.Error("project outside the allowlist is seen")
		}
	})
	t.Run("DifferentAllowlistsGetDifferentUserKeys", func(t *testing.T) {
		if one.UserKey == two.UserKey || one.UserKey == base.UserKey || two.UserKey == base.UserKey {
			t.Fatalf("user keys %q, %q, base %q", one.UserKey, two.UserKey, base.UserKey)
		}
		if one.ID != base.ID || two.ID != base.ID {
			t.Fatalf("ids %q, %q, base %q", one.ID, two.ID, base.ID)
		}
	})
	t.Run("SameAllowlistIsKept", func(t *testing.T) {
		if a.Narrow(base, []int64{1, 20}) != one {
			t.Fatal("the same base and allowlist got a new connection")
		}
	})
	t.Run("RestrictedAdapterRefusesOtherProject", func(t *testing.T) {
		if _, err := two.Procore.Project(ctx, 1, 1); !adapter.IsNotFound(err) {
			t.Fatalf("Project(1) through allowlist [2]: %v, want NOT_FOUND", err)
		}
		if len(api.Calls()) != 0 {
			t.Fatalf("base adapter called: %v", api.Calls())
		}
	})
}

// TestAuthenticateInCompany: Procore-Company-Id picks a served company's
// connection for service principals within their allowlist, binds people to
// their session's company, and refuses what is not served, not allowed or
// malformed.
func TestAuthenticateInCompany(t *testing.T) {
	const other int64 = 88
	f := newFixture(t)
	otherConn := &tenant.Connection{ID: "conn-88", CompanyID: other, UserKey: "service", Procore: &fakeProcore{}}
	onlyOther, k, err := apikeys.Mint("only-88", []principal.Scope{principal.ScopeRead}, []int64{1}, apikeys.Limits{Companies: []int64{other}})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := apikeys.Parse(k.Entry() + ";" + mustEntry(t, f))
	if err != nil {
		t.Fatal(err)
	}
	o := f.options()
	o.Keys = keys
	o.Anonymous = true
	o.Companies = func(id int64) (*tenant.Connection, bool) { return otherConn, id == other }
	o.CompanyIDs = []int64{companyID, other}
	a := newAuth(t, o)
	jwtOnly77 := f.jwtPrincipal
	jwtOnly77.Companies = []int64{companyID}
	aj := newAuth(t, func() authn.Options { o := o; o.JWT = fakeJWT{p: jwtOnly77}; return o }())

	in := func(auth, company string) *http.Request {
		r := request(auth)
		if company != "" {
			r.Header.Set(authn.CompanyHeader, company)
		}
		return r
	}
	for _, c := range []struct {
		name      string
		auth      *authn.Authenticator
		req       *http.Request
		company   int64
		companies []int64
	}{
		{"KeyWithoutHeaderIsInTheDefaultCompany", a, in("Bearer "+f.readKey, ""), companyID, []int64{companyID, other}},
		{"KeyWithHeaderIsInThatCompany", a, in("Bearer "+f.readKey, "88"), other, []int64{companyID, other}},
		{"AnonymousServiceFollowsTheHeader", a, in("", "88"), other, []int64{companyID, other}},
		{"KeyAllowedElsewhereDefaultsToItsCompany", a, in("Bearer "+onlyOther, ""), other, []int64{other}},
		{"PersonWithTheirCompanyHeader", a, in("Bearer pgs_valid", "77"), companyID, []int64{companyID}},
		{"JWTWithinItsClaim", aj, in("Bearer eyJgood", "77"), companyID, []int64{companyID}},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := c.auth.Authenticate(c.req)
			if err != nil {
				t.Fatal(err)
			}
			if id.Conn == nil || id.Conn.CompanyID != c.company || !slices.Equal(id.Companies, c.companies) {
				t.Fatalf("connection %+v, companies %v; want company %d, companies %v", id.Conn, id.Companies, c.company, c.companies)
			}
		})
	}
	t.Run("AllowlistGetsItsOwnCacheUserKey", func(t *testing.T) {
		id, err := a.Authenticate(in("Bearer "+onlyOther, "88"))
		if err != nil {
			t.Fatal(err)
		}
		if id.Conn.ID != otherConn.ID || id.Conn.UserKey == otherConn.UserKey {
			t.Fatalf("connection %s user key %q: want company 88's connection id with a user key of its own", id.Conn.ID, id.Conn.UserKey)
		}
	})
	for _, c := range []struct {
		name string
		auth *authn.Authenticator
		req  *http.Request
		code adapter.Code
	}{
		{"ErrCompanyNotServed", a, in("Bearer "+f.readKey, "99"), adapter.CodeForbidden},
		{"ErrKeyNotAllowedInCompany", a, in("Bearer "+onlyOther, "77"), adapter.CodeForbidden},
		{"ErrJWTOutsideItsClaim", aj, in("Bearer eyJgood", "88"), adapter.CodeForbidden},
		{"ErrPersonInAnotherCompany", a, in("Bearer pgu_valid", "88"), adapter.CodeForbidden},
		{"ErrMalformedHeader", a, in("Bearer "+f.readKey, "7x"), adapter.CodeBadUserInput},
		{"ErrNegativeHeader", a, in("Bearer "+f.readKey, "-77"), adapter.CodeBadUserInput},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := c.auth.Authenticate(c.req)
			if adapter.ErrorCode(err) != c.code || id.Conn != nil {
				t.Fatalf("identity %+v, error %v; want %s and no connection", id, err, c.code)
			}
		})
	}
	if n := len(f.serviceAPI.Calls()); n != 0 {
		t.Fatalf("%d Procore calls, want none", n)
	}
}

// mustEntry is the fixture's read key's entry (minted again: the fixture
// keeps only the parsed set).
func mustEntry(t *testing.T, f *fixture) string {
	t.Helper()
	k, ok := f.keys.Lookup(f.readKey)
	if !ok {
		t.Fatal("the fixture's read key is not configured")
	}
	return k.Entry()
}

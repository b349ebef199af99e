package httpguard_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"procoregraph/httpguard"
)

func newGuard(t *testing.T, o httpguard.Options) *httpguard.Guard {
	t.Helper()
	g, err := httpguard.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestHostAllowed(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		host    string
		want    bool
	}{
		{"ExactNameIsAllowed", []string{"api.example.com"}, "api.example.com", true},
		{"ExactNameOnAnyPortIsAllowed", []string{"api.example.com"}, "api.example.com:8443", true},
		{"NameIsCaseInsensitive", []string{"API.example.com"}, "api.EXAMPLE.com", true},
		{"TrailingDotIsIgnored", []string{"api.example.com"}, "api.example.com.", true},
		{"OtherNameIsRefused", []string{"api.example.com"}, "evil.example.net", false},
		{"SuffixOfAllowedNameIsRefused", []string{"api.example.com"}, "example.com", false},
		{"NameWithAllowedSuffixIsRefused", []string{"example.com"}, "evilexample.com", false},
		{"SubdomainOfExactNameIsRefused", []string{"example.com"}, "api.example.com", false},
		{"EmptyHostIsRefused", []string{"api.example.com"}, "", false},

		{"HostWithListedPortIsAllowed", []string{"localhost:8080"}, "localhost:8080", true},
		{"HostWithOtherPortIsRefused", []string{"localhost:8080"}, "localhost:9090", false},
		{"HostWithoutListedPortIsRefused", []string{"localhost:8080"}, "localhost", false},

		{"IPv4IsAllowed", []string{"10.0.0.7"}, "10.0.0.7:8080", true},
		{"OtherIPv4IsRefused", []string{"10.0.0.7"}, "10.0.0.8", false},
		{"IPv6LoopbackWithPortIsAllowed", []string{"::1"}, "[::1]:8080", true},
		{"IPv6LoopbackWithoutPortIsAllowed", []string{"::1"}, "[::1]", true},
		{"BracketedIPv6EntryIsAllowed", []string{"[::1]"}, "[::1]:8080", true},
		{"IPv6EntryWithPortIsAllowed", []string{"[::1]:8080"}, "[::1]:8080", true},
		{"IPv6EntryWithOtherPortIsRefused", []string{"[::1]:8080"}, "[::1]:9090", false},
		{"OtherIPv6IsRefused", []string{"::1"}, "[::2]:8080", false},

		{"SubdomainOfWildcardIsAllowed", []string{"*.example.com"}, "app.example.com", true},
		{"DeepSubdomainOfWildcardIsAllowed", []string{"*.example.com"}, "a.b.example.com:443", true},
		{"WildcardIsCaseInsensitive", []string{"*.Example.COM"}, "APP.example.com", true},
		{"ApexOfWildcardIsRefused", []string{"*.example.com"}, "example.com", false},
		{"LookalikeOfWildcardIsRefused", []string{"*.example.com"}, "evilexample.com", false},
		{"WildcardAsPrefixIsRefused", []string{"*.example.com"}, "example.com.evil.net", false},
		{"WildcardWithPortIsAllowed", []string{"*.example.com:8443"}, "app.example.com:8443", true},
		{"WildcardWithOtherPortIsRefused", []string{"*.example.com:8443"}, "app.example.com:443", false},

		{"StarAllowsAnyHost", []string{"*"}, "anything.example.net:1234", true},
		{"StarAllowsEmptyHost", []string{"*"}, "", true},
		{"AnyListedEntryAllows", []string{"a.example.com", "b.example.com"}, "b.example.com", true},

		{"DefaultAllowsLocalhost", nil, "localhost:8080", true},
		{"DefaultAllows127001", nil, "127.0.0.1:8080", true},
		{"DefaultAllowsIPv6Loopback", nil, "[::1]:8080", true},
		{"DefaultRefusesOtherNames", nil, "rebind.attacker.example:8080", false},
		{"DefaultRefusesOtherAddresses", nil, "192.168.1.10:8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuard(t, httpguard.Options{AllowedHosts: tt.allowed})
			if got := g.HostAllowed(tt.host); got != tt.want {
				t.Fatalf("HostAllowed(%q) with %q = %v, want %v", tt.host, tt.allowed, got, tt.want)
			}
		})
	}
}

func TestDefaultHosts(t *testing.T) {
	loop := []string{"127.0.0.1", "::1", "localhost"}
	tests := []struct {
		name      string
		listen    string
		publicURL string
		want      []string
	}{
		{"NothingGivenIsLoopback", "", "", loop},
		{"PortOnlyListenAddsNothing", ":8080", "", loop},
		{"UnspecifiedIPv4ListenAddsNothing", "0.0.0.0:8080", "", loop},
		{"UnspecifiedIPv6ListenAddsNothing", "[::]:8080", "", loop},
		{"SpecificListenAddressIsAdded", "10.0.0.7:8080", "", []string{"10.0.0.7", "127.0.0.1", "::1", "localhost"}},
		{"ListenNameIsAdded", "gw.internal:8080", "", []string{"127.0.0.1", "::1", "gw.internal", "localhost"}},
		{"LoopbackListenIsNotDuplicated", "127.0.0.1:8080", "", loop},
		{"PublicURLHostIsAdded", "", "https://gw.example.com/graphql", []string{"127.0.0.1", "::1", "gw.example.com", "localhost"}},
		{"PublicURLPortIsDropped", "", "https://gw.example.com:8443", []string{"127.0.0.1", "::1", "gw.example.com", "localhost"}},
		{"BadPublicURLAddsNothing", "", "::not a url", loop},
		{"BothAreAdded", "10.0.0.7:80", "https://gw.example.com", []string{"10.0.0.7", "127.0.0.1", "::1", "gw.example.com", "localhost"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := httpguard.DefaultHosts(tt.listen, tt.publicURL); !slices.Equal(got, tt.want) {
				t.Fatalf("DefaultHosts(%q, %q) = %q, want %q", tt.listen, tt.publicURL, got, tt.want)
			}
		})
	}
	t.Run("DefaultHostsAreServed", func(t *testing.T) {
		g := newGuard(t, httpguard.Options{AllowedHosts: httpguard.DefaultHosts("10.0.0.7:8080", "https://gw.example.com")})
		for _, h := range []string{"10.0.0.7:8080", "gw.example.com", "localhost:8080", "[::1]:8080"} {
			if !g.HostAllowed(h) {
				t.Errorf("HostAllowed(%q) = false", h)
			}
		}
		if g.HostAllowed("10.0.0.8:8080") {
			t.Error("HostAllowed(10.0.0.8:8080) = true")
		}
	})
}

func TestNormalizeOrigin(t *testing.T) {
	ok := []struct {
		name string
		in   string
		want string
	}{
		{"OriginIsKept", "https://app.example.com", "https://app.example.com"},
		{"OriginIsLowerCased", "HTTPS://App.Example.COM", "https://app.example.com"},
		{"TrailingSlashIsDropped", "https://app.example.com/", "https://app.example.com"},
		{"PortIsKept", "http://localhost:5173", "http://localhost:5173"},
		{"IPv6OriginIsKept", "http://[::1]:3000", "http://[::1]:3000"},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			got, err := httpguard.NormalizeOrigin(tt.in)
			if err != nil {
				t.Fatalf("NormalizeOrigin(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("NormalizeOrigin(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	bad := []struct {
		name string
		in   string
	}{
		{"StarIsRefused", "*"},
		{"EmptyIsRefused", ""},
		{"NullIsRefused", "null"},
		{"BareHostIsRefused", "app.example.com"},
		{"OtherSchemeIsRefused", "ftp://app.example.com"},
		{"PathIsRefused", "https://app.example.com/app"},
		{"QueryIsRefused", "https://app.example.com?x=1"},
		{"UserInfoIsRefused", "https://user@app.example.com"},
		{"MissingHostIsRefused", "https://"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := httpguard.NormalizeOrigin(tt.in); err == nil {
				t.Fatalf("NormalizeOrigin(%q) = %q, want an error", tt.in, got)
			}
		})
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    httpguard.Options
	}{
		{"EmptyHostIsRefused", httpguard.Options{AllowedHosts: []string{""}}},
		{"HostWithSlashIsRefused", httpguard.Options{AllowedHosts: []string{"https://api.example.com/"}}},
		{"HostWithSpaceIsRefused", httpguard.Options{AllowedHosts: []string{"a.example.com b.example.com"}}},
		{"StarOriginIsRefused", httpguard.Options{CORSOrigins: []string{"*"}}},
		{"OriginWithPathIsRefused", httpguard.Options{CORSOrigins: []string{"https://app.example.com/x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := httpguard.New(tt.o); err == nil {
				t.Fatal("New accepted the options")
			}
		})
	}
}

func TestOriginHosts(t *testing.T) {
	g := newGuard(t, httpguard.Options{CORSOrigins: []string{"https://b.example.com", "HTTP://A.example.com:3000/", "https://b.example.com/"}})
	if got, want := g.OriginHosts(), []string{"a.example.com:3000", "b.example.com"}; !slices.Equal(got, want) {
		t.Fatalf("OriginHosts() = %q, want %q", got, want)
	}
	if got := newGuard(t, httpguard.Options{}).OriginHosts(); len(got) != 0 {
		t.Fatalf("OriginHosts() without CORS = %q", got)
	}
}

// okHandler answers 200 "ok" and counts its calls.
type okHandler struct{ calls int }

func (h *okHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.calls++
	_, _ = w.Write([]byte("ok"))
}

func accessControlHeaders(h http.Header) []string {
	var out []string
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			out = append(out, k)
		}
	}
	return out
}

func preflight(host, origin string) *http.Request {
	r := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
	r.Host = host
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", http.MethodPost)
	r.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	return r
}

func TestHandlerCORS(t *testing.T) {
	const listed = "https://app.example.com"
	g := newGuard(t, httpguard.Options{AllowedHosts: []string{"gw.example.com"}, CORSOrigins: []string{"https://App.example.com/"}})

	t.Run("PreflightFromListedOriginIsAllowedWithCredentials", func(t *testing.T) {
		next := &okHandler{}
		rec := httptest.NewRecorder()
		g.Handler(next).ServeHTTP(rec, preflight("gw.example.com", listed))
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != listed {
			t.Fatalf("Access-Control-Allow-Origin = %q, want %q", got, listed)
		}
		if got := rec.Header().Get("Access-Control-Allow-Credentials"); got != "true" {
			t.Fatalf("Access-Control-Allow-Credentials = %q, want true", got)
		}
		if rec.Code >= 300 {
			t.Fatalf("preflight status %d", rec.Code)
		}
	})
	t.Run("PreflightFromUnlistedOriginGetsNoCORSHeaders", func(t *testing.T) {
		rec := httptest.NewRecorder()
		g.Handler(&okHandler{}).ServeHTTP(rec, preflight("gw.example.com", "https://evil.example.net"))
		if h := accessControlHeaders(rec.Header()); len(h) > 0 {
			t.Fatalf("unlisted origin got CORS headers %q", h)
		}
	})
	t.Run("RequestFromListedOriginIsAllowedWithCredentials", func(t *testing.T) {
		next := &okHandler{}
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{}`))
		r.Host = "gw.example.com"
		r.Header.Set("Origin", listed)
		rec := httptest.NewRecorder()
		g.Handler(next).ServeHTTP(rec, r)
		if next.calls != 1 || rec.Code != http.StatusOK {
			t.Fatalf("status %d, handler calls %d", rec.Code, next.calls)
		}
		if rec.Header().Get("Access-Control-Allow-Origin") != listed || rec.Header().Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("CORS headers %v", rec.Header())
		}
	})
	t.Run("RequestFromUnlistedOriginGetsNoCORSHeaders", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{}`))
		r.Host = "gw.example.com"
		r.Header.Set("Origin", "https://evil.example.net")
		rec := httptest.NewRecorder()
		g.Handler(&okHandler{}).ServeHTTP(rec, r)
		if h := accessControlHeaders(rec.Header()); len(h) > 0 {
			t.Fatalf("unlisted origin got CORS headers %q", h)
		}
	})
	t.Run("NoOriginsListedMeansNoCORSHeaders", func(t *testing.T) {
		off := newGuard(t, httpguard.Options{AllowedHosts: []string{"gw.example.com"}})
		rec := httptest.NewRecorder()
		off.Handler(&okHandler{}).ServeHTTP(rec, preflight("gw.example.com", listed))
		if h := accessControlHeaders(rec.Header()); len(h) > 0 {
			t.Fatalf("CORS off, yet got CORS headers %q", h)
		}
	})
	t.Run("PreflightToDisallowedHostIsMisdirected", func(t *testing.T) {
		rec := httptest.NewRecorder()
		g.Handler(&okHandler{}).ServeHTTP(rec, preflight("rebind.attacker.example", listed))
		if rec.Code != http.StatusMisdirectedRequest {
			t.Fatalf("status %d, want 421", rec.Code)
		}
		if h := accessControlHeaders(rec.Header()); len(h) > 0 {
			t.Fatalf("refused host got CORS headers %q", h)
		}
	})
}

func TestHandlerHostCheck(t *testing.T) {
	tests := []struct {
		name       string
		o          httpguard.Options
		host, path string
		wantStatus int
	}{
		{"AllowedHostIsServed", httpguard.Options{AllowedHosts: []string{"gw.example.com"}}, "gw.example.com", "/graphql", http.StatusOK},
		{"DisallowedHostIsMisdirected", httpguard.Options{AllowedHosts: []string{"gw.example.com"}}, "rebind.attacker.example", "/graphql", http.StatusMisdirectedRequest},
		{"DefaultHostsServeLocalhost", httpguard.Options{}, "localhost:8080", "/graphql", http.StatusOK},
		{"DefaultHostsRefuseOthers", httpguard.Options{}, "rebind.attacker.example:8080", "/graphql", http.StatusMisdirectedRequest},
		{"HealthzIsExemptByDefault", httpguard.Options{AllowedHosts: []string{"gw.example.com"}}, "10.1.2.3:8080", "/healthz", http.StatusOK},
		{"ReadyzIsExemptByDefault", httpguard.Options{AllowedHosts: []string{"gw.example.com"}}, "10.1.2.3:8080", "/readyz", http.StatusOK},
		{"ExemptionIsExactPath", httpguard.Options{AllowedHosts: []string{"gw.example.com"}}, "10.1.2.3:8080", "/healthz/x", http.StatusMisdirectedRequest},
		{"ConfiguredExemptPathIsServed", httpguard.Options{AllowedHosts: []string{"gw.example.com"}, Exempt: []string{"/livez"}}, "10.1.2.3", "/livez", http.StatusOK},
		{"ConfiguredExemptReplacesDefault", httpguard.Options{AllowedHosts: []string{"gw.example.com"}, Exempt: []string{"/livez"}}, "10.1.2.3", "/healthz", http.StatusMisdirectedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &okHandler{}
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			r.Host = tt.host
			rec := httptest.NewRecorder()
			newGuard(t, tt.o).Handler(next).ServeHTTP(rec, r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusOK {
				if next.calls != 1 {
					t.Fatalf("handler called %d times", next.calls)
				}
				return
			}
			if next.calls != 0 {
				t.Fatal("the handler ran for a refused host")
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q", ct)
			}
			var body struct {
				Errors []struct {
					Message    string
					Extensions struct{ Code string }
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "FORBIDDEN" || !strings.Contains(body.Errors[0].Message, "ALLOWED_HOSTS") {
				t.Fatalf("body %s", rec.Body)
			}
		})
	}
}

func TestSameSiteRequest(t *testing.T) {
	g := newGuard(t, httpguard.Options{AllowedHosts: []string{"*"}, CORSOrigins: []string{"https://app.example.com"}})
	tests := []struct {
		name     string
		host     string
		origin   string // "" sends none
		fetchSit string // "" sends none
		want     bool
	}{
		{"NoOriginNoFetchMetadataIsAllowed", "gw.example.com", "", "", true},
		{"NoOriginSameOriginFetchIsAllowed", "gw.example.com", "", "same-origin", true},
		{"NoOriginUserInitiatedFetchIsAllowed", "gw.example.com", "", "none", true},
		{"NoOriginCrossSiteFetchIsRefused", "gw.example.com", "", "cross-site", false},
		{"NoOriginSameSiteFetchIsRefused", "gw.example.com", "", "same-site", false},
		{"NullOriginIsRefused", "gw.example.com", "null", "", false},
		{"NullOriginCrossSiteIsRefused", "gw.example.com", "null", "cross-site", false},
		{"OwnOriginIsAllowed", "gw.example.com", "https://gw.example.com", "same-origin", true},
		{"OwnOriginWithPortIsAllowed", "localhost:8080", "http://localhost:8080", "", true},
		{"OwnOriginIsCaseInsensitive", "GW.example.com", "https://gw.EXAMPLE.com", "", true},
		{"OwnHostOnOtherPortIsRefused", "localhost:8080", "http://localhost:5173", "", false},
		{"ListedOriginIsAllowed", "gw.example.com", "https://app.example.com", "cross-site", true},
		{"ListedOriginInOtherCaseIsAllowed", "gw.example.com", "https://APP.example.com", "same-site", true},
		{"UnlistedOriginIsRefused", "gw.example.com", "https://evil.example.net", "cross-site", false},
		{"UnlistedOriginClaimingSameOriginIsRefused", "gw.example.com", "https://evil.example.net", "same-origin", false},
		{"SiblingSubdomainIsRefused", "gw.example.com", "https://other.example.com", "same-site", false},
		{"MalformedOriginIsRefused", "gw.example.com", "https://gw.example.com/path", "", false},
		{"NonHTTPOriginIsRefused", "gw.example.com", "chrome-extension://abcdef", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			r.Host = tt.host
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.fetchSit != "" {
				r.Header.Set("Sec-Fetch-Site", tt.fetchSit)
			}
			if got := g.SameSiteRequest(r); got != tt.want {
				t.Fatalf("SameSiteRequest(Host %q, Origin %q, Sec-Fetch-Site %q) = %v, want %v", tt.host, tt.origin, tt.fetchSit, got, tt.want)
			}
		})
	}
	t.Run("WithoutCORSOnlyOwnOriginIsAllowed", func(t *testing.T) {
		g := newGuard(t, httpguard.Options{})
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		r.Host = "localhost:8080"
		r.Header.Set("Origin", "https://app.example.com")
		if g.SameSiteRequest(r) {
			t.Fatal("a cross-origin request was allowed without CORS origins")
		}
		r.Header.Set("Origin", "http://localhost:8080")
		if !g.SameSiteRequest(r) {
			t.Fatal("a same-origin request was refused")
		}
	})
}

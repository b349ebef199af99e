// Package httpguard keeps browsers from being turned against the gateway:
// a Host allowlist (DNS rebinding: a web page whose own domain resolves to
// the gateway's address must not reach it), CORS for the frontends that may
// call it from another origin (rs/cors; off unless origins are listed), and
// the origin rules that make cookie sessions safe from cross-site request
// forgery.
package httpguard

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rs/cors"
)

// Options configure a Guard.
type Options struct {
	// AllowedHosts are the Host header values the gateway answers: a host
	// name or address ("api.example.com", "10.0.0.7"), optionally with a port
	// ("localhost:8080", then only that port), or "*.example.com" for its
	// subdomains, or "*" for any host (turns the check off). Other hosts get
	// 421 Misdirected Request. Empty: DefaultHosts.
	AllowedHosts []string
	// CORSOrigins are the browser origins (scheme://host[:port]) allowed to
	// call the gateway cross-origin, credentials included. Empty: CORS off
	// (no CORS headers at all; same-origin pages and non-browser clients are
	// unaffected).
	CORSOrigins []string
	// Exempt are paths served whatever the Host (health probes, which
	// orchestrators send with the pod's address). Default /healthz, /readyz.
	Exempt []string
}

// DefaultHosts are the hosts allowed when none are configured: loopback
// names, plus the listen host when it is a specific address and the host of
// publicURL when given.
func DefaultHosts(listen, publicURL string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" {
		if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
			hosts = append(hosts, h)
		}
	}
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}

// Guard applies the options.
type Guard struct {
	o       Options
	cors    *cors.Cors
	origins map[string]bool
}

// New validates o and returns a Guard.
func New(o Options) (*Guard, error) {
	var errs []error
	for _, h := range o.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			errs = append(errs, fmt.Errorf("ALLOWED_HOSTS %q: want a host name, host:port, *.domain or *", h))
		}
	}
	g := &Guard{o: o, origins: map[string]bool{}}
	for _, origin := range o.CORSOrigins {
		n, err := NormalizeOrigin(origin)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g.origins[n] = true
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(o.Exempt) == 0 {
		g.o.Exempt = []string{"/healthz", "/readyz"}
	}
	if len(g.origins) > 0 {
		list := make([]string, 0, len(g.origins))
		for k := range g.origins {
			list = append(list, k)
		}
		slices.Sort(list)
		g.cors = cors.New(cors.Options{
			AllowedOrigins:   list,
			AllowCredentials: true,
			AllowedMethods:   []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"Authorization", "Content-Type", "Accept", "Cache-Control", "Apollo-Require-Preflight",
				"GraphQL-Require-Preflight", "X-Apollo-Operation-Name", "Idempotency-Key", "X-Procoregraph-Debug",
				"X-Request-Id", "Traceparent", "Tracestate", "Procore-Company-Id"},
			ExposedHeaders: []string{"X-Request-Id", "Retry-After"},
			MaxAge:         600,
		})
	}
	return g, nil
}

// NormalizeOrigin checks an origin (scheme://host[:port], nothing else) and
// returns it lower-cased without a trailing slash.
func NormalizeOrigin(origin string) (string, error) {
	if origin == "*" {
		return "", errors.New("CORS_ORIGINS: \"*\" is not allowed: list the frontends' origins, e.g. https://app.example.com (credentials are sent only to listed origins)")
	}
	u, err := url.Parse(strings.TrimSuffix(origin, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("CORS_ORIGINS %q: want an origin such as https://app.example.com (scheme, host and optional port only)", origin)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// OriginHosts are the host[:port] of the CORS origins, the form websocket
// origin checks (coder/websocket OriginPatterns) take.
func (g *Guard) OriginHosts() []string {
	var out []string
	for o := range g.origins {
		if u, err := url.Parse(o); err == nil {
			out = append(out, u.Host)
		}
	}
	slices.Sort(out)
	return out
}

// Handler wraps next with the Host check and CORS.
func (g *Guard) Handler(next http.Handler) http.Handler {
	h := next
	if g.cors != nil {
		h = g.cors.Handler(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(g.o.Exempt, r.URL.Path) && !g.HostAllowed(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, "FORBIDDEN",
				"this gateway does not serve the host "+quoteHost(r.Host)+": add it to ALLOWED_HOSTS if it is yours")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func quoteHost(h string) string {
	if len(h) > 100 {
		h = h[:100]
	}
	b, _ := json.Marshal(h)
	return string(b)
}

// HostAllowed reports whether a Host header value is served.
func (g *Guard) HostAllowed(hostport string) bool {
	hosts := g.o.AllowedHosts
	if len(hosts) == 0 {
		hosts = DefaultHosts("", "")
	}
	host, port := hostport, ""
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	for _, a := range hosts {
		a = strings.ToLower(a)
		if a == "*" {
			return true
		}
		ah, ap := a, ""
		if h, p, err := net.SplitHostPort(a); err == nil {
			ah, ap = h, p
		}
		ah = strings.Trim(ah, "[]")
		if ap != "" && ap != port {
			continue
		}
		if ah == host || strings.HasPrefix(ah, "*.") && strings.HasSuffix(host, ah[1:]) {
			return true
		}
	}
	return false
}

// SameSiteRequest reports whether a state-changing request authenticated by
// a cookie may proceed: its Origin (or, without one, its Sec-Fetch-Site) must
// be the gateway's own or a listed CORS origin. Browsers always send Origin
// on cross-origin POSTs, so a forged cross-site request is refused even
// before its body is read.
func (g *Guard) SameSiteRequest(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "same-origin", "none":
			return origin == ""
		}
		return false
	}
	n, err := NormalizeOrigin(origin)
	if err != nil {
		return false
	}
	if g.origins[n] {
		return true
	}
	u, _ := url.Parse(n)
	return strings.EqualFold(u.Host, r.Host)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}}})
}

// PreflightHeaders are headers a browser sends only after a CORS preflight
// (none is CORS-safelisted), so a request carrying one cannot come from a
// plain cross-site form.
var PreflightHeaders = []string{"Apollo-Require-Preflight", "GraphQL-Require-Preflight", "X-Apollo-Operation-Name",
	"Idempotency-Key", "Authorization", "X-Procoregraph-Debug"}

// HasPreflightHeader reports whether r carries one of PreflightHeaders.
func HasPreflightHeader(r *http.Request) bool {
	for _, h := range PreflightHeaders {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}

// CookieRequestAllowed reports whether a request authenticated by a session
// cookie cannot be a cross-site forgery: reads (GET, HEAD, OPTIONS) always;
// a state-changing method only from an allowed origin (SameSiteRequest) and
// with a JSON body or a preflight header, neither of which a plain HTML
// form can send.
func (g *Guard) CookieRequestAllowed(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	if !g.SameSiteRequest(r) {
		return false
	}
	if HasPreflightHeader(r) {
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && (mt == "application/json" || mt == "application/graphql-response+json")
}

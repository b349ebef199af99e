package rest

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config configures a Client: one Procore connection (one credential, one
// company). Zero values mean the documented defaults.
type Config struct {
	// APIURL is Procore's API host, e.g. https://api.procore.com (or the
	// sandbox's base URL). Required.
	APIURL string
	// LoginURL is Procore's OAuth host, e.g. https://login.procore.com, where
	// the token endpoint is. Default: LoginURLFor(APIURL): Procore's login
	// host of a Procore API host, else APIURL itself (the sandbox serves both
	// on one listener).
	LoginURL string

	// ClientID and ClientSecret identify the OAuth application. Required unless
	// Credentials is set.
	ClientID     string
	ClientSecret string
	// RefreshToken selects the refresh-token grant instead of client
	// credentials. It seeds the TokenStore when the store is empty; afterwards
	// the store's (rotated) refresh token wins. Empty means client credentials.
	RefreshToken string

	// CompanyID is the Procore company of this connection, sent as
	// Procore-Company-Id. 0 means discover it: when GET /rest/v1.0/companies
	// returns exactly one company, that one is used; otherwise calls that need
	// a company fail with BAD_USER_INPUT asking for it.
	CompanyID int64

	// Credentials, when set, replaces OAuth entirely (e.g. a browser session
	// from adapter/portal). ClientID, ClientSecret, RefreshToken and
	// TokenStore are then unused.
	Credentials Credentials

	// HTTPClient supplies the base transport the resilience stack wraps; only
	// its Transport is used (timeouts come from the request context).
	// Default: a clone of http.DefaultTransport with a 2-minute response
	// header timeout.
	HTTPClient *http.Client

	// CallTimeout bounds one Procore API call as a whole: from the first
	// attempt to the last byte of the answer's body, retries, rate-limit
	// waits, a token refresh and the body read included. A call that outlives
	// it ends with UPSTREAM_UNAVAILABLE ("Procore did not answer in time"),
	// so a response whose body stops arriving cannot hold a caller, a
	// background cache refresh or the poller forever. A sooner deadline of
	// the caller's context wins. Default: 2 minutes.
	CallTimeout time.Duration

	// MaxConcurrency bounds the upstream calls in flight on this connection.
	// Default: 8.
	MaxConcurrency int

	// Retry configures retries of refused and failed calls.
	Retry RetryConfig
	// RateLimit configures the client-side rate-limit budget.
	RateLimit RateLimitConfig
	// SharedBudget, when set, keeps the rate-limit budget where every
	// replica sharing this connection's Procore token sees it (e.g.
	// NewRedisBudget with a key naming the connection), so that together
	// they stay within the one window Procore counts. When it fails, a call
	// uses this Client's own budget (logged at most once a minute); the call
	// never fails because of it. Ignored when RateLimit.Disabled.
	// Default: none (the budget is this Client's alone).
	SharedBudget BudgetStore

	// Logger receives debug logs of upstream calls and warnings. It never
	// receives tokens, secrets or cookies. Default: slog.Default().
	Logger *slog.Logger

	// OnUpstreamCall, when set, is called after every HTTP call the client
	// makes (every attempt, token calls and upload PUTs included) with the
	// method, a route template whose ids are replaced by {id} (no query
	// string), the status (0 for a transport error) and the duration. It must
	// be safe for concurrent use and fast. Default: none.
	OnUpstreamCall func(method, route string, status int, d time.Duration)

	// OnRateLimit, when set, is called with X-Rate-Limit-Remaining of every
	// response that carries it (the calls left in Procore's closer window).
	// It must be safe for concurrent use and fast. Default: none.
	OnRateLimit func(remaining int)

	// TokenStore persists OAuth tokens (the rotated refresh-token pair).
	// Default: an in-memory store private to this Client.
	TokenStore TokenStore

	// Clock is the time source. Default: the wall clock.
	Clock Clock

	// Drift, when set, inspects a sample of the 2xx responses of reads for
	// schema drift (unknown fields, unknown enum values, missing fields,
	// changed JSON types) and counts, logs and lists what it finds; decoding
	// is unchanged. Share one Drift among the process's Clients (NewDrift).
	// Default: none (nothing is inspected).
	Drift *Drift
}

// RetryConfig configures the retry transport. Zero values mean the defaults.
type RetryConfig struct {
	// MaxAttempts is the most attempts per call, the first included.
	// Default: 8 (a call then fails under a 20% error rate about once in
	// 400,000; backoff keeps the total wait near 7 s). 1 disables retries.
	MaxAttempts int
	// BaseDelay is the first exponential backoff interval for 5xx and
	// connection errors. Default: 200ms.
	BaseDelay time.Duration
	// MaxDelay caps one backoff interval. Default: 5s.
	MaxDelay time.Duration
	// MaxWait is the longest server-requested wait (Retry-After,
	// X-Rate-Limit-Reset) the client sits out; a longer one ends the call with
	// RATE_LIMITED carrying RetryAfter. Default: 30s.
	MaxWait time.Duration
	// Jitter is the upper bound of the random delay added to server-requested
	// waits, so that clients do not all return at the reset instant.
	// Default: 250ms; negative disables.
	Jitter time.Duration
}

// RateLimitConfig configures the client-side budget that reads
// X-Rate-Limit-Limit/Remaining/Reset from every response.
type RateLimitConfig struct {
	// Disabled turns the budget off (calls go out as fast as concurrency
	// allows; 429s are still retried).
	Disabled bool
	// LowWater is the fraction of the window's limit below which the remaining
	// calls are spread evenly until the window resets. Default: 0.2.
	LowWater float64
}

func (c RetryConfig) withDefaults() RetryConfig {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.BaseDelay <= 0 {
		c.BaseDelay = 200 * time.Millisecond
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = 5 * time.Second
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 30 * time.Second
	}
	if c.Jitter == 0 {
		c.Jitter = 250 * time.Millisecond
	}
	if c.Jitter < 0 {
		c.Jitter = 0
	}
	return c
}

func (c RateLimitConfig) withDefaults() RateLimitConfig {
	if c.LowWater <= 0 || c.LowWater >= 1 {
		c.LowWater = 0.2
	}
	return c
}

// normalized returns a copy of cfg with defaults applied, or an error naming
// what is missing or malformed.
func (cfg Config) normalized() (Config, *url.URL, *url.URL, error) {
	var errs []error
	api, err := parseBaseURL("APIURL", cfg.APIURL)
	if err != nil {
		errs = append(errs, err)
	}
	if cfg.LoginURL == "" {
		cfg.LoginURL = LoginURLFor(cfg.APIURL)
	}
	login, err := parseBaseURL("LoginURL", cfg.LoginURL)
	if err != nil {
		errs = append(errs, err)
	}
	if cfg.Credentials == nil {
		if cfg.ClientID == "" {
			errs = append(errs, errors.New("ClientID is required (or set Credentials)"))
		}
		if cfg.ClientSecret == "" {
			errs = append(errs, errors.New("ClientSecret is required (or set Credentials)"))
		}
	}
	if cfg.CompanyID < 0 {
		errs = append(errs, fmt.Errorf("CompanyID %d: must be positive or 0 to discover", cfg.CompanyID))
	}
	if len(errs) > 0 {
		return cfg, nil, nil, fmt.Errorf("rest: invalid config: %w", errors.Join(errs...))
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = 8
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	cfg.Retry = cfg.Retry.withDefaults()
	cfg.RateLimit = cfg.RateLimit.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = WallClock{}
	}
	if cfg.TokenStore == nil {
		cfg.TokenStore = NewMemoryTokenStore(nil)
	}
	return cfg, api, login, nil
}

// procoreLoginHosts maps Procore's API hosts to their OAuth (login) hosts
// (procore-api.md §1: production, developer sandbox, monthly sandbox,
// federal zone).
var procoreLoginHosts = map[string]string{
	"api.procore.com":         "login.procore.com",
	"sandbox.procore.com":     "login-sandbox.procore.com",
	"api-monthly.procore.com": "login-sandbox-monthly.procore.com",
	"api.procoregov.com":      "login.procoregov.com",
}

// LoginURLFor returns the OAuth base URL that goes with a Procore API base
// URL: https://login.procore.com for https://api.procore.com,
// https://login-sandbox.procore.com for https://sandbox.procore.com,
// https://login-sandbox-monthly.procore.com for
// https://api-monthly.procore.com and https://login.procoregov.com for
// https://api.procoregov.com. Any other URL (a local sandbox, a proxy) is
// returned as is: it serves both.
func LoginURLFor(apiURL string) string {
	u, err := url.Parse(apiURL)
	if err != nil || u.Host == "" {
		return apiURL
	}
	login, ok := procoreLoginHosts[strings.ToLower(u.Hostname())]
	if !ok {
		return apiURL
	}
	if p := u.Port(); p != "" {
		login += ":" + p
	}
	return (&url.URL{Scheme: u.Scheme, Host: login}).String()
}

// IsProcoreHost reports whether a base URL is on one of Procore's own
// domains (procore.com, procoregov.com), not a sandbox or a proxy.
func IsProcoreHost(baseURL string) bool {
	u, err := url.Parse(baseURL)
	if err != nil {
		return false
	}
	h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	for _, d := range []string{"procore.com", "procoregov.com"} {
		if h == d || strings.HasSuffix(h, "."+d) {
			return true
		}
	}
	return false
}

func parseBaseURL(name, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s is required", name)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", name, raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%s %q: want an absolute http(s) URL", name, raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// DefaultCallTimeout is Config.CallTimeout's default.
const DefaultCallTimeout = 2 * time.Minute

func defaultBaseTransport() http.RoundTripper { return NewBaseTransport(16) }

// NewBaseTransport returns the HTTP transport for Procore calls: a clone of
// http.DefaultTransport (HTTP/2 when the server offers it, proxy from the
// environment) with a 2-minute response-header timeout that keeps up to
// maxConcurrency idle connections per host, so a connection allowed that
// many calls in flight reuses its connections (and TLS sessions) instead of
// dialing most of them again for every fan-out; http.DefaultTransport keeps
// only 2.
func NewBaseTransport(maxConcurrency int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 2 * time.Minute
	t.MaxIdleConnsPerHost = max(maxConcurrency, 16)
	t.MaxIdleConns = max(t.MaxIdleConns, 2*t.MaxIdleConnsPerHost)
	return t
}

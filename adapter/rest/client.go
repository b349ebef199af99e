// Package rest is the Procore REST v1.x client behind adapter.Procore.
//
// One Client is one connection: one credential (OAuth client credentials, an
// OAuth refresh token rotated through a TokenStore, or any Credentials such as
// a browser session) and one company. Calls go through a stack of
// http.RoundTrippers, outermost first:
//
//	trace        numbers the attempts of a traced request's call
//	retry        429/503 for every method (wait for Retry-After or
//	             X-Rate-Limit-Reset, with jitter); 5xx and connection
//	             errors for idempotent methods; bounded attempts; ctx-aware
//	auth         Credentials.Apply; on 401 Invalidate and one more try
//	company      Procore-Company-Id (discovering the company when needed)
//	concurrency  at most MaxConcurrency calls in flight
//	rate limit   learns X-Rate-Limit-* and slows down before Procore says 429
//	             (over Config.SharedBudget when replicas share the token)
//	observe      OnUpstreamCall, OnRateLimit, debug logs and a
//	             "procore.call" span, one per call on the wire
//	base         Config.HTTPClient's transport
//
// Token requests and presigned upload PUTs use a separate short stack
// (observe + base; uploads add retry) because they must not carry Procore's
// bearer token or company header.
package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"golang.org/x/sync/singleflight"

	"procoregraph/adapter"
)

// maxBody bounds a response body read into memory.
const maxBody = 64 << 20

// Client talks to Procore for one connection. It implements adapter.Procore
// and is safe for concurrent use.
type Client struct {
	cfg    Config
	api    *url.URL
	login  *url.URL
	http   *http.Client // the full stack, for Procore API calls
	upload *http.Client // presigned upload PUTs: no Procore auth, no company
	creds  Credentials
	base   http.RoundTripper
	rate   gate // nil when RateLimit.Disabled
	// shared is the stack below the company header (concurrency, rate
	// limit, observe, base): the part ForCompany's clients share.
	shared http.RoundTripper
	// bodies are the read buffers of answers without a Content-Length and
	// of list pages, shared with ForCompany's clients (see readBody and
	// doBorrowed).
	bodies *sync.Pool
	logger *slog.Logger
	clock  Clock

	companyFlight singleflight.Group
	companyMu     sync.Mutex
	companyID     int64
}

var _ adapter.Procore = (*Client)(nil)

// New validates cfg and returns a Client. It makes no calls: tokens are
// fetched and the company discovered on first use.
func New(cfg Config) (*Client, error) {
	cfg, api, login, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	base := defaultBaseTransport()
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		base = cfg.HTTPClient.Transport
	}
	c := &Client{cfg: cfg, api: api, login: login, logger: cfg.Logger, clock: cfg.Clock, companyID: cfg.CompanyID, base: base,
		bodies: &sync.Pool{New: func() any { return new(bytes.Buffer) }}}

	observed := &observeTransport{clock: cfg.Clock, logger: cfg.Logger, on: cfg.OnUpstreamCall, onRate: cfg.OnRateLimit, next: base}
	c.creds = cfg.Credentials
	if c.creds == nil {
		tokenURL := login.JoinPath("/oauth/token").String()
		c.creds = newOAuthCredentials(oauthOptions{
			TokenURL: tokenURL, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
			RefreshToken: cfg.RefreshToken, Store: cfg.TokenStore,
			HTTPClient: &http.Client{Transport: observed}, Clock: cfg.Clock, Logger: cfg.Logger,
		})
	}

	var rt http.RoundTripper = observed
	if !cfg.RateLimit.Disabled {
		local := newBudget(cfg.Clock, cfg.RateLimit.LowWater, cfg.Retry.MaxWait)
		c.rate = local
		if cfg.SharedBudget != nil {
			c.rate = newSharedGate(cfg.SharedBudget, local, cfg.Logger)
		}
		rt = &rateLimitTransport{budget: c.rate, next: rt}
	}
	c.shared = newConcurrencyTransport(cfg.MaxConcurrency, rt)
	c.buildStack()

	c.upload = &http.Client{
		Transport:     &retryTransport{cfg: cfg.Retry, clock: cfg.Clock, logger: cfg.Logger, next: observed},
		CheckRedirect: noRedirects,
	}
	return c, nil
}

// buildStack sets c.http: retry, auth and company over c.shared.
func (c *Client) buildStack() {
	var rt http.RoundTripper = &companyTransport{known: c.knownCompany, resolve: c.CompanyID, next: c.shared}
	rt = &authTransport{creds: c.creds, next: rt}
	rt = &retryTransport{cfg: c.cfg.Retry, clock: c.cfg.Clock, logger: c.cfg.Logger, next: rt}
	rt = &traceTransport{next: rt}
	c.http = &http.Client{Transport: rt, CheckRedirect: noRedirects}
}

// ForCompany returns a Client of the same credential for company id (a
// positive Procore company id): only Procore-Company-Id differs. It shares
// this Client's credentials (one OAuth token and one refresh: a
// client-credentials token belongs to the app and is valid in every company
// that installed it), its rate-limit budget and concurrency bound (Procore
// counts calls per token, so together the companies stay within one
// window), its base transport and its drift detector. It makes no calls.
func (c *Client) ForCompany(id int64) (*Client, error) {
	if id <= 0 {
		return nil, fmt.Errorf("rest: company %d: want a positive Procore company id", id)
	}
	cfg := c.cfg
	cfg.CompanyID = id
	n := &Client{cfg: cfg, api: c.api, login: c.login, upload: c.upload, creds: c.creds, base: c.base,
		rate: c.rate, shared: c.shared, bodies: c.bodies, logger: c.logger, clock: c.clock, companyID: id}
	n.buildStack()
	return n, nil
}

// CloseIdleConnections closes the base transport's idle connections (for
// shutdown and tests). The Client stays usable.
func (c *Client) CloseIdleConnections() {
	if t, ok := c.base.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

// Warm obtains the connection's credential (an OAuth access token: one call
// to the login host, which Procore does not count against the API's rate
// limit) so that the first query does not wait for it. It makes no API call.
// A failure is returned and changes nothing: the first call retries.
func (c *Client) Warm(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.api.String(), nil)
	if err != nil {
		return err
	}
	return c.creds.Apply(ctx, req)
}

// RateLimit returns the connection's rate-limit window as last learned from
// Procore's X-Rate-Limit-* headers, for dashboards: from the shared budget
// when Config.SharedBudget is set (this Client's own view when the shared one
// fails), else this Client's. ok is false before the first response, or when
// RateLimit.Disabled.
func (c *Client) RateLimit(ctx context.Context) (RateLimitStatus, bool) {
	if c.rate == nil {
		return RateLimitStatus{}, false
	}
	return c.rate.status(ctx)
}

// noRedirects hands redirects back to the caller: Procore's API does not
// redirect, and a redirect to the web login means the session is gone.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// CompanyID returns the connection's company: Config.CompanyID, or the only
// company GET /rest/v1.0/companies returns. Discovery runs once (concurrent
// callers share it) and is retried on the next call after a failure. More or
// fewer than one company is BAD_USER_INPUT / FORBIDDEN asking for CompanyID.
func (c *Client) CompanyID(ctx context.Context) (int64, error) {
	if id, ok := c.knownCompany(); ok {
		return id, nil
	}
	ch := c.companyFlight.DoChan("company", func() (any, error) {
		if id, ok := c.knownCompany(); ok {
			return id, nil
		}
		companies, err := c.Companies(context.WithoutCancel(ctx))
		if err != nil {
			var ae *adapter.Error
			if asAdapterError(err, &ae) && ae.Status == http.StatusBadRequest {
				// Client-credentials (DMSA) tokens need the company header even
				// here, so their company cannot be discovered.
				return int64(0), &adapter.Error{Code: adapter.CodeBadUserInput, Status: ae.Status, Err: err,
					Message: "cannot discover the Procore company (Procore wants Procore-Company-Id even to list companies): configure the company id"}
			}
			return int64(0), err
		}
		switch len(companies) {
		case 1:
			c.companyMu.Lock()
			c.companyID = companies[0].ID
			c.companyMu.Unlock()
			return companies[0].ID, nil
		case 0:
			return int64(0), adapter.Errorf(adapter.CodeForbidden, "the Procore credential sees no company")
		default:
			return int64(0), adapter.Errorf(adapter.CodeBadUserInput,
				"the Procore credential sees %d companies: configure the company id", len(companies))
		}
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return 0, r.Err
		}
		return r.Val.(int64), nil
	case <-ctx.Done():
		return 0, &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "cancelled while discovering the Procore company",
			Err: context.Cause(ctx)}
	}
}

func (c *Client) knownCompany() (int64, bool) {
	c.companyMu.Lock()
	defer c.companyMu.Unlock()
	return c.companyID, c.companyID != 0
}

// call describes one Procore API call.
type call struct {
	what    string // for error messages: "list RFIs"
	method  string
	path    string // below APIURL, e.g. /rest/v1.0/me
	query   url.Values
	body    any    // JSON-encoded when non-nil
	company int64  // explicit Procore-Company-Id; 0 lets the stack decide
	rawURL  string // absolute URL (a Link rel="next"); overrides path and query
}

// response is a successful (2xx) response, fully read.
type response struct {
	status int
	header http.Header
	body   []byte
	// buf is the pooled read buffer body lies in, for a response of
	// doBorrowed; nil when body is the response's own.
	buf *bytes.Buffer
}

// do sends the call and returns the 2xx response, or an *adapter.Error.
// Config.CallTimeout bounds it, body read included.
func (c *Client) do(ctx context.Context, k call) (*response, error) {
	return c.send(ctx, k, false)
}

// doBorrowed is do whose 2xx body is read into a buffer borrowed from the
// Client's pool instead of a new slice: the list walk decodes each page and
// then drops it, so the dashboard's 91 cold calls need not allocate (and the
// collector sweep) a fresh copy of every page, about 2 MB. The caller must
// call release when done and must not keep body, or any slice of it,
// afterwards; everything decoded from it is a copy.
func (c *Client) doBorrowed(ctx context.Context, k call) (*response, error) {
	return c.send(ctx, k, true)
}

// release gives a borrowed body's buffer back to the pool. resp.body is
// invalid afterwards. A response of do has nothing to give back.
func (c *Client) release(resp *response) {
	if resp.buf == nil {
		return
	}
	if resp.buf.Cap() <= maxPooledBody {
		c.bodies.Put(resp.buf)
	}
	resp.buf, resp.body = nil, nil
}

func (c *Client) send(ctx context.Context, k call, borrow bool) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	u := k.rawURL
	if u == "" {
		ref := c.api.JoinPath(k.path)
		ref.RawQuery = k.query.Encode()
		u = ref.String()
	}
	var body io.Reader
	if k.body != nil {
		b, err := json.Marshal(k.body)
		if err != nil {
			return nil, &adapter.Error{Code: adapter.CodeInternal, Message: k.what + ": encoding the request failed", Err: err}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, u, body)
	if err != nil {
		return nil, &adapter.Error{Code: adapter.CodeInternal, Message: k.what + ": building the request failed", Err: err}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "procoregraph")
	if k.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	company := k.company
	if company == 0 {
		// What companyTransport would add, set here so that it need not
		// copy the request to add it (it still discovers an unknown one).
		company, _ = c.knownCompany()
	}
	if company != 0 {
		req.Header.Set(companyHeader, strconv.FormatInt(company, 10))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(k.what, withContextErr(ctx, err))
	}
	defer resp.Body.Close()
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	var b []byte
	var buf *bytes.Buffer
	if borrow && ok {
		b, buf, err = readBodyBorrowed(resp, maxBody, c.bodies)
	} else {
		b, err = readBody(resp, maxBody, c.bodies)
	}
	if err != nil {
		// A body cut off by the deadline reads as a closed connection;
		// say that the deadline ended it.
		return nil, transportError(k.what, withContextErr(ctx, err))
	}
	if !ok {
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			// Procore's API does not redirect; the web app redirects an
			// expired browser session to its login page.
			return nil, &adapter.Error{Code: adapter.CodeUnauthenticated, Status: resp.StatusCode,
				Message: k.what + ": Procore redirected the call (session expired?)"}
		}
		return nil, statusError(k.what, resp.StatusCode, resp.Header, b, c.clock.Now())
	}
	c.inspectDrift(k, b)
	return &response{status: resp.StatusCode, header: resp.Header, body: b, buf: buf}, nil
}

// getJSON sends the call and decodes the 2xx body into out.
func (c *Client) getJSON(ctx context.Context, k call, out any) error {
	resp, err := c.do(ctx, k)
	if err != nil {
		return err
	}
	return decodeInto(k.what, resp.body, out)
}

func decodeInto(what string, body []byte, out any) error {
	if err := decodeBody(body, out); err != nil {
		return &adapter.Error{Code: adapter.CodeInternal, Message: what + ": could not decode Procore's response", Err: err}
	}
	return nil
}

// projectQuery returns project_id=<id> for routes that take it as a parameter.
func projectQuery(projectID int64) url.Values {
	return url.Values{"project_id": {strconv.FormatInt(projectID, 10)}}
}

func companyQuery(companyID int64) url.Values {
	return url.Values{"company_id": {strconv.FormatInt(companyID, 10)}}
}

func pathf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// validID returns BAD_USER_INPUT for a non-positive id, before any call.
func validID(name string, id int64) error {
	if id <= 0 {
		return badInput([]string{name}, "%s must be a positive id", name)
	}
	return nil
}

// withContextErr adds ctx's error to err when ctx has ended, so that
// transportError tells a deadline or a cancellation from a failed network.
func withContextErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}

// readBody reads up to limit bytes of resp's body. With a Content-Length
// (list pages are large) it reads into one buffer of exactly that size:
// growing a buffer by doubling would allocate and clear about twice the
// page. Without one (a chunked answer) it reads into a buffer from pool (a
// new one when pool is nil) and returns an exact copy: io.ReadAll's growing
// allocated about 3.5 times the body (5.4 MB for the dashboard's 91 cold
// calls, a fifth of the gateway's allocation for that query). A buffer that
// grew past maxPooledBody is not put back.
func readBody(resp *http.Response, limit int64, pool *sync.Pool) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= limit {
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	buf := new(bytes.Buffer)
	if pool != nil {
		buf = pool.Get().(*bytes.Buffer)
		buf.Reset()
		defer func() {
			if buf.Cap() <= maxPooledBody {
				pool.Put(buf)
			}
		}()
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, limit)); err != nil {
		return nil, err
	}
	b := make([]byte, buf.Len())
	copy(b, buf.Bytes())
	return b, nil
}

// readBodyBorrowed reads up to limit bytes of resp's body into a buffer from
// pool (exactly Content-Length bytes when there is one, as readBody) and
// returns the bytes read and that buffer, which the caller gives back to pool
// when it no longer uses the bytes (Client.release). On an error the buffer
// is already back.
func readBodyBorrowed(resp *http.Response, limit int64, pool *sync.Pool) ([]byte, *bytes.Buffer, error) {
	buf := pool.Get().(*bytes.Buffer)
	buf.Reset()
	if n := resp.ContentLength; n >= 0 && n <= limit {
		buf.Grow(int(n))
		b := buf.AvailableBuffer()[:n]
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			pool.Put(buf)
			return nil, nil, err
		}
		return b, buf, nil
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, limit)); err != nil {
		pool.Put(buf)
		return nil, nil, err
	}
	return buf.Bytes(), buf, nil
}

// maxPooledBody is the largest read buffer readBody keeps for reuse.
const maxPooledBody = 4 << 20

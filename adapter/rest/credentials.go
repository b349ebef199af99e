package rest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"

	"procoregraph/adapter"
)

// Credentials authenticate upstream requests. OAuth (client credentials or a
// rotating refresh token) is built in; a browser session (cookies plus an
// X-CSRF-Token header, adapter/portal) implements the same interface and is
// passed as Config.Credentials. Implementations must be safe for concurrent
// use.
type Credentials interface {
	// Apply authenticates req in place (headers, cookies), obtaining or
	// renewing the credential first when needed. Concurrent callers must share
	// one renewal. An error should be an *adapter.Error (UNAUTHENTICATED,
	// REAUTH_REQUIRED, UPSTREAM_UNAVAILABLE ...) and must not contain secrets.
	Apply(ctx context.Context, req *http.Request) error
	// Invalidate reports that Procore refused (401) the credential that Apply
	// put on refused. The next Apply must obtain a fresh one, unless the
	// credential was already renewed since refused was sent.
	Invalidate(ctx context.Context, refused *http.Request, reason error)
}

// tokenCallTimeout bounds one token request; it runs detached from the
// caller's context so that a cancelled caller never loses a rotated token.
const tokenCallTimeout = time.Minute

// oauthCredentials implements Credentials with OAuth 2.0 bearer tokens.
type oauthCredentials struct {
	refresh     bool // refresh-token grant; else client credentials
	cc          *clientcredentials.Config
	rc          *oauth2.Config
	seedRefresh string
	store       TokenStore
	httpClient  *http.Client // token endpoint calls, outside the API stack
	clock       Clock
	logger      *slog.Logger
	flight      singleflight.Group
	fetches     atomic.Int64 // token endpoint calls made

	mu       sync.Mutex
	current  *oauth2.Token
	rejected string // access token Procore answered 401 to
}

type oauthOptions struct {
	TokenURL, ClientID, ClientSecret, RefreshToken string
	Store                                          TokenStore
	HTTPClient                                     *http.Client
	Clock                                          Clock
	Logger                                         *slog.Logger
}

func newOAuthCredentials(o oauthOptions) *oauthCredentials {
	c := &oauthCredentials{
		refresh:     o.RefreshToken != "",
		seedRefresh: o.RefreshToken,
		store:       o.Store,
		httpClient:  o.HTTPClient,
		clock:       o.Clock,
		logger:      o.Logger,
	}
	// Procore documents client_id/client_secret as form parameters; stating
	// the style avoids the library's probe request.
	c.cc = &clientcredentials.Config{
		ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL,
		AuthStyle: oauth2.AuthStyleInParams,
	}
	c.rc = &oauth2.Config{
		ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: o.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
	return c
}

// Apply sets Authorization: Bearer <access token>.
func (c *oauthCredentials) Apply(ctx context.Context, req *http.Request) error {
	t, err := c.token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.AccessToken)
	return nil
}

// Invalidate drops the access token refused carried, keeping the refresh
// token, unless a newer token has replaced it already.
func (c *oauthCredentials) Invalidate(ctx context.Context, refused *http.Request, reason error) {
	used := bearerOf(refused)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current != nil && c.current.AccessToken != used {
		return // renewed since; the refused token is already gone
	}
	c.current = nil
	c.rejected = used
}

func bearerOf(r *http.Request) string {
	if r == nil {
		return ""
	}
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return h[7:]
	}
	return ""
}

func (c *oauthCredentials) valid(t *oauth2.Token) bool {
	if t == nil || t.AccessToken == "" {
		return false
	}
	if t.Expiry.IsZero() {
		return true
	}
	skew := time.Minute
	if t.ExpiresIn > 0 {
		skew = min(skew, time.Duration(t.ExpiresIn)*time.Second/4)
	}
	return c.clock.Now().Add(skew).Before(t.Expiry)
}

// token returns a valid access token, renewing it through one shared flight.
func (c *oauthCredentials) token(ctx context.Context) (*oauth2.Token, error) {
	c.mu.Lock()
	t := c.current
	c.mu.Unlock()
	if c.valid(t) {
		return t, nil
	}
	ch := c.flight.DoChan("token", func() (any, error) { return c.obtain(ctx) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*oauth2.Token), nil
	case <-ctx.Done():
		return nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable,
			Message: "cancelled while waiting for a Procore access token", Err: context.Cause(ctx)}
	}
}

// obtain runs inside the single flight: reuse the stored token when another
// holder (a replica, an earlier flight) renewed it, else fetch a new one and
// persist it before anyone can use it.
func (c *oauthCredentials) obtain(caller context.Context) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(withoutCallTrace(context.WithoutCancel(caller)), tokenCallTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.httpClient)

	c.mu.Lock()
	if c.valid(c.current) {
		t := c.current
		c.mu.Unlock()
		return t, nil
	}
	rejected := c.rejected
	c.mu.Unlock()

	if l, ok := c.store.(TokenLocker); ok {
		unlock, err := l.LockRefresh(ctx)
		if err != nil {
			return nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable,
				Message: "could not take the token refresh lock", Err: err}
		}
		defer unlock()
	}
	stored, err := c.store.Load(ctx)
	if err != nil {
		if c.refresh {
			// Without the store we do not know the latest refresh token, and
			// spending a stale one would force a full re-authorization.
			return nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable,
				Message: "token store unavailable", Err: err}
		}
		c.logger.Warn("procore token store load failed", "err", err)
		stored = nil
	}
	if c.valid(stored) && stored.AccessToken != rejected {
		c.setCurrent(stored)
		return stored, nil
	}

	var nt *oauth2.Token
	c.fetches.Add(1)
	if c.refresh {
		rt := c.seedRefresh
		if stored != nil && stored.RefreshToken != "" {
			rt = stored.RefreshToken
		}
		nt, err = c.rc.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	} else {
		nt, err = c.cc.Token(ctx)
	}
	if err != nil {
		return nil, tokenError(err, c.refresh)
	}
	if nt.ExpiresIn > 0 {
		nt.Expiry = c.clock.Now().Add(time.Duration(nt.ExpiresIn) * time.Second)
	}
	if err := c.store.Save(ctx, nt); err != nil {
		// The old refresh token is spent already: keep the new pair in memory
		// so this process keeps working, and say so loudly.
		c.logger.Error("procore token store save failed; the rotated token lives only in memory", "err", err)
	}
	c.setCurrent(nt)
	return nt, nil
}

func (c *oauthCredentials) setCurrent(t *oauth2.Token) {
	c.mu.Lock()
	c.current = t
	c.rejected = ""
	c.mu.Unlock()
}

// tokenError maps a token endpoint failure to the error vocabulary without
// echoing the response body.
func tokenError(err error, refresh bool) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		e := &adapter.Error{Status: status}
		switch {
		case status == http.StatusTooManyRequests:
			e.Code, e.Message = adapter.CodeRateLimited, "Procore's login host is rate limiting token requests"
		case status >= 500:
			e.Code, e.Message = adapter.CodeUpstreamUnavailable, fmt.Sprintf("Procore's login host failed (%d)", status)
		case refresh && re.ErrorCode == "invalid_grant":
			e.Code, e.Message = adapter.CodeReauthRequired,
				"Procore refused the stored refresh token (invalid_grant): authorize the app again"
		default:
			code := re.ErrorCode
			if code == "" {
				code = fmt.Sprintf("status %d", status)
			}
			e.Code, e.Message = adapter.CodeUnauthenticated, "Procore refused the OAuth credentials ("+code+")"
		}
		return e
	}
	return &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "could not reach Procore's login host", Err: err}
}

// TokenReady reports whether the Client holds a Procore access token it can
// use: nil when the current one is valid or, when it is missing or expired,
// when renewing it now (through the shared flight) succeeds. It returns the
// renewal's error (never a secret) otherwise. A Client with other
// Credentials (a browser session) reports nil: they have their own checks.
func (c *Client) TokenReady(ctx context.Context) error {
	oc, ok := c.creds.(*oauthCredentials)
	if !ok {
		return nil
	}
	_, err := oc.token(ctx)
	return err
}

package portal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"
	"github.com/go-rod/rod/lib/utils"

	"procoregraph/adapter"
)

// Driver performs one login through Procore's web pages. *Browser is the
// implementation; tests and alternative automation can supply their own.
type Driver interface {
	// Login signs in as in says and returns the captured web session. Errors
	// are *adapter.Error values wrapping ErrInvalidCredentials,
	// ErrInvalidCode or ErrMFAMismatch when Procore refused what the user
	// supplied, and other causes (ErrUnexpectedPage, ErrNoCode, timeouts,
	// browser failures) for everything that may work on a later try.
	Login(ctx context.Context, in DriverLogin) (WebSession, error)
}

// DriverLogin is one login as the driver performs it.
type DriverLogin struct {
	// BaseURL is the web login host, e.g. https://login.procore.com.
	BaseURL  string
	Email    string
	Password string
	// MFA is the second factor the user set up; the MFA page must ask for
	// this one. MFANone accepts no MFA page.
	MFA MFAMethod
	// Code returns the verification code for the MFA page; it is called at
	// most once, on that page, and must respect ctx.
	Code func(ctx context.Context, method MFAMethod) (string, error)
}

// Cookie is a cookie captured from the browser after the login.
type Cookie struct {
	Name    string    `json:"n"`
	Value   string    `json:"v"`
	Expires time.Time `json:"e,omitzero"` // zero for a browser-session cookie
}

// WebSession is what a completed login leaves in the browser.
type WebSession struct {
	// Cookies are the login host's cookies (_procore_session, csrf_token ...).
	Cookies []Cookie
	// CSRF is the token for X-CSRF-Token: the page's <meta name="csrf-token">,
	// else the csrf_token cookie.
	CSRF string
	// ExpiresAt is the _procore_session cookie's expiry, zero when the cookie
	// is a browser-session cookie.
	ExpiresAt time.Time
}

// Cookie names and the header of Procore's web session.
const (
	SessionCookie = "_procore_session"
	CSRFCookie    = "csrf_token"
	CSRFHeader    = "X-CSRF-Token"
)

// Element ids of Procore's login pages the driver relies on.
const (
	selEmail       = "input#email"
	selNext        = "button#next"
	selPassword    = "input#password"
	selSignIn      = "button#sign-in"
	selLoginError  = "#login-error"
	selSSOContinue = "button#sso-continue"
	selMFA         = "main#mfa"
	selCode        = "input#code"
	selVerify      = "button#verify"
	selMFAError    = "#mfa-error"
	selAppHome     = "main#app-home"
	selCSRFMeta    = `meta[name="csrf-token"]`
)

// pollSleeper paces the polling behind element waits and races: fast at
// first (a page usually answers in milliseconds), backing off to 200ms.
func pollSleeper() utils.Sleeper {
	return utils.BackoffSleeper(15*time.Millisecond, 200*time.Millisecond, nil)
}

// Login implements Driver: email, optional SSO, password, optional MFA, then
// the app page, each step under BrowserOptions.StepTimeout and all under ctx.
// After each submit the pages it can lead to are raced; the first one to
// show decides the outcome.
func (b *Browser) Login(ctx context.Context, in DriverLogin) (WebSession, error) {
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return WebSession{}, loginError(adapter.CodeUpstreamUnavailable, "timed out waiting for a free browser slot", context.Cause(ctx))
	}
	defer func() { <-b.slots }()
	for attempt := 0; ; attempt++ {
		p, err := b.process(ctx)
		if err != nil {
			return WebSession{}, err
		}
		ws, err := b.login(ctx, p, in)
		if err == nil || refusedCredentials(err) || p.alive() {
			return ws, err
		}
		// The browser died under the login: that is no answer from Procore,
		// so the login runs once more in a new browser.
		b.discard(p)
		if attempt > 0 || ctx.Err() != nil {
			return ws, err
		}
	}
}

// stepError names the step that failed; it never includes page contents.
func stepError(ctx, sctx context.Context, step string, err error) error {
	var ae *adapter.Error
	if errors.As(err, &ae) {
		return err
	}
	switch {
	case ctx.Err() != nil:
		return loginError(adapter.CodeUpstreamUnavailable, "the Procore login timed out at step: "+step, context.Cause(ctx))
	case sctx.Err() != nil:
		return loginError(adapter.CodeUpstreamUnavailable, "the Procore login stalled at step: "+step, ErrUnexpectedPage)
	}
	return loginError(adapter.CodeUpstreamUnavailable, "the browser failed at step: "+step, err)
}

// branch is one possible outcome of a step: the element that shows it.
type branch struct {
	selector string
	outcome  string
}

// navigatedAway reports whether err says the page navigated (or the target
// closed) while a command on it was in flight.
func navigatedAway(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Inspected target navigated or closed")
}

// transientNavigation reports whether err comes from a page that was
// navigating while a query ran on it (the form just submitted): the query
// can be asked again of the new document.
func transientNavigation(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return navigatedAway(err) || strings.Contains(msg, "Execution context was destroyed") ||
		strings.Contains(msg, "Cannot find context with specified id") || strings.Contains(msg, "Cannot find object with given id")
}

// race waits for the first of the branches' elements to appear, asking
// again when the page was still navigating (until the page's deadline).
func race(pg *rod.Page, branches ...branch) (string, *rod.Element, error) {
	for {
		rc := pg.Race()
		got := ""
		for _, br := range branches {
			rc = rc.Element(br.selector).Handle(func(*rod.Element) error { got = br.outcome; return nil })
		}
		el, err := rc.Do()
		if transientNavigation(err) && pg.GetContext().Err() == nil {
			select {
			case <-pg.GetContext().Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		return got, el, err
	}
}

func (b *Browser) login(ctx context.Context, p *chromeProcess, in DriverLogin) (WebSession, error) {
	base := strings.TrimRight(in.BaseURL, "/")
	var page *rod.Page
	// run performs one step under its own deadline.
	run := func(step string, fn func(pg *rod.Page) error) error {
		sctx, cancel := context.WithTimeout(ctx, b.o.StepTimeout)
		defer cancel()
		var pg *rod.Page
		if page != nil {
			pg = page.Context(sctx).Sleeper(pollSleeper)
		}
		if err := fn(pg); err != nil {
			return stepError(ctx, sctx, step, err)
		}
		return nil
	}
	fill := func(pg *rod.Page, selector, text string) error {
		el, err := pg.Element(selector)
		if err != nil {
			return err
		}
		return el.Input(text)
	}
	click := func(pg *rod.Page, selector string) error {
		el, err := pg.Element(selector)
		if err != nil {
			return err
		}
		err = el.Click(proto.InputMouseButtonLeft, 1)
		if navigatedAway(err) {
			// The click submitted the form and the page left before
			// Chromium acknowledged the mouse release: that is the click's
			// intended effect; the next race sees where it went.
			return nil
		}
		return err
	}

	var incognito *rod.Browser
	defer func() {
		if incognito != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = incognito.Context(cctx).Close() // disposes the context, its tab and cookies
			cancel()
		}
	}()
	// The tab and its event stream live as long as the login (lctx); the
	// watchdog gives creating them the step deadline all the same.
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	watchdog := time.AfterFunc(b.o.StepTimeout, lcancel)
	inc, err := p.rod.Context(lctx).Incognito()
	if err == nil {
		incognito = inc
		var pg *rod.Page
		if pg, err = inc.Page(proto.TargetCreateTarget{}); err == nil {
			page = pg.Sleeper(pollSleeper)
		}
	}
	if !watchdog.Stop() && err == nil {
		err = context.DeadlineExceeded
	}
	if err != nil {
		return WebSession{}, stepError(ctx, lctx, "open a private browser context", err)
	}

	if err := run("open the login page", func(pg *rod.Page) error {
		if err := pg.Navigate(base + "/login"); err != nil {
			return err
		}
		if err := fill(pg, selEmail, in.Email); err != nil {
			return err
		}
		return click(pg, selNext)
	}); err != nil {
		return WebSession{}, err
	}

	var outcome string
	if err := run("submit the email", func(pg *rod.Page) (err error) {
		outcome, _, err = race(pg,
			branch{selPassword, "password"}, branch{selSSOContinue, "sso"}, branch{selLoginError, "refused"})
		return err
	}); err != nil {
		return WebSession{}, err
	}
	if outcome == "sso" {
		if err := run("continue through SSO", func(pg *rod.Page) (err error) {
			if err := click(pg, selSSOContinue); err != nil {
				return err
			}
			outcome, _, err = race(pg, branch{selPassword, "password"}, branch{selLoginError, "refused"})
			return err
		}); err != nil {
			return WebSession{}, err
		}
	}
	if outcome == "refused" {
		return WebSession{}, loginError(adapter.CodeUnauthenticated, "Procore refused the email", ErrInvalidCredentials)
	}

	var mfaPage *rod.Element
	if err := run("submit the password", func(pg *rod.Page) (err error) {
		if err := fill(pg, selPassword, in.Password); err != nil {
			return err
		}
		if err := click(pg, selSignIn); err != nil {
			return err
		}
		outcome, mfaPage, err = race(pg,
			branch{selAppHome, "app"}, branch{selMFA, "mfa"}, branch{selLoginError, "refused"})
		return err
	}); err != nil {
		return WebSession{}, err
	}
	switch outcome {
	case "refused":
		return WebSession{}, loginError(adapter.CodeUnauthenticated, "Procore refused the email or password", ErrInvalidCredentials)
	case "mfa":
		var method MFAMethod
		if err := run("read the MFA method", func(pg *rod.Page) error {
			m, err := mfaPage.Context(pg.GetContext()).Attribute("data-mfa-method")
			if err != nil {
				return err
			}
			if m != nil {
				method = MFAMethod(*m)
			}
			return nil
		}); err != nil {
			return WebSession{}, err
		}
		if method != in.MFA || in.Code == nil {
			return WebSession{}, loginError(adapter.CodeUnauthenticated,
				fmt.Sprintf("Procore asks for a %q verification code but the session is set up for %q", method, in.MFA), ErrMFAMismatch)
		}
		code, err := in.Code(ctx, method)
		if err != nil {
			var ae *adapter.Error
			if errors.As(err, &ae) {
				return WebSession{}, err
			}
			return WebSession{}, loginError(adapter.CodeUpstreamUnavailable, "no verification code", err)
		}
		if err := run("submit the verification code", func(pg *rod.Page) (err error) {
			if err := fill(pg, selCode, code); err != nil {
				return err
			}
			if err := click(pg, selVerify); err != nil {
				return err
			}
			outcome, _, err = race(pg, branch{selAppHome, "app"}, branch{selMFAError, "refused"})
			return err
		}); err != nil {
			return WebSession{}, err
		}
		if outcome == "refused" {
			return WebSession{}, loginError(adapter.CodeUnauthenticated, "Procore refused the verification code", ErrInvalidCode)
		}
	}

	var ws WebSession
	if err := run("capture the session", func(pg *rod.Page) error {
		if has, meta, err := pg.Has(selCSRFMeta); err == nil && has {
			if v, err := meta.Attribute("content"); err == nil && v != nil {
				ws.CSRF = *v
			}
		}
		res, err := proto.NetworkGetCookies{Urls: []string{base + "/"}}.Call(pg)
		if err != nil {
			return err
		}
		for _, c := range res.Cookies {
			ck := Cookie{Name: c.Name, Value: c.Value}
			if !c.Session && c.Expires > 0 {
				ck.Expires = c.Expires.Time().UTC()
			}
			ws.Cookies = append(ws.Cookies, ck)
			switch c.Name {
			case SessionCookie:
				ws.ExpiresAt = ck.Expires
			case CSRFCookie:
				if ws.CSRF == "" {
					ws.CSRF = c.Value
				}
			}
		}
		return nil
	}); err != nil {
		return WebSession{}, err
	}
	if !ws.has(SessionCookie) {
		return WebSession{}, loginError(adapter.CodeUpstreamUnavailable, "the Procore login completed without a session cookie", ErrUnexpectedPage)
	}
	return ws, nil
}

func (ws WebSession) has(name string) bool {
	for _, c := range ws.Cookies {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

// value returns the named cookie's value, "" when absent.
func (ws WebSession) value(name string) string {
	for _, c := range ws.Cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

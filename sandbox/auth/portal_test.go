package auth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"procoregraph/sandbox/auth"
)

func totpCode(t *testing.T, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCode(totpSecret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// lastCode reads the newest outbox code for to.
func lastCode(t *testing.T, e *env, to string) auth.Message {
	t.Helper()
	msgs := e.svc.Outbox(to)
	if len(msgs) == 0 {
		t.Fatalf("outbox for %s is empty", to)
	}
	return msgs[len(msgs)-1]
}

func mustBeApp(t *testing.T, p page, name string) {
	t.Helper()
	mustHaveElement(t, p, "app-home")
	if p.status != http.StatusOK || p.url.Path != "/app" || elementText(p.body, "user-name") != name {
		t.Fatalf("app page %s (status %d) for %q:\n%s", p.url, p.status, name, p.body)
	}
}

func TestWebLogin(t *testing.T) {
	t.Run("TOTPLoginSetsSessionAndCSRFCookies", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		p := b.loginTo("alice@example.com", password)
		mustHaveElement(t, p, "code")
		mustHaveElement(t, p, "verify")
		if !strings.Contains(p.body, `data-mfa-method="totp"`) {
			t.Errorf("MFA page does not say totp:\n%s", p.body)
		}
		p = b.post("/login/mfa", url.Values{"code": {totpCode(t, e.clock.Now())}})
		mustBeApp(t, p, "Alice Totp")

		sess := b.lastSetCookie(auth.SessionCookie)
		csrf := b.lastSetCookie(auth.CSRFCookie)
		if sess == nil || csrf == nil {
			t.Fatalf("cookies set: %v", b.setCookies)
		}
		wantExpiry := e.clock.Now().Add(2 * time.Hour)
		if !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" ||
			!sess.Expires.Equal(wantExpiry) || sess.MaxAge != 7200 {
			t.Errorf("session cookie = %+v, want HttpOnly, Lax, Path=/, Expires %v", sess, wantExpiry)
		}
		if csrf.HttpOnly || csrf.Value == "" || !csrf.Expires.Equal(wantExpiry) {
			t.Errorf("csrf cookie = %+v, want readable and expiring with the session", csrf)
		}
		if !strings.Contains(p.body, `<meta name="csrf-token" content="`+csrf.Value+`">`) {
			t.Errorf("app page has no csrf meta equal to the cookie:\n%s", p.body)
		}
		if e.svc.Logins() != 1 || e.svc.LoginFailures() != 0 {
			t.Errorf("Logins %d, LoginFailures %d", e.svc.Logins(), e.svc.LoginFailures())
		}
		if c := b.cookie(auth.LoginFlowCookie); c != nil {
			t.Errorf("login flow cookie survived the login: %v", c)
		}
	})

	t.Run("RefusesReplayedTOTPCode", func(t *testing.T) {
		e := newEnv(t)
		code := totpCode(t, e.clock.Now())
		first := e.newBrowser(t)
		first.loginTo("alice@example.com", password)
		mustBeApp(t, first.post("/login/mfa", url.Values{"code": {code}}), "Alice Totp")

		second := e.newBrowser(t)
		second.loginTo("alice@example.com", password)
		p := second.post("/login/mfa", url.Values{"code": {code}})
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(elementText(p.body, "mfa-error"), "Invalid verification code") {
			t.Fatalf("replayed code: status %d\n%s", p.status, p.body)
		}
		mustHaveElement(t, p, "code")
		// The previous step's code (inside the skew window) is older than the one used: refused too.
		if p = second.post("/login/mfa", url.Values{"code": {totpCode(t, e.clock.Now().Add(-30*time.Second))}}); p.status != http.StatusUnprocessableEntity {
			t.Errorf("older step's code: status %d, want 422", p.status)
		}
		e.clock.Advance(30 * time.Second)
		mustBeApp(t, second.post("/login/mfa", url.Values{"code": {totpCode(t, e.clock.Now())}}), "Alice Totp")
		if e.svc.Logins() != 2 || e.svc.LoginFailures() != 2 {
			t.Errorf("Logins %d, LoginFailures %d; want 2, 2", e.svc.Logins(), e.svc.LoginFailures())
		}
	})

	t.Run("AcceptsTOTPCodeOneStepOff", func(t *testing.T) {
		for name, skew := range map[string]time.Duration{"Behind": -30 * time.Second, "Ahead": 30 * time.Second} {
			t.Run(name, func(t *testing.T) {
				e := newEnv(t)
				b := e.newBrowser(t)
				b.loginTo("alice@example.com", password)
				mustBeApp(t, b.post("/login/mfa", url.Values{"code": {totpCode(t, e.clock.Now().Add(skew))}}), "Alice Totp")
			})
		}
	})

	t.Run("RefusesTOTPCodeTwoStepsOff", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		b.loginTo("alice@example.com", password)
		if p := b.post("/login/mfa", url.Values{"code": {totpCode(t, e.clock.Now().Add(-60*time.Second))}}); p.status != http.StatusUnprocessableEntity || !hasElement(p.body, "mfa-error") {
			t.Errorf("status %d", p.status)
		}
	})

	t.Run("EmailCodeLoginReadsOutbox", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		p := b.loginTo("bob@example.com", password)
		mustHaveElement(t, p, "code")
		mustHaveElement(t, p, "resend")
		msg := lastCode(t, e, "bob@example.com")
		if msg.Channel != "email" || msg.To != "bob@example.com" || len(msg.Code) != 6 || !msg.SentAt.Equal(e.clock.Now()) {
			t.Fatalf("outbox message %+v", msg)
		}
		mustBeApp(t, b.post("/login/mfa", url.Values{"code": {msg.Code}}), "Bob Email")

		// The code is single-use: a new login gets a new code, and the old one is refused.
		b2 := e.newBrowser(t)
		b2.loginTo("bob@example.com", password)
		if n := len(e.svc.Outbox("bob@example.com")); n != 2 {
			t.Fatalf("outbox has %d messages, want 2", n)
		}
		if fresh := lastCode(t, e, "bob@example.com").Code; fresh == msg.Code {
			t.Skip("the two random codes collided (1 in a million)")
		}
		if p := b2.post("/login/mfa", url.Values{"code": {msg.Code}}); p.status != http.StatusUnprocessableEntity {
			t.Errorf("used code: status %d, want 422", p.status)
		}
	})

	t.Run("SMSCodeLoginReadsOutboxByPhoneOrEmail", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		p := b.loginTo("carol@example.com", password)
		if !strings.Contains(p.body, `data-mfa-method="sms"`) || !strings.Contains(p.body, "0123") {
			t.Errorf("sms MFA page:\n%s", p.body)
		}
		msg := lastCode(t, e, "+15555550123")
		if msg.Channel != "sms" || msg.To != "+15555550123" {
			t.Fatalf("outbox message %+v", msg)
		}
		if byEmail := lastCode(t, e, "CAROL@example.com"); byEmail != msg {
			t.Errorf("Outbox(email) = %+v, want %+v", byEmail, msg)
		}
		if others := e.svc.Outbox("bob@example.com"); len(others) != 0 {
			t.Errorf("bob's outbox has carol's code: %+v", others)
		}
		mustBeApp(t, b.post("/login/mfa", url.Values{"code": {msg.Code}}), "Carol Sms")
	})

	t.Run("ResendReplacesCode", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		b.loginTo("bob@example.com", password)
		old := lastCode(t, e, "bob@example.com")
		mustHaveElement(t, b.post("/login/mfa/resend", nil), "code")
		fresh := lastCode(t, e, "bob@example.com")
		if fresh.Code == old.Code {
			t.Skip("the two random codes collided (1 in a million)")
		}
		if p := b.post("/login/mfa", url.Values{"code": {old.Code}}); p.status != http.StatusUnprocessableEntity {
			t.Errorf("replaced code: status %d, want 422", p.status)
		}
		mustBeApp(t, b.post("/login/mfa", url.Values{"code": {fresh.Code}}), "Bob Email")
	})

	t.Run("RefusesEmailCodeAfterTenMinutes", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		b.loginTo("bob@example.com", password)
		code := lastCode(t, e, "bob@example.com").Code
		e.clock.Advance(10*time.Minute + time.Second)
		if p := b.post("/login/mfa", url.Values{"code": {code}}); p.status != http.StatusUnprocessableEntity || !hasElement(p.body, "mfa-error") {
			t.Errorf("expired code: status %d", p.status)
		}
	})

	t.Run("WrongCodeShowsErrorThenRightCodeWorks", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		b.loginTo("bob@example.com", password)
		code := lastCode(t, e, "bob@example.com").Code
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		p := b.post("/login/mfa", url.Values{"code": {wrong}})
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(elementText(p.body, "mfa-error"), "Invalid verification code") {
			t.Fatalf("wrong code: status %d\n%s", p.status, p.body)
		}
		mustBeApp(t, b.post("/login/mfa", url.Values{"code": {code}}), "Bob Email")
		if e.svc.LoginFailures() != 1 {
			t.Errorf("LoginFailures %d, want 1", e.svc.LoginFailures())
		}
	})

	t.Run("WrongPasswordShowsErrorThenRightPasswordWorks", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		p := b.loginTo("dave@example.com", "wrong")
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(elementText(p.body, "login-error"), "Invalid email or password") {
			t.Fatalf("wrong password: status %d\n%s", p.status, p.body)
		}
		mustHaveElement(t, p, "password")
		mustHaveElement(t, p, "sign-in")
		if e.svc.LoginFailures() != 1 || e.svc.Logins() != 0 {
			t.Errorf("LoginFailures %d, Logins %d", e.svc.LoginFailures(), e.svc.Logins())
		}
		mustBeApp(t, b.post("/login/password", url.Values{"password": {password}}), "Dave Plain")
		if b.lastSetCookie(auth.SessionCookie) == nil {
			t.Error("no session cookie after a login without MFA")
		}
	})

	t.Run("UnknownEmailFailsAtPasswordStep", func(t *testing.T) {
		e := newEnv(t)
		p := e.newBrowser(t).loginTo("nobody@example.com", password)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(elementText(p.body, "login-error"), "Invalid email or password") {
			t.Errorf("unknown email: status %d\n%s", p.status, p.body)
		}
	})

	t.Run("EmailIsCaseInsensitive", func(t *testing.T) {
		e := newEnv(t)
		mustBeApp(t, e.newBrowser(t).loginTo("Dave@Example.COM", password), "Dave Plain")
	})

	t.Run("SSOUserGoesThroughIdPBeforePassword", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		b.get("/login")
		p := b.post("/login", url.Values{"email": {"erin@example.com"}})
		if p.url.Path != "/sso/idp" || p.url.Query().Get("login_hint") != "erin@example.com" {
			t.Fatalf("SSO user landed on %s", p.url)
		}
		mustHaveElement(t, p, "sso-continue")
		if hasElement(p.body, "password") {
			t.Fatal("IdP page already asks for the password")
		}
		// Skipping the IdP is not possible: the password page sends the browser back to it.
		if skip := b.get("/login/password"); skip.url.Path != "/sso/idp" {
			t.Errorf("password page before SSO went to %s", skip.url)
		}
		p = b.post("/sso/acs", url.Values{"RelayState": {hiddenValue(p.body, "RelayState")}, "SAMLResponse": {hiddenValue(p.body, "SAMLResponse")}})
		mustHaveElement(t, p, "password")
		p = b.post("/login/password", url.Values{"password": {password}})
		mustHaveElement(t, p, "code")
		mustBeApp(t, b.post("/login/mfa", url.Values{"code": {lastCode(t, e, "erin@example.com").Code}}), "Erin Sso")
	})

	t.Run("SSOWithWrongRelayStateIsRefused", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		b.post("/login", url.Values{"email": {"erin@example.com"}})
		p := b.post("/sso/acs", url.Values{"RelayState": {"forged"}, "SAMLResponse": {"x"}})
		if p.url.Path != "/sso/idp" || hasElement(p.body, "password") {
			t.Errorf("forged relay state went to %s", p.url)
		}
	})

	t.Run("StepsWithoutFlowGoBackToLogin", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		for _, path := range []string{"/login/password", "/login/mfa"} {
			if p := b.post(path, url.Values{"password": {password}, "code": {"123456"}}); p.url.Path != "/login" || !hasElement(p.body, "email") {
				t.Errorf("POST %s without a flow went to %s", path, p.url)
			}
		}
	})

	t.Run("ReturnToCannotLeaveTheSite", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		b.post("/login", url.Values{"email": {"dave@example.com"}, "return_to": {"//evil.example.com/x"}})
		p := b.post("/login/password", url.Values{"password": {password}})
		if p.external != "" {
			t.Fatalf("redirected off-site to %s", p.external)
		}
		mustBeApp(t, p, "Dave Plain")
	})
}

// loggedIn returns a browser with a live session for dave.
func loggedIn(t *testing.T, e *env) *browser {
	t.Helper()
	b := e.newBrowser(t)
	mustBeApp(t, b.loginTo("dave@example.com", password), "Dave Plain")
	return b
}

func TestSessionAuthentication(t *testing.T) {
	t.Run("CookieSessionAuthenticatesGET", func(t *testing.T) {
		e := newEnv(t)
		b := loggedIn(t, e)
		status, p := e.probe(t, http.MethodGet, "", nil, b.c)
		if status != http.StatusOK || p.Kind != auth.KindSession || p.UserID != 4_300_000_013 || p.ClientID != "" || p.CompanyIDs != nil {
			t.Fatalf("probe %d %+v", status, p)
		}
		sid := b.cookie(auth.SessionCookie).Value
		if p.TokenID == "" || strings.Contains(sid, p.TokenID) {
			t.Errorf("TokenID %q empty or part of the session id", p.TokenID)
		}
	})

	t.Run("CookiePOSTRequiresCSRFHeader", func(t *testing.T) {
		e := newEnv(t)
		b := loggedIn(t, e)
		csrf := b.cookie(auth.CSRFCookie).Value
		cases := []struct {
			name   string
			hdr    map[string]string
			status int
		}{
			{"RefusedWithoutHeader", nil, http.StatusUnauthorized},
			{"RefusedWithWrongHeader", map[string]string{auth.CSRFHeader: csrf + "x"}, http.StatusUnauthorized},
			{"AcceptedWithCookieValue", map[string]string{auth.CSRFHeader: csrf}, http.StatusOK},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for _, m := range []string{http.MethodPost, http.MethodPatch, http.MethodDelete} {
					if status, _ := e.probe(t, m, "", tc.hdr, b.c); status != tc.status {
						t.Errorf("%s: status %d, want %d", m, status, tc.status)
					}
				}
			})
		}
	})

	t.Run("BearerPOSTNeedsNoCSRF", func(t *testing.T) {
		e := newEnv(t)
		tok := e.postToken(t, clientCreds()).str("access_token")
		if status, _ := e.probe(t, http.MethodPost, tok, nil, nil); status != http.StatusOK {
			t.Errorf("status %d", status)
		}
	})

	t.Run("RefusedAfterExpireSessions", func(t *testing.T) {
		e := newEnv(t)
		b := loggedIn(t, e)
		e.svc.ExpireSessions()
		if status, _ := e.probe(t, http.MethodGet, "", nil, b.c); status != http.StatusUnauthorized {
			t.Errorf("expired session: status %d, want 401", status)
		}
		p := b.get("/app")
		if p.url.Path != "/login" || p.url.Query().Get("return_to") != "/app" {
			t.Errorf("/app with expired session went to %s", p.url)
		}
		// Logging in again gives a working session.
		mustBeApp(t, b.loginTo("dave@example.com", password), "Dave Plain")
		if status, _ := e.probe(t, http.MethodGet, "", nil, b.c); status != http.StatusOK || e.svc.Logins() != 2 {
			t.Errorf("after re-login: status %d, Logins %d", status, e.svc.Logins())
		}
	})

	t.Run("RefusedOnceSessionTTLHasPassed", func(t *testing.T) {
		e := newEnv(t, func(c *auth.Config) { c.SessionTTL = 10 * time.Minute })
		b := loggedIn(t, e)
		e.clock.Advance(10*time.Minute - time.Second)
		if status, _ := e.probe(t, http.MethodGet, "", nil, b.c); status != http.StatusOK {
			t.Fatalf("1 s before expiry: status %d", status)
		}
		e.clock.Advance(time.Second)
		if status, _ := e.probe(t, http.MethodGet, "", nil, b.c); status != http.StatusUnauthorized {
			t.Errorf("at expiry: status %d, want 401", status)
		}
	})

	t.Run("LogoutEndsSession", func(t *testing.T) {
		e := newEnv(t)
		b := loggedIn(t, e)
		stolen := b.cookie(auth.SessionCookie).Value
		p := b.post("/logout", nil)
		mustHaveElement(t, p, "email")
		if status, _ := e.probe(t, http.MethodGet, "", map[string]string{"Cookie": auth.SessionCookie + "=" + stolen}, nil); status != http.StatusUnauthorized {
			t.Errorf("session after logout: status %d, want 401", status)
		}
	})

	t.Run("LoginPageWithSessionRedirects", func(t *testing.T) {
		e := newEnv(t)
		b := loggedIn(t, e)
		mustBeApp(t, b.get("/login"), "Dave Plain")
	})
}

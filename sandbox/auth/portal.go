package auth

import (
	"crypto/rand"
	"fmt"
	"html/template"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

type flowStage int

const (
	stageSSO flowStage = iota + 1
	stagePassword
	stageMFA
)

// loginFlow is a half-finished web login, keyed by the _procore_login cookie.
type loginFlow struct {
	returnTo    string
	email       string
	user        WebUser
	known       bool // the email belongs to a user
	stage       flowStage
	relayState  string // SSO round-trip nonce
	code        string // pending SMS/email code
	codeExpires time.Time
	expiresAt   time.Time
}

// TOTP parameters (RFC 6238 defaults, what authenticator apps use).
const (
	totpPeriod = 30
	totpSkew   = 1
	// maxOutbox bounds the outbox; when full, the older half is dropped.
	maxOutbox = 10_000
)

func (s *Service) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	returnTo := safeReturn(r.URL.Query().Get("return_to"))
	if _, _, ok := s.sessionFor(r); ok {
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
		return
	}
	s.renderPage(w, http.StatusOK, "email", pageData{Title: "Log in to Procore", ReturnTo: returnTo})
}

// handleLoginEmail starts a login flow for the submitted email. Unknown emails still get the
// password page (and then fail there), so the portal does not reveal who has an account.
func (s *Service) handleLoginEmail(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	returnTo := safeReturn(r.PostFormValue("return_to"))
	if email == "" {
		s.renderPage(w, http.StatusUnprocessableEntity, "email", pageData{Title: "Log in to Procore", ReturnTo: returnTo, Error: "Please enter your email address."})
		return
	}
	now := s.now()
	u, known := s.users[strings.ToLower(email)]
	f := &loginFlow{returnTo: returnTo, email: email, user: u, known: known, stage: stagePassword, expiresAt: now.Add(LoginFlowTTL)}
	if known && u.SSO {
		f.stage = stageSSO
		f.relayState = randomToken(16)
	}
	id := randomToken(32)
	s.mu.Lock()
	s.pruneLocked(now)
	if old, err := r.Cookie(LoginFlowCookie); err == nil {
		delete(s.flows, old.Value)
	}
	s.flows[id] = f
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: LoginFlowCookie, Value: id, Path: "/", MaxAge: int(LoginFlowTTL / time.Second),
		Expires: now.Add(LoginFlowTTL), HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	if f.stage == stageSSO {
		http.Redirect(w, r, "/sso/idp?"+url.Values{"login_hint": {email}, "RelayState": {f.relayState}}.Encode(), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login/password", http.StatusSeeOther)
}

// flow returns a copy of the request's live login flow and its id.
func (s *Service) flow(r *http.Request) (string, loginFlow, bool) {
	c, err := r.Cookie(LoginFlowCookie)
	if err != nil {
		return "", loginFlow{}, false
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, ok := s.flows[c.Value]
	if !ok || !now.Before(f.expiresAt) {
		return "", loginFlow{}, false
	}
	return c.Value, *f, true
}

// toStage sends the browser to the page for the flow's current step (or back to /login).
func toStage(w http.ResponseWriter, r *http.Request, f loginFlow, ok bool) {
	target := "/login"
	if ok {
		switch f.stage {
		case stageSSO:
			target = "/sso/idp?" + url.Values{"login_hint": {f.email}, "RelayState": {f.relayState}}.Encode()
		case stagePassword:
			target = "/login/password"
		case stageMFA:
			target = "/login/mfa"
		}
		if f.returnTo != "/app" && target == "/login" {
			target += "?" + url.Values{"return_to": {f.returnTo}}.Encode()
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (s *Service) handleIdP(w http.ResponseWriter, r *http.Request) {
	_, f, ok := s.flow(r)
	if !ok || f.stage != stageSSO || !constantEqual(r.URL.Query().Get("RelayState"), f.relayState) {
		toStage(w, r, f, ok)
		return
	}
	s.renderPage(w, http.StatusOK, "sso", pageData{Title: "Sandbox SSO", Email: f.email, RelayState: f.relayState, SAMLResponse: randomToken(24)})
}

// handleACS is the SSO assertion consumer: the IdP page posts back here, then the password step follows.
func (s *Service) handleACS(w http.ResponseWriter, r *http.Request) {
	id, f, ok := s.flow(r)
	if !ok || f.stage != stageSSO || !constantEqual(r.PostFormValue("RelayState"), f.relayState) || r.PostFormValue("SAMLResponse") == "" {
		toStage(w, r, f, ok)
		return
	}
	s.mu.Lock()
	if live, ok := s.flows[id]; ok && live.stage == stageSSO {
		live.stage = stagePassword
		f = *live
	}
	s.mu.Unlock()
	toStage(w, r, f, true)
}

func (s *Service) handlePasswordPage(w http.ResponseWriter, r *http.Request) {
	_, f, ok := s.flow(r)
	if !ok || f.stage != stagePassword {
		toStage(w, r, f, ok)
		return
	}
	s.renderPage(w, http.StatusOK, "password", pageData{Title: "Log in to Procore", Email: f.email})
}

func (s *Service) handlePassword(w http.ResponseWriter, r *http.Request) {
	id, f, ok := s.flow(r)
	if !ok || f.stage != stagePassword {
		toStage(w, r, f, ok)
		return
	}
	if !f.known || !constantEqual(r.PostFormValue("password"), f.user.Password) {
		s.mu.Lock()
		s.loginFailures++
		s.mu.Unlock()
		slog.Info("sandbox portal: login refused", "reason", "invalid email or password")
		s.renderPage(w, http.StatusUnprocessableEntity, "password", pageData{Title: "Log in to Procore", Email: f.email, Error: "Invalid email or password."})
		return
	}
	if f.user.MFA == "" {
		s.completeLogin(w, r, id, f)
		return
	}
	now := s.now()
	s.mu.Lock()
	live, ok := s.flows[id]
	if ok {
		live.stage = stageMFA
		if f.user.MFA == "sms" || f.user.MFA == "email" {
			s.sendCodeLocked(live, now)
		}
	}
	s.mu.Unlock()
	http.Redirect(w, r, "/login/mfa", http.StatusSeeOther)
}

// sendCodeLocked issues a fresh single-use 6-digit code for the flow (replacing any earlier one)
// and writes it to the outbox. s.mu must be held.
func (s *Service) sendCodeLocked(f *loginFlow, now time.Time) {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	f.code = fmt.Sprintf("%06d", n.Int64())
	f.codeExpires = now.Add(OneTimeCodeTTL)
	to := f.user.Email
	if f.user.MFA == "sms" && f.user.Phone != "" {
		to = f.user.Phone
	}
	if len(s.outbox) >= maxOutbox {
		s.outbox = append(s.outbox[:0], s.outbox[len(s.outbox)-maxOutbox/2:]...)
	}
	s.outbox = append(s.outbox, outboxEntry{
		Message: Message{To: to, Channel: f.user.MFA, Code: f.code, SentAt: now},
		email:   f.user.Email,
	})
}

func (s *Service) handleMFAPage(w http.ResponseWriter, r *http.Request) {
	_, f, ok := s.flow(r)
	if !ok || f.stage != stageMFA {
		toStage(w, r, f, ok)
		return
	}
	s.renderPage(w, http.StatusOK, "mfa", mfaPageData(f, ""))
}

func mfaPageData(f loginFlow, errMsg string) pageData {
	d := pageData{Title: "Verify it's you", Email: f.email, Method: f.user.MFA, Error: errMsg}
	switch f.user.MFA {
	case "totp":
		d.Hint = "Enter the 6-digit code from your authenticator app."
	case "sms":
		d.Hint = "Enter the 6-digit code we sent by text message to " + maskPhone(f.user.Phone) + "."
		d.Resend = true
	case "email":
		d.Hint = "Enter the 6-digit code we sent to your email address."
		d.Resend = true
	}
	return d
}

func maskPhone(p string) string {
	if len(p) <= 4 {
		return "your phone"
	}
	return "•••" + p[len(p)-4:]
}

func (s *Service) handleMFA(w http.ResponseWriter, r *http.Request) {
	id, f, ok := s.flow(r)
	if !ok || f.stage != stageMFA {
		toStage(w, r, f, ok)
		return
	}
	code := strings.TrimSpace(r.PostFormValue("code"))
	now := s.now()
	s.mu.Lock()
	live, ok := s.flows[id]
	valid := false
	if ok && live.stage == stageMFA {
		switch f.user.MFA {
		case "totp":
			valid = s.verifyTOTPLocked(f.user, code, now)
		case "sms", "email":
			// Single use: the flow holding the code ends with the login.
			valid = live.code != "" && now.Before(live.codeExpires) && constantEqual(code, live.code)
		}
	}
	if !valid {
		s.loginFailures++
	}
	s.mu.Unlock()
	if !valid {
		slog.Info("sandbox portal: login refused", "reason", "invalid verification code", "method", f.user.MFA)
		s.renderPage(w, http.StatusUnprocessableEntity, "mfa", mfaPageData(f, "Invalid verification code."))
		return
	}
	s.completeLogin(w, r, id, f)
}

// verifyTOTPLocked checks code against the user's secret for the current 30 s step ±1 and
// refuses a step at or before the newest one already accepted (RFC 6238 §5.2: no replay).
// s.mu must be held.
func (s *Service) verifyTOTPLocked(u WebUser, code string, now time.Time) bool {
	if u.TOTPSecret == "" || len(code) != 6 || now.Unix() < totpPeriod {
		return false
	}
	step := uint64(now.Unix() / totpPeriod)
	last, used := s.lastTOTPStep[u.UserID]
	opts := hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	for c := step - totpSkew; c <= step+totpSkew; c++ {
		ok, err := hotp.ValidateCustom(code, c, u.TOTPSecret, opts)
		if err != nil || !ok {
			continue
		}
		if used && c <= last {
			return false
		}
		s.lastTOTPStep[u.UserID] = c
		return true
	}
	return false
}

func (s *Service) handleMFAResend(w http.ResponseWriter, r *http.Request) {
	id, f, ok := s.flow(r)
	if ok && f.stage == stageMFA && (f.user.MFA == "sms" || f.user.MFA == "email") {
		now := s.now()
		s.mu.Lock()
		if live, ok := s.flows[id]; ok {
			s.sendCodeLocked(live, now)
		}
		s.mu.Unlock()
	}
	toStage(w, r, f, ok)
}

// completeLogin turns the flow into a web session: the _procore_session cookie (HttpOnly) and
// the readable csrf_token cookie, both expiring with the session, then a redirect to the return path.
func (s *Service) completeLogin(w http.ResponseWriter, r *http.Request, flowID string, f loginFlow) {
	now := s.now()
	sid, csrf := randomToken(32), randomToken(32)
	expires := now.Add(s.sessionTTL)
	s.mu.Lock()
	delete(s.flows, flowID)
	s.sessions[sid] = &session{userID: f.user.UserID, csrf: csrf, expiresAt: expires}
	s.logins++
	s.mu.Unlock()
	maxAge := int(s.sessionTTL / time.Second)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: sid, Path: "/", Expires: expires, MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: csrf, Path: "/", Expires: expires, MaxAge: maxAge, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: LoginFlowCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, f.returnTo, http.StatusSeeOther)
}

func (s *Service) handleApp(w http.ResponseWriter, r *http.Request) {
	userID, csrf, ok := s.sessionFor(r)
	if !ok {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {r.URL.RequestURI()}}.Encode(), http.StatusFound)
		return
	}
	u := s.usersByID[userID]
	s.renderPage(w, http.StatusOK, "app", pageData{Title: "Procore", Name: u.Name, Email: u.Email, CSRF: csrf})
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		s.mu.Lock()
		delete(s.sessions, c.Value)
		s.mu.Unlock()
	}
	for _, name := range []string{SessionCookie, CSRFCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: name == SessionCookie, SameSite: http.SameSiteLaxMode})
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// pageData feeds the portal templates.
type pageData struct {
	Title, Error, Hint             string
	ReturnTo, Email, Name, Method  string
	RelayState, SAMLResponse, CSRF string
	Code, ClientID                 string
	Fields                         []formField // hidden inputs
	Resend                         bool
}

// formField is a hidden form input.
type formField struct{ Name, Value string }

func (s *Service) renderPage(w http.ResponseWriter, status int, name string, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := s.pages.ExecuteTemplate(w, name, d); err != nil {
		slog.Error("sandbox portal: render page", "page", name, "err", err)
	}
}

const pagesHTML = `
{{define "head"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>{{if .CSRF}}
<meta name="csrf-token" content="{{.CSRF}}">{{end}}</head>
<body>{{end}}
{{define "foot"}}</body></html>
{{end}}

{{define "email"}}{{template "head" .}}
<main id="login">
<h1>Log in to Procore</h1>
{{if .Error}}<p id="login-error" role="alert">{{.Error}}</p>{{end}}
<form id="email-form" method="post" novalidate action="/login">
<input type="hidden" name="return_to" value="{{.ReturnTo}}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required autofocus>
<button id="next" type="submit">Next</button>
</form>
</main>
{{template "foot"}}{{end}}

{{define "password"}}{{template "head" .}}
<main id="login">
<h1>Log in to Procore</h1>
<p id="login-email">{{.Email}}</p>
{{if .Error}}<p id="login-error" role="alert">{{.Error}}</p>{{end}}
<form id="password-form" method="post" novalidate action="/login/password">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<button id="sign-in" type="submit">Sign In</button>
</form>
<p><a id="start-over" href="/login">Use a different email</a></p>
</main>
{{template "foot"}}{{end}}

{{define "sso"}}{{template "head" .}}
<main id="sso-idp">
<h1>Sandbox identity provider</h1>
<p>Continue to Procore as <span id="sso-email">{{.Email}}</span>.</p>
<form id="sso-form" method="post" novalidate action="/sso/acs">
<input type="hidden" name="RelayState" value="{{.RelayState}}">
<input type="hidden" name="SAMLResponse" value="{{.SAMLResponse}}">
<button id="sso-continue" type="submit">Continue</button>
</form>
</main>
{{template "foot"}}{{end}}

{{define "mfa"}}{{template "head" .}}
<main id="mfa" data-mfa-method="{{.Method}}">
<h1>Verify it's you</h1>
<p id="mfa-hint">{{.Hint}}</p>
{{if .Error}}<p id="mfa-error" role="alert">{{.Error}}</p>{{end}}
<form id="mfa-form" method="post" novalidate action="/login/mfa">
<label for="code">Verification code</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus>
<button id="verify" type="submit">Verify</button>
</form>
{{if .Resend}}<form id="resend-form" method="post" novalidate action="/login/mfa/resend"><button id="resend" type="submit">Send a new code</button></form>{{end}}
</main>
{{template "foot"}}{{end}}

{{define "app"}}{{template "head" .}}
<main id="app-home">
<h1>Welcome, <span id="user-name">{{.Name}}</span></h1>
<p id="user-email">{{.Email}}</p>
<form id="logout-form" method="post" novalidate action="/logout"><button id="logout" type="submit">Log out</button></form>
</main>
{{template "foot"}}{{end}}

{{define "native"}}{{template "head" .}}
<main id="oauth-native">
<h1>Authorization code</h1>
<p>Copy this code into your application:</p>
<code id="auth-code">{{.Code}}</code>
</main>
{{template "foot"}}{{end}}

{{define "consent"}}{{template "head" .}}
<main id="consent">
<h1>Authorization required</h1>
<p>Authorize <strong id="consent-client">{{.ClientID}}</strong> to use your Procore account?</p>
<p>Signed in as <span id="consent-user">{{.Name}}</span></p>
<form id="consent-form" method="post" action="/oauth/authorize">
<input type="hidden" name="authenticity_token" value="{{.CSRF}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<button id="authorize" name="decision" value="allow">Allow</button>
<button id="deny" name="decision" value="deny">Deny</button>
</form>
</main>
{{template "foot"}}{{end}}

{{define "oauth-error"}}{{template "head" .}}
<main>
<h1>An error has occurred</h1>
<p id="oauth-error">{{.Error}}</p>
</main>
{{template "foot"}}{{end}}
`

func parsePages() *template.Template {
	return template.Must(template.New("pages").Parse(pagesHTML))
}

package portal

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"procoregraph/sandbox"
	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/data"
)

func TestLogsCarryNoSecrets(t *testing.T) {
	needBrowser(t)
	const mailUser, mailPassword = "mail.user@example.com", "mail-user-password-9"
	demo := data.Generate(data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 12}).DemoUserID
	e := newEnv(t, sandbox.Config{ExtraUsers: []auth.WebUser{{UserID: demo, Email: mailUser, Password: mailPassword, Name: "Mail User", MFA: "email"}}})
	logs := &logBuffer{}
	m := newManager(t, e, memStore(t), func(o *Options) { o.Logger = logs.logger() })
	ctx := ctxFor(t, 3*time.Minute)
	start := e.clock.Now()

	secrets := map[string]string{
		"demo password": sandbox.DefaultDemoPassword, "mail password": mailPassword, "wrong password": "wrong-password-7",
		"TOTP secret": sandbox.DefaultDemoTOTPSecret,
	}
	captured := 0
	capture := func(s Session) {
		r, err := m.load(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range r.Web.Cookies {
			captured++
			secrets["cookie "+c.Name+string(rune('0'+captured))] = c.Value
		}
		secrets["CSRF token"+string(rune('0'+captured))] = r.Web.CSRF
		secrets["session id"+string(rune('0'+captured))] = s.ID
	}

	// A TOTP session, reads, an expiry with its automatic re-login.
	s, err := m.CreateSession(ctx, e.demoLogin(totpMFA()))
	if err != nil {
		t.Fatal(err)
	}
	capture(s)
	c := restClient(t, e, m, s, logs.logger())
	if _, err := c.Me(ctx); err != nil {
		t.Fatal(err)
	}
	e.sb.ExpireSessions()
	e.clock.Advance(totpPeriod)
	if _, err := c.Me(ctx); err != nil {
		t.Fatal(err)
	}
	capture(s)
	// An email-code session, and a refused password.
	cid, _ := e.company()
	s2, err := m.CreateSession(ctx, Login{BaseURL: e.url, Email: mailUser, Password: mailPassword, MFA: MFA{Method: MFAEmail}, CompanyID: cid})
	if err != nil {
		t.Fatal(err)
	}
	capture(s2)
	wrong := e.demoLogin(totpMFA())
	wrong.Password = secrets["wrong password"]
	if _, err := m.CreateSession(ctx, wrong); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if err := m.Revoke(ctx, s2.ID); err != nil {
		t.Fatal(err)
	}

	out := logs.String()
	for _, want := range []string{"portal: logged in", "portal: login failed", "portal: session revoked"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the logs lack %q; captured:\n%s", want, out)
		}
	}
	mustNotContain(t, "the logs", out, secrets)
	// One-time codes: every email code sent, every TOTP code of the steps the
	// test ran through (as whole numbers, not digits inside other numbers).
	codes := []string{}
	for _, msg := range e.sb.Outbox(mailUser) {
		codes = append(codes, msg.Code)
	}
	for at := start.Add(-totpPeriod); at.Before(e.clock.Now().Add(totpPeriod)); at = at.Add(totpPeriod) {
		code, _ := totp.GenerateCode(sandbox.DefaultDemoTOTPSecret, at)
		codes = append(codes, code)
	}
	if len(codes) < 3 {
		t.Fatalf("only %d codes to look for", len(codes))
	}
	for _, code := range codes {
		if regexp.MustCompile(`(^|[^0-9])` + code + `([^0-9]|$)`).MatchString(out) {
			t.Errorf("the logs contain the one-time code %s", code)
		}
	}
}

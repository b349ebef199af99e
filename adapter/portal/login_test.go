package portal

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"procoregraph/adapter"
	"procoregraph/sandbox"
	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/data"
)

// readOverSession lists the company's projects and one project's RFIs through
// the REST client on the session, and checks them against the dataset.
func readOverSession(t *testing.T, e *env, m *Manager, s Session) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	c := restClient(t, e, m, s, nil)
	cid, want := e.company()
	page, err := c.Projects(ctx, cid, adapter.ProjectFilter{}, adapter.ListOptions{})
	if err != nil {
		t.Fatalf("projects over the cookie session: %v", err)
	}
	got := map[int64]bool{}
	for _, p := range page.Items {
		got[p.ID] = true
	}
	if len(got) != len(want) || page.Total != len(want) {
		t.Fatalf("projects over the session: %d (Total %d), dataset has %d", len(got), page.Total, len(want))
	}
	for _, id := range want {
		if !got[id] {
			t.Fatalf("project %d missing from the session's list", id)
		}
	}
	rfis, err := c.RFIs(ctx, want[0], adapter.ListOptions{})
	if err != nil {
		t.Fatalf("RFIs over the cookie session: %v", err)
	}
	wantRFIs := e.rfiIDs(want[0])
	if len(rfis.Items) != len(wantRFIs) || len(wantRFIs) == 0 {
		t.Fatalf("RFIs over the session: %d, dataset has %d", len(rfis.Items), len(wantRFIs))
	}
	for _, r := range rfis.Items {
		if !wantRFIs[r.ID] {
			t.Fatalf("RFI %d is not in project %d", r.ID, want[0])
		}
	}
	st := e.sb.Stats()
	if st.ByClient["session"] == 0 || st.TokenRequests != 0 {
		t.Fatalf("want reads authenticated by the web session and no OAuth: by client %v, token requests %d", st.ByClient, st.TokenRequests)
	}
}

func TestCreateSession(t *testing.T) {
	needBrowser(t)

	t.Run("TOTPLoginServesRESTReadsAndWrites", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{})
		m := newManager(t, e, memStore(t), nil)
		s, err := m.CreateSession(ctxFor(t, time.Minute), e.demoLogin(totpMFA()))
		if err != nil {
			t.Fatal(err)
		}
		if e.logins() != 1 || s.Logins != 1 || s.State != StateActive {
			t.Fatalf("sandbox logins %d, session %+v", e.logins(), s)
		}
		if !strings.HasPrefix(s.ConnID, "portal-") || strings.Contains(s.ConnID, s.ID) {
			t.Fatalf("ConnID %q", s.ConnID)
		}
		if d := s.ProcoreExpiresAt.Sub(s.LoggedInAt); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
			t.Fatalf("Procore cookie lifetime %v, want the sandbox's 2h", d)
		}
		readOverSession(t, e, m, s)

		// A write needs the CSRF token: the sandbox refuses cookie writes without it.
		c := restClient(t, e, m, s, nil)
		_, projects := e.company()
		var demo int64
		e.sb.ReadDataset(func(ds *data.Dataset) { demo = ds.DemoUserID })
		rfi, err := c.CreateRFI(ctxFor(t, 30*time.Second), projects[0], adapter.RFICreate{
			Subject: "Cookie session write", Question: "Does the CSRF token travel?", ManagerID: demo})
		if err != nil {
			t.Fatalf("write over the cookie session: %v", err)
		}
		if !e.rfiIDs(projects[0])[rfi.ID] {
			t.Fatalf("created RFI %d not in the sandbox", rfi.ID)
		}
		if e.logins() != 1 {
			t.Fatalf("reads and writes cost %d logins, want the one", e.logins())
		}
	})

	t.Run("EmailCodeFromOutboxServesRESTReads", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{DemoMFA: "email"})
		m := newManager(t, e, memStore(t), nil)
		s, err := m.CreateSession(ctxFor(t, time.Minute), e.demoLogin(MFA{Method: MFAEmail}))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(e.sb.Outbox(sandbox.DefaultDemoEmail)); n != 1 {
			t.Fatalf("outbox holds %d codes, want the 1 of this login", n)
		}
		if s.MFAMethod != MFAEmail || e.logins() != 1 {
			t.Fatalf("session %+v, logins %d", s, e.logins())
		}
		readOverSession(t, e, m, s)
	})

	t.Run("SMSCodeThroughInboxWebhook", func(t *testing.T) {
		const phone = "+15550100"
		e := newEnv(t, sandbox.Config{DemoMFA: "sms"})
		store := memStore(t)
		inbox, err := NewCodeInbox(InboxOptions{Store: store, Key: testKey, Secret: "hook-secret", Clock: e.clock})
		if err != nil {
			t.Fatal(err)
		}
		hook := httptestServer(t, inbox)
		// The SMS gateway: relays what the sandbox "sent" to the webhook, as
		// a Twilio-style form post. The inbox refuses (409) a code no login
		// is waiting for yet, so the gateway posts each message again until
		// it is taken (204), for a bounded number of tries.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			type pending struct {
				code  string
				tries int
			}
			var queue []pending
			seen := 0
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				msgs := e.sb.Outbox(sandbox.DefaultDemoEmail)
				for _, msg := range msgs[seen:] {
					queue = append(queue, pending{code: msg.Code})
				}
				seen = len(msgs)
				var again []pending
				for _, p := range queue {
					req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(url.Values{
						"To": {phone}, "Body": {"Your Procore verification code is " + p.code + "."}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Authorization", "Bearer hook-secret")
					status := 0
					if resp, err := http.DefaultClient.Do(req); err == nil {
						status = resp.StatusCode
						resp.Body.Close()
					}
					if status != http.StatusNoContent && p.tries < 1500 { // 30s of retries
						p.tries++
						again = append(again, p)
					}
				}
				queue = again
			}
		}()
		m := newManager(t, e, store, func(o *Options) {
			o.CodeProviders = map[string]CodeProvider{ProviderOutbox: &OutboxCodes{}, ProviderInbox: inbox}
			o.SMSNumbers = map[string]string{sandbox.DefaultDemoEmail: phone}
		})
		l := e.demoLogin(MFA{Method: MFASMS, CodeProvider: ProviderInbox})
		s, err := m.CreateSession(ctxFor(t, time.Minute), l)
		if err != nil {
			t.Fatal(err)
		}
		if e.logins() != 1 || s.MFAMethod != MFASMS {
			t.Fatalf("logins %d, session %+v", e.logins(), s)
		}
		readOverSession(t, e, m, s)
	})

	t.Run("FollowsTheSSORedirect", func(t *testing.T) {
		person := data.Generate(data.Options{Seed: 7, Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 12}).DemoUserID
		e := newEnv(t, sandbox.Config{Seed: 7, ExtraUsers: []auth.WebUser{{
			UserID: person, Email: "sso.user@example.com", Password: "sso-password", Name: "Sso User",
			MFA: "totp", TOTPSecret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", SSO: true,
		}}})
		m := newManager(t, e, memStore(t), nil)
		cid, _ := e.company()
		s, err := m.CreateSession(ctxFor(t, time.Minute), Login{BaseURL: e.url, Email: "sso.user@example.com", Password: "sso-password",
			MFA: MFA{Method: MFATOTP, TOTPSecret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}, CompanyID: cid})
		if err != nil {
			t.Fatal(err)
		}
		if e.count("GET /sso/idp") != 1 || e.count("POST /sso/acs") != 1 || e.logins() != 1 {
			t.Fatalf("SSO pages: idp %d, acs %d; logins %d", e.count("GET /sso/idp"), e.count("POST /sso/acs"), e.logins())
		}
		readOverSession(t, e, m, s)
	})
}

func TestCreateSessionRefusals(t *testing.T) {
	needBrowser(t)
	cases := []struct {
		name  string
		login func(e *env) Login
		cause error
		posts map[string]int
	}{
		{"WrongPasswordFailsAfterOneAttempt", func(e *env) Login {
			l := e.demoLogin(totpMFA())
			l.Password = "not-the-password"
			return l
		}, ErrInvalidCredentials, map[string]int{"POST /login/password": 1, "POST /login/mfa": 0}},
		{"WrongTOTPSecretFailsAfterOneAttempt", func(e *env) Login {
			return e.demoLogin(MFA{Method: MFATOTP, TOTPSecret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"})
		}, ErrInvalidCode, map[string]int{"POST /login/password": 1, "POST /login/mfa": 1}},
		{"MFAMethodMismatchIsRefusedBeforeAnyCode", func(e *env) Login {
			return e.demoLogin(MFA{Method: MFAEmail})
		}, ErrMFAMismatch, map[string]int{"POST /login/password": 1, "POST /login/mfa": 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			m := newManager(t, e, memStore(t), nil)
			_, err := m.CreateSession(ctxFor(t, time.Minute), tc.login(e))
			if !errors.Is(err, tc.cause) || adapter.ErrorCode(err) != adapter.CodeUnauthenticated {
				t.Fatalf("err = %v, want UNAUTHENTICATED wrapping %v", err, tc.cause)
			}
			for route, n := range tc.posts {
				if got := e.count(route); got != n {
					t.Errorf("%s: %d requests, want %d", route, got, n)
				}
			}
			if e.logins() != 0 || m.Stats().FailedLogins != 1 {
				t.Errorf("logins %d, failed %d", e.logins(), m.Stats().FailedLogins)
			}
		})
	}

	t.Run("InvalidLoginIsBadUserInputWithoutABrowser", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{})
		m := newManager(t, e, memStore(t), nil)
		_, err := m.CreateSession(ctxFor(t, 5*time.Second), Login{BaseURL: "ftp://x", MFA: MFA{Method: MFATOTP, TOTPSecret: "not base32!"}})
		var ae *adapter.Error
		if !errors.As(err, &ae) || ae.Code != adapter.CodeBadUserInput || len(ae.Fields) != 4 {
			t.Fatalf("err = %#v, want BAD_USER_INPUT with 4 fields", err)
		}
		if len(e.counts) != 0 {
			t.Fatalf("an invalid login reached the sandbox: %v", e.counts)
		}
	})
}

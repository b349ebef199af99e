package portal

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"procoregraph/adapter"
	"procoregraph/cache"
	"procoregraph/sandbox"
)

func sandboxNoMFA() sandbox.Config { return sandbox.Config{DemoMFA: "none"} }

// autoClock is a fake clock whose Sleep moves time forward at once.
type autoClock struct {
	mu     sync.Mutex
	t      time.Time
	slept  []time.Duration
	sleeps int
}

func (c *autoClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *autoClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps++
	if c.sleeps > 10_000 {
		return errors.New("autoClock: too many sleeps")
	}
	if d > 0 {
		c.t = c.t.Add(d)
		c.slept = append(c.slept, d)
	}
	return nil
}

func (c *autoClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTOTP(t *testing.T, store cache.Store, clock *autoClock) *totpCodes {
	t.Helper()
	s, err := newSealer(testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	return newTOTPCodes(store, clock, s, 5*time.Second, slog.New(slog.DiscardHandler))
}

const unitSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

func TestTOTPCodes(t *testing.T) {
	ctx := context.Background()
	stepStart := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a step boundary

	t.Run("UsesTheCurrentStepWhenItHasTimeLeft", func(t *testing.T) {
		clock := &autoClock{t: stepStart.Add(10 * time.Second)}
		code, err := newTOTP(t, memStore(t), clock).code(ctx, unitSecret)
		want, _ := totp.GenerateCode(unitSecret, stepStart)
		if err != nil || code != want || len(clock.slept) != 0 {
			t.Fatalf("code %q (want %q), slept %v, %v", code, want, clock.slept, err)
		}
	})
	t.Run("WaitsOutACodeAboutToExpire", func(t *testing.T) {
		clock := &autoClock{t: stepStart.Add(27 * time.Second)}
		code, err := newTOTP(t, memStore(t), clock).code(ctx, unitSecret)
		want, _ := totp.GenerateCode(unitSecret, stepStart.Add(totpPeriod))
		if err != nil || code != want || len(clock.slept) != 1 || clock.slept[0] != 3*time.Second {
			t.Fatalf("code %q (want the next step's %q), slept %v, %v", code, want, clock.slept, err)
		}
	})
	t.Run("NeverReusesAStep", func(t *testing.T) {
		clock := &autoClock{t: stepStart.Add(time.Second)}
		g := newTOTP(t, memStore(t), clock)
		first, err1 := g.code(ctx, unitSecret)
		second, err2 := g.code(ctx, unitSecret)
		want2, _ := totp.GenerateCode(unitSecret, stepStart.Add(totpPeriod))
		if err1 != nil || err2 != nil || first == second || second != want2 || !clock.Now().Equal(stepStart.Add(totpPeriod)) {
			t.Fatalf("codes %q then %q (want %q at the next step), now %v", first, second, want2, clock.Now())
		}
	})
	t.Run("ReplicasSharingAStoreNeverShareAStep", func(t *testing.T) {
		store := memStore(t)
		clock := &autoClock{t: stepStart.Add(time.Second)}
		a, b := newTOTP(t, store, clock), newTOTP(t, store, clock)
		ca, _ := a.code(ctx, unitSecret)
		cb, _ := b.code(ctx, unitSecret)
		if ca == cb || len(clock.slept) != 1 {
			t.Fatalf("replica codes %q and %q, slept %v: the second must wait for the next step", ca, cb, clock.slept)
		}
		// Another secret has steps of its own.
		other, _ := b.code(ctx, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
		if len(clock.slept) != 1 || other == "" {
			t.Fatalf("another secret waited: %v", clock.slept)
		}
	})
	t.Run("GivesUpWhenTheContextEnds", func(t *testing.T) {
		clock := &autoClock{t: stepStart.Add(time.Second)}
		g := newTOTP(t, memStore(t), clock)
		_, _ = g.code(ctx, unitSecret)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := g.code(cctx, unitSecret); adapter.ErrorCode(err) != adapter.CodeUpstreamUnavailable {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xA5}, KeySize)
	for name, in := range map[string]string{
		"AcceptsStdBase64":    base64.StdEncoding.EncodeToString(key),
		"AcceptsURLBase64Raw": base64.RawURLEncoding.EncodeToString(key),
		"AcceptsHex":          hex.EncodeToString(key),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseKey(" " + in + "\n")
			if err != nil || !bytes.Equal(got, key) {
				t.Fatalf("got %x, %v", got, err)
			}
		})
	}
	for name, in := range map[string]string{
		"RefusesShortKey": base64.StdEncoding.EncodeToString(key[:16]),
		"RefusesGarbage":  "not a key at all",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseKey(in); err == nil || strings.Contains(err.Error(), in) {
				t.Fatalf("err = %v (must not echo the input)", err)
			}
		})
	}
}

// fakeDriver hands out numbered cookies, or the errors queued in fail.
type fakeDriver struct {
	mu    sync.Mutex
	clock interface{ Now() time.Time }
	calls int
	fail  []error
}

func (d *fakeDriver) Login(ctx context.Context, in DriverLogin) (WebSession, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if len(d.fail) > 0 {
		err := d.fail[0]
		d.fail = d.fail[1:]
		if err != nil {
			return WebSession{}, err
		}
	}
	exp := d.clock.Now().Add(2 * time.Hour).Truncate(time.Second)
	v := fmt.Sprintf("cookie-value-%03d-secret", d.calls)
	return WebSession{ExpiresAt: exp, CSRF: fmt.Sprintf("csrf-token-%03d", d.calls), Cookies: []Cookie{
		{Name: SessionCookie, Value: v, Expires: exp}, {Name: CSRFCookie, Value: fmt.Sprintf("csrf-token-%03d", d.calls), Expires: exp}}}, nil
}

func (d *fakeDriver) n() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

func fakeManager(t *testing.T, store cache.Store, d *fakeDriver, clock *autoClock, key []byte, old ...[]byte) *Manager {
	t.Helper()
	d.clock = clock
	m, err := New(Options{Store: store, Key: key, OldKeys: old, Driver: d, Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

var unitLogin = Login{BaseURL: "http://127.0.0.1:1", Email: "pat@example.com", Password: "pat-password-secret",
	MFA: MFA{Method: MFATOTP, TOTPSecret: unitSecret}, CompanyID: 42}

func apply(t *testing.T, m *Manager, id, method string) (*http.Request, error) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://procore.test/rest/v1.0/me", nil)
	return req, m.Credentials(id).Apply(context.Background(), req)
}

func TestCredentialsWithFakeDriver(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 1, 0, time.UTC)

	t.Run("CookiesOnEveryCallCSRFOnlyOnWrites", func(t *testing.T) {
		d := &fakeDriver{}
		m := fakeManager(t, memStore(t), d, &autoClock{t: now}, testKey)
		s, err := m.CreateSession(ctx, unitLogin)
		if err != nil {
			t.Fatal(err)
		}
		get, err := apply(t, m, s.ID, http.MethodGet)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := get.Cookie(SessionCookie); err != nil || c.Value != "cookie-value-001-secret" || get.Header.Get(CSRFHeader) != "" {
			t.Fatalf("GET: cookie %v, csrf %q", c, get.Header.Get(CSRFHeader))
		}
		post, _ := apply(t, m, s.ID, http.MethodPost)
		if post.Header.Get(CSRFHeader) != "csrf-token-001" {
			t.Fatalf("POST carries X-CSRF-Token %q", post.Header.Get(CSRFHeader))
		}
	})

	t.Run("RefusedCookieIsReplacedOnceEvenWhenReportedLate", func(t *testing.T) {
		d := &fakeDriver{}
		m := fakeManager(t, memStore(t), d, &autoClock{t: now}, testKey)
		s, _ := m.CreateSession(ctx, unitLogin)
		old, _ := apply(t, m, s.ID, http.MethodGet)
		m.Credentials(s.ID).Invalidate(ctx, old, errors.New("401"))
		fresh, err := apply(t, m, s.ID, http.MethodGet)
		if c, _ := fresh.Cookie(SessionCookie); err != nil || c.Value != "cookie-value-002-secret" || d.n() != 2 {
			t.Fatalf("after a 401: %v, %v, logins %d", c, err, d.n())
		}
		// A 401 answered late for the old cookie must not cost a login.
		m.Credentials(s.ID).Invalidate(ctx, old, errors.New("401"))
		if _, err := apply(t, m, s.ID, http.MethodGet); err != nil || d.n() != 2 {
			t.Fatalf("late 401 for a replaced cookie: %v, logins %d", err, d.n())
		}
	})

	t.Run("FailedReloginFailsFastUntilRetryAfterFailure", func(t *testing.T) {
		clock := &autoClock{t: now}
		d := &fakeDriver{}
		m := fakeManager(t, memStore(t), d, clock, testKey)
		s, _ := m.CreateSession(ctx, unitLogin)
		d.fail = []error{loginError(adapter.CodeUpstreamUnavailable, "the Procore login stalled", ErrUnexpectedPage)}
		clock.Advance(3 * time.Hour) // the cookie expired
		if _, err := apply(t, m, s.ID, http.MethodGet); !errors.Is(err, ErrUnexpectedPage) {
			t.Fatalf("failed re-login: %v", err)
		}
		_, err := apply(t, m, s.ID, http.MethodGet)
		var ae *adapter.Error
		if !errors.As(err, &ae) || ae.Code != adapter.CodeUpstreamUnavailable || ae.RetryAfter <= 0 || d.n() != 2 {
			t.Fatalf("call right after: %v (driver calls %d), want a fast UPSTREAM_UNAVAILABLE with RetryAfter", err, d.n())
		}
		clock.Advance(m.o.RetryAfterFailure)
		if _, err := apply(t, m, s.ID, http.MethodGet); err != nil || d.n() != 3 {
			t.Fatalf("after RetryAfterFailure: %v, driver calls %d", err, d.n())
		}
	})

	t.Run("RevokedOrUnknownSessionIsUnauthenticated", func(t *testing.T) {
		m := fakeManager(t, memStore(t), &fakeDriver{}, &autoClock{t: now}, testKey)
		for _, id := range []string{"", "pgs_nope", newSessionID()} {
			if _, err := apply(t, m, id, http.MethodGet); !errors.Is(err, ErrSessionNotFound) || adapter.ErrorCode(err) != adapter.CodeUnauthenticated {
				t.Fatalf("id %q: %v", id, err)
			}
		}
	})

	t.Run("ExpiresAfterMaxAge", func(t *testing.T) {
		clock := &autoClock{t: now}
		m := fakeManager(t, memStore(t), &fakeDriver{}, clock, testKey)
		s, _ := m.CreateSession(ctx, unitLogin)
		if !s.ExpiresAt.Equal(now.Add(30 * 24 * time.Hour)) {
			t.Fatalf("ExpiresAt %v", s.ExpiresAt)
		}
		clock.Advance(30 * 24 * time.Hour)
		if _, err := m.Session(ctx, s.ID); !errors.Is(err, ErrSessionNotFound) {
			t.Fatalf("a session past MaxAge: %v", err)
		}
	})
}

func TestSessionsAtRest(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 1, 0, time.UTC)
	store := memStore(t)
	m := fakeManager(t, store, &fakeDriver{}, &autoClock{t: now}, testKey)
	s, err := m.CreateSession(ctx, unitLogin)
	if err != nil {
		t.Fatal(err)
	}
	it, ok, _ := store.Get(ctx, recordKey(s.ID))
	if !ok {
		t.Fatal("no stored session")
	}

	t.Run("StoredBlobHoldsNoReadableSecret", func(t *testing.T) {
		for _, secret := range []string{"cookie-value-001", "csrf-token-001", unitLogin.Password, unitSecret, unitLogin.Email, s.ID, `"password"`} {
			if bytes.Contains(it.Value, []byte(secret)) {
				t.Fatalf("the stored blob contains %q", secret)
			}
		}
		// The same record sealed twice differs (random nonce).
		again, _ := m.sealRecord(&record{ID: s.ID})
		again2, _ := m.sealRecord(&record{ID: s.ID})
		if bytes.Equal(again, again2) {
			t.Fatal("two seals of one record are equal: the nonce is not random")
		}
	})
	t.Run("AnotherKeyCannotReadIt", func(t *testing.T) {
		other := fakeManager(t, store, &fakeDriver{}, &autoClock{t: now}, bytes.Repeat([]byte{7}, KeySize))
		if _, err := other.Session(ctx, s.ID); !errors.Is(err, ErrSessionNotFound) || adapter.ErrorCode(err) != adapter.CodeUnauthenticated {
			t.Fatalf("read with a wrong key: %v", err)
		}
	})
	t.Run("RotatedKeyStillReadsOldSessions", func(t *testing.T) {
		rotated := fakeManager(t, store, &fakeDriver{}, &autoClock{t: now}, bytes.Repeat([]byte{7}, KeySize), testKey)
		got, err := rotated.Session(ctx, s.ID)
		if err != nil || got.Email != unitLogin.Email {
			t.Fatalf("read with the old key in OldKeys: %+v, %v", got, err)
		}
	})
	t.Run("LoginNeverPrintsItsSecrets", func(t *testing.T) {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "login", unitLogin)
		j, _ := json.Marshal(unitLogin)
		for _, out := range []string{buf.String(), fmt.Sprint(unitLogin), fmt.Sprintf("%+v %#v %v", unitLogin, unitLogin, unitLogin.MFA) + unitLogin.Email, string(j)} {
			if strings.Contains(out, unitLogin.Password) || strings.Contains(out, unitSecret) || !strings.Contains(out, unitLogin.Email) {
				t.Fatalf("printed login: %s", out)
			}
		}
	})
	t.Run("TamperedOrMovedBlobDoesNotOpen", func(t *testing.T) {
		bad := bytes.Clone(it.Value)
		bad[len(bad)-1] ^= 1
		if _, err := m.seal.open(recordKey(s.ID), bad); err == nil {
			t.Fatal("a tampered blob opened")
		}
		if _, err := m.seal.open(recordKey(newSessionID()), it.Value); err == nil {
			t.Fatal("a blob moved under another session's key opened")
		}
		plain, err := m.seal.open(recordKey(s.ID), it.Value)
		var r record
		if err != nil || json.Unmarshal(plain, &r) != nil || r.Password != unitLogin.Password || r.TOTPSecret != unitSecret {
			t.Fatalf("the right key does not open the blob: %v", err)
		}
	})
}

func TestCodeInbox(t *testing.T) {
	ctx := context.Background()
	clock := &autoClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	inbox, err := NewCodeInbox(InboxOptions{Store: memStore(t), Key: testKey, Secret: "s3cret", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(inbox)
	defer srv.Close()
	post := func(auth, ctype, body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("RefusesDeliveriesWithoutTheSecret", func(t *testing.T) {
		if got := post("Bearer wrong", "application/json", `{"to":"a@example.com","text":"123456"}`); got != http.StatusUnauthorized {
			t.Fatalf("status %d", got)
		}
	})
	t.Run("RefusesAMessageWithoutACode", func(t *testing.T) {
		if got := post("Bearer s3cret", "application/json", `{"to":"a@example.com","text":"hello"}`); got != http.StatusBadRequest {
			t.Fatalf("status %d", got)
		}
	})
	t.Run("DeliversAJSONCodeOnce", func(t *testing.T) {
		since := clock.Now()
		if got := post("Bearer s3cret", "application/json", `{"to":"A@example.com","text":"Your code: 654321"}`); got != http.StatusNoContent {
			t.Fatalf("status %d", got)
		}
		q := CodeQuery{Address: "a@example.com", Method: MFAEmail, SentAfter: since}
		code, err := inbox.Code(ctx, q)
		if err != nil || code != "654321" {
			t.Fatalf("code %q, %v", code, err)
		}
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if code, err := inbox.Code(cctx, q); err == nil {
			t.Fatalf("a consumed code came back: %q", code)
		}
	})
	t.Run("IgnoresCodesFromBeforeTheLogin", func(t *testing.T) {
		if got := post("Bearer s3cret", "application/x-www-form-urlencoded", "To=%2B1555&Body=code+111222"); got != http.StatusNoContent {
			t.Fatalf("status %d", got)
		}
		clock.Advance(time.Second)
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if code, err := inbox.Code(cctx, CodeQuery{Address: "+1555", Method: MFASMS, SentAfter: clock.Now()}); err == nil {
			t.Fatalf("a code sent before the login was returned: %q", code)
		}
	})
}

func TestOutboxCodes(t *testing.T) {
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_sandbox/outbox" || r.URL.Query().Get("to") != "pat@example.com" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `[{"to":"pat@example.com","channel":"email","code":"100001","sent_at":%q},
			{"to":"pat@example.com","channel":"sms","code":"200002","sent_at":%q},
			{"to":"pat@example.com","channel":"email","code":"300003","sent_at":%q}]`,
			base.Format(time.RFC3339Nano), base.Add(2*time.Second).Format(time.RFC3339Nano), base.Add(time.Second).Format(time.RFC3339Nano))
	}))
	defer srv.Close()
	o := &OutboxCodes{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	t.Run("TakesTheNewestCodeOfTheMethodSentAfterTheLogin", func(t *testing.T) {
		code, err := o.Code(ctx, CodeQuery{BaseURL: srv.URL, Address: "pat@example.com", Method: MFAEmail, SentAfter: base.Add(time.Millisecond)})
		if err != nil || code != "300003" {
			t.Fatalf("code %q, %v", code, err)
		}
	})
	t.Run("WaitsWhileNoCodeIsNewEnough", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if code, err := o.Code(cctx, CodeQuery{BaseURL: srv.URL, Address: "pat@example.com", Method: MFAEmail, SentAfter: base.Add(time.Minute)}); err == nil {
			t.Fatalf("got %q", code)
		}
	})
}

func TestBrowserProcess(t *testing.T) {
	shared := needBrowser(t)
	e := newEnv(t, sandboxNoMFA())
	login := DriverLogin{BaseURL: e.url, Email: e.demoLogin(MFA{}).Email, Password: e.demoLogin(MFA{}).Password, MFA: MFANone}

	t.Run("StartsAgainAfterTheBrowserDies", func(t *testing.T) {
		b := NewBrowser(BrowserOptions{Path: shared.o.Path, Logger: slog.New(slog.DiscardHandler)})
		defer b.Close()
		ctx := ctxFor(t, 2*time.Minute)
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		pid := b.PID()
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Whether the crash is noticed before the login or during it, the
		// login runs in a new browser.
		ws, err := b.Login(ctx, login)
		if err != nil || ws.value(SessionCookie) == "" {
			t.Fatalf("login after the browser died: %v", err)
		}
		if b.Launches() != 2 || b.PID() == pid {
			t.Fatalf("launches %d, pid %d (was %d)", b.Launches(), b.PID(), pid)
		}
	})
	t.Run("CloseLeavesNoProcessAndNoProfile", func(t *testing.T) {
		b := NewBrowser(BrowserOptions{Path: shared.o.Path, Logger: slog.New(slog.DiscardHandler)})
		ctx := ctxFor(t, time.Minute)
		if _, err := b.Login(ctx, login); err != nil {
			t.Fatal(err)
		}
		b.mu.Lock()
		pid, dir := b.proc.cmd.Process.Pid, b.proc.dataDir
		b.mu.Unlock()
		mem, err := b.Memory()
		if err != nil || mem.Processes < 2 || mem.RSS <= 0 || mem.PSS <= 0 || mem.PSS > mem.RSS {
			t.Fatalf("memory of a running browser: %+v, %v", mem, err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !os.IsNotExist(err) {
			t.Fatalf("browser process %d still exists after Close", pid)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("profile %s still exists after Close", dir)
		}
		if _, err := b.Login(ctx, login); adapter.ErrorCode(err) != adapter.CodeInternal {
			t.Fatalf("login on a closed browser: %v", err)
		}
	})
}

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

// inboxFixture is a CodeInbox on its own store, served over HTTP, paced by
// the wall clock (its logins wait in goroutines for deliveries).
type inboxFixture struct {
	inbox *CodeInbox
	store cache.Store
	clock *testClock
	url   string
}

func newInboxFixture(t *testing.T, store cache.Store) *inboxFixture {
	t.Helper()
	if store == nil {
		store = memStore(t)
	}
	clock := &testClock{}
	inbox, err := NewCodeInbox(InboxOptions{Store: store, Key: testKey, Secret: "s3cret", Clock: clock, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &inboxFixture{inbox: inbox, store: store, clock: clock, url: httptestServer(t, inbox)}
}

// post sends one delivery and returns the status.
func (f *inboxFixture) post(t *testing.T, method, auth, ctype, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, f.url, strings.NewReader(body))
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

// deliver posts a JSON delivery with the right secret.
func (f *inboxFixture) deliver(t *testing.T, to, text string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"to": to, "text": text})
	return f.post(t, http.MethodPost, "Bearer s3cret", "application/json", string(body))
}

type codeResult struct {
	code string
	err  error
}

// wait starts a login waiting for its code in a goroutine; the channel gets
// what Code returned.
func (f *inboxFixture) wait(ctx context.Context, q CodeQuery) <-chan codeResult {
	ch := make(chan codeResult, 1)
	go func() {
		code, err := f.inbox.Code(ctx, q)
		ch <- codeResult{code, err}
	}()
	return ch
}

// claimant returns the login holding address's claim, "" when none does.
func (f *inboxFixture) claimant(t *testing.T, address string) string {
	t.Helper()
	it, ok, err := f.store.Get(context.Background(), claimKey(address))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return ""
	}
	return string(it.Value)
}

// waitClaimed polls until login holds address's claim.
func (f *inboxFixture) waitClaimed(t *testing.T, address, login string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.claimant(t, address) != login {
		if time.Now().After(deadline) {
			t.Fatalf("login %q never claimed %q (claimant %q)", login, address, f.claimant(t, address))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// result waits (generously) for a waiting login to end.
func result(t *testing.T, ch <-chan codeResult) codeResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the login waiting for a code never returned")
		return codeResult{}
	}
}

// failingStore fails every read.
type failingStore struct{ cache.Store }

func (failingStore) Get(context.Context, string) (cache.Item, bool, error) {
	return cache.Item{}, false, errors.New("store down")
}

func TestCodeInbox(t *testing.T) {
	ctx := context.Background()

	for _, tc := range []struct {
		name                string
		method, auth, ctype string
		body                string
		want                int
	}{
		{"RefusesDeliveriesWithoutTheSecret", http.MethodPost, "Bearer wrong", "application/json", `{"to":"a@example.com","text":"123456"}`, http.StatusUnauthorized},
		{"RefusesAMessageWithoutACode", http.MethodPost, "Bearer s3cret", "application/json", `{"to":"a@example.com","text":"hello"}`, http.StatusBadRequest},
		{"RefusesAMessageWithoutAnAddress", http.MethodPost, "Bearer s3cret", "application/json", `{"text":"123456"}`, http.StatusBadRequest},
		{"RefusesOtherMethods", http.MethodGet, "Bearer s3cret", "application/json", "", http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newInboxFixture(t, nil)
			if got := f.post(t, tc.method, tc.auth, tc.ctype, tc.body); got != tc.want {
				t.Fatalf("status %d, want %d", got, tc.want)
			}
		})
	}

	t.Run("DeliversAJSONCodeOnceToTheWaitingLogin", func(t *testing.T) {
		f := newInboxFixture(t, nil)
		q := CodeQuery{Address: "a@example.com", Method: MFAEmail, Login: "login-a", SentAfter: f.clock.Now()}
		ch := f.wait(ctx, q)
		f.waitClaimed(t, "a@example.com", "login-a")
		if got := f.deliver(t, " A@example.com", "Your code: 654321"); got != http.StatusNoContent {
			t.Fatalf("status %d", got)
		}
		if r := result(t, ch); r.err != nil || r.code != "654321" {
			t.Fatalf("code %q, %v", r.code, r.err)
		}
		// The code was used: a later login for the address does not get it.
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		q.Login = "login-b"
		if code, err := f.inbox.Code(cctx, q); err == nil {
			t.Fatalf("a consumed code came back: %q", code)
		}
	})

	t.Run("DeliversATwilioFormPost", func(t *testing.T) {
		f := newInboxFixture(t, nil)
		ch := f.wait(ctx, CodeQuery{Address: "+15550100", Method: MFASMS, Login: "login-a", SentAfter: f.clock.Now()})
		f.waitClaimed(t, "+15550100", "login-a")
		if got := f.post(t, http.MethodPost, "Bearer s3cret", "application/x-www-form-urlencoded", "To=%2B15550100&Body=code+111222"); got != http.StatusNoContent {
			t.Fatalf("status %d", got)
		}
		if r := result(t, ch); r.err != nil || r.code != "111222" {
			t.Fatalf("code %q, %v", r.code, r.err)
		}
	})

	t.Run("IgnoresCodesFromBeforeTheLogin", func(t *testing.T) {
		f := newInboxFixture(t, nil)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// The login "started" later than the delivery is stamped.
		ch := f.wait(cctx, CodeQuery{Address: "+1555", Method: MFASMS, Login: "login-a", SentAfter: f.clock.Now().Add(time.Hour)})
		f.waitClaimed(t, "+1555", "login-a")
		if got := f.deliver(t, "+1555", "code 111222"); got != http.StatusNoContent {
			t.Fatalf("status %d", got)
		}
		// Let the login read the store a few times, then end it.
		time.Sleep(50 * time.Millisecond)
		cancel()
		if r := result(t, ch); r.err == nil {
			t.Fatalf("a code sent before the login was returned: %q", r.code)
		}
	})

	t.Run("DeliveryWithoutAPendingLoginIsRefused", func(t *testing.T) {
		f := newInboxFixture(t, nil)
		if got := f.deliver(t, "+15550100", "code 424242"); got != http.StatusConflict {
			t.Fatalf("status %d, want 409", got)
		}
		if err := f.inbox.Deliver(ctx, "+15550100", "code 424242"); !errors.Is(err, ErrNoPendingLogin) {
			t.Fatalf("Deliver: %v, want ErrNoPendingLogin", err)
		}
		// A login starting afterwards does not get the refused code.
		cctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
		defer cancel()
		if code, err := f.inbox.Code(cctx, CodeQuery{Address: "+15550100", Method: MFASMS, Login: "login-late", SentAfter: f.clock.Now().Add(-time.Hour)}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a login started after a refused delivery got %q, %v", code, err)
		}
	})

	t.Run("ASecondLoginForTheSameAddressIsBusy", func(t *testing.T) {
		f := newInboxFixture(t, nil)
		actx, cancel := context.WithCancel(ctx)
		defer cancel()
		first := f.wait(actx, CodeQuery{Address: "pat@example.com", Method: MFAEmail, Login: "login-a", SentAfter: f.clock.Now()})
		f.waitClaimed(t, "pat@example.com", "login-a")
		bctx, bcancel := context.WithTimeout(ctx, 10*time.Second)
		defer bcancel()
		// The same address however it is written.
		code, err := f.inbox.Code(bctx, CodeQuery{Address: " PAT@example.com ", Method: MFAEmail, Login: "login-b", SentAfter: f.clock.Now()})
		if !errors.Is(err, ErrAddressBusy) || code != "" {
			t.Fatalf("second login: %q, %v, want ErrAddressBusy", code, err)
		}
		// The busy login leaves the first one's claim alone.
		if got := f.claimant(t, "pat@example.com"); got != "login-a" {
			t.Fatalf("claimant after the busy login: %q", got)
		}
		if got := f.deliver(t, "pat@example.com", "code 777888"); got != http.StatusNoContent {
			t.Fatalf("status %d", got)
		}
		if r := result(t, first); r.err != nil || r.code != "777888" {
			t.Fatalf("first login: %q, %v", r.code, r.err)
		}
	})

	t.Run("CodeGoesOnlyToTheClaimingLogin", func(t *testing.T) {
		f := newInboxFixture(t, nil)
		actx, acancel := context.WithCancel(ctx)
		defer acancel()
		bctx, bcancel := context.WithCancel(ctx)
		defer bcancel()
		a := f.wait(actx, CodeQuery{Address: "+15550001", Method: MFASMS, Login: "login-a", SentAfter: f.clock.Now()})
		b := f.wait(bctx, CodeQuery{Address: "+15550002", Method: MFASMS, Login: "login-b", SentAfter: f.clock.Now()})
		f.waitClaimed(t, "+15550001", "login-a")
		f.waitClaimed(t, "+15550002", "login-b")
		if got := f.deliver(t, "+15550001", "code 111111"); got != http.StatusNoContent {
			t.Fatalf("status %d", got)
		}
		if r := result(t, a); r.err != nil || r.code != "111111" {
			t.Fatalf("claiming login: %q, %v", r.code, r.err)
		}
		select {
		case r := <-b:
			t.Fatalf("another login returned %q, %v on a code that was not its own", r.code, r.err)
		default:
		}
		if got := f.deliver(t, "+15550002", "code 222222"); got != http.StatusNoContent {
			t.Fatalf("status %d", got)
		}
		if r := result(t, b); r.err != nil || r.code != "222222" {
			t.Fatalf("other login: %q, %v", r.code, r.err)
		}
	})

	for _, tc := range []struct {
		name string
		end  func(t *testing.T, f *inboxFixture, cancel context.CancelFunc)
	}{
		{"ClaimIsReleasedWhenTheLoginEnds/AfterItsCode", func(t *testing.T, f *inboxFixture, _ context.CancelFunc) {
			if got := f.deliver(t, "+15550100", "code 314159"); got != http.StatusNoContent {
				t.Fatalf("status %d", got)
			}
		}},
		{"ClaimIsReleasedWhenTheLoginEnds/WhenItsContextIsCancelled", func(t *testing.T, f *inboxFixture, cancel context.CancelFunc) {
			cancel()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newInboxFixture(t, nil)
			actx, cancel := context.WithCancel(ctx)
			defer cancel()
			a := f.wait(actx, CodeQuery{Address: "+15550100", Method: MFASMS, Login: "login-a", SentAfter: f.clock.Now()})
			f.waitClaimed(t, "+15550100", "login-a")
			tc.end(t, f, cancel)
			result(t, a)
			if got := f.claimant(t, "+15550100"); got != "" {
				t.Fatalf("the ended login's claim is still held by %q", got)
			}
			// A later delivery is refused, and a new login can claim.
			if got := f.deliver(t, "+15550100", "code 271828"); got != http.StatusConflict {
				t.Fatalf("delivery after the login ended: status %d, want 409", got)
			}
			b := f.wait(ctx, CodeQuery{Address: "+15550100", Method: MFASMS, Login: "login-b", SentAfter: f.clock.Now()})
			f.waitClaimed(t, "+15550100", "login-b")
			if got := f.deliver(t, "+15550100", "code 161803"); got != http.StatusNoContent {
				t.Fatalf("status %d", got)
			}
			if r := result(t, b); r.err != nil || r.code != "161803" {
				t.Fatalf("new login: %q, %v", r.code, r.err)
			}
		})
	}

	t.Run("StoreFailureIsServiceUnavailable", func(t *testing.T) {
		f := newInboxFixture(t, failingStore{memStore(t)})
		if got := f.deliver(t, "+15550100", "code 123456"); got != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", got)
		}
	})
}

// codeDriver answers the MFA page with the code its Login's Code returns,
// recording the codes and errors.
type codeDriver struct {
	mu    sync.Mutex
	calls int
	codes []string
}

func (d *codeDriver) Login(ctx context.Context, in DriverLogin) (WebSession, error) {
	d.mu.Lock()
	d.calls++
	d.mu.Unlock()
	code, err := in.Code(ctx, in.MFA)
	if err != nil {
		return WebSession{}, err
	}
	d.mu.Lock()
	d.codes = append(d.codes, code)
	d.mu.Unlock()
	return WebSession{Cookies: []Cookie{{Name: SessionCookie, Value: "cookie-" + code}}}, nil
}

func (d *codeDriver) n() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

// recordingCodes is a CodeProvider that records the queries it gets and
// answers them with err, or a fixed code.
type recordingCodes struct {
	mu      sync.Mutex
	queries []CodeQuery
	err     error
}

func (p *recordingCodes) Code(_ context.Context, q CodeQuery) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queries = append(p.queries, q)
	if p.err != nil {
		return "", p.err
	}
	return "135790", nil
}

func (p *recordingCodes) got() []CodeQuery {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]CodeQuery(nil), p.queries...)
}

func codeManager(t *testing.T, d Driver, providers map[string]CodeProvider, numbers map[string]string) *Manager {
	t.Helper()
	m, err := New(Options{Store: memStore(t), Key: testKey, Driver: d, CodeProviders: providers, SMSNumbers: numbers,
		Clock: &autoClock{t: time.Date(2026, 3, 2, 9, 0, 1, 0, time.UTC)}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// fieldError returns the BAD_USER_INPUT field error on path, if any.
func fieldError(err error, path ...string) (adapter.FieldError, bool) {
	var ae *adapter.Error
	if !errors.As(err, &ae) || ae.Code != adapter.CodeBadUserInput {
		return adapter.FieldError{}, false
	}
	for _, f := range ae.Fields {
		if strings.Join(f.Field, ".") == strings.Join(path, ".") {
			return f, true
		}
	}
	return adapter.FieldError{}, false
}

func TestCodeAddresses(t *testing.T) {
	ctx := context.Background()
	login := func(method MFAMethod, provider, address string) Login {
		return Login{BaseURL: "http://127.0.0.1:1", Email: " Pat@Example.com ", Password: "pat-password-secret",
			MFA: MFA{Method: method, CodeProvider: provider, CodeAddress: address}}
	}

	t.Run("CodeAddressFromTheClientIsRefused", func(t *testing.T) {
		for _, l := range []Login{
			login(MFASMS, ProviderInbox, "+15559999"),
			login(MFAEmail, ProviderInbox, "victim@example.com"),
			{BaseURL: "http://127.0.0.1:1", Email: "pat@example.com", Password: "pw", MFA: MFA{Method: MFATOTP, TOTPSecret: unitSecret, CodeAddress: "+15559999"}},
		} {
			d := &fakeDriver{}
			m := fakeManager(t, memStore(t), d, &autoClock{t: time.Date(2026, 3, 2, 9, 0, 1, 0, time.UTC)}, testKey)
			m.o.CodeProviders = map[string]CodeProvider{ProviderInbox: &recordingCodes{}}
			m.o.SMSNumbers = map[string]string{"pat@example.com": "+15550100"}
			_, err := m.CreateSession(ctx, l)
			f, ok := fieldError(err, "mfa", "codeAddress")
			if !ok || f.Message != codeAddressRefused || f.Code != adapter.CodeBadUserInput {
				t.Fatalf("%s: err = %v, want BAD_USER_INPUT on mfa.codeAddress", l.MFA.Method, err)
			}
			if d.n() != 0 {
				t.Fatalf("%s: a login naming its code address reached the browser (%d logins)", l.MFA.Method, d.n())
			}
		}
	})

	for _, tc := range []struct {
		name     string
		method   MFAMethod
		provider string
		numbers  map[string]string
		want     string // the address the provider is asked about
	}{
		{"EmailCodesGoToTheLoginEmail", MFAEmail, ProviderInbox, map[string]string{"pat@example.com": "+15550100"}, "Pat@Example.com"},
		{"SMSCodesGoToTheNumberConfiguredForTheLogin", MFASMS, ProviderInbox, map[string]string{" PAT@example.COM": " +15550100 ", "other@example.com": "+15550200"}, "+15550100"},
		{"SandboxOutboxSMSFallsBackToTheLoginEmail", MFASMS, ProviderOutbox, nil, "Pat@Example.com"},
		{"SandboxOutboxSMSPrefersTheConfiguredNumber", MFASMS, ProviderOutbox, map[string]string{"pat@example.com": "+15550100"}, "+15550100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &recordingCodes{}
			d := &codeDriver{}
			m := codeManager(t, d, map[string]CodeProvider{tc.provider: p}, tc.numbers)
			if _, err := m.CreateSession(ctx, login(tc.method, tc.provider, "")); err != nil {
				t.Fatal(err)
			}
			qs := p.got()
			if len(qs) != 1 || qs[0].Address != tc.want || qs[0].Method != tc.method || len(qs[0].Login) != 32 {
				t.Fatalf("queries %+v, want one for %q with a login id", qs, tc.want)
			}
		})
	}

	t.Run("SMSWithoutAConfiguredNumberIsRefused", func(t *testing.T) {
		d := &codeDriver{}
		m := codeManager(t, d, map[string]CodeProvider{ProviderInbox: &recordingCodes{}}, map[string]string{"other@example.com": "+15550200"})
		_, err := m.CreateSession(ctx, login(MFASMS, ProviderInbox, ""))
		if f, ok := fieldError(err, "mfa", "method"); !ok || !strings.Contains(f.Message, "no SMS number is configured for this login") {
			t.Fatalf("err = %v, want BAD_USER_INPUT on mfa.method", err)
		}
		if d.n() != 0 {
			t.Fatalf("the login reached the browser (%d logins)", d.n())
		}
	})

	t.Run("EveryLoginAttemptHasItsOwnLoginID", func(t *testing.T) {
		p := &recordingCodes{}
		m := codeManager(t, &codeDriver{}, map[string]CodeProvider{ProviderInbox: p}, nil)
		for range 2 {
			if _, err := m.CreateSession(ctx, login(MFAEmail, ProviderInbox, "")); err != nil {
				t.Fatal(err)
			}
		}
		qs := p.got()
		if len(qs) != 2 || qs[0].Login == "" || qs[0].Login == qs[1].Login {
			t.Fatalf("login ids %+v", qs)
		}
	})

	t.Run("BusyAddressIsUpstreamUnavailable", func(t *testing.T) {
		m := codeManager(t, &codeDriver{}, map[string]CodeProvider{ProviderInbox: &recordingCodes{err: ErrAddressBusy}}, nil)
		_, err := m.CreateSession(ctx, login(MFAEmail, ProviderInbox, ""))
		var ae *adapter.Error
		if !errors.As(err, &ae) || ae.Code != adapter.CodeUpstreamUnavailable || !errors.Is(err, ErrAddressBusy) ||
			!strings.Contains(ae.Message, "another login is waiting for a code at this address") {
			t.Fatalf("err = %v, want UPSTREAM_UNAVAILABLE wrapping ErrAddressBusy", err)
		}
	})

	t.Run("TwoManagerLoginsForOneAddressNeverShareACode", func(t *testing.T) {
		f := newInboxFixture(t, nil)
		m := codeManager(t, &codeDriver{}, map[string]CodeProvider{ProviderInbox: f.inbox}, map[string]string{"pat@example.com": "+15550100"})
		m.o.Clock = f.clock
		first := make(chan error, 1)
		go func() {
			_, err := m.CreateSession(ctx, login(MFASMS, ProviderInbox, ""))
			first <- err
		}()
		deadline := time.Now().Add(10 * time.Second)
		for f.claimant(t, "+15550100") == "" {
			if time.Now().After(deadline) {
				t.Fatal("the first login never waited for its code")
			}
			time.Sleep(2 * time.Millisecond)
		}
		_, err := m.CreateSession(ctx, login(MFASMS, ProviderInbox, ""))
		if !errors.Is(err, ErrAddressBusy) {
			t.Fatalf("second login: %v, want ErrAddressBusy", err)
		}
		if got := f.deliver(t, "+15550100", "code 246810"); got != http.StatusNoContent {
			t.Fatalf("status %d", got)
		}
		select {
		case err := <-first:
			if err != nil {
				t.Fatalf("first login: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the first login never finished")
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

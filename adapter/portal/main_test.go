package portal

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"procoregraph/adapter/rest"
	"procoregraph/cache"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// testBrowser is the one Chromium every test in the package shares (nil when
// none is installed).
var testBrowser *Browser

func TestMain(m *testing.M) {
	if path, err := FindChromium(os.Getenv("CHROMIUM_PATH")); err == nil {
		testBrowser = NewBrowser(BrowserOptions{Path: path, Logger: slog.New(slog.DiscardHandler)})
	}
	code := m.Run()
	if testBrowser != nil {
		_ = testBrowser.Close()
	}
	os.Exit(code)
}

// needBrowser returns the shared browser, skipping the test without one
// (failing it when CI=true: CI installs Debian's chromium).
func needBrowser(t testing.TB) *Browser {
	t.Helper()
	if testBrowser == nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Chromium found (CI=true): install Debian's chromium or set CHROMIUM_PATH")
		}
		t.Skip("no Chromium found: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH")
	}
	return testBrowser
}

// testClock is the wall clock shifted by an offset tests can move forward,
// shared by the sandbox and the Manager (TOTP steps, cookie expiry). Sleeps
// are real.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
func (c *testClock) Sleep(ctx context.Context, d time.Duration) error {
	return rest.WallClock{}.Sleep(ctx, d)
}

// env is a sandbox served through a request counter on a loopback port.
type env struct {
	sb    *sandbox.Server
	url   string
	clock *testClock

	mu     sync.Mutex
	counts map[string]int // "POST /login/password" -> requests
}

func newEnv(t testing.TB, cfg sandbox.Config) *env {
	t.Helper()
	e := &env{clock: &testClock{}, counts: map[string]int{}}
	cfg.Now = e.clock.Now
	if cfg.HourlyLimit == 0 {
		cfg.HourlyLimit = -1
	}
	if cfg.SpikeLimit == 0 {
		cfg.SpikeLimit = -1
	}
	if cfg.Data.Companies == 0 {
		cfg.Data = data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 12}
	}
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := sb.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.counts[r.Method+" "+r.URL.Path]++
		e.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	sb.SetBaseURL(srv.URL)
	e.sb, e.url = sb, srv.URL
	t.Cleanup(func() { srv.Close(); sb.Close() })
	return e
}

func (e *env) count(route string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[route]
}

func (e *env) logins() int { return e.sb.Stats().Logins }

// company returns the first company's id and its projects' ids.
func (e *env) company() (int64, []int64) {
	var id int64
	var projects []int64
	e.sb.ReadDataset(func(ds *data.Dataset) {
		id = ds.Companies[0].ID
		for _, p := range ds.Projects {
			if p.CompanyID == id && p.Active {
				projects = append(projects, p.ID)
			}
		}
	})
	return id, projects
}

func (e *env) rfiIDs(projectID int64) map[int64]bool {
	out := map[int64]bool{}
	e.sb.ReadDataset(func(ds *data.Dataset) {
		for _, r := range ds.Project(projectID).RFIs {
			out[r.ID] = true
		}
	})
	return out
}

func (e *env) demoLogin(mfa MFA) Login {
	cid, _ := e.company()
	return Login{BaseURL: e.url, Email: sandbox.DefaultDemoEmail, Password: sandbox.DefaultDemoPassword, MFA: mfa, CompanyID: cid}
}

func totpMFA() MFA { return MFA{Method: MFATOTP, TOTPSecret: sandbox.DefaultDemoTOTPSecret} }

var testKey = bytes.Repeat([]byte{0x42}, KeySize)

func memStore(t testing.TB) cache.Store {
	t.Helper()
	s, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newManager returns a Manager over e with the shared browser and the
// sandbox outbox as its "outbox" code provider.
func newManager(t testing.TB, e *env, store cache.Store, mod func(*Options)) *Manager {
	t.Helper()
	o := Options{
		Store: store, Key: testKey, Driver: needBrowser(t), Clock: e.clock,
		Logger:        slog.New(slog.DiscardHandler),
		CodeProviders: map[string]CodeProvider{ProviderOutbox: &OutboxCodes{}},
		LoginTimeout:  time.Minute,
	}
	if mod != nil {
		mod(&o)
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// restClient is a REST client authenticated by the session.
func restClient(t testing.TB, e *env, m *Manager, s Session, logger *slog.Logger) *rest.Client {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c, err := rest.New(rest.Config{APIURL: e.url, Credentials: m.Credentials(s.ID), CompanyID: s.CompanyID,
		Logger: logger, Retry: rest.RetryConfig{MaxAttempts: 2, BaseDelay: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// mustNotContain fails when any secret appears in s.
func mustNotContain(t *testing.T, what, s string, secrets map[string]string) {
	t.Helper()
	for name, v := range secrets {
		if v != "" && strings.Contains(s, v) {
			t.Errorf("%s contains the %s", what, name)
		}
	}
}

func httptestServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

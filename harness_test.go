package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// testAPIKey is the all-scope service key the harness configures (API_KEYS)
// on every gateway it points at a sandbox, and sends on every request that
// names no credential of its own. Tests of authentication itself send their
// own headers.
const testAPIKey = "pgk_harnessHarnessHarnessHarnessHarnessHarness0"

// testSessionKey encrypts the sessions of every gateway the harness starts
// (32 bytes, hex).
const testSessionKey = "7465737473657373696f6e6b65797465737473657373696f6e6b657974657374"

// apiKeyEntry is the API_KEYS entry of key (name:scopes:projects:sha256).
func apiKeyEntry(name, scopes, projects, key string) string {
	h := sha256.Sum256([]byte(key))
	return name + ":" + scopes + ":" + projects + ":" + hex.EncodeToString(h[:])
}

// gatewayProc is the real program started by run() on a loopback port.
type gatewayProc struct {
	URL string // e.g. http://127.0.0.1:41234
	// key is sent as the bearer token of requests without one ("" when the
	// gateway was not configured with testAPIKey).
	key    string
	cancel context.CancelFunc
	done   chan error
	stderr *syncBuffer

	stopOnce sync.Once
}

// syncBuffer is a goroutine-safe bytes.Buffer for the program's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningRE = regexp.MustCompile(`procoregraph listening on (http://\S+)`)

// startGateway runs the program with args and env (ADDR defaults to
// 127.0.0.1:0) and waits until /healthz answers. It stops at test cleanup.
func startGateway(t testing.TB, env map[string]string, args ...string) *gatewayProc {
	t.Helper()
	if _, ok := env["ADDR"]; !ok {
		env = copyEnv(env)
		env["ADDR"] = "127.0.0.1:0"
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &gatewayProc{cancel: cancel, done: make(chan error, 1), stderr: &syncBuffer{}}
	if strings.Contains(env["API_KEYS"], apiKeyEntry("harness", "read,write,subscribe", "", testAPIKey)) {
		p.key = testAPIKey
	}
	go func() {
		err := run(ctx, args, getenv, pw, p.stderr)
		pw.CloseWithError(io.EOF)
		p.done <- err
	}()
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case p.URL = <-urlc:
	case err := <-p.done:
		t.Fatalf("gateway exited before listening: %v\nstderr:\n%s", err, p.stderr)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("gateway did not start within 60s\nstderr:\n%s", p.stderr)
	}
	t.Cleanup(p.stop)
	for i := 0; i < 100; i++ {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gateway %s never became healthy", p.URL)
	return nil
}

// stop ends the program and waits for it; calling it again returns at once.
func (p *gatewayProc) stop() {
	p.stopOnce.Do(func() {
		p.cancel()
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
		}
	})
}

func copyEnv(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// gqlResponse is a GraphQL response.
type gqlResponse struct {
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions struct {
		Procoregraph struct {
			UpstreamCalls   int            `json:"upstreamCalls"`
			UpstreamByRoute map[string]int `json:"upstreamByRoute"`
			CacheHits       int            `json:"cacheHits"`
			CacheMisses     int            `json:"cacheMisses"`
			ResponseCache   string         `json:"responseCache"`
			EstimatedCalls  int            `json:"estimatedCalls"`
		} `json:"procoregraph"`
		ServerTime string `json:"serverTime"`
	} `json:"extensions"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// query POSTs a GraphQL request (with the debug header) and decodes the answer.
func (p *gatewayProc) query(t testing.TB, query string, vars map[string]any) gqlResponse {
	t.Helper()
	return p.queryAs(t, "", query, vars)
}

// queryAs is query with a gateway token (the harness key when token is "").
func (p *gatewayProc) queryAs(t testing.TB, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return p.queryWith(t, h, query, vars)
}

// queryWith is query with extra request headers.
func (p *gatewayProc) queryWith(t testing.TB, h http.Header, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/graphql", bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	p.authorize(req)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Procoregraph-Debug", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decode response (status %d): %v\n%s", resp.StatusCode, err, raw)
	}
	return out
}

// authorize adds the harness key to req unless it carries a credential.
func (p *gatewayProc) authorize(req *http.Request) {
	if req.Header.Get("Authorization") == "" && p.key != "" {
		req.Header.Set("Authorization", "Bearer "+p.key)
	}
}

// withHarnessKey adds the harness key to a raw request to a sandbox-backed
// gateway unless it carries a credential of its own.
func withHarnessKey(req *http.Request) *http.Request {
	if req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
	}
	return req
}

// bearer is the Authorization value of the harness key ("" when none).
func (p *gatewayProc) bearer() string {
	if p.key == "" {
		return ""
	}
	return "Bearer " + p.key
}

// readQuery reads a committed .graphql file.
func readQuery(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// startSandbox serves a sandbox on a loopback port for the test and returns it
// with the environment that points a gateway at it.
func startSandbox(t testing.TB, cfg sandbox.Config) (*sandbox.Running, map[string]string) {
	t.Helper()
	sb, err := sandbox.Start(context.Background(), cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	var company int64
	sb.ReadDataset(func(d *data.Dataset) { company = d.Companies[0].ID })
	id, secret := cfg.ClientID, cfg.ClientSecret
	if id == "" {
		id, secret = sandbox.DefaultClientID, sandbox.DefaultClientSecret
	}
	return sb, map[string]string{
		"PROCORE_API_URL":       sb.URL,
		"PROCORE_LOGIN_URL":     sb.URL,
		"PROCORE_CLIENT_ID":     id,
		"PROCORE_CLIENT_SECRET": secret,
		"PROCORE_COMPANY_ID":    strconv.FormatInt(company, 10),
		// The harness key is not rate-limited in practice: tests and
		// benchmarks send bursts (rate limits have tests of their own).
		"API_KEYS": apiKeyEntry("harness", "read,write,subscribe", "", testAPIKey) + ":rpm=10000000,cpm=1000000000",
		// Replicas sharing Redis must share the session key.
		"PORTAL_SESSION_KEY": testSessionKey,
	}
}

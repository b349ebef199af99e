package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"procoregraph/testwait"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/cache"
	"procoregraph/cache/cachetest"
	"procoregraph/gateway"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
	"procoregraph/state"
)

// TestGracefulShutdown stops a gateway (the path SIGTERM takes: run's
// context ends) while a query and a mutation wait for Procore (the sandbox
// holds its answers' bodies), a graphql-ws, an SSE and a multipart subscription are open
// and the gateway's poller holds its lock in Redis. During the drain /readyz
// answers 503 while /healthz answers 200; then the listener closes, the
// websocket closes with 1012 (Service Restart), the SSE stream ends
// cleanly and the multipart stream ends with a SERVICE_RESTART part; the query and the mutation, released, complete with 200 and their
// data (the RFI is created in Procore); run returns
// nil and the poller's lock is gone from Redis.
func TestGracefulShutdown(t *testing.T) {
	node := requireNodePackages(t, subscriptionPackages...)
	rdb := cachetest.Client(t)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 4}})
	prefix := cachetest.Prefix(t, rdb, "shutdown")
	env["REDIS_URL"] = requireRedis(t)
	env["CACHE_PREFIX"] = prefix
	env["POLL_INTERVAL"] = "1m"
	// Long enough (even on a loaded CI machine) for this test's probes of /readyz to land before the
	// listener closes; the test waits for each step, never for the clock.
	env["SHUTDOWN_DELAY"] = "15s"
	g := startGateway(t, env)
	company, _ := strconv.ParseInt(env["PROCORE_COMPANY_ID"], 10, 64)
	lockKey := prefix + state.RedisPrefix + cache.AuxKey(connectionID(env["PROCORE_API_URL"], env["PROCORE_CLIENT_ID"], company), "poller", "lock")
	testwait.For(t, "the poller holds its lock in Redis", func() bool { return rdb.Exists(context.Background(), lockKey).Val() == 1 })
	if got := getStatus(t, g.URL+"/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz = %d before the shutdown, want 200", got)
	}

	project, _, _ := pickRFIs(t, sb, 1)
	var manager int64
	sb.ReadDataset(func(d *data.Dataset) { manager = d.Project(project).UserIDs[0] })
	vars := map[string]any{"projectId": strconv.FormatInt(project, 10)}
	ws := startNodeScript(t, node, "ws-subscribe.mjs", mustJSON(map[string]any{"url": wsURL(g), "query": bicSubscription, "variables": vars}))
	ws.await(t, 15*time.Second, "connected")
	sse := openSSE(t, g, bicSubscription, vars)
	mp := openMultipart(t, g, "", bicSubscription, vars)
	waitActive(t, g, 3)

	sb.SetFaults(sandbox.Faults{StallBody: true}) // Procore answers slowly
	type answer struct {
		status int
		body   gqlResponse
	}
	answered, mutated := make(chan answer, 1), make(chan answer, 1)
	go func() {
		status, body := drainQuery(g, `query($p: ID!) { project(id: $p) { id name rfis(first: 10) { nodes { id subject } } } }`,
			map[string]any{"p": vars["projectId"]})
		answered <- answer{status, body}
	}()
	testwait.For(t, "the query waits for Procore", func() bool { return sb.Stats().StalledBodies > 0 })
	held := sb.Stats().StalledBodies
	go func() {
		status, body := drainQuery(g, `mutation($in: CreateRFIInput!) { createRFI(input: $in) { rfi { id subject } userErrors { field message } } }`,
			map[string]any{"in": map[string]any{"projectId": vars["projectId"], "subject": "Asked while the gateway drains",
				"question": "Does this write survive a SIGTERM?", "managerId": strconv.FormatInt(manager, 10), "idempotencyKey": "drain-1"}})
		mutated <- answer{status, body}
	}()
	testwait.For(t, "the mutation waits for Procore too", func() bool { return sb.Stats().StalledBodies > held })

	g.cancel() // what SIGTERM does
	for {
		status, err := getStatusErr(g.URL + "/readyz")
		if err != nil {
			t.Fatalf("/readyz unreachable (%v) before it reported the drain", err)
		}
		if status == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := getStatus(t, g.URL+"/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz = %d during the drain, want 200 (liveness)", got)
	}

	testwait.For(t, "the listener stops accepting connections", func() bool {
		c, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
		if err == nil {
			_ = c.Close()
		}
		return err != nil
	})
	if closed := ws.await(t, 30*time.Second, "closed", "error"); closed.Code != gateway.CloseServiceRestart {
		t.Fatalf("the websocket closed with %d (%q), want %d (Service Restart)", closed.Code, closed.Reason, gateway.CloseServiceRestart)
	}
	select {
	case err := <-sse:
		if err != nil {
			t.Fatalf("the SSE stream was cut instead of ending: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the SSE stream was still open 30s into the drain")
	}
	if p := mp.next(t, 30*time.Second); p.transportErrorCode() != gateway.CodeServiceRestart {
		t.Fatalf("the multipart stream's last part %+v, want a %s transport error", p, gateway.CodeServiceRestart)
	}
	mp.end(t, 10*time.Second)

	sb.SetFaults(sandbox.Faults{}) // Procore finishes the answer
	var a answer
	select {
	case a = <-answered:
	case <-time.After(30 * time.Second):
		t.Fatal("the in-flight query had no answer 30s after Procore finished")
	}
	if a.status != http.StatusOK || len(a.body.Errors) > 0 || !bytes.Contains(a.body.Data, []byte(`"rfis"`)) {
		t.Fatalf("in-flight query during the drain: status %d, errors %+v, data %s", a.status, a.body.Errors, a.body.Data)
	}
	select {
	case a = <-mutated:
	case <-time.After(30 * time.Second):
		t.Fatal("the in-flight mutation had no answer 30s after Procore finished")
	}
	var created struct {
		CreateRFI struct {
			RFI *struct {
				ID string `json:"id"`
			} `json:"rfi"`
			UserErrors []any `json:"userErrors"`
		} `json:"createRFI"`
	}
	if a.status != http.StatusOK || len(a.body.Errors) > 0 || json.Unmarshal(a.body.Data, &created) != nil ||
		created.CreateRFI.RFI == nil || len(created.CreateRFI.UserErrors) > 0 {
		t.Fatalf("in-flight mutation during the drain: status %d, errors %+v, data %s", a.status, a.body.Errors, a.body.Data)
	}
	rfiID, _ := strconv.ParseInt(created.CreateRFI.RFI.ID, 10, 64)
	sb.ReadDataset(func(d *data.Dataset) {
		if d.Project(project).RFI(rfiID) == nil {
			t.Errorf("the RFI %d the mutation answered is not in Procore", rfiID)
		}
	})

	select {
	case err := <-g.done:
		g.done <- err // for the harness's cleanup
		if err != nil {
			t.Fatalf("run returned %v after the drain", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("run had not returned 60s into the drain\nstderr:\n%s", tail(g.stderr.String(), 3000))
	}
	if n := rdb.Exists(context.Background(), lockKey).Val(); n != 0 {
		t.Fatal("the poller's lock is still in Redis after the shutdown")
	}
}

// TestShutdownCutsWhatOutlivesTheGrace: a query that is still waiting for
// Procore when SHUTDOWN_GRACE runs out is cut, and run returns: a stuck
// request cannot hold a replica's shutdown.
func TestShutdownCutsWhatOutlivesTheGrace(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 4}})
	env["SHUTDOWN_GRACE"] = "500ms"
	env["OPERATION_TIMEOUT"] = "10m" // the query cannot end by itself
	g := startGateway(t, env, "-no-cache")
	sb.SetFaults(sandbox.Faults{StallBody: true}) // Procore never finishes
	t.Cleanup(func() { sb.SetFaults(sandbox.Faults{}) })
	answered := make(chan int, 1)
	go func() {
		status, _ := drainQuery(g, `{ projects(first: 5) { nodes { id rfis(first: 5) { nodes { id } } } } }`, nil)
		answered <- status
	}()
	testwait.For(t, "the query waits for Procore", func() bool { return sb.Stats().StalledBodies > 0 })

	g.cancel()
	select {
	case err := <-g.done:
		g.done <- err
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(60 * time.Second): // a guard against a hang, not a latency assertion
		t.Fatalf("run had not returned 60s after the signal\nstderr:\n%s", tail(g.stderr.String(), 3000))
	}
	if status := <-answered; status != 0 {
		t.Fatalf("the stuck query was answered %d; want its connection cut at the end of the grace", status)
	}
	if !strings.Contains(g.stderr.String(), "grace period over") {
		t.Fatalf("no warning about the cut requests in the log:\n%s", tail(g.stderr.String(), 3000))
	}
}

// drainQuery POSTs a GraphQL request with the harness key; status 0 when the
// request failed on the wire.
func drainQuery(g *gatewayProc, query string, vars map[string]any) (int, gqlResponse) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	g.authorize(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, gqlResponse{Errors: []gqlError{{Message: err.Error()}}}
	}
	defer resp.Body.Close()
	var out gqlResponse
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		out.Errors = append(out.Errors, gqlError{Message: "undecodable answer: " + string(raw)})
	}
	return resp.StatusCode, out
}

// openSSE opens a subscription over server-sent events and returns how its
// stream ended: nil when the response completed, else the read error (a
// connection cut mid-stream).
func openSSE(t *testing.T, g *gatewayProc, query string, vars map[string]any) <-chan error {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	g.authorize(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("SSE subscribe: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE subscribe: %d", resp.StatusCode)
	}
	ended := make(chan error, 1)
	go func() {
		defer resp.Body.Close()
		_, err := io.Copy(io.Discard, resp.Body)
		ended <- err
	}()
	return ended
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	status, err := getStatusErr(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return status
}

func getStatusErr(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

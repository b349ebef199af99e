package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// The chaos suite: real processes, a real Redis, real graphql-ws clients.
// RELIABILITY.md has the numbers these tests log.

// chaosReport is what conformance/chaos-subscribers.mjs reports.
type chaosReport struct {
	Events     [][]string       `json:"events"`
	Reconnects []int            `json:"reconnects"`
	Errors     []map[string]any `json:"errors"`
}

func (s *nodeScript) report(t *testing.T, expect int, wait time.Duration) chaosReport {
	t.Helper()
	s.send(t, map[string]any{"cmd": "report", "expect": expect, "waitMs": wait.Milliseconds()})
	var r chaosReport
	for {
		l := s.await(t, wait+30*time.Second, "client|report", "ready", "error")
		if l.Type == "report" {
			var sum struct {
				Clients int              `json:"clients"`
				Errors  []map[string]any `json:"errors"`
			}
			if err := json.Unmarshal(l.Payload, &sum); err != nil || sum.Clients != len(r.Events) {
				t.Fatalf("report %s after %d clients: %v", l.Payload, len(r.Events), err)
			}
			r.Errors = sum.Errors
			return r
		}
		var c struct {
			I          int      `json:"i"`
			Events     []string `json:"events"`
			Reconnects int      `json:"reconnects"`
		}
		if err := json.Unmarshal(l.Payload, &c); err != nil || c.I != len(r.Events) {
			t.Fatalf("client line %s (want client %d): %v", l.Payload, len(r.Events), err)
		}
		r.Events = append(r.Events, c.Events)
		r.Reconnects = append(r.Reconnects, c.Reconnects)
	}
}

// refEvents collects n events from a reference SSE subscriber, failing when
// one does not come.
func refEvents(t *testing.T, s *sseSubscription, n int) []bicEvent {
	t.Helper()
	out := make([]bicEvent, 0, n)
	for range n {
		out = append(out, s.nextBIC(t, 20*time.Second))
	}
	return out
}

// loadLoop runs query against g until ctx ends, counting answers and
// answers with errors (or failed requests).
type loadLoop struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstErr   string
}

func (l *loadLoop) run(ctx context.Context, wg *sync.WaitGroup, url, key, query string) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		body, _ := json.Marshal(map[string]any{"query": query})
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if ctx.Err() != nil {
				return
			}
			var r gqlResponse
			if err == nil {
				err = json.NewDecoder(resp.Body).Decode(&r)
				// Read to the end, or the connection is not reused and a
				// fast loop runs the machine out of ephemeral ports.
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && len(r.Errors) > 0 {
					err = fmt.Errorf("%s (%v)", r.Errors[0].Message, r.Errors[0].Extensions["code"])
				}
			}
			if err != nil && ctx.Err() != nil {
				// The loop's own end cancelled the body read (the headers had
				// come before the deadline): not the gateway's failure.
				return
			}
			if err != nil {
				l.failed.Add(1)
				l.mu.Lock()
				if l.firstErr == "" {
					l.firstErr = err.Error()
				}
				l.mu.Unlock()
				continue
			}
			l.ok.Add(1)
			// A busy client, not a flood: without a pause one loop answered
			// from the whole-answer cache takes a core of the 2-core machine
			// and starves the subscribers' process.
			time.Sleep(5 * time.Millisecond)
		}
	}()
}

// TestChaosReplicaDies: 100 graphql-ws subscribers on replica B, which is
// SIGKILLed while ball-in-court changes keep coming (delivered to replica A
// by webhooks) and queries keep running on A; every subscriber reconnects to
// A with its last cursor and ends with exactly the events a reference
// subscriber on A saw: none lost, none twice, in order.
func TestChaosReplicaDies(t *testing.T) {
	const subscribers, before, after = 100, 4, 6
	node := requireNodePackages(t, subscriptionPackages...)
	redisURL := requireRedis(t)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 10},
		WebhookMinBackoff: 50 * time.Millisecond, HourlyLimit: -1, SpikeLimit: -1})
	env["REDIS_URL"] = redisURL
	env["CACHE_PREFIX"] = randomPrefix(t)
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	a := startGateway(t, copyEnv(env), "-register-webhooks")
	b := startChildGateway(t, copyEnv(env))
	project, rfis, users := pickRFIs(t, sb, 2)
	vars := map[string]any{"projectId": strconv.FormatInt(project, 10)}

	ref := subscribeSSE(t, a.URL+"/graphql", bicSubscription, vars)
	waitActive(t, a, 1)
	subs := startNodeScript(t, node, "chaos-subscribers.mjs", mustJSON(map[string]any{
		"urls": []string{wsURL(&b.gatewayProc), wsURL(a)}, "query": bicSubscription, "field": "ballInCourtChanged",
		"variables": vars, "count": subscribers, "timeoutMs": 300000,
	}))
	subs.await(t, 60*time.Second, "ready")
	waitActive(t, &b.gatewayProc, subscribers)

	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var load loadLoop
	load.run(ctx, &wg, a.URL, testAPIKey, `query { projects(first: 5) { nodes { id name rfis(first: 20) { totalCount nodes { id status } } } } }`)

	move := func(i int) {
		rfi := rfis[i%len(rfis)]
		moveBall(t, sb, project, rfi, otherUser(t, users, ballInCourtOf(sb, project, rfi)))
	}
	var want []bicEvent
	for i := range before {
		move(i)
		want = append(want, refEvents(t, ref, 1)...)
	}
	// Every subscriber holds the events so far (and so a cursor) before B
	// dies: a client with no event yet has nothing to resume from.
	var sofar []string
	for _, e := range want {
		sofar = append(sofar, e.Cursor)
	}
	for i, got := range subs.report(t, before, 60*time.Second).Events {
		if !slices.Equal(got, sofar) {
			t.Fatalf("before the kill, subscriber %d on B received %v, want %v", i, got, sofar)
		}
	}
	b.kill(t)
	for i := range after {
		move(before + i)
		want = append(want, refEvents(t, ref, 1)...)
	}
	rep := subs.report(t, before+after, 60*time.Second)
	stopLoad()
	wg.Wait()

	var cursors []string
	for _, e := range want {
		cursors = append(cursors, e.Cursor)
	}
	moved, exact := 0, 0
	for i, got := range rep.Events {
		if slices.Equal(got, cursors) {
			exact++
		} else {
			t.Errorf("subscriber %d received %d events %v, want exactly the %d events %v (reconnects %d)",
				i, len(got), got, len(cursors), cursors, rep.Reconnects[i])
		}
		if rep.Reconnects[i] > 0 {
			moved++
		}
	}
	if t.Failed() {
		t.Logf("client errors (first 50): %v", rep.Errors)
	}
	if len(rep.Events) != subscribers || moved != subscribers {
		t.Errorf("%d subscribers reported, %d reconnected; want %d and %d", len(rep.Events), moved, subscribers, subscribers)
	}
	if load.failed.Load() != 0 || load.ok.Load() == 0 {
		t.Errorf("queries on the surviving replica: %d ok, %d failed (first: %s)", load.ok.Load(), load.failed.Load(), load.firstErr)
	}
	t.Logf("replica killed with %d subscribers: %d of %d moved to the other replica; %d received exactly the %d events (%d made), in order; "+
		"%d queries on the surviving replica, %d failed", subscribers, moved, len(rep.Events), exact, len(cursors), before+after, load.ok.Load(), load.failed.Load())
}

// rfiCreator creates RFIs through a gateway with idempotency keys, as a
// careful client does: a failed attempt is retried with the same key until
// it succeeds or its attempts are spent.
type rfiCreator struct {
	mu       sync.Mutex
	outcomes map[string]rfiOutcome // subject (= key) → outcome
	codes    map[string]int        // error code → count of failed attempts
	tried    atomic.Int64
}

type rfiOutcome struct {
	id       string // the RFI the gateway answered with, "" when every attempt failed
	attempts int
}

// attempts is the number of create attempts made so far.
func (c *rfiCreator) attempts() int64 { return c.tried.Load() }

func (c *rfiCreator) run(ctx context.Context, wg *sync.WaitGroup, url, key, project, manager, prefix string) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ctx.Err() == nil; n++ {
			subject := fmt.Sprintf("%s-%d", prefix, n)
			var out rfiOutcome
			for out.attempts < 20 && out.id == "" {
				out.attempts++
				c.tried.Add(1)
				id, code := createRFIOnce(url, key, project, manager, subject)
				if id != "" {
					out.id = id
					break
				}
				c.mu.Lock()
				c.codes[code]++
				c.mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
			c.mu.Lock()
			c.outcomes[subject] = out
			c.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

// createRFIOnce is one createRFI attempt with idempotency key subject: the
// new RFI's id, or "" and the error's code.
func createRFIOnce(url, key, project, manager, subject string) (string, string) {
	body, _ := json.Marshal(map[string]any{
		"query": `mutation($in: CreateRFIInput!) { createRFI(input: $in) { rfi { id } userErrors { code message } } }`,
		"variables": map[string]any{"in": map[string]any{"projectId": project, "subject": subject, "question": "Chaos?",
			"managerId": manager, "idempotencyKey": subject}},
	})
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "TRANSPORT"
	}
	defer func() { _, _ = io.Copy(io.Discard, resp.Body); resp.Body.Close() }()
	var r struct {
		Data *struct {
			CreateRFI *struct {
				RFI        *struct{ ID string } `json:"rfi"`
				UserErrors []userError          `json:"userErrors"`
			} `json:"createRFI"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	switch {
	case len(r.Errors) > 0:
		code, _ := r.Errors[0].Extensions["code"].(string)
		return "", code
	case r.Data == nil || r.Data.CreateRFI == nil:
		return "", "NO_DATA"
	case len(r.Data.CreateRFI.UserErrors) > 0:
		return "", "userError:" + r.Data.CreateRFI.UserErrors[0].Code
	case r.Data.CreateRFI.RFI == nil:
		return "", "NO_RFI"
	}
	return r.Data.CreateRFI.RFI.ID, ""
}

// TestChaosRedisDies: two replicas share a Redis that is killed (losing
// everything) and restarted under mixed load. Queries on both replicas fail
// 0 times (the data cache falls back to Procore); every createRFI retried
// with its idempotency key ends with exactly one RFI in Procore (an attempt
// may fail with a retryable error, never write twice); subscribers resume:
// every change made after Redis is back reaches each of them exactly once.
func TestChaosRedisDies(t *testing.T) {
	const subscribers, afterRestart = 10, 3
	node := requireNodePackages(t, subscriptionPackages...)
	rd := startPrivateRedis(t)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 10},
		WebhookMinBackoff: 50 * time.Millisecond, HourlyLimit: -1, SpikeLimit: -1})
	env["REDIS_URL"] = rd.URL()
	env["CACHE_PREFIX"] = randomPrefix(t)
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	a := startGateway(t, copyEnv(env), "-register-webhooks")
	b := startGateway(t, copyEnv(env))
	project, rfis, users := pickRFIs(t, sb, 2)
	vars := map[string]any{"projectId": strconv.FormatInt(project, 10)}
	var manager string
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if p.ID == project {
				manager = strconv.FormatInt(p.UserIDs[0], 10)
			}
		}
	})

	subs := startNodeScript(t, node, "chaos-subscribers.mjs", mustJSON(map[string]any{
		"urls": []string{wsURL(b), wsURL(a)}, "query": bicSubscription, "field": "ballInCourtChanged",
		"variables": vars, "count": subscribers, "timeoutMs": 300000,
	}))
	subs.await(t, 60*time.Second, "ready")
	waitActive(t, b, subscribers)

	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var loadA, loadB loadLoop
	q := `query { projects(first: 5) { nodes { id name rfis(first: 20) { totalCount nodes { id status ballInCourt { id } } } } } }`
	loadA.run(ctx, &wg, a.URL, testAPIKey, q)
	loadB.run(ctx, &wg, b.URL, testAPIKey, q)
	creator := &rfiCreator{outcomes: map[string]rfiOutcome{}, codes: map[string]int{}}
	prefix := "chaos-" + randomPrefix(t)
	creator.run(ctx, &wg, a.URL, testAPIKey, strconv.FormatInt(project, 10), manager, prefix+"a")
	creator.run(ctx, &wg, b.URL, testAPIKey, strconv.FormatInt(project, 10), manager, prefix+"b")

	time.Sleep(time.Second)
	rd.kill(t)
	downFrom := creator.attempts()
	time.Sleep(6 * time.Second)
	downTo := creator.attempts()
	rd.start(t)
	time.Sleep(2 * time.Second)

	// Changes after Redis is back: a reference subscriber opened now sees
	// them; so must every resumed subscriber, once each.
	ref := subscribeSSE(t, a.URL+"/graphql", bicSubscription, vars)
	waitActive(t, a, 1)
	var want []string
	for i := range afterRestart {
		rfi := rfis[i%len(rfis)]
		moveBall(t, sb, project, rfi, otherUser(t, users, ballInCourtOf(sb, project, rfi)))
		want = append(want, ref.nextBIC(t, 20*time.Second).Cursor)
	}
	stopLoad()
	wg.Wait()

	for i, got := range subs.reportUntil(t, want, 60*time.Second).Events {
		seen := map[string]int{}
		for _, c := range got {
			seen[c]++
			if seen[c] > 1 {
				t.Errorf("subscriber %d received event %s twice", i, c)
			}
		}
		for _, c := range want {
			if seen[c] != 1 {
				t.Errorf("subscriber %d: event %s after the restart received %d times, want once (it got %v)", i, c, seen[c], got)
			}
		}
	}
	for name, l := range map[string]*loadLoop{"A": &loadA, "B": &loadB} {
		if l.failed.Load() != 0 || l.ok.Load() == 0 {
			t.Errorf("queries on replica %s: %d ok, %d failed (first: %s)", name, l.ok.Load(), l.failed.Load(), l.firstErr)
		}
	}

	// Every key: exactly one RFI in Procore, the one the gateway answered.
	bySubject := map[string][]int64{}
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			for _, r := range p.RFIs {
				if strings.HasPrefix(r.Subject, prefix) {
					bySubject[r.Subject] = append(bySubject[r.Subject], r.ID)
				}
			}
		}
	})
	retried := 0
	for subject, out := range creator.outcomes {
		ids := bySubject[subject]
		switch {
		case len(ids) > 1:
			t.Errorf("key %s: %d RFIs written to Procore %v, want 1", subject, len(ids), ids)
		case out.id == "":
			t.Errorf("key %s: every one of %d attempts failed (Procore holds %v)", subject, out.attempts, ids)
		case len(ids) != 1 || strconv.FormatInt(ids[0], 10) != out.id:
			t.Errorf("key %s: the gateway answered RFI %s, Procore holds %v", subject, out.id, ids)
		}
		if out.attempts > 1 {
			retried++
		}
	}
	for code := range creator.codes {
		if !retryableCode(code) {
			t.Errorf("a failed create answered %q, which is no retryable error code", code)
		}
	}
	t.Logf("Redis killed for 6 s (%d create attempts while it was down) and restarted: queries A %d ok / %d failed, B %d ok / %d failed; %d creates, %d needed a retry (failed attempts by code %v), "+
		"none written twice; %d subscribers each received the %d changes after the restart once",
		downTo-downFrom, loadA.ok.Load(), loadA.failed.Load(), loadB.ok.Load(), loadB.failed.Load(), len(creator.outcomes), retried, creator.codes, subscribers, afterRestart)
}

// retryableCode reports whether a failed mutation's code tells the client to
// try again with the same idempotency key.
func retryableCode(code string) bool {
	switch code {
	case "UNAVAILABLE", "UPSTREAM_UNAVAILABLE", "SERVICE_UNAVAILABLE", "TRY_AGAIN", "IDEMPOTENCY_UNAVAILABLE", "IN_PROGRESS", "userError:IN_PROGRESS", "RATE_LIMITED":
		return true
	}
	return false
}

// reportUntil asks for a report once every subscriber holds all of want.
func (s *nodeScript) reportUntil(t *testing.T, want []string, wait time.Duration) chaosReport {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		r := s.report(t, 0, 0)
		done := len(r.Events) > 0
		for _, got := range r.Events {
			for _, c := range want {
				if !slices.Contains(got, c) {
					done = false
				}
			}
		}
		if done || time.Now().After(deadline) {
			return r
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// soakSample is one reading of the gateway process.
type soakSample struct {
	at         time.Duration
	rss        float64 // bytes
	goroutines float64
}

var (
	rssRE        = regexp.MustCompile(`(?m)^process_resident_memory_bytes (\S+)`)
	goroutinesRE = regexp.MustCompile(`(?m)^go_goroutines (\S+)`)
)

// sample reads the gateway's resident memory and goroutines from /metrics.
func sample(t *testing.T, url string, at time.Duration) (soakSample, bool) {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return soakSample{}, false
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r, g := rssRE.FindSubmatch(b), goroutinesRE.FindSubmatch(b)
	if r == nil || g == nil {
		return soakSample{}, false
	}
	rss, _ := strconv.ParseFloat(string(r[1]), 64)
	gr, _ := strconv.ParseFloat(string(g[1]), 64)
	return soakSample{at: at, rss: rss, goroutines: gr}, true
}

// slope is the least-squares slope of f over the samples, per minute.
func slope(ss []soakSample, f func(soakSample) float64) float64 {
	if len(ss) < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for _, s := range ss {
		x := s.at.Minutes()
		y := f(s)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	n := float64(len(ss))
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// soakDuration is SOAK_DURATION (CI's soak step sets 10m), 20 s by default.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("SOAK_DURATION")
	if v == "" {
		return 20 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("SOAK_DURATION=%q: want a positive duration such as 10m", v)
	}
	return d
}

// TestChaosSoak: the gateway in a process of its own (in-memory cache, the
// default deployment) as in a container limited to 512 MiB, so with the Go
// memory limit the gateway derives from that (90%: 460 MiB), under mixed
// load for
// SOAK_DURATION: 4 query loops over distinct documents, createRFI through
// the gateway, ball-in-court changes by "other Procore users" (webhooks), and
// 500 graphql-ws subscribers. Every query and create succeeds; resident
// memory stays below the container's limit; every subscriber receives exactly the events
// a reference subscriber received, each ball move announced once. RSS and
// goroutine slopes are logged (RELIABILITY.md).
func TestChaosSoak(t *testing.T) {
	const subscribers, limit = 500, 512 << 20 // the container's limit
	dur := soakDuration(t)
	node := requireNodePackages(t, subscriptionPackages...)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 4, ItemsPerProject: 20},
		WebhookMinBackoff: 50 * time.Millisecond, HourlyLimit: -1, SpikeLimit: -1})
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	env["MEMORY_LIMIT"] = strconv.Itoa(limit / 10 * 9) // what the gateway takes from a cgroup limit
	g := startChildGateway(t, copyEnv(env), "-register-webhooks")
	project, rfis, users := pickRFIs(t, sb, 3)
	vars := map[string]any{"projectId": strconv.FormatInt(project, 10)}
	var manager string
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if p.ID == project {
				manager = strconv.FormatInt(p.UserIDs[0], 10)
			}
		}
	})

	ref := subscribeSSE(t, g.URL+"/graphql", bicSubscription, vars)
	waitActive(t, &g.gatewayProc, 1)
	subs := startNodeScript(t, node, "chaos-subscribers.mjs", mustJSON(map[string]any{
		"urls": []string{wsURL(&g.gatewayProc)}, "query": bicSubscription, "field": "ballInCourtChanged",
		"variables": vars, "count": subscribers, "timeoutMs": (dur + 5*time.Minute).Milliseconds(),
	}))
	subs.await(t, 120*time.Second, "ready")
	waitActive(t, &g.gatewayProc, subscribers+1)

	start := time.Now()
	ctx, stopLoad := context.WithTimeout(context.Background(), dur)
	defer stopLoad()
	var wg sync.WaitGroup
	var loads [4]loadLoop
	for i := range loads {
		// Distinct documents: each loop asks for another page size, so whole
		// answers are not all served from one cache entry.
		q := fmt.Sprintf(`query { projects(first: %d) { nodes { id name rfis(first: %d) { totalCount nodes { id number subject status ballInCourt { id name } } } submittals(first: 10) { totalCount nodes { id status { name } } } } } }`, 2+i, 10+i*7)
		loads[i].run(ctx, &wg, g.URL, testAPIKey, q)
	}
	creator := &rfiCreator{outcomes: map[string]rfiOutcome{}, codes: map[string]int{}}
	prefix := "soak-" + randomPrefix(t)
	creator.run(ctx, &wg, g.URL, testAPIKey, strconv.FormatInt(project, 10), manager, prefix)

	// Ball moves by other users, one at a time, each announced to the
	// reference subscriber before the next.
	var moves, all []string
	samples := []soakSample{}
	next := time.Now()
	for ctx.Err() == nil {
		if s, ok := sample(t, g.URL, time.Since(start)); ok && time.Now().After(next) {
			samples = append(samples, s)
			next = time.Now().Add(dur / 40)
		}
		rfi := rfis[len(moves)%len(rfis)]
		to := otherUser(t, users, ballInCourtOf(sb, project, rfi))
		moveBall(t, sb, project, rfi, to)
		for {
			// The creates' events (CREATED, the new RFI's court) come in
			// between; the move's own event is the one about this RFI.
			e := ref.nextBIC(t, 30*time.Second)
			all = append(all, e.Cursor)
			if e.ItemID == strconv.FormatInt(rfi, 10) {
				if e.Kind != "BALL_IN_COURT_CHANGED" || !slices.Equal(e.court(), idStrings(to)) {
					t.Fatalf("ball move %d: reference event %+v, want RFI %d to [%d]", len(moves), e, rfi, to)
				}
				moves = append(moves, e.Cursor)
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	wg.Wait()
	// The last creates' events: drain the reference until it has been quiet
	// for 2 s (the load has stopped, so nothing new is made).
	for drained := false; !drained; {
		select {
		case p, ok := <-ref.events:
			if !ok {
				t.Fatal("the reference subscription ended")
			}
			all = append(all, decodeBIC(t, p).Cursor)
		case <-time.After(2 * time.Second):
			drained = true
		}
	}
	if s, ok := sample(t, g.URL, time.Since(start)); ok {
		samples = append(samples, s)
	}
	// The documented rule: a createRFI is one CREATED event, a ball move one
	// BALL_IN_COURT_CHANGED event, nothing else changes ball in court here.
	if len(all) != len(creator.outcomes)+len(moves) {
		t.Errorf("the reference received %d events for %d creates and %d ball moves, want %d", len(all), len(creator.outcomes), len(moves), len(creator.outcomes)+len(moves))
	}
	rep := subs.reportUntil(t, all, 120*time.Second)
	for i, got := range rep.Events {
		if !slices.Equal(got, all) {
			t.Errorf("subscriber %d received %d events, want exactly the reference's %d in its order (first difference at %d)",
				i, len(got), len(all), firstDiff(got, all))
		}
	}
	if len(rep.Events) != subscribers {
		t.Errorf("%d subscribers reported, want %d", len(rep.Events), subscribers)
	}

	var queries, failed int64
	for i := range loads {
		queries += loads[i].ok.Load()
		failed += loads[i].failed.Load()
		if loads[i].failed.Load() != 0 {
			t.Errorf("query loop %d: %d failed (first: %s)", i, loads[i].failed.Load(), loads[i].firstErr)
		}
	}
	for code, n := range creator.codes {
		t.Errorf("%d create attempts failed with %s", n, code)
	}
	var maxRSS float64
	for _, s := range samples {
		maxRSS = max(maxRSS, s.rss)
	}
	if maxRSS >= limit || len(samples) < 2 {
		t.Errorf("resident memory peaked at %.0f MiB over %d samples, want below the container's %d MiB limit", maxRSS/(1<<20), len(samples), limit>>20)
	}
	half := samples[len(samples)/2:]
	t.Logf("soak %s: %d queries (%d failed), %d creates, %d ball moves, %d events, each received by all %d subscribers exactly once in order; "+
		"RSS first %.0f MiB, peak %.0f MiB, last %.0f MiB, slope over the second half %+.1f MiB/min; goroutines first %.0f, last %.0f, slope %+.1f/min",
		dur, queries, failed, len(creator.outcomes), len(moves), len(all), subscribers,
		samples[0].rss/(1<<20), maxRSS/(1<<20), samples[len(samples)-1].rss/(1<<20), slope(half, func(s soakSample) float64 { return s.rss / (1 << 20) }),
		samples[0].goroutines, samples[len(samples)-1].goroutines, slope(half, func(s soakSample) float64 { return s.goroutines }))
}

// firstDiff is the first index where a and b differ (the shorter length
// when one is a prefix of the other).
func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

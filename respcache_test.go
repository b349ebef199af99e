package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestResponseCacheServesOnlyWhatItMay checks the whole-response cache from
// the outside, over the in-memory store: repeated queries are hits with 0
// Procore calls, answers are kept apart by variables, operations it must not
// cache are executed every time, a mutation retires the answers that read
// what it changed, and the debug listener's invalidation empties it.
func TestResponseCacheServesOnlyWhatItMay(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 3, ItemsPerProject: 6},
		HourlyLimit: -1, SpikeLimit: -1})
	g := startGateway(t, copyEnv(env), "-debug-addr", "127.0.0.1:0")
	q := readQuery(t, "bench/queries/dashboard.graphql")
	first := g.query(t, q, nil)
	dash := decodeDashboard(t, first)
	if rc := first.Extensions.Procoregraph.ResponseCache; rc != "miss" {
		t.Fatalf("first dashboard: response cache %q, want miss", rc)
	}

	t.Run("VariablesKeepAnswersApart", func(t *testing.T) {
		const pq = `query($p: ID!) { project(id: $p) { id name } }`
		var answers []string
		for _, p := range dash.Projects.Nodes[:2] {
			for i, want := range []string{"miss", "hit"} {
				r := g.query(t, pq, map[string]any{"p": p.ID})
				if rc := r.Extensions.Procoregraph.ResponseCache; rc != want {
					t.Fatalf("project %s query %d: response cache %q, want %q", p.ID, i, rc, want)
				}
				if !strings.Contains(string(r.Data), `"`+p.ID+`"`) {
					t.Fatalf("project %s answered with %s", p.ID, r.Data)
				}
				if want == "hit" {
					answers = append(answers, string(r.Data))
				}
			}
		}
		if answers[0] == answers[1] {
			t.Fatal("two projects got the same cached answer")
		}
	})

	t.Run("OperationsOutsideTheCacheableRootsAreExecuted", func(t *testing.T) {
		const sq = `{ submittalStatuses { id name } }`
		for i := 0; i < 2; i++ {
			r := g.query(t, sq, nil)
			if len(r.Errors) > 0 {
				t.Fatalf("submittalStatuses: %+v", r.Errors)
			}
			if rc := r.Extensions.Procoregraph.ResponseCache; rc != "bypass" {
				t.Fatalf("submittalStatuses query %d: response cache %q, want bypass", i, rc)
			}
		}
	})

	t.Run("MutationRetiresWhatItChanged", func(t *testing.T) {
		var projectID, rfiID string
		for _, p := range dash.Projects.Nodes {
			for _, r := range p.RFIs.Nodes {
				if r.Status == "OPEN" && rfiID == "" {
					projectID, rfiID = p.ID, r.ID
				}
			}
		}
		if rfiID == "" {
			t.Fatal("no open RFI to close")
		}
		if r := g.query(t, q, nil); r.Extensions.Procoregraph.ResponseCache != "hit" {
			t.Fatalf("dashboard before the mutation: %+v", r.Extensions.Procoregraph)
		}
		closed := g.query(t, `mutation($in: CloseRFIInput!) { closeRFI(input: $in) { rfi { status } userErrors { code } } }`,
			map[string]any{"in": map[string]any{"projectId": projectID, "rfiId": rfiID}})
		if !strings.Contains(string(closed.Data), `"CLOSED"`) {
			t.Fatalf("closeRFI: %s %+v", closed.Data, closed.Errors)
		}
		sb.ResetStats()
		r := g.query(t, q, nil)
		calls := sb.Stats().ByRoute
		if rc := r.Extensions.Procoregraph.ResponseCache; rc != "miss" {
			t.Fatalf("dashboard after closeRFI: response cache %q, want miss", rc)
		}
		// Only the changed project's lists are refetched: at most its RFI,
		// submittal, two contract and requisition lists; the other projects
		// and the projects page come from the data cache.
		var total int64
		for route, n := range calls {
			total += n
			if !strings.Contains(route, "rfis") && !strings.Contains(route, "submittals") && !strings.Contains(route, "contracts") && !strings.Contains(route, "requisitions") {
				t.Errorf("refetched %s (%d calls) after a change to one project's RFI", route, n)
			}
		}
		if total == 0 || total > 5 {
			t.Errorf("refetched %d lists after a change to one project's RFI, want 1 to 5: %v", total, calls)
		}
		for _, p := range decodeDashboard(t, r).Projects.Nodes {
			for _, x := range p.RFIs.Nodes {
				if x.ID == rfiID && x.Status != "CLOSED" {
					t.Fatalf("RFI %s still %s after closeRFI", rfiID, x.Status)
				}
			}
		}
		if r := g.query(t, q, nil); r.Extensions.Procoregraph.ResponseCache != "hit" {
			t.Fatalf("the answer after the mutation was not stored: %+v", r.Extensions.Procoregraph)
		}
	})

	t.Run("GetRequestsToo", func(t *testing.T) {
		get := func() gqlResponse {
			u := g.URL + "/graphql?" + url.Values{"query": {`query($p: ID!) { project(id: $p) { id name } }`},
				"variables": {`{"p":"` + dash.Projects.Nodes[2].ID + `"}`}}.Encode()
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("X-Procoregraph-Debug", "1")
			resp, err := http.DefaultClient.Do(withHarnessKey(req))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out gqlResponse
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET: status %d, %v", resp.StatusCode, err)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("GET answer Content-Type %q", ct)
			}
			return out
		}
		first, second := get(), get()
		if first.Extensions.Procoregraph.ResponseCache != "miss" || second.Extensions.Procoregraph.ResponseCache != "hit" {
			t.Fatalf("GET twice: %q then %q, want miss then hit", first.Extensions.Procoregraph.ResponseCache, second.Extensions.Procoregraph.ResponseCache)
		}
		if !jsonEqual(t, first.Data, second.Data) || !strings.Contains(string(second.Data), dash.Projects.Nodes[2].ID) {
			t.Fatalf("GET answers differ: %s vs %s", first.Data, second.Data)
		}
	})

	t.Run("NoCacheHeaderExecutes", func(t *testing.T) {
		// Procore is read (the value cache too is skipped), and the fresh
		// answer is stored again.
		r := g.queryWith(t, http.Header{"Cache-Control": {"no-cache"}}, q, nil)
		if x := r.Extensions.Procoregraph; x.ResponseCache != "miss" || x.CacheHits != 0 || x.UpstreamCalls == 0 {
			t.Fatalf("Cache-Control: no-cache: %+v", x)
		}
		if x := g.query(t, q, nil).Extensions.Procoregraph; x.ResponseCache != "hit" {
			t.Fatalf("after Cache-Control: no-cache the next answer: %+v, want a response-cache hit", x)
		}
	})

	t.Run("DebugInvalidateEmptiesTheCache", func(t *testing.T) {
		debug := debugAddr(t, g)
		resp, err := http.Post("http://"+debug+"/debug/cache/invalidate", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("invalidate: status %d", resp.StatusCode)
		}
		sb.ResetStats()
		r := g.query(t, q, nil)
		if x := r.Extensions.Procoregraph; x.ResponseCache != "miss" || x.CacheHits != 0 || sb.Stats().Total == 0 {
			t.Fatalf("after invalidating everything: %+v, %d Procore calls", x, sb.Stats().Total)
		}
	})
}

var profilerRE = regexp.MustCompile(`msg="profiler listening" addr=(\S+)`)

// debugAddr returns the address the gateway's -debug-addr listener got.
func debugAddr(t *testing.T, g *gatewayProc) string {
	t.Helper()
	for i := 0; i < 100; i++ {
		if m := profilerRE.FindStringSubmatch(g.stderr.String()); m != nil {
			return m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no profiler address in the gateway's log:\n%s", g.stderr)
	return ""
}

// reuseWait is how long Go's HTTP client waits, after reading a whole answer,
// for its writer goroutine to confirm the request was written before it gives
// up on reusing the connection (net/http's maxWriteWaitBeforeConnReuse, 50 ms
// in Go 1.26). Under load that wait can run out and the client then closes a
// healthy connection: a close it makes at least reuseWait after the last
// answer bytes is scheduling, one made sooner is a decision to discard.
const reuseWait = 50 * time.Millisecond

// connWatch is a TCP proxy between the gateway and the sandbox that sees each
// upstream connection's life: dialled, answer bytes handed to the gateway,
// closed by the gateway (and how long after the last answer bytes) or by the
// sandbox.
type connWatch struct {
	ln     net.Listener
	target string
	epoch  time.Time // times are measured from here, on the monotonic clock

	mu       sync.Mutex
	dialled  int
	closed   int             // connections ended, by either side
	watching bool            // record the gateway's closes
	quick    []time.Duration // gateway closes sooner than reuseWait after the last answer bytes
	slow     int             // gateway closes reuseWait or more after them
	conns    []net.Conn
}

func newConnWatch(t *testing.T, target string) *connWatch {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &connWatch{ln: ln, target: target, epoch: time.Now()}
	go w.accept()
	t.Cleanup(w.close)
	return w
}

func (w *connWatch) accept() {
	for {
		c, err := w.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", w.target)
		if err != nil {
			c.Close()
			continue
		}
		w.mu.Lock()
		w.dialled++
		w.conns = append(w.conns, c, up)
		w.mu.Unlock()
		var lastSent atomic.Int64 // time since epoch (+1 ns) before the last write to the gateway; 0: none yet
		var sandboxClosed atomic.Bool
		go func() { // sandbox -> gateway, noting when answer bytes are handed over
			buf := make([]byte, 32<<10)
			for {
				n, err := up.Read(buf)
				if n > 0 {
					// Noted before the write: the gateway cannot have read these
					// bytes earlier, so a gap measured from here is never too short.
					lastSent.Store(int64(time.Since(w.epoch)) + 1)
					if _, werr := c.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					sandboxClosed.Store(true)
					break
				}
			}
			c.Close()
		}()
		go func() { // gateway -> sandbox; io.Copy returns nil when the gateway closes
			err := copyPlain(up, c)
			// Measured after the close was seen, so never shorter than it was.
			sent := lastSent.Load()
			gap := time.Since(w.epoch) + 1 - time.Duration(sent)
			bySandbox := sandboxClosed.Load() // before up.Close() sets it
			up.Close()
			w.mu.Lock()
			defer w.mu.Unlock()
			w.closed++
			if err != nil || bySandbox || !w.watching {
				return
			}
			if sent != 0 && gap < reuseWait {
				w.quick = append(w.quick, gap)
			} else {
				w.slow++
			}
		}()
	}
}

// copyPlain is io.Copy without the ReadFrom/WriteTo shortcuts, so that a
// read error (rather than EOF) is reported as one.
func copyPlain(dst io.Writer, src io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// watch starts recording the gateway's closes.
func (w *connWatch) watch() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.watching = true
}

// counts returns connections dialled and still open (as far as seen yet).
func (w *connWatch) counts() (dialled, open int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dialled, w.dialled - w.closed
}

// closes returns the gateway's recorded closes, quick and slow.
func (w *connWatch) closes() (quick []time.Duration, slow int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.quick), w.slow
}

func (w *connWatch) close() {
	w.ln.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.conns {
		c.Close()
	}
}

// TestUpstreamConnectionsAreReused: a dashboard fans out to about 60 Procore
// calls, 8 at a time (-max-concurrency 8); later dashboards must reuse the
// connections (and, on real Procore, their TLS sessions) instead of
// discarding and dialling them again. How many connections Go's client dials
// depends on scheduling (a dial can race a connection coming free, and a
// healthy connection is given up when its writer goroutine is late, see
// reuseWait), so the test asserts two properties that hold whatever the
// scheduling:
//
//   - ConnectionsAreNotDiscarded: after the first dashboard the gateway closes
//     no connection within reuseWait of the answer it just read on it. Only
//     a full idle pool (Go's default keeps 2 per host) or an answer left
//     unread closes one that soon. (With 8 calls in flight the pool of 16
//     could only fill if 9 dials raced connections coming free at once.)
//   - NoConnectionsPileUp: once the dashboards are answered the gateway holds
//     at most 16 connections open, the idle pool NewBaseTransport keeps for 8
//     calls in flight. A client that dialled anew instead of reusing (say, a
//     transport per call or per query) would hold one set per dashboard.
func TestUpstreamConnectionsAreReused(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 12, ItemsPerProject: 4},
		HourlyLimit: -1, SpikeLimit: -1})
	proxy := newConnWatch(t, strings.TrimPrefix(sb.URL, "http://"))
	env = copyEnv(env)
	env["PROCORE_API_URL"] = "http://" + proxy.ln.Addr().String()
	g := startGateway(t, env, "-no-cache", "-max-concurrency", "8")
	q := readQuery(t, "bench/queries/dashboard.graphql")
	const dashboards, pool = 4, 16

	sb.ResetStats()
	decodeDashboard(t, g.query(t, q, nil))
	calls := sb.Stats().Total
	if calls < 40 {
		t.Fatalf("the dashboard made only %d calls: too few to tell reuse from luck", calls)
	}
	first, _ := proxy.counts()
	proxy.watch()
	for i := 2; i <= dashboards; i++ {
		sb.ResetStats()
		decodeDashboard(t, g.query(t, q, nil))
		if n := sb.Stats().Total; n != calls {
			t.Fatalf("dashboard %d made %d Procore calls, the first %d (-no-cache: each must call Procore)", i, n, calls)
		}
	}
	dialled, open := proxy.counts()
	quick, slow := proxy.closes()
	t.Logf("%d dashboards of %d calls: %d connections dialled for the first, %d after; gateway closes after the first: %d quick, %d slow",
		dashboards, calls, first, dialled-first, len(quick), slow)

	t.Run("ConnectionsAreNotDiscarded", func(t *testing.T) {
		if len(quick) > 0 {
			t.Fatalf("the gateway closed %d connections right after reading an answer on them (%v after the last bytes, under %v): "+
				"it discards connections it could reuse", len(quick), quick, reuseWait)
		}
	})
	t.Run("NoConnectionsPileUp", func(t *testing.T) {
		// Closes are seen by the proxy a little after the gateway makes
		// them: wait for the count to settle (a healthy gateway gets there;
		// the deadline only ends a failing run).
		deadline := time.Now().Add(30 * time.Second)
		for open > pool && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			_, open = proxy.counts()
		}
		if open > pool {
			t.Fatalf("after %d dashboards the gateway holds %d connections open (dialled %d), more than its idle pool of %d: "+
				"it dials instead of reusing", dashboards, open, dialled, pool)
		}
	})
}

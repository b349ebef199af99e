package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"procoregraph/adapter"
	"procoregraph/adapter/rest"
	"procoregraph/admission"
	"procoregraph/authn"
	"procoregraph/cache"
	"procoregraph/cache/cachetest"
	"procoregraph/events"
	"procoregraph/gateway"
	"procoregraph/loaders"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
	"procoregraph/streamlimit"
	"procoregraph/tenant"
)

// liveServer is the real gateway handler (gateway.NewServer: transports,
// resolvers, per-event loaders) on an httptest server, over a sandbox, with
// an in-memory bus the test publishes to directly.
type liveServer struct {
	srv     *httptest.Server
	bus     events.Bus
	conn    *tenant.Connection
	active  *atomic.Int64
	project int64
	rfi     int64 // an RFI of project
	// upstream carries the gateway's calls to the sandbox; tests counting
	// goroutines close its idle keep-alive connections first.
	upstream *http.Transport
	// calls and refused count the gateway's calls to the sandbox and those
	// it refused with 429 (its per-token rate limit).
	calls, refused *atomic.Int64
	// metrics is the gateway's metrics registry.
	metrics *prometheus.Registry
}

// countingTransport counts the calls through it and their 429 answers.
type countingTransport struct {
	next           http.RoundTripper
	calls, refused *atomic.Int64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.calls.Add(1)
	resp, err := t.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		t.refused.Add(1)
	}
	return resp, err
}

func startLiveServer(tb testing.TB, bus events.Bus) *liveServer {
	tb.Helper()
	return startLiveServerWith(tb, bus, nil)
}

// startLiveServerWith is startLiveServer with an authenticator built from
// the connection (nil: every request, credential or not, acts as it).
func startLiveServerWith(tb testing.TB, bus events.Bus, auth func(*tenant.Connection) gateway.Authenticator) *liveServer {
	tb.Helper()
	return startLiveServerOpts(tb, bus, liveOptions{auth: auth})
}

// liveOptions vary the live server of startLiveServerOpts.
type liveOptions struct {
	// auth builds the authenticator from the connection (nil: every
	// request, credential or not, acts as it).
	auth func(*tenant.Connection) gateway.Authenticator
	// cached loaders read through a cache shared by every request, as the
	// server's do (server.go): a subscription's project lookup is then one
	// sandbox call per TTL, not one per websocket.
	cached bool
	// unshared runs every subscription on its own
	// (gateway.Deps.UnsharedSubscriptions).
	unshared bool
	// subscriptions bounds the open subscriptions (gateway.Deps.Subscriptions;
	// zero: streamlimit's defaults).
	subscriptions streamlimit.Options
	// websockets bounds the open websockets likewise (Deps.Websockets).
	websockets streamlimit.Options
	// admission admits the queries and mutations (Deps.Admission; nil:
	// the default budget).
	admission *admission.Gate
	// upstream, when set, wraps the transport to the sandbox (inside the
	// call counter).
	upstream func(http.RoundTripper) http.RoundTripper
}

// startLiveServerOpts is startLiveServer with options.
func startLiveServerOpts(tb testing.TB, bus events.Bus, o liveOptions) *liveServer {
	auth, cached := o.auth, o.cached
	tb.Helper()
	tb.Cleanup(func() { _ = bus.Close() })
	sb, env := startSandbox(tb, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 4}})
	company, _ := strconv.ParseInt(env["PROCORE_COMPANY_ID"], 10, 64)
	upstream := http.DefaultTransport.(*http.Transport).Clone()
	tb.Cleanup(upstream.CloseIdleConnections)
	calls, refused := new(atomic.Int64), new(atomic.Int64)
	var toSandbox http.RoundTripper = upstream
	if o.upstream != nil {
		toSandbox = o.upstream(upstream)
	}
	client, err := rest.New(rest.Config{APIURL: sb.URL, LoginURL: sb.URL, ClientID: sandbox.DefaultClientID,
		ClientSecret: sandbox.DefaultClientSecret, CompanyID: company,
		HTTPClient: &http.Client{Transport: countingTransport{next: toSandbox, calls: calls, refused: refused}}})
	if err != nil {
		tb.Fatal(err)
	}
	store, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	conn := &tenant.Connection{ID: fmt.Sprintf("c-scale-%d", time.Now().UnixNano()), CompanyID: company, UserKey: "u", Procore: client}
	differ := events.NewDiffer(store, bus, events.DifferOptions{})
	primer, err := events.NewPrimer(events.PrimerOptions{Store: store, Observer: differ})
	if err != nil {
		tb.Fatal(err)
	}
	l := &liveServer{bus: bus, conn: conn, active: new(atomic.Int64), upstream: upstream, calls: calls, refused: refused,
		metrics: prometheus.NewRegistry()}
	var lo loaders.Options
	if cached {
		cs, err := cache.NewMemory(cache.MemoryOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = cs.Close() })
		if lo.Cache, err = cache.New(cs, cache.Options{}); err != nil {
			tb.Fatal(err)
		}
	}
	sb.ReadDataset(func(d *data.Dataset) { l.project, l.rfi = d.Projects[0].ID, d.Projects[0].RFIs[0].ID })
	var a gateway.Authenticator
	if auth != nil {
		a = auth(conn)
	} else {
		anon, err := authn.New(authn.Options{Service: conn, Anonymous: true})
		if err != nil {
			tb.Fatal(err)
		}
		a = anon
	}
	h := gateway.NewServer(gateway.Deps{
		Auth:                  a,
		Loaders:               lo,
		Live:                  &events.Live{Bus: bus, Prime: primer.Prime, Active: l.active},
		UnsharedSubscriptions: o.unshared,
		Subscriptions:         streamlimit.New(o.subscriptions),
		Websockets:            streamlimit.New(o.websockets),
		Admission:             o.admission,
		Metrics:               l.metrics,
	})
	l.srv = httptest.NewServer(h)
	tb.Cleanup(l.srv.Close)
	return l
}

// publish publishes one ball-in-court event on the server's project.
func (l *liveServer) publish(tb testing.TB, item int64) {
	tb.Helper()
	_, err := l.bus.Publish(context.Background(), events.Event{Conn: l.conn.ID, ProjectID: l.project,
		Kind: events.KindBallInCourtChanged, ItemKind: events.ItemRFI, ItemID: item, Title: "RFI",
		NewBallInCourt: []adapter.Person{{ID: 1, Name: "A"}}, At: time.Now().UTC(), Source: events.SourceMutation})
	if err != nil {
		tb.Fatal(err)
	}
}

func (l *liveServer) waitActive(tb testing.TB, n int64) {
	tb.Helper()
	// Starting subscriptions takes time in proportion to their number.
	deadline := time.Now().Add(max(30*time.Second, time.Duration(n)*20*time.Millisecond))
	for l.active.Load() != n {
		if time.Now().After(deadline) {
			dumpGoroutines(tb)
			tb.Fatalf("%d active subscriptions, want %d (%d calls to the sandbox, %d of them refused with 429)",
				l.active.Load(), n, l.calls.Load(), l.refused.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dumpGoroutines writes the goroutine profile (stacks grouped, with counts)
// to the file FANOUT_STALL_DUMP names, if set: what a stalled wait was
// waiting for.
func dumpGoroutines(tb testing.TB) {
	path := os.Getenv("FANOUT_STALL_DUMP")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Log(err)
		return
	}
	defer f.Close()
	_ = pprof.Lookup("goroutine").WriteTo(f, 1)
	tb.Logf("goroutine dump written to %s", path)
}

// wsClient is a minimal graphql-transport-ws client on coder/websocket,
// carrying many subscriptions on one socket.
type wsClient struct {
	c      *websocket.Conn
	mu     sync.Mutex // serializes writes
	onNext func(id string, payload json.RawMessage)
	done   chan struct{}
}

func dialWS(tb testing.TB, url string, onNext func(id string, payload json.RawMessage)) *wsClient {
	tb.Helper()
	return dialWSWith(tb, url, map[string]any{}, onNext)
}

// dialWSWith is dialWS with a connection_init payload (its Authorization).
func dialWSWith(tb testing.TB, url string, initPayload map[string]any, onNext func(id string, payload json.RawMessage)) *wsClient {
	tb.Helper()
	c, b, err := initSocket(tb, url, initPayload)
	if err != nil || !strings.Contains(string(b), "connection_ack") {
		tb.Fatalf("connection_init: %v %s", err, b)
	}
	c.SetReadLimit(1 << 20)
	w := &wsClient{c: c, onNext: onNext, done: make(chan struct{})}
	go w.read()
	return w
}

// initSocket opens a graphql-transport-ws socket to the server at url and
// sends connection_init with initPayload; it returns the socket and the
// first message read, or the error that ended the read (a close).
func initSocket(tb testing.TB, url string, initPayload map[string]any) (*websocket.Conn, []byte, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		tb.Fatal(err)
	}
	init, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": initPayload})
	if err := c.Write(ctx, websocket.MessageText, init); err != nil {
		tb.Fatal(err)
	}
	_, b, err := c.Read(ctx)
	return c, b, err
}

func (w *wsClient) send(tb testing.TB, msg map[string]any) {
	b, _ := json.Marshal(msg)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.c.Write(context.Background(), websocket.MessageText, b); err != nil {
		tb.Errorf("websocket write: %v", err)
	}
}

func (w *wsClient) read() {
	defer close(w.done)
	for {
		_, b, err := w.c.Read(context.Background())
		if err != nil {
			return
		}
		var m struct {
			ID      string          `json:"id"`
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		switch m.Type {
		case "next":
			w.onNext(m.ID, m.Payload)
		case "ping":
			b, _ := json.Marshal(map[string]string{"type": "pong"})
			w.mu.Lock()
			_ = w.c.Write(context.Background(), websocket.MessageText, b)
			w.mu.Unlock()
		}
	}
}

func (w *wsClient) subscribe(tb testing.TB, id, query string, vars map[string]any) {
	w.send(tb, map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
}

func (w *wsClient) close() {
	_ = w.c.Close(websocket.StatusNormalClosure, "")
	<-w.done
}

const fanoutQuery = `subscription($p: ID) { ballInCourtChanged(projectId: $p) { cursor itemId at ballInCourt { id } } }`

// openSubscriptions opens n subscriptions over sockets of perSocket each.
func openSubscriptions(tb testing.TB, l *liveServer, n, perSocket int, onNext func(id string, payload json.RawMessage)) []*wsClient {
	tb.Helper()
	var clients []*wsClient
	vars := map[string]any{"p": strconv.FormatInt(l.project, 10)}
	for i := 0; i < n; i += perSocket {
		w := dialWS(tb, l.srv.URL, onNext)
		clients = append(clients, w)
		for j := i; j < min(i+perSocket, n); j++ {
			w.subscribe(tb, strconv.Itoa(j), fanoutQuery, vars)
		}
	}
	return clients
}

// settledGoroutines waits for the goroutine count to stop falling, and
// returns it.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// TestThousandSubscriptionsLeakNoGoroutine opens 1,000 subscriptions through
// the real handler (graphql-transport-ws over 10 sockets), checks that one
// event reaches every one of them exactly once, closes them all, and asserts
// that the goroutine count returns to its baseline, on the in-memory bus and
// on the Redis Streams bus (whose hub reader must stop once its last
// subscriber is gone).
func TestThousandSubscriptionsLeakNoGoroutine(t *testing.T) {
	t.Run("MemoryBus", func(t *testing.T) {
		thousandSubscriptionsLeakNoGoroutine(t, events.NewMemoryBus(events.MemoryOptions{}))
	})
	t.Run("RedisBus", func(t *testing.T) {
		rdb := cachetest.Client(t)
		bus, err := events.NewRedisBus(events.RedisBusOptions{Client: rdb, Prefix: cachetest.Prefix(t, rdb, "leak"),
			Block: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		thousandSubscriptionsLeakNoGoroutine(t, bus)
	})
}

func thousandSubscriptionsLeakNoGoroutine(t *testing.T, bus events.Bus) {
	// One anonymous principal opens them all: no per-principal bound.
	l := startLiveServerOpts(t, bus, liveOptions{subscriptions: streamlimit.Options{PerPrincipal: -1}})
	var got sync.Map // subscription id -> *atomic.Int32
	count := func(id string, _ json.RawMessage) {
		v, _ := got.LoadOrStore(id, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
	}

	// Warm up: whatever starts once per process (connection pools to the
	// sandbox, the primer's first listing) is part of the baseline.
	warm := openSubscriptions(t, l, 1, 1, count)
	l.waitActive(t, 1)
	l.publish(t, 1)
	waitCount(t, &got, 1, 1)
	warm[0].close()
	l.waitActive(t, 0)
	got.Clear()
	waitNoReader(t, bus)
	// Idle keep-alive connections to the sandbox (a pool, bounded by the
	// transport) are not subscriptions' goroutines: count without them.
	l.upstream.CloseIdleConnections()
	base := settledGoroutines()

	const n = 1000
	clients := openSubscriptions(t, l, n, 100, count)
	l.waitActive(t, n)
	during := runtime.NumGoroutine()
	l.publish(t, 2)
	waitCount(t, &got, n, 1)
	for _, c := range clients {
		c.close()
	}
	l.waitActive(t, 0)

	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		l.upstream.CloseIdleConnections()
		if time.Now().After(deadline) {
			buf := make([]byte, 4<<20)
			t.Fatalf("goroutines: %d after closing, baseline %d (%d with %d subscriptions open)\n%s",
				runtime.NumGoroutine(), base, during, n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitNoReader(t, bus)
	t.Logf("goroutines: baseline %d, %d with %d subscriptions open, %d after closing them", base, during, n, runtime.NumGoroutine())
}

// waitNoReader waits, for a Redis bus, until it holds no subscriber and runs
// no stream reader, so the baseline is taken without one and the end
// asserts that none outlived its subscribers. Other buses pass at once.
func waitNoReader(t *testing.T, bus events.Bus) {
	t.Helper()
	rb, ok := bus.(*events.RedisBus)
	if !ok {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for rb.Subscribers() != 0 || rb.Readers() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Redis bus: %d subscribers and %d stream readers left after every subscription closed", rb.Subscribers(), rb.Readers())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCount waits until n subscriptions have each received exactly want
// events.
func waitCount(t *testing.T, got *sync.Map, n int, want int32) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		subs, ok := 0, true
		got.Range(func(_, v any) bool {
			subs++
			if c := v.(*atomic.Int32).Load(); c != want {
				ok = c < want // more than want is a duplicate: fail below
				if !ok {
					return false
				}
			}
			return true
		})
		if !ok {
			t.Fatalf("a subscription received an event more than %d times", want)
		}
		if subs == n {
			all := true
			got.Range(func(_, v any) bool { all = all && v.(*atomic.Int32).Load() == want; return all })
			if all {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d subscriptions received events", subs, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkFanout measures one event's fan-out to 1,000 subscriptions on one
// instance through the real handler (bus → resolver → gqlgen → websocket →
// client), with the in-memory bus and (with REDIS_URL) the Redis Streams
// bus, both with default options: p50/p99 latency from Publish to each
// client's receipt (p99-warm-ms: without the first event), the process's
// CPU time (server and clients, which share it) per event, and the memory
// (heap and goroutine stacks, server and client, after GC) and goroutines
// per open subscription. ns/op is one event's delivery to all 1,000. On a
// shared machine the latencies follow its load; cpu-ms/event much less.
//
// Every subscription has the same document and variables, so by default
// they share one execution per event (package subshare); the -unshared
// variants run each on its own (gateway.Deps.UnsharedSubscriptions), the
// baseline of the same run.
//
// FANOUT_SUBSCRIBERS sets another number of subscriptions (10000 for the
// issue 18 figures) and FANOUT_PER_SOCKET how many share one websocket
// (default 100; 1 is one browser tab each and needs two file descriptors per
// subscription, so raise `ulimit -n` first).
//
// The gateway's loaders read through a shared cache, as the server's do, so
// opening the subscriptions costs one sandbox project lookup per cache TTL.
// FANOUT_UNCACHED=1 gives every websocket its own uncached lookup, as
// before: the sandbox's per-token rate limit (100 calls per 10 s, 3,600 per
// hour) then paces the opening of sockets, and thousands of sockets do not
// all open within the wait (set FANOUT_STALL_DUMP=<file> to get the
// goroutines at that point).
//
// FANOUT_CPUPROFILE=<file> writes a CPU profile of the timed loop only (the
// fan-out of b.N events; -cpuprofile also covers opening the subscriptions).
func BenchmarkFanout(b *testing.B) {
	for _, unshared := range []bool{false, true} {
		name := ""
		if unshared {
			name = "-unshared"
		}
		b.Run("MemoryBus"+name, func(b *testing.B) {
			benchmarkFanout(b, events.NewMemoryBus(events.MemoryOptions{}), unshared)
		})
		b.Run("RedisBus"+name, func(b *testing.B) {
			benchmarkFanoutRedis(b, unshared)
		})
	}
}

func benchmarkFanoutRedis(b *testing.B, unshared bool) {
	u := os.Getenv("REDIS_URL")
	if u == "" {
		b.Skip("REDIS_URL is not set")
	}
	rdb, err := cache.ParseRedisURL(u)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rdb.Close() })
	bus, err := events.NewRedisBus(events.RedisBusOptions{Client: rdb, Prefix: fmt.Sprintf("bench-fanout-%d:", time.Now().UnixNano())})
	if err != nil {
		b.Fatal(err)
	}
	benchmarkFanout(b, bus, unshared)
}

func benchmarkFanout(b *testing.B, bus events.Bus, unshared bool) {
	n, perSocket := 1000, 100
	if v, err := strconv.Atoi(os.Getenv("FANOUT_SUBSCRIBERS")); err == nil && v > 0 {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("FANOUT_PER_SOCKET")); err == nil && v > 0 {
		perSocket = v
	}
	l := startLiveServerOpts(b, bus, liveOptions{cached: os.Getenv("FANOUT_UNCACHED") == "", unshared: unshared,
		// One anonymous principal opens them all (FANOUT_PER_SOCKET=1: a socket each).
		subscriptions: streamlimit.Options{PerPrincipal: -1, Total: -1}, websockets: streamlimit.Options{PerPrincipal: -1, Total: -1}})
	var mu sync.Mutex
	var lat []time.Duration
	var received atomic.Int64
	var sent atomic.Int64 // UnixNano of the current event's Publish
	onNext := func(_ string, _ json.RawMessage) {
		d := time.Since(time.Unix(0, sent.Load()))
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
		received.Add(1)
	}

	// Warm up (pools, the primer's listing), then measure the open set.
	warm := openSubscriptions(b, l, 1, 1, onNext)
	l.waitActive(b, 1)
	warm[0].close()
	l.waitActive(b, 0)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	clients := openSubscriptions(b, l, n, perSocket, onNext)
	l.waitActive(b, int64(n))
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSub := float64(int64(after.HeapAlloc+after.StackInuse)-int64(before.HeapAlloc+before.StackInuse)) / float64(n)
	goroutinesPerSub := float64(runtime.NumGoroutine()-g0) / float64(n)
	lat = lat[:0]

	if path := os.Getenv("FANOUT_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		received.Store(0)
		sent.Store(time.Now().UnixNano())
		l.publish(b, int64(i+1))
		deadline := time.Now().Add(30 * time.Second)
		for received.Load() < int64(n) {
			if time.Now().After(deadline) {
				b.Fatalf("event %d reached %d of %d subscriptions", i, received.Load(), n)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	b.StopTimer()
	cpuPerEvent := float64((processCPU() - cpu0).Microseconds()) / 1000 / float64(b.N)
	pprof.StopCPUProfile()
	for _, c := range clients {
		c.close()
	}
	// The first event is each subscription's first answer (gqlgen's and
	// the telemetry's one-off work): p99-warm-ms leaves it out.
	warmLat := slices.Clone(lat[min(n, len(lat)):])
	slices.Sort(lat)
	slices.Sort(warmLat)
	q := func(lat []time.Duration, p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(lat, 0.50), "p50-ms")
	b.ReportMetric(q(lat, 0.99), "p99-ms")
	b.ReportMetric(q(warmLat, 0.99), "p99-warm-ms")
	b.ReportMetric(perSub, "B/sub")
	b.ReportMetric(goroutinesPerSub, "goroutines/sub")
	b.ReportMetric(cpuPerEvent, "cpu-ms/event")
}

// TestLegacyGraphQLWSSubprotocol: clients of the legacy `graphql-ws`
// subprotocol (Apollo's subscriptions-transport-ws) subscribe too.
func TestLegacyGraphQLWSSubprotocol(t *testing.T) {
	l := startLiveServer(t, events.NewMemoryBus(events.MemoryOptions{}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(l.srv.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	if c.Subprotocol() != "graphql-ws" {
		t.Fatalf("negotiated %q", c.Subprotocol())
	}
	write := func(v any) {
		b, _ := json.Marshal(v)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	read := func(want string) json.RawMessage {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %q: %v", want, err)
			}
			var m struct {
				Type    string          `json:"type"`
				Payload json.RawMessage `json:"payload"`
			}
			_ = json.Unmarshal(b, &m)
			if m.Type == want {
				return m.Payload
			}
			if m.Type != "ka" {
				t.Fatalf("got %s while waiting for %q", b, want)
			}
		}
	}
	write(map[string]any{"type": "connection_init", "payload": map[string]any{}})
	read("connection_ack")
	write(map[string]any{"id": "1", "type": "start", "payload": map[string]any{"query": fanoutQuery,
		"variables": map[string]any{"p": strconv.FormatInt(l.project, 10)}}})
	l.waitActive(t, 1)
	l.publish(t, 77)
	p := read("data")
	if !strings.Contains(string(p), `"itemId":"77"`) {
		t.Fatalf("data %s", p)
	}
}

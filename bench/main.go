// Command bench measures the dashboard query (bench/queries/dashboard.graphql)
// against a sandbox with a fixed per-call latency, in three modes in the same
// run: the naive baseline (no dataloaders, no cache), dataloaders without a
// cache, and dataloaders with the cache. It runs the real gateway binary (built
// from this module) as a child process, so every number includes HTTP,
// GraphQL execution and the adapter's resilience stack.
//
// Run from the repository root:
//
//	go run ./bench                      # prints a markdown report
//	go run ./bench -out bench/out/report.md
//
// Reported per mode: upstream Procore calls per query (from the sandbox's
// statistics), cold latency (first query of a fresh process, empty cache),
// warm latency p50/p99 (sequential queries), throughput (concurrent clients)
// and bytes allocated per warm query (from the gateway's /metrics), plus the
// ratio of each to the naive baseline.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"procoregraph/apikeys"
	"procoregraph/principal"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

type options struct {
	latency        time.Duration
	projects       int
	items          int
	commitments    int
	coldRuns       int
	coldRunning    int
	warmCached     int
	warmUncached   int
	clients        int
	throughputFor  time.Duration
	maxConcurrency int
	out            string
	redisURL       string
	only           string
	// interleaved is the rounds of the interleaved cold run (0: none);
	// settle the idle time before each of its queries.
	interleaved     int
	settle          time.Duration
	bursts          int
	fresh           int
	burst           time.Duration
	interleavedOnly bool
	query           []byte
}

type mode struct {
	name string
	args []string
}

type result struct {
	mode                 mode
	callsCold, callsWarm float64
	cold                 []time.Duration // first query of a fresh process
	coldRunning          []time.Duration // running process, cache dropped before each query
	callsColdRunning     float64
	warm                 []time.Duration
	throughput           float64 // queries per second
	allocPerQuery        float64 // bytes
	coldCPU              float64 // gateway CPU seconds per cold query
	warmCPU              float64 // gateway CPU seconds per warm query
	// CPU seconds per query in the throughput run: the gateway process's
	// (zero for the floor, which has none) and this process's (the sandbox
	// and the clients; for the floor, the floor client too).
	loadGatewayCPU, loadBenchCPU float64
}

// benchCPU is the CPU time (user and system) this process has used, in
// seconds.
func benchCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func main() {
	var o options
	flag.DurationVar(&o.latency, "latency", 50*time.Millisecond, "sandbox latency per Procore call")
	flag.IntVar(&o.projects, "projects", 20, "projects in the company")
	flag.IntVar(&o.items, "items", 20, "RFIs, submittals, observations and punch items per project")
	flag.IntVar(&o.commitments, "commitments", 6, "commitments per project")
	flag.IntVar(&o.coldRuns, "cold", 5, "cold queries per mode (each in a fresh gateway process)")
	flag.IntVar(&o.coldRunning, "cold-running", 30, "cold queries per mode in a running gateway (its cache dropped before each)")
	flag.IntVar(&o.warmCached, "warm-cached", 300, "sequential warm queries with the cache on")
	flag.IntVar(&o.warmUncached, "warm-uncached", 15, "sequential queries per mode without the cache")
	flag.IntVar(&o.clients, "clients", 8, "concurrent clients for the throughput run")
	flag.DurationVar(&o.throughputFor, "throughput-for", 5*time.Second, "length of the throughput run")
	flag.IntVar(&o.maxConcurrency, "max-concurrency", 0, "gateway -max-concurrency (upstream calls in flight per connection); 0 runs the gateway's default")
	flag.StringVar(&o.out, "out", "", "also write the report to this file")
	flag.StringVar(&o.redisURL, "redis-url", "", "run the gateways on this Redis (a fresh key prefix per run) instead of the in-memory cache")
	flag.IntVar(&o.interleaved, "interleaved", 0, "rounds of the interleaved cold run: each round one cold dashboard from the floor and from each mode's running gateway, in rotated order (0: no such run)")
	flag.DurationVar(&o.settle, "settle", 100*time.Millisecond, "idle time before each cold query, fresh process's first query and throughput burst of the interleaved run")
	flag.IntVar(&o.bursts, "bursts", 0, "throughput rounds of the interleaved run (each contestant one -burst per round)")
	flag.IntVar(&o.fresh, "fresh", 0, "fresh-process rounds of the interleaved run (each contestant's process started anew per round)")
	flag.DurationVar(&o.burst, "burst", time.Second, "length of one throughput burst of the interleaved run")
	flag.BoolVar(&o.interleavedOnly, "interleaved-only", false, "run only the interleaved cold run")
	flag.StringVar(&o.only, "only", "", "run only the modes whose name contains this (the first mode run is the baseline of the ratios)")
	serveFloorAPI := flag.String("serve-floor", "", "internal: serve the floor client's dashboard over this Procore API (the interleaved run's floor process)")
	serveFloorCompany := flag.Int64("serve-floor-company", 0, "internal: the company of -serve-floor")
	flag.Parse()
	if *serveFloorAPI != "" {
		if err := serveFloor(*serveFloorAPI, *serveFloorCompany); err != nil {
			fmt.Fprintln(os.Stderr, "bench: floor:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx := context.Background()
	query, err := os.ReadFile("bench/queries/dashboard.graphql")
	if err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	tmp, err := os.MkdirTemp("", "procoregraph-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "procoregraph")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build gateway: %w", err)
	}

	sb, err := sandbox.Start(ctx, sandbox.Config{
		Seed:        1,
		Data:        data.Options{Companies: 1, ProjectsPerCompany: o.projects, ItemsPerProject: o.items, CommitmentsPerProject: o.commitments},
		HourlyLimit: -1, SpikeLimit: -1,
		Faults: sandbox.Faults{Latency: sandbox.Duration(o.latency)},
	}, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer sb.Close()
	var company int64
	sb.ReadDataset(func(d *data.Dataset) { company = d.Companies[0].ID })
	// The gateways face a "real" Procore (the sandbox on its own port), so
	// every request needs a credential: an API key minted for this run.
	secret, key, err := apikeys.Mint("bench", principal.AllScopes, nil, apikeys.Limits{RequestsPerMinute: 10_000_000, CallsPerMinute: 1_000_000_000})
	if err != nil {
		return err
	}
	bearer = "Bearer " + secret
	sessionKey := make([]byte, 32)
	_, _ = rand.Read(sessionKey)
	env := append(os.Environ(),
		"ADDR=127.0.0.1:0", "PROCORE_API_URL="+sb.URL, "PROCORE_LOGIN_URL="+sb.URL,
		"PROCORE_CLIENT_ID="+sandbox.DefaultClientID, "PROCORE_CLIENT_SECRET="+sandbox.DefaultClientSecret,
		"PROCORE_COMPANY_ID="+strconv.FormatInt(company, 10), "REDIS_URL="+o.redisURL,
		"API_KEYS="+key.Entry(), "PORTAL_SESSION_KEY="+hex.EncodeToString(sessionKey))

	modes := []mode{
		{"naive: no dataloaders, no cache", []string{"-naive", "-no-cache"}},
		{"dataloaders, no cache", []string{"-no-cache"}},
		{"dataloaders + data cache, no response cache", []string{"-no-response-cache"}},
		{"dataloaders + cache (default)", nil},
	}
	o.query = query
	var inter []*contestant
	if o.interleaved > 0 || o.bursts > 0 || o.fresh > 0 {
		var sel []mode
		for _, m := range modes {
			if strings.Contains(m.name, o.only) {
				sel = append(sel, m)
			}
		}
		if inter, err = measureInterleaved(ctx, o, bin, env, sel, sb.URL, company); err != nil {
			return err
		}
	}
	if o.interleavedOnly {
		var b strings.Builder
		fmt.Fprintf(&b, "Dashboard query, %d projects; sandbox latency %s per call; go %s.\n", o.projects, o.latency, runtime.Version())
		renderInterleaved(&b, o, inter)
		fmt.Print(b.String())
		if o.out != "" {
			return os.WriteFile(o.out, []byte(b.String()), 0o644)
		}
		return nil
	}
	var floor *result
	if o.only == "" || strings.Contains("floor", o.only) {
		r, err := measureFloor(ctx, o, sb.URL, company)
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		floor = &r
		fmt.Fprintln(os.Stderr, "bench: floor done")
	}
	var results []result
	for _, m := range modes {
		if o.only == "floor" {
			break
		}
		if !strings.Contains(m.name, o.only) {
			continue
		}
		args := slices.Clone(m.args)
		if o.maxConcurrency > 0 {
			args = append([]string{"-max-concurrency", strconv.Itoa(o.maxConcurrency)}, args...)
		}
		r := result{mode: m}
		// Cold: the first query of a fresh process.
		var callsCold int64
		for i := 0; i < o.coldRuns; i++ {
			g, err := startGateway(bin, env, args)
			if err != nil {
				return err
			}
			sb.ResetStats()
			cpu0, err := g.metric("process_cpu_seconds_total")
			if err != nil {
				g.stop()
				return err
			}
			d, err := g.query(query)
			callsCold += sb.Stats().Total
			cpu1, cerr := g.metric("process_cpu_seconds_total")
			g.stop()
			if err != nil {
				return fmt.Errorf("%s cold: %w", m.name, err)
			}
			if cerr != nil {
				return cerr
			}
			r.cold = append(r.cold, d)
			r.coldCPU += (cpu1 - cpu0) / float64(o.coldRuns)
		}
		r.callsCold = float64(callsCold) / float64(o.coldRuns)

		// Warm: sequential queries after one priming query.
		g, err := startGateway(bin, env, args)
		if err != nil {
			return err
		}
		if _, err := g.query(query); err != nil {
			g.stop()
			return err
		}
		n := o.warmUncached
		if !slices.Contains(m.args, "-no-cache") {
			n = o.warmCached
		}
		alloc0, err := g.metric("go_memstats_alloc_bytes_total")
		if err != nil {
			g.stop()
			return err
		}
		wcpu0, err := g.metric("process_cpu_seconds_total")
		if err != nil {
			g.stop()
			return err
		}
		sb.ResetStats()
		for i := 0; i < n; i++ {
			d, err := g.query(query)
			if err != nil {
				g.stop()
				return fmt.Errorf("%s warm: %w", m.name, err)
			}
			r.warm = append(r.warm, d)
		}
		r.callsWarm = float64(sb.Stats().Total) / float64(n)
		alloc1, err := g.metric("go_memstats_alloc_bytes_total")
		if err != nil {
			g.stop()
			return err
		}
		r.allocPerQuery = (alloc1 - alloc0) / float64(n)
		wcpu1, err := g.metric("process_cpu_seconds_total")
		if err != nil {
			g.stop()
			return err
		}
		r.warmCPU = (wcpu1 - wcpu0) / float64(n)

		// Cold in a running process: drop the connection's cached data (as
		// an invalidation would), then query.
		sb.ResetStats()
		for i := 0; i < o.coldRunning; i++ {
			if err := g.dropCache(); err != nil {
				g.stop()
				return err
			}
			d, err := g.query(query)
			if err != nil {
				g.stop()
				return fmt.Errorf("%s cold (running): %w", m.name, err)
			}
			r.coldRunning = append(r.coldRunning, d)
		}
		r.callsColdRunning = float64(sb.Stats().Total) / float64(max(o.coldRunning, 1))

		// Throughput: concurrent clients for a fixed time.
		var done atomic.Int64
		var failed atomic.Int64
		deadline := time.Now().Add(o.throughputFor)
		var wg sync.WaitGroup
		gcpu0, err := g.metric("process_cpu_seconds_total")
		if err != nil {
			g.stop()
			return err
		}
		bcpu0 := benchCPU()
		start := time.Now()
		for c := 0; c < o.clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					if _, err := g.query(query); err != nil {
						failed.Add(1)
						continue
					}
					done.Add(1)
				}
			}()
		}
		wg.Wait()
		r.throughput = float64(done.Load()) / time.Since(start).Seconds()
		r.loadBenchCPU = (benchCPU() - bcpu0) / float64(max(done.Load(), 1))
		gcpu1, err := g.metric("process_cpu_seconds_total")
		if err != nil {
			g.stop()
			return err
		}
		r.loadGatewayCPU = (gcpu1 - gcpu0) / float64(max(done.Load(), 1))
		g.stop()
		if failed.Load() > 0 {
			return fmt.Errorf("%s: %d queries failed in the throughput run", m.name, failed.Load())
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "bench: %s done\n", m.name)
	}

	report := render(o, results, floor)
	if len(inter) > 0 {
		var b strings.Builder
		renderInterleaved(&b, o, inter)
		report += b.String()
	}
	fmt.Print(report)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(o.out, []byte(report), 0o644)
	}
	return nil
}

func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	i := int(float64(len(s)-1)*p + 0.5)
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func ratio(base, x float64) string {
	if x == 0 {
		return "∞ fewer"
	}
	return fmt.Sprintf("%.1f×", base/x)
}

func render(o options, rs []result, floor *result) string {
	var b strings.Builder
	store := "in-memory cache"
	if o.redisURL != "" {
		store = "Redis cache"
	}
	bound := "the gateway's default -max-concurrency"
	if o.maxConcurrency > 0 {
		bound = fmt.Sprintf("gateway -max-concurrency %d", o.maxConcurrency)
	}
	fmt.Fprintf(&b, "Dashboard query, %d projects × (%d RFIs, %d submittals, %d commitments with their invoices); sandbox latency %s per call; %s, %s; %s, %d CPUs, %s.\n\n",
		o.projects, o.items, o.items, o.commitments, o.latency, bound, store, runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	if len(rs) > 0 {
		fmt.Fprintf(&b, "| mode | Procore calls cold | calls warm | cold p50 (running process) | cold p99 (running process) | cold p50 (fresh process) | gateway CPU per cold query (fresh process) | warm p50 | warm p99 | throughput (%d clients) | alloc per warm query |\n", o.clients)
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %.0f (running: %.0f) | %.1f | %s | %s | %s | %.0f ms | %s | %s | %.1f q/s | %.0f KiB |\n", r.mode.name, r.callsCold, r.callsColdRunning, r.callsWarm,
			ms(pct(r.coldRunning, .5)), ms(pct(r.coldRunning, .99)), ms(pct(r.cold, .5)), r.coldCPU*1000, ms(pct(r.warm, .5)), ms(pct(r.warm, .99)), r.throughput, r.allocPerQuery/1024)
	}
	if floor != nil {
		renderFloor(&b, o, rs, *floor)
	}
	renderCPU(&b, o, rs, floor)
	if len(rs) < 2 {
		return b.String()
	}
	base := rs[0]
	b.WriteString("\nRatios to the naive baseline (higher is better):\n\n")
	b.WriteString("| mode | fewer calls cold | fewer calls warm | cold p50 speed-up (running) | warm p99 speed-up | throughput gain | less memory per query |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rs[1:] {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.1f× | %s |\n", r.mode.name,
			ratio(base.callsCold, r.callsCold), ratio(base.callsWarm, r.callsWarm),
			ratio(float64(pct(base.coldRunning, .5)), float64(pct(r.coldRunning, .5))), ratio(float64(pct(base.warm, .99)), float64(pct(r.warm, .99))),
			r.throughput/base.throughput, ratio(base.allocPerQuery, r.allocPerQuery))
	}
	return b.String()
}

// renderCPU writes where the CPU goes: the gateway's per warm query, and
// per query in the throughput run the gateway's and this process's (the
// sandbox and the clients). With every process on one machine, throughput
// is bounded by its CPUs divided by the sum.
func renderCPU(b *strings.Builder, o options, rs []result, floor *result) {
	if len(rs) == 0 && floor == nil {
		return
	}
	fmt.Fprintf(b, "\nCPU per query (%d CPUs on this machine; in the throughput run every process shares them, so throughput is at most CPUs ÷ the sum):\n\n", runtime.NumCPU())
	b.WriteString("| mode | gateway CPU per warm query | throughput run: gateway CPU per query | throughput run: sandbox and clients CPU per query | throughput run: sum | CPU-bound throughput (CPUs ÷ sum) |\n|---|---|---|---|---|---|\n")
	row := func(name, warm string, r result) {
		sum := r.loadGatewayCPU + r.loadBenchCPU
		fmt.Fprintf(b, "| %s | %s | %.1f ms | %.1f ms | %.1f ms | %.1f q/s |\n", name, warm, r.loadGatewayCPU*1000, r.loadBenchCPU*1000, sum*1000, float64(runtime.NumCPU())/max(sum, 1e-9))
	}
	if floor != nil {
		row(floor.mode.name+" (its client runs in the bench process)", "–", *floor)
	}
	for _, r := range rs {
		row(r.mode.name, fmt.Sprintf("%.2f ms", r.warmCPU*1000), r)
	}
}

// gateway is a running gateway process.
type gateway struct {
	url   string
	debug string // the -debug-addr listener
	cmd   *exec.Cmd
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// dropCache invalidates everything the gateway cached for its connection.
func (g *gateway) dropCache() error {
	resp, err := client.Post(g.debug+"/debug/cache/invalidate", "text/plain", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("drop cache: status %d", resp.StatusCode)
	}
	return nil
}

var listening = regexp.MustCompile(`procoregraph listening on (http://\S+)`)

func startGateway(bin string, env, args []string) (*gateway, error) {
	debugAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args = append(slices.Clone(args), "-debug-addr", debugAddr)
	cmd := exec.Command(bin, args...)
	// A key prefix of its own, so that with Redis a fresh process starts
	// with an empty cache like the in-memory one.
	cmd.Env = append(slices.Clone(env), fmt.Sprintf("CACHE_PREFIX=bench-%d:", time.Now().UnixNano()))
	u, err := startListening(cmd, listening, "gateway")
	if err != nil {
		return nil, err
	}
	return &gateway{url: u, debug: "http://" + debugAddr, cmd: cmd}, nil
}

// startListening starts cmd and returns the URL it prints on its standard
// output in listening's form (its first group), waiting up to 30 s; what
// names the process in errors.
func startListening(cmd *exec.Cmd, listening *regexp.Regexp, what string) (string, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case u := <-urlc:
		return u, nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return "", fmt.Errorf("%s did not start: %s", what, stderr.String())
	}
}

// stopProcess interrupts cmd and kills it if it has not exited within 10 s.
func stopProcess(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
	}
}

func (g *gateway) stop() { stopProcess(g.cmd) }

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 2 * time.Minute}

// bearer is the Authorization value of this run's API key.
var bearer string

// query runs the dashboard query and returns its latency; GraphQL errors fail it.
func (g *gateway) query(q []byte) (time.Duration, error) {
	body, _ := json.Marshal(map[string]string{"query": string(q)})
	req, err := http.NewRequest(http.MethodPost, g.url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", bearer)
	d, status, raw, err := timedDo(req)
	if err != nil {
		return 0, err
	}
	var r struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || len(r.Errors) > 0 || status != 200 {
		return 0, fmt.Errorf("status %d: %.300s", status, raw)
	}
	return d, nil
}

// timedDo sends req and reads the whole answer; d is the time from sending
// to the answer's last byte.
func timedDo(req *http.Request) (d time.Duration, status int, body []byte, err error) {
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, nil, err
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	return time.Since(start), resp.StatusCode, body, err
}

// metric reads one unlabelled sample (e.g. go_memstats_alloc_bytes_total,
// process_cpu_seconds_total) from the gateway's /metrics.
func (g *gateway) metric(name string) (float64, error) {
	resp, err := client.Get(g.url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s not in /metrics", name)
}

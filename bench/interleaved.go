package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The interleaved run compares the floor and the gateways with the
// machine's drift taken out. The floor runs as a process of its own (see
// serveFloor) and each mode as one running gateway. Each cold round asks
// each of them for one cold dashboard (a gateway's cached data dropped
// first), in an order that rotates from round to round; between two
// queries the machine is left idle for settle, so that no query competes
// with the background work of the one before it (a gateway's cache writes
// after its answer). Each throughput round then gives each of them, in the
// same rotation, a burst of o.clients concurrent clients. A fresh round
// starts each of them anew and times its first dashboard.

// contestant is the floor process or a gateway in the interleaved run.
type contestant struct {
	name  string
	cold  func(ctx context.Context) (time.Duration, error) // one cold dashboard
	query func(ctx context.Context) (time.Duration, error) // one dashboard as the mode answers it
	cpu   func() (float64, error)                          // the process's CPU seconds so far
	fresh func(ctx context.Context) (time.Duration, error) // a fresh process's first dashboard

	times    []time.Duration
	first    []time.Duration // first dashboards of fresh processes
	coldCPU  float64         // CPU seconds per cold query, a gateway's cache writes included
	done     int64           // dashboards answered in the throughput bursts
	busy     time.Duration
	loadCPU  float64 // CPU seconds per dashboard in the bursts
	failures int64
}

// measureInterleaved runs the interleaved rounds over the floor and modes
// and returns the floor first, then each mode.
func measureInterleaved(ctx context.Context, o options, bin string, env []string, modes []mode, api string, company int64) ([]*contestant, error) {
	floor, err := startFloor(api, company)
	if err != nil {
		return nil, err
	}
	defer floor.stop()
	cs := []*contestant{{name: "floor: hand-written REST client", cold: floor.query, query: floor.query, cpu: floor.cpu,
		fresh: func(ctx context.Context) (time.Duration, error) {
			f, err := startFloor(api, company)
			if err != nil {
				return 0, err
			}
			defer f.stop()
			time.Sleep(o.settle)
			return f.query(ctx)
		}}}
	for _, m := range modes {
		args := slices.Clone(m.args)
		if o.maxConcurrency > 0 {
			args = append([]string{"-max-concurrency", strconv.Itoa(o.maxConcurrency)}, args...)
		}
		fresh := func(context.Context) (time.Duration, error) {
			g, err := startGateway(bin, env, args)
			if err != nil {
				return 0, err
			}
			defer g.stop()
			time.Sleep(o.settle)
			return g.query(o.query)
		}
		g, err := startGateway(bin, env, args)
		if err != nil {
			return nil, err
		}
		defer g.stop()
		ask := func(context.Context) (time.Duration, error) { return g.query(o.query) }
		cs = append(cs, &contestant{name: m.name, query: ask,
			cold: func(ctx context.Context) (time.Duration, error) {
				if err := g.dropCache(); err != nil {
					return 0, err
				}
				return ask(ctx)
			},
			cpu:   func() (float64, error) { return g.metric("process_cpu_seconds_total") },
			fresh: fresh,
		})
	}
	for _, c := range cs {
		if _, err := c.query(ctx); err != nil { // token, connections, first-use costs
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
	}
	n := len(cs)
	cpu0, err := cpus(cs)
	if err != nil {
		return nil, err
	}
	for round := 0; round < o.interleaved; round++ {
		for k := range n {
			c := cs[(round+k)%n]
			time.Sleep(o.settle)
			d, err := c.cold(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s cold (interleaved): %w", c.name, err)
			}
			c.times = append(c.times, d)
		}
	}
	if o.interleaved > 0 {
		time.Sleep(time.Second) // the last cache writes
		cpu1, err := cpus(cs)
		if err != nil {
			return nil, err
		}
		for i, c := range cs {
			c.coldCPU = (cpu1[i] - cpu0[i]) / float64(o.interleaved)
		}
	}
	for round := 0; round < o.fresh; round++ {
		for k := range n {
			c := cs[(round+k)%n]
			d, err := c.fresh(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s fresh (interleaved): %w", c.name, err)
			}
			c.first = append(c.first, d)
		}
	}
	for round := 0; round < o.bursts; round++ {
		for k := range n {
			c := cs[(round+k)%n]
			time.Sleep(o.settle)
			before, err := c.cpu()
			if err != nil {
				return nil, err
			}
			done, failed, took := burst(ctx, o.clients, o.burst, c.query)
			after, err := c.cpu()
			if err != nil {
				return nil, err
			}
			c.done += done
			c.failures += failed
			c.busy += took
			c.loadCPU += after - before
		}
	}
	for _, c := range cs {
		if c.failures > 0 {
			return nil, fmt.Errorf("%s: %d dashboards failed in the throughput bursts", c.name, c.failures)
		}
		c.loadCPU /= float64(max(c.done, 1))
	}
	fmt.Fprintln(os.Stderr, "bench: interleaved run done")
	return cs, nil
}

// cpus reads every contestant's CPU seconds.
func cpus(cs []*contestant) ([]float64, error) {
	out := make([]float64, len(cs))
	for i, c := range cs {
		v, err := c.cpu()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		out[i] = v
	}
	return out, nil
}

// burst runs clients concurrent loops of query for d and returns the
// dashboards answered and failed, and how long the burst took (until its
// last query returned).
func burst(ctx context.Context, clients int, d time.Duration, query func(context.Context) (time.Duration, error)) (done, failed int64, took time.Duration) {
	var ok, bad atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := query(ctx); err != nil {
					bad.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return ok.Load(), bad.Load(), time.Since(start)
}

// renderInterleaved writes the interleaved run's tables.
func renderInterleaved(b *strings.Builder, o options, cs []*contestant) {
	if len(cs) == 0 {
		return
	}
	f := cs[0]
	if o.interleaved > 0 {
		renderInterleavedCold(b, o, cs)
	}
	if o.fresh > 0 {
		fmt.Fprintf(b, "\nFresh processes interleaved (%d rounds, each starting every contestant's process anew, in rotation; both the floor and the gateways obtain their access token at start; %s idle after the start, then the first dashboard):\n\n",
			o.fresh, o.settle)
		b.WriteString("| mode | first query p50 | first query max | p50 vs floor |\n|---|---|---|---|\n")
		for _, c := range cs {
			fmt.Fprintf(b, "| %s | %s | %s | %.2f× |\n", c.name, ms(pct(c.first, .5)), ms(pct(c.first, 1)),
				float64(pct(c.first, .5))/float64(pct(f.first, .5)))
		}
	}
	if o.bursts == 0 {
		return
	}
	fmt.Fprintf(b, "\nThroughput interleaved (%d rounds, each a %s burst of %d concurrent clients per contestant, rotated; the cached modes answer from their warm caches):\n\n",
		o.bursts, o.burst, o.clients)
	b.WriteString("| mode | dashboards/s | vs floor | process CPU per dashboard |\n|---|---|---|---|\n")
	rate := func(c *contestant) float64 { return float64(c.done) / c.busy.Seconds() }
	for _, c := range cs {
		fmt.Fprintf(b, "| %s | %.1f | %.2f× | %.1f ms |\n", c.name, rate(c), rate(c)/rate(f), c.loadCPU*1000)
	}
}

// renderInterleavedCold writes the cold rounds' table.
func renderInterleavedCold(b *strings.Builder, o options, cs []*contestant) {
	f := cs[0]
	fmt.Fprintf(b, "\nInterleaved (the floor as a process of its own, queried over HTTP like the gateways; %d cold rounds, each one cold dashboard from every contestant in an order rotated every round, %s idle before each query):\n\n",
		o.interleaved, o.settle)
	b.WriteString("| mode | cold p50 | cold p90 | cold p99 | p50 vs floor | p90 vs floor | p99 vs floor | process CPU per cold query |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range cs {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %.2f× | %.2f× | %.2f× | %.1f ms |\n", c.name,
			ms(pct(c.times, .5)), ms(pct(c.times, .9)), ms(pct(c.times, .99)),
			float64(pct(c.times, .5))/float64(pct(f.times, .5)), float64(pct(c.times, .9))/float64(pct(f.times, .9)),
			float64(pct(c.times, .99))/float64(pct(f.times, .99)), c.coldCPU*1000)
	}
}

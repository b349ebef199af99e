// Command procoregraph serves Procore as a federated GraphQL subgraph. With no
// configuration it serves a seeded, embedded Procore sandbox, so
// `go run .` works offline; `go run . sandbox` runs the sandbox alone.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// A warm GraphQL response allocates a lot of short-lived objects (gqlgen
	// builds a context per field); collecting less often trades some memory
	// for a measured ~30% lower warm latency (BENCHMARKS.md). GOGC overrides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// The first signal starts the drain (run); a second one ends the
	// process at once: signal handling goes back to the default before run
	// sees the first.
	signalled, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, drain := context.WithCancel(context.Background())
	defer drain()
	context.AfterFunc(signalled, func() { stop(); drain() })
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "procoregraph:", err)
		os.Exit(1)
	}
}

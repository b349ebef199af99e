// Command procoregraph serves Procore as a federated GraphQL subgraph. With no
// configuration it serves a seeded, embedded Procore sandbox, so
// `go run .` works offline; `go run . sandbox` runs the sandbox alone.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// GOGC and the Go memory limit are set by run (memlimit.go).
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

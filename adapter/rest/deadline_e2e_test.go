package rest

import (
	"context"
	"errors"
	"procoregraph/testwait"
	"runtime"
	"testing"
	"time"

	"procoregraph/adapter"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestE2EStalledBodyEndsAtTheDeadline: the sandbox sends a list's status,
// headers and first byte and then holds the body open (Faults.StallBody).
// The call ends with UPSTREAM_UNAVAILABLE at its deadline, whichever of
// Config.CallTimeout and the caller's context is sooner, instead of waiting
// for a body that never comes; afterwards no goroutine of the call is left
// and the sandbox no longer holds the body (the connection was closed).
func TestE2EStalledBodyEndsAtTheDeadline(t *testing.T) {
	cases := []struct {
		name        string
		callTimeout time.Duration // 0: the default (2 minutes)
		ctxTimeout  time.Duration // 0: no deadline on the caller's context
	}{
		{name: "CallTimeoutEndsItWhenTheCallerHasNoDeadline", callTimeout: 300 * time.Millisecond},
		{name: "CallersSoonerDeadlineEndsIt", ctxTimeout: 300 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := startE2E(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, RFIsPerProject: 20}},
				func(c *Config) { c.CallTimeout = tc.callTimeout })
			// Warm up: the token and a pooled connection exist before the
			// baseline is taken.
			if _, err := e.client.RFIs(context.Background(), e.projectID, adapter.ListOptions{}); err != nil {
				t.Fatal(err)
			}
			e.client.CloseIdleConnections()
			baseline := settledGoroutines()

			e.run.ResetStats()
			e.run.SetFaults(sandbox.Faults{StallBody: true})
			ctx := context.Background()
			if tc.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
				defer cancel()
			}
			errc := make(chan error, 1)
			go func() {
				_, err := e.client.RFIs(ctx, e.projectID, adapter.ListOptions{})
				errc <- err
			}()
			var err error
			select {
			case err = <-errc:
			case <-time.After(time.Minute): // a guard against a hang, not the assertion
				t.Fatal("the call was still waiting for the stalled body a minute later")
			}
			if adapter.ErrorCode(err) != adapter.CodeUpstreamUnavailable || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v (code %s), want UPSTREAM_UNAVAILABLE ending at the deadline", err, adapter.ErrorCode(err))
			}
			if e.run.Stats().Total == 0 {
				t.Fatal("the sandbox saw no call: the stall was not exercised")
			}
			testwait.For(t, "the sandbox let go of the stalled body", func() bool { return e.run.Stats().StalledBodies == 0 })
			e.client.CloseIdleConnections()
			testwait.For(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline })
		})
	}
}

// settledGoroutines is the goroutine count once it stops falling.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		time.Sleep(10 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			return max(n, m)
		}
		n = m
	}
	return n
}

package main

import (
	"net/http"
	"procoregraph/testwait"
	"runtime"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestStalledProcoreBodyEndsTheQueryAtItsDeadline: Procore sends a list's
// headers and first byte and then nothing (the sandbox's StallBody fault).
// The query ends with UPSTREAM_UNAVAILABLE at its deadline (OPERATION_TIMEOUT)
// instead of hanging, and every goroutine it started ends: the count returns
// to what it was before the query.
func TestStalledProcoreBodyEndsTheQueryAtItsDeadline(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 5}})
	env["OPERATION_TIMEOUT"] = "1s"
	g := startGateway(t, env, "-no-cache")
	const q = `{ projects(first: 5) { nodes { id rfis(first: 5) { nodes { id subject } } } } }`
	if r := g.query(t, q, nil); len(r.Errors) > 0 {
		t.Fatalf("warm-up query: %+v", r.Errors)
	}
	http.DefaultClient.CloseIdleConnections()
	baseline := settledGoroutines()

	sb.SetFaults(sandbox.Faults{StallBody: true})
	r := g.query(t, q, nil)
	sb.SetFaults(sandbox.Faults{})
	if len(r.Errors) == 0 {
		t.Fatalf("the query succeeded over stalled bodies: %s", r.Data)
	}
	for _, e := range r.Errors {
		if e.Extensions["code"] != "UPSTREAM_UNAVAILABLE" {
			t.Fatalf("error %q has code %v, want UPSTREAM_UNAVAILABLE", e.Message, e.Extensions["code"])
		}
	}
	http.DefaultClient.CloseIdleConnections()
	testwait.For(t, "the sandbox let go of every stalled body", func() bool { return sb.Stats().StalledBodies == 0 })
	testwait.For(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline })
}

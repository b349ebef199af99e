package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
)

// The conformance checks are JavaScript (conformance/*.mjs, packages pinned in
// package.json and package-lock.json): the reference implementations of
// Apollo Federation and of the GraphQL-over-HTTP audit are npm packages. Each
// test below starts a sandbox and the real program on loopback ports and runs
// one script against its /graphql; the script's exit code is the verdict and
// its output is the failure message.

// conformancePackages are the npm packages the scripts import; their presence
// under node_modules says `npm ci` has run.
var conformancePackages = []string{"graphql", "graphql-http", "@apollo/composition", "@apollo/gateway", "@apollo/server"}

// TestApolloComposition proves that the subgraph SDL our server publishes at
// `{ _service { sdl } }` is Federation 2, keys the eight required entities by
// id, and composes with @apollo/composition together with a second subgraph
// that extends Project by its key, with Project's fields routed to the right
// subgraph in the supergraph. A conflicting subgraph must fail to compose
// (control).
func TestApolloComposition(t *testing.T) {
	runConformanceScript(t, "compose.mjs", 45*time.Second)
}

// TestApolloGatewayQueriesBothSubgraphs proves that a real @apollo/gateway
// in front of our server and a second subgraph answers one request with
// fields from both, in both directions through _entities (our Project ids to
// the second subgraph, and the second subgraph's Project references back to
// our server, including a nested connection), with values equal to what our
// server answers directly.
func TestApolloGatewayQueriesBothSubgraphs(t *testing.T) {
	runConformanceScript(t, "gateway.mjs", 50*time.Second)
}

// TestGraphQLOverHTTPAudit proves that /graphql passes every MUST of
// graphql-http's GraphQL-over-HTTP server audit (SHOULD and MAY results are
// logged; the known ones are pinned in conformance/audit.mjs), and that the
// audit does fail a server that is not GraphQL (control).
func TestGraphQLOverHTTPAudit(t *testing.T) {
	runConformanceScript(t, "audit.mjs", 45*time.Second)
}

// runConformanceScript starts a sandbox and the program, runs
// `node conformance/<script> <graphql-url>` with the timeout and fails the
// test with the script's output unless it exits 0 having printed its PASS
// line. Without node or node_modules it skips, or fails when CI=true.
func runConformanceScript(t *testing.T, script string, timeout time.Duration) {
	t.Helper()
	node := requireNode(t)

	_, env := startSandbox(t, sandbox.Config{})
	p := startGateway(t, env)
	endpoint := p.URL + "/graphql"

	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("conformance", script), endpoint)
	cmd.Env = nodeEnv()
	cmd.WaitDelay = 5 * time.Second // a child holding the output pipe must not hang the test
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start).Round(time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("node %s did not finish within %s\noutput:\n%s\ngateway stderr:\n%s", script, timeout, out, tail(p.stderr.String(), 4000))
	}
	if err != nil {
		t.Fatalf("node %s against %s failed after %s: %v\noutput:\n%s\ngateway stderr:\n%s", script, endpoint, elapsed, err, out, tail(p.stderr.String(), 4000))
	}
	pass := "PASS " + strings.TrimSuffix(script, ".mjs")
	if !strings.Contains(string(out), pass) {
		t.Fatalf("node %s exited 0 without printing %q\noutput:\n%s", script, pass, out)
	}
	t.Logf("node %s (%s):\n%s", script, elapsed, out)
}

// requireNode returns the path of a node >= 20 with the conformance packages
// installed, or skips the test (fails it when CI=true) saying what is missing.
func requireNode(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: the conformance checks must run)")
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found on PATH: install Node.js >= 20, then run `npm ci` in the repository root")
		return ""
	}
	v, err := exec.Command(node, "--version").Output()
	if err != nil {
		missing("%s --version: %v", node, err)
		return ""
	}
	if major, ok := nodeMajor(string(v)); !ok || major < 20 {
		missing("node %s is too old: the conformance packages need Node.js >= 20", strings.TrimSpace(string(v)))
		return ""
	}
	var absent []string
	for _, pkg := range conformancePackages {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); errors.Is(err, os.ErrNotExist) {
			absent = append(absent, pkg)
		}
	}
	if len(absent) > 0 {
		missing("npm packages missing from node_modules (%s): run `npm ci` in the repository root", strings.Join(absent, ", "))
		return ""
	}
	return node
}

var nodeVersionRE = regexp.MustCompile(`^v(\d+)\.`)

// nodeMajor parses the major version from `node --version` output ("v20.20.2").
func nodeMajor(v string) (int, bool) {
	m := nodeVersionRE.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// nodeEnv is the scripts' environment: the test's, without Apollo
// credentials or graph refs (nothing may report to Apollo), with Apollo's
// gateway telemetry off and loopback exempt from any proxy.
func nodeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "APOLLO_") {
			continue
		}
		env = append(env, kv)
	}
	// The scripts send the harness key (lib.mjs authHeaders) to gateways
	// that require a credential.
	return append(env, "APOLLO_TELEMETRY_DISABLED=true", "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
		"PROCOREGRAPH_AUTHORIZATION=Bearer "+testAPIKey)
}

// tail returns at most the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"procoregraph/sandbox"
)

// TestLocalStackDashboardThroughHiveGateway runs deploy/compose.yaml's
// stack without Docker (whose images cannot be pulled on this machine):
// two replicas sharing Redis in front of the sandbox with the compose
// file's live-update settings, the example subgraph
// (deploy/example-subgraph/server.mjs), the supergraph composed by
// deploy/supergraph/compose.mjs, and Hive Gateway serving it. The full
// dashboard through Hive Gateway answers the same data as a replica
// directly, and the example subgraph's scheduleHealth joins each project.
func TestLocalStackDashboardThroughHiveGateway(t *testing.T) {
	node := requireNode(t)
	_, sb := startSandbox(t, sandbox.Config{})
	// The replicas' environment is compose.yaml's, with loopback addresses
	// for the container names.
	docs := readYAMLDocs(t, filepath.Join("deploy", "compose.yaml"))
	env := serviceEnv(mapAt(docs[0], "services", "procoregraph"))
	for _, k := range []string{"PROCORE_API_URL", "PROCORE_LOGIN_URL", "PROCORE_CLIENT_ID", "PROCORE_CLIENT_SECRET", "PROCORE_COMPANY_ID"} {
		env[k] = sb[k]
	}
	env["REDIS_URL"] = requireRedis(t)
	env["CACHE_PREFIX"] = randomPrefix(t)
	env["ADDR"] = "127.0.0.1:0"
	for _, k := range []string{"PUBLIC_URL", "ALLOWED_HOSTS", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		delete(env, k) // container names; no collector here
	}
	replicas := []*gatewayProc{startGateway(t, env), startGateway(t, env)}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	startNode := func(name string, env []string, args ...string) {
		cmd := exec.CommandContext(ctx, node, args...)
		cmd.Env = append(nodeEnv(), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("%s output:\n%s", name, tail(out.String(), 3000))
			}
		})
	}

	schedulePort := freePort(t)
	startNode("schedule subgraph", []string{"PORT=" + strconv.Itoa(schedulePort)}, filepath.Join("deploy", "example-subgraph", "server.mjs"))
	scheduleURL := fmt.Sprintf("http://127.0.0.1:%d/graphql", schedulePort)

	supergraph := filepath.Join(t.TempDir(), "supergraph.graphql")
	compose := exec.CommandContext(ctx, node, filepath.Join("deploy", "supergraph", "compose.mjs"), supergraph)
	compose.Env = append(nodeEnv(), "SUBGRAPHS=procore="+replicas[0].URL+"/graphql,schedule="+scheduleURL)
	if out, err := compose.CombinedOutput(); err != nil {
		t.Fatalf("compose.mjs: %v\n%s", err, out)
	}

	hivePort := freePort(t)
	startNode("hive gateway", nil, filepath.Join("node_modules", "@graphql-hive", "gateway", "dist", "bin.js"),
		"supergraph", supergraph, "--host", "127.0.0.1", "--port", strconv.Itoa(hivePort))
	hiveURL := fmt.Sprintf("http://127.0.0.1:%d/graphql", hivePort)
	for {
		if _, err := postJSON(hiveURL, "{ __typename }"); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("Hive Gateway did not start")
		}
		time.Sleep(200 * time.Millisecond)
	}

	dashboard := readQuery(t, "bench/queries/dashboard.graphql")
	through, err := postJSON(hiveURL, dashboard)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := postJSON(replicas[1].URL+"/graphql", dashboard)
	if err != nil {
		t.Fatal(err)
	}
	if through["errors"] != nil || through["data"] == nil || !reflect.DeepEqual(through["data"], direct["data"]) {
		t.Fatalf("the dashboard through Hive Gateway differs from a replica's answer:\nerrors %v\nthrough %.500v\ndirect %.500v",
			through["errors"], through["data"], direct["data"])
	}

	// Both subgraphs in one request: scheduleHealth is the example
	// subgraph's ON_TRACK, AT_RISK or LATE by id modulo 3.
	joined, err := postJSON(hiveURL, "{ projects(first: 3) { nodes { id name scheduleHealth } } }")
	if err != nil || joined["errors"] != nil {
		t.Fatalf("%v %v", err, joined["errors"])
	}
	nodes := joined["data"].(map[string]any)["projects"].(map[string]any)["nodes"].([]any)
	if len(nodes) == 0 {
		t.Fatal("no projects")
	}
	for _, n := range nodes {
		p := n.(map[string]any)
		id, ok := new(big.Int).SetString(p["id"].(string), 10)
		if !ok {
			t.Fatalf("project id %v", p["id"])
		}
		want := []string{"ON_TRACK", "AT_RISK", "LATE"}[new(big.Int).Mod(id, big.NewInt(3)).Int64()]
		if p["scheduleHealth"] != want || p["name"] == "" {
			t.Fatalf("project %v: scheduleHealth %v, want %s", p["id"], p["scheduleHealth"], want)
		}
	}
	t.Logf("dashboard through Hive Gateway: %d projects, the same data as a replica; scheduleHealth joined", len(nodes))
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// postJSON posts a GraphQL query without a credential and decodes the answer.
func postJSON(url, query string) (map[string]any, error) {
	body, _ := json.Marshal(map[string]string{"query": query})
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, res.Status)
	}
	var out map[string]any
	return out, json.NewDecoder(res.Body).Decode(&out)
}

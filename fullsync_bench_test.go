package main

import (
	"encoding/json"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// BenchmarkFullSync is the BI engineer's full sync of the dashboard data
// (every project, each with every RFI and submittal: 20 projects × 500 of
// each, 20,020 rows) over a sandbox with 50 ms latency on every Procore call,
// two ways in the same run, each from a fresh gateway (cold cache):
//
//   - "bulk": startBulkExport of the dashboard query, polled every 20 ms
//     until COMPLETED, then the file downloaded through its signed URL and
//     decompressed;
//   - "paging": hand-written client paging through GraphQL, first at the
//     cap (1,000) following endCursor: the projects, then for each project
//     its RFIs and then its submittals (project(id:) { rfis(first:, after:) }),
//     one request after another, as a sync script does.
//
// Reproduce (the table in BENCHMARKS.md):
//
//	go test -run '^$' -bench FullSync -benchtime 3x .
func BenchmarkFullSync(b *testing.B) {
	const projects, items = 20, 500
	sb, env := startSandbox(b, sandbox.Config{Seed: 1,
		Data:   data.Options{Companies: 1, ProjectsPerCompany: projects, ItemsPerProject: items, CommitmentsPerProject: 2},
		Faults: sandbox.Faults{Latency: sandbox.Duration(50 * time.Millisecond)}, HourlyLimit: -1, SpikeLimit: -1})
	const wantRows = projects * (1 + 2*items)

	b.Run("bulk", func(b *testing.B) { benchSync(b, sb, env, wantRows, bulkSync) })
	b.Run("paging", func(b *testing.B) { benchSync(b, sb, env, wantRows, handPagedSync) })
}

// benchSync times sync, each iteration against a fresh gateway over sb,
// checks it read wantRows rows and reports the Procore calls and the
// gateway requests per sync.
func benchSync(b *testing.B, sb *sandbox.Running, env map[string]string, wantRows int, sync func(*testing.B, *gatewayProc) (rows, requests int)) {
	var calls, requests int64
	for b.Loop() {
		b.StopTimer()
		g := startGateway(b, env)
		sb.ResetStats()
		b.StartTimer()
		n, reqs := sync(b, g)
		requests += int64(reqs)
		b.StopTimer()
		if n != wantRows {
			b.Fatalf("%d rows, want %d", n, wantRows)
		}
		calls += sb.Stats().Total
		g.stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(calls)/float64(b.N), "procore-calls/op")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
}

// bulkSync exports the dashboard query in bulk, polls the export until it
// ends and downloads it, and returns the rows read and the requests made.
func bulkSync(b *testing.B, g *gatewayProc) (rows, requests int) {
	st, ues := startBulk(b, g, "", bulkDashboardQuery, map[string]any{"status": "ALL"})
	requests++
	if len(ues) > 0 {
		b.Fatalf("start: %+v", ues)
	}
	var done *bulkState
	for {
		done = bulkStatus(b, g, "", st.ID)
		requests++
		if done.Status != "RUNNING" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if done.URL == nil {
		b.Fatalf("export ended %s", done.Status)
	}
	got, _ := downloadBulk(b, *done.URL)
	requests++
	return len(got), requests
}

// handPagedSync reads every project, RFI and submittal with first: 1000
// pages following endCursor, and returns the rows read and the requests
// made.
func handPagedSync(b *testing.B, g *gatewayProc) (rows, requests int) {
	type pageInfo struct {
		HasNextPage bool   `json:"hasNextPage"`
		EndCursor   string `json:"endCursor"`
	}
	type conn struct {
		Nodes    []json.RawMessage `json:"nodes"`
		PageInfo pageInfo          `json:"pageInfo"`
	}
	query := func(q string, vars map[string]any, out any) {
		requests++
		r := g.query(b, q, vars)
		if len(r.Errors) > 0 {
			b.Fatalf("errors: %+v", r.Errors)
		}
		if err := json.Unmarshal(r.Data, out); err != nil {
			b.Fatal(err)
		}
	}
	var ids []string
	after := ""
	for {
		var d struct{ Projects conn }
		query(`query($after: String) { projects(filter: {status: ALL}, first: 1000, after: $after) {
			nodes { id name projectNumber } pageInfo { hasNextPage endCursor } } }`, map[string]any{"after": after}, &d)
		for _, n := range d.Projects.Nodes {
			var p struct{ ID string }
			_ = json.Unmarshal(n, &p)
			ids = append(ids, p.ID)
		}
		rows += len(d.Projects.Nodes)
		if !d.Projects.PageInfo.HasNextPage {
			break
		}
		after = d.Projects.PageInfo.EndCursor
	}
	lists := map[string]string{
		"rfis":       `query($id: ID!, $after: String) { project(id: $id) { list: rfis(first: 1000, after: $after) { nodes { id number subject status dueDate ballInCourt { id name } } pageInfo { hasNextPage endCursor } } } }`,
		"submittals": `query($id: ID!, $after: String) { project(id: $id) { list: submittals(first: 1000, after: $after) { nodes { id number title status { id name } } pageInfo { hasNextPage endCursor } } } }`,
	}
	for _, id := range ids {
		for _, name := range []string{"rfis", "submittals"} {
			after := ""
			for {
				var d struct{ Project struct{ List conn } }
				query(lists[name], map[string]any{"id": id, "after": after}, &d)
				rows += len(d.Project.List.Nodes)
				if !d.Project.List.PageInfo.HasNextPage {
					break
				}
				after = d.Project.List.PageInfo.EndCursor
			}
		}
	}
	return rows, requests
}

package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"procoregraph/cache/cachetest"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// rfiChange is an rfiChanged event as TestCreateRFIEventCount selects it.
type rfiChange struct {
	Cursor string `json:"cursor"`
	Kind   string `json:"kind"`
	RfiID  string `json:"rfiId"`
	Source string `json:"source"`
}

const rfiChangedSubscription = `subscription($p: ID) { rfiChanged(projectId: $p) { cursor kind rfiId source } }`

// TestCreateRFIEventCount pins the documented rule (README, Live updates):
// a createRFI yields exactly one rfiChanged event, kind CREATED, to every
// subscriber of its project that was active when it was made, and nothing
// else (its source is MUTATION, or WEBHOOK when the create's webhook was
// processed before the mutation reported), although the sandbox fires a
// "create" webhook for each, delivers
// every webhook twice and reorders half of them, and the creates run
// concurrently. M subscribers and N creates give exactly M×N CREATED
// events. A ball move made after all the creates' webhooks were processed
// is the sentinel: every subscriber's events up to it are all it will get
// for the creates. It runs in memory and with Redis (cache, differ state and
// the Redis Streams bus).
func TestCreateRFIEventCount(t *testing.T) {
	t.Run("InMemory", func(t *testing.T) { createRFIEventCount(t, nil) })
	t.Run("Redis", func(t *testing.T) {
		rdb := cachetest.Client(t)
		createRFIEventCount(t, map[string]string{"REDIS_URL": cachetest.URL(t), "CACHE_PREFIX": cachetest.Prefix(t, rdb, "event-count")})
	})
}

func createRFIEventCount(t *testing.T, extraEnv map[string]string) {
	const subscribers, creates, workers = 3, 8, 4
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 6},
		WebhookMinBackoff: 50 * time.Millisecond})
	sb.SetFaults(sandbox.Faults{DuplicateWebhooks: 1, ReorderWebhooks: 0.5})
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	maps.Copy(env, extraEnv)
	g := startGateway(t, env, "-register-webhooks")
	project, rfis, users := pickRFIs(t, sb, 1)
	p := strconv.FormatInt(project, 10)

	var subs []*sseSubscription
	for range subscribers {
		subs = append(subs, subscribeSSE(t, g.URL+"/graphql", rfiChangedSubscription, map[string]any{"p": p}))
	}
	waitActive(t, g, subscribers)

	var mu sync.Mutex
	var created []string
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < creates; i += workers {
				r := g.query(t, `mutation($in: CreateRFIInput!) { createRFI(input: $in) { rfi { id } userErrors { message } } }`,
					map[string]any{"in": map[string]any{"projectId": p, "subject": fmt.Sprintf("Event count %d", i), "question": "How many events?",
						"managerId": strconv.FormatInt(users[0], 10), "assigneeIds": []string{strconv.FormatInt(users[1], 10)}}})
				var out struct {
					CreateRFI struct {
						RFI *struct {
							ID string `json:"id"`
						} `json:"rfi"`
					} `json:"createRFI"`
				}
				if err := json.Unmarshal(r.Data, &out); err != nil || len(r.Errors) > 0 || out.CreateRFI.RFI == nil {
					t.Errorf("createRFI %d: %s %+v", i, r.Data, r.Errors)
					return
				}
				mu.Lock()
				created = append(created, out.CreateRFI.RFI.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Every create's webhook delivered twice and processed by the gateway.
	waitDeliveries(t, sb, env, 2)
	waitWebhooksProcessed(t, g, creates)

	// The sentinel.
	to := otherUser(t, users, ballInCourtOf(sb, project, rfis[0]))
	moveBall(t, sb, project, rfis[0], to)
	sentinel := strconv.FormatInt(rfis[0], 10)

	slices.Sort(created)
	for i, s := range subs {
		var got []string
		for {
			var e rfiChange
			select {
			case pl, ok := <-s.events:
				if !ok {
					t.Fatalf("subscriber %d: subscription ended", i)
				}
				e = decodeRFIChange(t, pl)
			case <-time.After(30 * time.Second):
				t.Fatalf("subscriber %d: no sentinel event within 30s (got %v)", i, got)
			}
			if e.RfiID == sentinel {
				if e.Kind != "BALL_IN_COURT_CHANGED" || e.Source != "WEBHOOK" {
					t.Fatalf("subscriber %d: sentinel event %+v, want BALL_IN_COURT_CHANGED from WEBHOOK", i, e)
				}
				break
			}
			if e.Kind != "CREATED" || (e.Source != "MUTATION" && e.Source != "WEBHOOK") {
				t.Errorf("subscriber %d: event %+v, want only CREATED events (from the mutation, or its webhook when that came first)", i, e)
			}
			got = append(got, e.RfiID)
		}
		slices.Sort(got)
		if !slices.Equal(got, created) {
			t.Errorf("subscriber %d: CREATED events for %v, want exactly one for each of the %d creates %v", i, got, creates, created)
		}
	}
	t.Logf("%d subscribers × %d concurrent creates: %d CREATED events, one per create per subscriber", subscribers, creates, subscribers*creates)
}

// waitWebhooksProcessed waits until the gateway's webhook queue has
// processed every delivery it accepted, at least n, and holds none.
func waitWebhooksProcessed(t *testing.T, g *gatewayProc, n int) {
	t.Helper()
	names := map[string]string{
		`procoregraph_webhook_deliveries_total{outcome="accepted"}`:  "",
		`procoregraph_webhook_deliveries_total{outcome="processed"}`: "",
		`procoregraph_webhook_queue_depth`:                           "",
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := scrape(t, g, names)
		accepted, _ := strconv.Atoi(m[`procoregraph_webhook_deliveries_total{outcome="accepted"}`])
		if accepted >= n && m[`procoregraph_webhook_deliveries_total{outcome="processed"}`] == m[`procoregraph_webhook_deliveries_total{outcome="accepted"}`] &&
			m[`procoregraph_webhook_queue_depth`] == "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook queue %v, want at least %d accepted, all processed", m, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func decodeRFIChange(t *testing.T, payload json.RawMessage) rfiChange {
	t.Helper()
	var r struct {
		Data struct {
			RfiChanged rfiChange `json:"rfiChanged"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	}
	if err := json.Unmarshal(payload, &r); err != nil || len(r.Errors) > 0 {
		t.Fatalf("event %s: %v %v", payload, err, r.Errors)
	}
	return r.Data.RfiChanged
}

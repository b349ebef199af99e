package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"procoregraph/cache"
	"procoregraph/cache/cachetest"
	"procoregraph/sandbox"
	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/data"
	"procoregraph/state"
)

// fillerQuery is one document of 30 aliased copies of a project's RFI list:
// each answer is large, and each value of $n is a distinct stored answer.
func fillerQuery() string {
	var b strings.Builder
	b.WriteString("query Filler($p: ID!, $n: Int!) { project(id: $p) {")
	for i := range 30 {
		fmt.Fprintf(&b, " a%d: rfis(first: $n) { nodes { id number subject status dueDate ballInCourt { id name login } } }", i)
	}
	b.WriteString(" } }")
	return b.String()
}

// TestStateSurvivesAFullCache: with the default in-memory stores, a retried
// create and a signed-in person's session outlive the data and answer cache
// filling up several times over through the running gateway. An idempotency
// record or a session kept in the evicting cache is evicted under that
// pressure: with newLive's store set back to the cache's (c.Store()) this
// test fails with 2 Procore creates for the key and the person's query
// answered UNAUTHENTICATED ("unknown, expired or signed-out session").
func TestStateSurvivesAFullCache(t *testing.T) {
	cfg := sandbox.Config{HourlyLimit: -1, SpikeLimit: -1, Data: data.Options{Companies: 1, ProjectsPerCompany: 3, ItemsPerProject: 120}}
	user := pickSignInUser(t, cfg)
	cfg.ExtraUsers = []auth.WebUser{user.webUser}
	sb, env := startSandbox(t, cfg)
	g := startGateway(t, env)
	token := signInForToken(t, g, sb.URL, user.email, user.password)
	if r := g.queryAs(t, token, `{ viewer { id } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("signed-in query before the fill: %+v", r.Errors)
	}

	var project, manager string
	sb.ReadDataset(func(d *data.Dataset) {
		p := d.Projects[0]
		project, manager = id64(p.ID), id64(p.UserIDs[0])
	})
	key := randomKey(t)
	input := map[string]any{"projectId": project, "subject": "Exactly once under pressure", "question": "Still one?",
		"managerId": manager, "idempotencyKey": key}
	sb.ResetStats()
	first := decodeCreate(t, gqlPost(t, g.URL, createRFIForKey, map[string]any{"in": input}))
	if first.CreateRFI.RFI == nil {
		t.Fatalf("first create: %+v", first.CreateRFI)
	}

	// About 2.6x the cache's 64 MiB in distinct stored answers, from the
	// same cached Procore data.
	q := fillerQuery()
	const fills = 200
	var answerBytes int
	for n := range fills {
		vars := map[string]any{"p": project, "n": 1000 - n}
		r := g.query(t, q, vars)
		if len(r.Errors) > 0 {
			t.Fatalf("filler %d: %+v", n, r.Errors)
		}
		if n == 0 {
			answerBytes = len(r.Data)
		}
	}
	if total := fills * answerBytes; total < 2*64<<20 {
		t.Fatalf("the fill stored %d bytes of answers, want at least 2 x 64 MiB (answers are %d bytes)", total, answerBytes)
	}
	t.Logf("%d distinct answers of %d bytes", fills, answerBytes)
	// The cache cannot hold them all: of the earliest and the latest answers
	// (whichever its policy kept), some are gone.
	evicted := 0
	for _, n := range append(fillerRange(0, 20), fillerRange(fills-20, fills)...) {
		if r := g.query(t, q, map[string]any{"p": project, "n": 1000 - n}); r.Extensions.Procoregraph.ResponseCache != "hit" {
			evicted++
		}
	}
	if evicted == 0 {
		t.Fatal("the earliest and latest answers are all still cached: the fill did not put the cache under pressure")
	}

	second := decodeCreate(t, gqlPost(t, g.URL, createRFIForKey, map[string]any{"in": input}))
	if second.CreateRFI.RFI == nil || second.CreateRFI.RFI.ID != first.CreateRFI.RFI.ID {
		t.Errorf("retry after the fill: %+v, want RFI %s again", second.CreateRFI, first.CreateRFI.RFI.ID)
	}
	if n := sb.Stats().ByRoute[rfiCreateRoute]; n != 1 {
		t.Errorf("%d Procore creates for one idempotency key, want 1", n)
	}
	if r := g.queryAs(t, token, `{ viewer { id } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("signed-in query after the fill: %+v", r.Errors)
	}
}

// TestStateInItsOwnRedis: with STATE_REDIS_URL on another Redis database
// than REDIS_URL, the idempotency record, the sign-in session and the
// service's OAuth token pair are in the state database under
// CACHE_PREFIX + "pg:state:", every state key has a TTL, the cache's database
// holds no correctness state, and the token pair is sealed, not JSON.
func TestStateInItsOwnRedis(t *testing.T) {
	redisURL := requireRedis(t)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.Trim(u.Path, "/")
	u.Path = "/15"
	if db == "15" {
		u.Path = "/14"
	}
	stateURL := u.String()
	cacheRDB, stateRDB := redisClient(t, redisURL), redisClient(t, stateURL)

	cfg := sandbox.Config{HourlyLimit: -1, SpikeLimit: -1, Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 3}}
	user := pickSignInUser(t, cfg)
	cfg.ExtraUsers = []auth.WebUser{user.webUser}
	sb, env := startSandbox(t, cfg)
	prefix := randomPrefix(t)
	env["REDIS_URL"], env["STATE_REDIS_URL"], env["CACHE_PREFIX"] = redisURL, stateURL, prefix
	t.Cleanup(func() { cachetest.DeletePrefix(cacheRDB, prefix); cachetest.DeletePrefix(stateRDB, prefix) })
	g := startGateway(t, env)

	token := signInForToken(t, g, sb.URL, user.email, user.password)
	var project, manager string
	sb.ReadDataset(func(d *data.Dataset) { project, manager = id64(d.Projects[0].ID), id64(d.Projects[0].UserIDs[0]) })
	out := decodeCreate(t, gqlPost(t, g.URL, createRFIForKey, map[string]any{"in": map[string]any{"projectId": project,
		"subject": "In the state store", "question": "Where?", "managerId": manager, "idempotencyKey": randomKey(t)}}))
	if out.CreateRFI.RFI == nil {
		t.Fatalf("create: %+v", out.CreateRFI)
	}
	if r := g.queryAs(t, token, `{ viewer { id } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("signed-in query: %+v", r.Errors)
	}

	ctx := context.Background()
	scan := func(rdb redis.UniversalClient, pattern string) []string {
		var keys []string
		iter := rdb.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	for _, k := range scan(cacheRDB, prefix+"pg:aux:*") {
		if !strings.Contains(k, "}:resp:") { // whole answers belong in the cache
			t.Errorf("the cache's Redis holds correctness state: %s", k)
		}
	}
	if st := scan(cacheRDB, prefix+state.RedisPrefix+"*"); len(st) > 0 {
		t.Errorf("state keys in the cache's Redis, not STATE_REDIS_URL: %v", st)
	}
	// The event streams and the webhook queue are on the state Redis too,
	// under their own keys (trimmed by length and age, not by TTL).
	for _, k := range scan(stateRDB, prefix+"pg:aux:*") {
		if typ, err := stateRDB.Type(ctx, k).Result(); err != nil || typ != "stream" {
			t.Errorf("correctness state outside %s: %s (%s %v)", state.RedisPrefix, k, typ, err)
		}
	}
	purposes := []string{"{signin}:session:", ":idem:", ":oauth-token"}
	seen := map[string]bool{}
	keys := scan(stateRDB, prefix+state.RedisPrefix+"*")
	for _, k := range keys {
		if ttl, err := stateRDB.PTTL(ctx, k).Result(); err != nil || ttl <= 0 {
			t.Errorf("state key %s: PTTL %v (%v), want a TTL", k, ttl, err)
		}
		for _, p := range purposes {
			seen[p] = seen[p] || strings.Contains(k, p)
		}
		if strings.HasSuffix(k, ":oauth-token") {
			raw, err := stateRDB.Get(ctx, k).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte("access_token")) || bytes.Contains(raw, []byte("refresh_token")) || json.Valid(raw[min(len(raw), 17):]) {
				t.Errorf("token pair %s is stored readable (%d bytes; not shown: it holds a token)", k, len(raw))
			}
		}
	}
	for _, p := range purposes {
		if !seen[p] {
			t.Errorf("no %s key under %s in the state Redis; keys: %v", p, prefix+state.RedisPrefix, keys)
		}
	}
}

func fillerRange(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func redisClient(t *testing.T, u string) redis.UniversalClient {
	t.Helper()
	rdb, err := cache.ParseRedisURL(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestFullStateRefusesCreatesWithStateFull: when the in-memory state store
// (STATE_MAX_BYTES) is full, a create with a new idempotency key is refused
// before anything is written, with a GraphQL error whose extensions carry
// code STATE_FULL and retryAfterSeconds, counted in /metrics; earlier keys
// still replay their result without a second Procore create.
func TestFullStateRefusesCreatesWithStateFull(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 3}})
	env["STATE_MAX_BYTES"] = "65536"
	g := startGateway(t, env)
	var project, manager string
	sb.ReadDataset(func(d *data.Dataset) { project, manager = id64(d.Projects[0].ID), id64(d.Projects[0].UserIDs[0]) })
	input := func(key string) map[string]any {
		return map[string]any{"projectId": project, "subject": "Fill the state", "question": "Room left?", "managerId": manager, "idempotencyKey": key}
	}
	sb.ResetStats()
	firstKey := randomKey(t)
	var firstID string
	created := 0
	var refusal *gqlError
	for i := 0; i < 300 && refusal == nil; i++ {
		key := firstKey
		if i > 0 {
			key = randomKey(t)
		}
		r := gqlPost(t, g.URL, createRFIForKey, map[string]any{"in": input(key)})
		if len(r.Errors) > 0 {
			refusal = &r.Errors[0]
			break
		}
		out := decodeCreate(t, r)
		if out.CreateRFI.RFI == nil {
			t.Fatalf("create %d: %+v", i, out.CreateRFI)
		}
		if i == 0 {
			firstID = out.CreateRFI.RFI.ID
		}
		created++
	}
	if refusal == nil {
		t.Fatalf("%d creates and the 64 KiB state store never refused one", created)
	}
	t.Logf("refused after %d creates: %s", created, refusal.Message)
	if refusal.Extensions["code"] != "STATE_FULL" || refusal.Extensions["retryAfterSeconds"] == nil {
		t.Fatalf("refusal %+v, want extensions.code STATE_FULL with retryAfterSeconds", refusal)
	}
	if n := sb.Stats().ByRoute[rfiCreateRoute]; n != int64(created) {
		t.Fatalf("%d Procore creates for %d answered creates: the refused one wrote", n, created)
	}
	m := scrape(t, g, map[string]string{"procoregraph_state_refused_total": "", "procoregraph_state_max_bytes": ""})
	if refused, err := strconv.Atoi(m["procoregraph_state_refused_total"]); err != nil || refused < 1 || m["procoregraph_state_max_bytes"] != "65536" {
		t.Fatalf("/metrics: %v, want refusals counted against a 65536-byte bound", m)
	}
	again := decodeCreate(t, gqlPost(t, g.URL, createRFIForKey, map[string]any{"in": input(firstKey)}))
	if again.CreateRFI.RFI == nil || again.CreateRFI.RFI.ID != firstID {
		t.Fatalf("first key retried on a full store: %+v, want RFI %s", again.CreateRFI, firstID)
	}
	if n := sb.Stats().ByRoute[rfiCreateRoute]; n != int64(created) {
		t.Fatalf("%d Procore creates after the retry, want %d", n, created)
	}
}

// TestPlaintextTokenPairIsMovedAndSealed: the service's token pair as an
// earlier version left it in Redis (plain JSON in the cache's keys) is used
// at start without a new token request, then lives sealed, with a TTL, in
// the state store, and the plain copy is gone.
func TestPlaintextTokenPairIsMovedAndSealed(t *testing.T) {
	redisURL := requireRedis(t)
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 3}})
	prefix := randomPrefix(t)
	env["REDIS_URL"], env["CACHE_PREFIX"] = redisURL, prefix
	rdb := redisClient(t, redisURL)
	t.Cleanup(func() { cachetest.DeletePrefix(rdb, prefix) })

	resp, err := http.PostForm(sb.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {env["PROCORE_CLIENT_ID"]}, "client_secret": {env["PROCORE_CLIENT_SECRET"]}})
	if err != nil {
		t.Fatal(err)
	}
	var granted struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err = json.NewDecoder(resp.Body).Decode(&granted)
	resp.Body.Close()
	if err != nil || granted.AccessToken == "" || granted.ExpiresIn < 600 {
		t.Fatalf("sandbox token: %+v %v", granted, err)
	}
	plain, _ := json.Marshal(&oauth2.Token{AccessToken: granted.AccessToken, TokenType: "Bearer",
		Expiry: time.Now().Add(time.Duration(granted.ExpiresIn) * time.Second)})
	key := cache.AuxKey("oauth-"+shortHash(env["PROCORE_API_URL"]+"|"+env["PROCORE_CLIENT_ID"]+"|"), "oauth-token")
	old, err := cache.NewRedis(cache.RedisOptions{Client: rdb, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Set(context.Background(), key, plain, 0); err != nil {
		t.Fatal(err)
	}

	sb.ResetStats()
	g := startGateway(t, env)
	if r := g.query(t, `{ viewer { id } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("query: %+v", r.Errors)
	}
	if n := sb.Stats().TokenRequests; n != 0 {
		t.Fatalf("%d token requests, want 0: the stored pair was not used", n)
	}
	ctx := context.Background()
	if n, _ := rdb.Exists(ctx, prefix+key).Result(); n != 0 {
		t.Error("the plain-JSON pair is still in the cache's keys")
	}
	raw, err := rdb.Get(ctx, prefix+state.RedisPrefix+key).Bytes()
	if err != nil {
		t.Fatalf("no pair in the state store: %v", err)
	}
	if bytes.Contains(raw, []byte(granted.AccessToken)) || bytes.Contains(raw, []byte("access_token")) {
		t.Errorf("the moved pair is stored readable (%d bytes; not shown)", len(raw))
	}
	if ttl, err := rdb.PTTL(ctx, prefix+state.RedisPrefix+key).Result(); err != nil || ttl <= 0 {
		t.Errorf("moved pair PTTL %v (%v), want a TTL", ttl, err)
	}
}

func TestStateSettings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		errHas string
		check  func(t *testing.T, c config)
	}{
		{name: "DefaultsAreInMemoryWith64MiB", env: map[string]string{},
			check: func(t *testing.T, c config) {
				if stateRedisURL(c) != "" || c.StateMaxBytes != 64<<20 {
					t.Fatalf("state Redis %q, max bytes %d; want memory, 64 MiB", stateRedisURL(c), c.StateMaxBytes)
				}
			}},
		{name: "StateRedisDefaultsToRedisURL", env: map[string]string{"REDIS_URL": "redis://cache:6379/0"},
			check: func(t *testing.T, c config) {
				if got := stateRedisURL(c); got != "redis://cache:6379/0" {
					t.Fatalf("state Redis %q, want REDIS_URL", got)
				}
			}},
		{name: "StateRedisURLWins", env: map[string]string{"REDIS_URL": "redis://cache:6379/0", "STATE_REDIS_URL": "redis://state:6379/0"},
			check: func(t *testing.T, c config) {
				if got := stateRedisURL(c); got != "redis://state:6379/0" {
					t.Fatalf("state Redis %q, want STATE_REDIS_URL", got)
				}
			}},
		{name: "StateRedisURLWithoutRedisURLIsRefused", env: map[string]string{"STATE_REDIS_URL": "redis://state:6379/0"},
			errHas: "STATE_REDIS_URL needs REDIS_URL"},
		{name: "StateRedisURLOfAnotherSchemeIsRefused", env: map[string]string{"REDIS_URL": "redis://cache:6379/0", "STATE_REDIS_URL": "http://state"},
			errHas: "STATE_REDIS_URL: want redis://"},
		{name: "TinyStateMaxBytesIsRefused", env: map[string]string{"STATE_MAX_BYTES": "1000"},
			errHas: "STATE_MAX_BYTES: must be at least 64 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := parseConfig(nil, func(k string) string { return tc.env[k] }, &stderr)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

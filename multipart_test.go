package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"procoregraph/multipartsub"
	"procoregraph/sandbox"
	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/data"
)

// Subscriptions over HTTP multipart (Apollo's protocol, package
// multipartsub): Apollo Client's own HttpLink against the real program, and a
// Go reader built on mime/multipart for the checks Apollo Client hides
// (heartbeats, transport errors, how a stream ends).

// TestApolloClientMultipartSubscription: Apollo Client (@apollo/client's
// HttpLink, its default subscription transport) subscribes to
// ballInCourtChanged over HTTP multipart. The response headers and a
// heartbeat arrive while nothing has happened yet (the stream is
// established before any event, instead of hanging until the first one);
// then a ball moved in the sandbox arrives as an event with the new state
// of the RFI. A second client resuming with `after:` the first event's
// cursor receives the event that followed it.
func TestApolloClientMultipartSubscription(t *testing.T) {
	node := requireNodePackages(t, "@apollo/client", "graphql", "rxjs")
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 6},
		WebhookMinBackoff: 50 * time.Millisecond})
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	g := startGateway(t, env, "-register-webhooks")
	project, rfis, users := pickRFIs(t, sb, 1)
	vars := map[string]any{"projectId": strconv.FormatInt(project, 10)}

	sub := startNodeScript(t, node, "apollo-multipart.mjs", mustJSON(map[string]any{
		"url": g.URL + "/graphql", "query": bicSubscription, "variables": vars}))
	h := sub.await(t, 15*time.Second, "headers")
	if h.Message != multipartsub.ContentType {
		t.Fatalf("response content-type %q, want %q", h.Message, multipartsub.ContentType)
	}
	sub.await(t, 15*time.Second, "heartbeat") // no ball has moved: nothing else may come first
	waitActive(t, g, 1)

	before := ballInCourtOf(sb, project, rfis[0])
	to := otherUser(t, users, before)
	moveBall(t, sb, project, rfis[0], to)
	e := decodeBIC(t, sub.await(t, 15*time.Second, "next", "heartbeat").Payload)
	if e.ItemID != id64(rfis[0]) || e.Kind != "BALL_IN_COURT_CHANGED" || e.Source != "WEBHOOK" {
		t.Fatalf("event %+v, want BALL_IN_COURT_CHANGED of RFI %d from WEBHOOK", e, rfis[0])
	}
	if !slices.Equal(e.previousCourt(), idStrings(before...)) || !slices.Equal(e.court(), idStrings(to)) {
		t.Fatalf("event moved the ball %v -> %v, want %v -> [%d]", e.previousCourt(), e.court(), before, to)
	}
	if e.RFI == nil || len(e.RFI.BallInCourt) != 1 || e.RFI.BallInCourt[0].ID != id64(to) {
		t.Fatalf("event's rfi %+v, want ball in court [%d]", e.RFI, to)
	}

	t.Run("ResumesAfterACursor", func(t *testing.T) {
		back := before[0]
		moveBall(t, sb, project, rfis[0], back)
		second := decodeBIC(t, sub.await(t, 15*time.Second, "next", "heartbeat").Payload)
		resumed := startNodeScript(t, node, "apollo-multipart.mjs", mustJSON(map[string]any{
			"url": g.URL + "/graphql", "query": bicSubscription,
			"variables": map[string]any{"projectId": vars["projectId"], "after": e.Cursor}}))
		got := decodeBIC(t, resumed.await(t, 15*time.Second, "next", "headers", "heartbeat").Payload)
		if got.Cursor != second.Cursor || !slices.Equal(got.court(), idStrings(back)) {
			t.Fatalf("resumed after %s: %+v, want the next event %+v", e.Cursor, got, second)
		}
	})
}

// TestMultipartSubscriptionRefusals: a multipart subscription gets what the
// other transports get before it starts — UNAUTHENTICATED (401) without a
// credential, FORBIDDEN (403) for a key without the subscribe scope,
// validation errors as one JSON answer — and a query sent with the
// subscription Accept header is answered as one JSON answer.
func TestMultipartSubscriptionRefusals(t *testing.T) {
	_, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 2}})
	const readerKey = "pgk_readerReaderReaderReaderReaderReaderReader0"
	env["API_KEYS"] += ";" + apiKeyEntry("reader", "read", "", readerKey)
	g := startGateway(t, env)
	const sub = `subscription { rfiChanged { cursor } }`
	for _, c := range []struct {
		name, token, query string
		status             int
		code               string
	}{
		{"NoCredentialIsUnauthenticated", "-", sub, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"KeyWithoutSubscribeScopeIsForbidden", readerKey, sub, http.StatusForbidden, "FORBIDDEN"},
		{"UnknownFieldIsAValidationError", "", `subscription { noSuchField }`, http.StatusOK, "GRAPHQL_VALIDATION_FAILED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := postMultipart(t, g, c.token, c.query, nil)
			defer resp.Body.Close()
			var r gqlResponse
			b, _ := io.ReadAll(resp.Body)
			mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if err := json.Unmarshal(b, &r); err != nil || mt != "application/json" {
				t.Fatalf("%d %s %q: want one JSON answer", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			if resp.StatusCode != c.status || firstCode(r) != c.code {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, b, c.status, c.code)
			}
		})
	}
	t.Run("QueryIsOneJSONAnswer", func(t *testing.T) {
		resp := postMultipart(t, g, "", `{ viewer { id } }`, nil)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var r gqlResponse
		if err := json.Unmarshal(b, &r); err != nil || len(r.Errors) > 0 || !bytes.Contains(r.Data, []byte(`"viewer"`)) {
			t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	})
}

// postMultipart POSTs a GraphQL request asking for a multipart subscription
// answer, as Apollo Client does. token "" sends the harness key, "-" none.
func postMultipart(t *testing.T, g *gatewayProc, token, query string, vars map[string]any) *http.Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", `multipart/mixed;boundary="graphql";subscriptionSpec="1.0",application/json`)
	switch token {
	case "":
		g.authorize(req)
	case "-":
	default:
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("multipart subscribe: %v", err)
	}
	return resp
}

// multipartStream is a Go reader of a multipart subscription.
type multipartStream struct {
	// parts receives every part but heartbeats, in order; it is closed when
	// the stream ends.
	parts chan multipartPart
	// heartbeats receives one value per heartbeat (dropped when full).
	heartbeats chan struct{}
	// ended receives nil when the stream ended with the final boundary, the
	// read error otherwise.
	ended chan error
}

// multipartPart is one part: an event (Payload set) or a transport error
// (Payload null, Errors set).
type multipartPart struct {
	Payload *gqlResponse `json:"payload"`
	Errors  []gqlError   `json:"errors"`
}

// openMultipart subscribes over HTTP multipart and reads the stream with
// mime/multipart. token as for postMultipart. mime/multipart returns a part
// only once the bytes after its closing boundary arrive (the next part, or
// the final "--"), so it suits checks of what a stream ends with; the exact
// timing of parts is checked in package multipartsub.
func openMultipart(t *testing.T, g *gatewayProc, token, query string, vars map[string]any) *multipartStream {
	t.Helper()
	resp := postMultipart(t, g, token, query, vars)
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || err != nil || mt != "multipart/mixed" || params["boundary"] != "graphql" || params["subscriptionspec"] != "1.0" {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("multipart subscribe: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s := &multipartStream{parts: make(chan multipartPart, 256), heartbeats: make(chan struct{}, 256), ended: make(chan error, 1)}
	go func() {
		defer resp.Body.Close()
		defer close(s.parts)
		r := multipart.NewReader(resp.Body, "graphql")
		for {
			p, err := r.NextPart()
			if errors.Is(err, io.EOF) {
				s.ended <- nil
				return
			}
			if err != nil {
				s.ended <- err
				return
			}
			b, err := io.ReadAll(p)
			if err != nil {
				s.ended <- err
				return
			}
			if string(bytes.TrimSpace(b)) == "{}" {
				select {
				case s.heartbeats <- struct{}{}:
				default:
				}
				continue
			}
			var part multipartPart
			if err := json.Unmarshal(b, &part); err != nil {
				s.ended <- errors.New("part is not JSON: " + string(b))
				return
			}
			s.parts <- part
		}
	}()
	return s
}

// next returns the next part that is not a heartbeat.
func (s *multipartStream) next(t *testing.T, timeout time.Duration) multipartPart {
	t.Helper()
	select {
	case p, ok := <-s.parts:
		if !ok {
			t.Fatalf("the multipart stream ended (%v) before the next part", <-s.ended)
		}
		return p
	case <-time.After(timeout):
		t.Fatalf("no multipart part within %s", timeout)
	}
	return multipartPart{}
}

// end waits for the stream to end and fails unless it ended with the final
// boundary.
func (s *multipartStream) end(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case p, ok := <-s.parts:
			if !ok {
				if err := <-s.ended; err != nil {
					t.Fatalf("the multipart stream was cut instead of ending: %v", err)
				}
				return
			}
			t.Fatalf("a part %+v where the stream should end", p)
		case <-deadline:
			t.Fatalf("the multipart stream was still open after %s", timeout)
		}
	}
}

// transportErrorCode is the code of a transport error part, "" for others.
func (p multipartPart) transportErrorCode() string {
	if p.Payload != nil || len(p.Errors) == 0 {
		return ""
	}
	c, _ := p.Errors[0].Extensions["code"].(string)
	return c
}

// TestSubscriptionToUnseenProjectIsNotFound: a subscription to a project that
// does not exist, that an API key's allowlist leaves out, or that a person
// signed in with Procore is not a member of is refused with NOT_FOUND on every
// transport (graphql-ws, server-sent events, HTTP multipart) instead of being
// accepted and never delivering. Each refusal costs at most one Procore call:
// none for an allowlist, one project lookup for an unknown project (not
// remembered: the next attempt looks again), and for a person one visibility
// check that is then remembered for a minute, so the person's three refusals
// cost one call together.
func TestSubscriptionToUnseenProjectIsNotFound(t *testing.T) {
	node := requireNodePackages(t, subscriptionPackages...)
	cfg := sandbox.Config{HourlyLimit: -1, SpikeLimit: -1, Data: data.Options{Companies: 1, ProjectsPerCompany: 3, ItemsPerProject: 3}}
	person := pickSignInUser(t, cfg)
	cfg.ExtraUsers = []auth.WebUser{person.webUser}
	sb, env := startSandbox(t, cfg)
	env = sessionEnv(env)
	var a, b string
	sb.ReadDataset(func(d *data.Dataset) { a, b = id64(d.Projects[0].ID), id64(d.Projects[1].ID) })
	const allowKey = "pgk_allowAllowAllowAllowAllowAllowAllowAllowA0"
	env["API_KEYS"] += ";" + apiKeyEntry("field-app", "read,subscribe", a, allowKey)
	g := startGateway(t, env)
	personToken := signInForToken(t, g, sb.URL, person.email, person.password)

	const sub = `subscription($p: ID) { rfiChanged(projectId: $p) { cursor } }`
	for _, c := range []struct {
		name, token, project string
	}{
		{"ProjectThatDoesNotExist", testAPIKey, "7999999901"},
		{"ProjectOutsideTheKeysAllowlist", allowKey, b},
		{"ProjectThePersonIsNotAMemberOf", personToken, person.hidden[0]},
	} {
		t.Run(c.name, func(t *testing.T) {
			sb.ResetStats()
			vars := map[string]any{"p": c.project}
			codes := map[string]string{}
			calls := map[string]int64{}
			counted := func(tr string) {
				calls[tr] = sb.Stats().Total
				sb.ResetStats()
			}

			ws := startNodeScript(t, node, "ws-subscribe.mjs", mustJSON(map[string]any{"url": wsURL(g), "query": sub, "variables": vars,
				"connectionParams": map[string]any{"Authorization": "Bearer " + c.token}}))
			l := ws.await(t, 15*time.Second, "next", "connected")
			var r gqlResponse
			_ = json.Unmarshal(l.Payload, &r)
			codes["graphql-ws"] = firstCode(r)
			ws.await(t, 10*time.Second, "complete")
			counted("graphql-ws")

			sse := subscribeSSEAs(t, g.URL+"/graphql", c.token, sub, vars)
			select {
			case ev := <-sse.events:
				r = gqlResponse{}
				_ = json.Unmarshal(ev, &r)
				codes["sse"] = firstCode(r)
			case <-time.After(15 * time.Second):
				t.Fatal("no SSE answer")
			}
			counted("sse")

			mp := openMultipart(t, g, c.token, sub, vars)
			p := mp.next(t, 15*time.Second)
			if p.Payload != nil {
				codes["multipart"] = firstCode(*p.Payload)
			}
			mp.end(t, 10*time.Second)
			counted("multipart")

			for _, tr := range []string{"graphql-ws", "sse", "multipart"} {
				if codes[tr] != "NOT_FOUND" {
					t.Errorf("%s: code %q, want NOT_FOUND (all: %v)", tr, codes[tr], codes)
				}
				if calls[tr] > 1 {
					t.Errorf("%s: %d Procore calls for a refused subscription, want at most 1 (all: %v)", tr, calls[tr], calls)
				}
			}
			if c.token == personToken && calls["graphql-ws"]+calls["sse"]+calls["multipart"] > 1 {
				t.Errorf("Procore calls %v: the person's visibility check is remembered, want at most 1 together", calls)
			}
			t.Logf("Procore calls per refusal: %v", calls)
		})
	}
}

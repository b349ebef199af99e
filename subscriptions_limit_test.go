package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"procoregraph/apikeys"
	"procoregraph/authn"
	"procoregraph/events"
	"procoregraph/gateway"
	"procoregraph/streamlimit"
	"procoregraph/tenant"
)

// subscriptionAnswers records the answers of subscriptions by id.
type subscriptionAnswers struct {
	mu  sync.Mutex
	got map[string][]json.RawMessage
}

func (s *subscriptionAnswers) record(id string, payload json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got == nil {
		s.got = map[string][]json.RawMessage{}
	}
	s.got[id] = append(s.got[id], payload)
}

// refusal is the SUBSCRIPTION_LIMIT_EXCEEDED error of an answer, if it is one.
type refusal struct {
	Message    string `json:"message"`
	Extensions struct {
		Code          string `json:"code"`
		Subscriptions struct {
			Limit int    `json:"limit"`
			Scope string `json:"scope"`
		} `json:"subscriptions"`
	} `json:"extensions"`
}

func refusalOf(payload json.RawMessage) (refusal, bool) {
	var a struct {
		Errors []refusal `json:"errors"`
	}
	if json.Unmarshal(payload, &a) != nil || len(a.Errors) != 1 || a.Errors[0].Extensions.Code != gateway.CodeSubscriptionLimit {
		return refusal{}, false
	}
	return a.Errors[0], true
}

// await waits until the answers of ids satisfy ok, and returns what ok was
// given then.
func (s *subscriptionAnswers) await(t *testing.T, what string, ids []string, ok func(map[string][]json.RawMessage) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s.mu.Lock()
		view := map[string][]json.RawMessage{}
		for _, id := range ids {
			view[id] = s.got[id]
		}
		done := ok(view)
		s.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never; answers: %s", what, mustJSON(view))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// refusedAmong returns the ids among view whose only answer is a refusal, and
// their refusals.
func refusedAmong(view map[string][]json.RawMessage) map[string]refusal {
	out := map[string]refusal{}
	for id, answers := range view {
		if len(answers) == 1 {
			if r, ok := refusalOf(answers[0]); ok {
				out[id] = r
			}
		}
	}
	return out
}

// startKeyedLiveServer is startLiveServerOpts on a memory bus whose
// requests authenticate with the API_KEYS entries given.
func startKeyedLiveServer(t *testing.T, entries string, o liveOptions) *liveServer {
	t.Helper()
	keys, err := apikeys.Parse(entries)
	if err != nil {
		t.Fatal(err)
	}
	o.auth = func(c *tenant.Connection) gateway.Authenticator {
		a, err := authn.New(authn.Options{Service: c, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	return startLiveServerOpts(t, events.NewMemoryBus(events.MemoryOptions{}), o)
}

// subscribeOneRefused subscribes ws to fanoutQuery once per id and waits
// until one of them (whichever starts last) is refused for the bound of
// scope and limit; more than one refusal, or another bound, fails the test.
// It returns the refused id.
func (s *subscriptionAnswers) subscribeOneRefused(t *testing.T, ws *wsClient, ids []string, vars map[string]any, scope string, limit int) string {
	t.Helper()
	for _, id := range ids {
		ws.subscribe(t, id, fanoutQuery, vars)
	}
	var refused string
	s.await(t, fmt.Sprintf("one of %d subscriptions refused for the %s bound", len(ids), scope), ids, func(v map[string][]json.RawMessage) bool {
		got := refusedAmong(v)
		for id, r := range got {
			if r.Extensions.Subscriptions.Scope != scope || r.Extensions.Subscriptions.Limit != limit || len(got) > 1 {
				t.Fatalf("%s refused with %+v (%d refused), want one refusal for the %s bound of %d", id, r, len(got), scope, limit)
			}
			refused = id
		}
		return refused != ""
	})
	return refused
}

// TestOpenSubscriptionsAreBoundedPerPrincipalAndPerReplica: with at most 3
// subscriptions per principal and 5 on the replica, a principal's 4th
// subscription is refused with SUBSCRIPTION_LIMIT_EXCEEDED (scope
// principal), another principal's subscription past the replica's 5th is
// refused (scope replica), refused subscriptions receive no event while
// admitted ones receive each event once, over SSE as over websockets; a
// subscription the client completes, and every subscription of a closed
// socket, free their slots.
func TestOpenSubscriptionsAreBoundedPerPrincipalAndPerReplica(t *testing.T) {
	keyA, keyB := testAPIKey, testAPIKey[:len(testAPIKey)-1]+"1"
	l := startKeyedLiveServer(t, apiKeyEntry("a", "subscribe", "", keyA)+";"+apiKeyEntry("b", "subscribe", "", keyB), liveOptions{
		subscriptions: streamlimit.Options{PerPrincipal: 3, Total: 5},
	})
	vars := map[string]any{"p": strconv.FormatInt(l.project, 10)}
	var answers subscriptionAnswers
	dial := func(key string) *wsClient {
		return dialWSWith(t, l.srv.URL, map[string]any{"Authorization": "Bearer " + key}, answers.record)
	}
	a, b := dial(keyA), dial(keyB)
	defer a.close()
	defer b.close()

	// A asks for 4: one of them (whichever starts last) is over A's bound.
	aIDs := []string{"a0", "a1", "a2", "a3"}
	refusedA := answers.subscribeOneRefused(t, a, aIDs, vars, "principal", 3)
	l.waitActive(t, 3)

	// B asks for 3: the replica holds 5 at most, so one of them is refused.
	bIDs := []string{"b0", "b1", "b2"}
	refusedB := answers.subscribeOneRefused(t, b, bIDs, vars, "replica", 5)
	l.waitActive(t, 5)

	// Over SSE too, and with no stream left open.
	sse := subscribeSSEWith(t, l.srv.URL+"/graphql", http.Header{"Authorization": {"Bearer " + keyA}}, fanoutQuery, vars)
	select {
	case p, ok := <-sse.events:
		if r, refused := refusalOf(p); !ok || !refused || r.Extensions.Subscriptions.Scope != "principal" {
			t.Fatalf("SSE subscription past the bounds: %s (open %v), want a refusal for A's bound", p, ok)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("SSE subscription past the bounds: no answer")
	}
	for range sse.events { // the stream ends after the refusal
	}

	// One event: each admitted subscription receives it once, the refused none.
	l.publish(t, 7)
	all := append(append([]string{}, aIDs...), bIDs...)
	answers.await(t, "the event reaches the 5 admitted subscriptions", all, func(v map[string][]json.RawMessage) bool {
		for id, got := range v {
			want := 1
			if id == refusedA || id == refusedB {
				want = 1 // the refusal, and nothing after it
				if _, ok := refusalOf(got[0]); !ok || len(got) != want {
					t.Fatalf("refused %s got %d answers: %s", id, len(got), mustJSON(got))
				}
				continue
			}
			if len(got) > want {
				t.Fatalf("%s got %d answers, want 1", id, len(got))
			}
			if len(got) < want {
				return false
			}
		}
		return true
	})

	// A completes one of its own: B may now open its 3rd, and no 4th.
	for _, id := range aIDs {
		if id != refusedA {
			a.send(t, map[string]any{"id": id, "type": "complete"})
			break
		}
	}
	l.waitActive(t, 4)
	b.subscribe(t, "b3", fanoutQuery, vars)
	l.waitActive(t, 5)
	b.subscribe(t, "b4", fanoutQuery, vars)
	answers.await(t, "B's 4th subscription refused for B's bound", []string{"b3", "b4"}, func(v map[string][]json.RawMessage) bool {
		if len(v["b3"]) > 0 {
			t.Fatalf("b3 answered before any event: %s", v["b3"])
		}
		r, ok := refusedAmong(v)["b4"]
		return ok && r.Extensions.Subscriptions.Scope == "principal"
	})

	// Closing the sockets frees every slot: A opens 3 again.
	a.close()
	b.close()
	l.waitActive(t, 0)
	again := dial(keyA)
	defer again.close()
	cIDs := []string{"c0", "c1", "c2"}
	for _, id := range cIDs {
		again.subscribe(t, id, fanoutQuery, vars)
	}
	l.waitActive(t, 3)
	l.publish(t, 8)
	answers.await(t, "the next event reaches A's 3 new subscriptions", cIDs, func(v map[string][]json.RawMessage) bool {
		for id, got := range v {
			if _, refused := refusalOf(firstOr(got)); refused {
				t.Fatalf("%s refused after every slot was freed: %s", id, got[0])
			}
			if len(got) != 1 {
				return false
			}
		}
		return true
	})
}

func firstOr(p []json.RawMessage) json.RawMessage {
	if len(p) == 0 {
		return nil
	}
	return p[0]
}

// TestOpenWebsocketsAreBoundedPerPrincipalAndPerReplica: with at most 2
// websockets per principal and 3 on the replica, a principal's 3rd socket
// is closed at connection_init with 1013 (try again later) and the bound in
// its reason, another principal's socket past the replica's 3rd likewise,
// and a closed socket frees its slot.
func TestOpenWebsocketsAreBoundedPerPrincipalAndPerReplica(t *testing.T) {
	keyA, keyB := testAPIKey, testAPIKey[:len(testAPIKey)-1]+"1"
	l := startKeyedLiveServer(t, apiKeyEntry("a", "subscribe", "", keyA)+";"+apiKeyEntry("b", "subscribe", "", keyB), liveOptions{
		websockets: streamlimit.Options{PerPrincipal: 2, Total: 3, Noun: "websockets"},
	})
	var answers subscriptionAnswers
	dial := func(key string) *wsClient {
		return dialWSWith(t, l.srv.URL, map[string]any{"Authorization": "Bearer " + key}, answers.record)
	}
	// refused dials a socket that must be closed at connection_init with
	// 1013 and a reason naming the bound.
	refused := func(key, reason string) {
		t.Helper()
		c, b, err := initSocket(t, l.srv.URL, map[string]any{"Authorization": "Bearer " + key})
		defer c.CloseNow()
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != gateway.CloseTryAgainLater || !strings.Contains(ce.Reason, reason) {
			t.Fatalf("socket past the bound: read %q, %v; want a close with %d and %q", b, err, gateway.CloseTryAgainLater, reason)
		}
	}

	a1, a2 := dial(keyA), dial(keyA)
	refused(keyA, "this client already holds 2 websockets open")
	b1 := dial(keyB)
	refused(keyB, "this server already holds 3 websockets open")
	defer b1.close()
	defer a2.close()

	// A socket still open works: it subscribes and receives an event.
	a2.subscribe(t, "s", fanoutQuery, map[string]any{"p": strconv.FormatInt(l.project, 10)})
	l.waitActive(t, 1)
	l.publish(t, 9)
	answers.await(t, "the event on an admitted socket", []string{"s"}, func(v map[string][]json.RawMessage) bool { return len(v["s"]) == 1 })

	// Closing a socket frees its slot, for its principal and the replica.
	a1.close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		again, ok := tryDial(t, l.srv.URL, keyA)
		if ok {
			again.close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed socket's slot was never freed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tryDial opens a graphql-transport-ws socket with key, reporting whether
// it was acknowledged.
func tryDial(t *testing.T, url, key string) (*wsClient, bool) {
	t.Helper()
	c, b, err := initSocket(t, url, map[string]any{"Authorization": "Bearer " + key})
	if err != nil || !strings.Contains(string(b), "connection_ack") {
		c.CloseNow()
		return nil, false
	}
	w := &wsClient{c: c, onNext: func(string, json.RawMessage) {}, done: make(chan struct{})}
	go w.read()
	return w, true
}

// TestAKeysSubsOptionReplacesThePerPrincipalBound: a key with subs=3 holds
// 3 subscriptions where the gateway's bound is 1, and its 4th is refused
// with its own bound; a key without the option keeps the gateway's.
func TestAKeysSubsOptionReplacesThePerPrincipalBound(t *testing.T) {
	plain, wall := testAPIKey, testAPIKey[:len(testAPIKey)-1]+"2"
	l := startKeyedLiveServer(t, apiKeyEntry("plain", "subscribe", "", plain)+";"+apiKeyEntry("wall", "subscribe", "", wall)+":subs=3", liveOptions{
		subscriptions: streamlimit.Options{PerPrincipal: 1},
	})
	vars := map[string]any{"p": strconv.FormatInt(l.project, 10)}
	var answers subscriptionAnswers
	for _, tc := range []struct {
		key   string
		ids   []string
		limit int
	}{{plain, []string{"p0", "p1"}, 1}, {wall, []string{"w0", "w1", "w2", "w3"}, 3}} {
		ws := dialWSWith(t, l.srv.URL, map[string]any{"Authorization": "Bearer " + tc.key}, answers.record)
		defer ws.close()
		answers.subscribeOneRefused(t, ws, tc.ids, vars, "principal", tc.limit)
	}
	l.waitActive(t, 4)
}

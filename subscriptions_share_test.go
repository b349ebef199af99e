package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"procoregraph/events"
)

// TestIdenticalSubscriptionsShareOneExecutionPerEvent: 30 websocket
// subscriptions with the same document and variables, over 3 sockets, and
// one with other variables, each selecting the RFI behind the event (read
// from Procore for every event: the loaders have no cache here). One event
// reaches every subscription once, with its RFI, and costs one Procore read
// per distinct subscription (2), not one per subscription; with sharing off
// it costs one per subscription (31), which is what sharing saves. When one
// socket's subscriptions leave, the others go on in their shared execution,
// and the active gauge counts every subscription down to 0.
func TestIdenticalSubscriptionsShareOneExecutionPerEvent(t *testing.T) {
	const same, sockets = 30, 3
	for _, tc := range []struct {
		name      string
		unshared  bool
		wantCalls int64 // for the first event, to all 31
		wantAfter int64 // for the second, once one socket's 10 have left
	}{
		{"shared: one Procore read per distinct subscription", false, 2, 2},
		{"unshared: one Procore read per subscription", true, same + 1, same + 1 - same/sockets},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLiveServerOpts(t, events.NewMemoryBus(events.MemoryOptions{}), liveOptions{unshared: tc.unshared})
			var mu sync.Mutex
			got := map[string][]json.RawMessage{}
			onNext := func(id string, payload json.RawMessage) {
				mu.Lock()
				got[id] = append(got[id], payload)
				mu.Unlock()
			}
			const q = `subscription($p: ID, $k: [BallInCourtItemKind!]) { ballInCourtChanged(projectId: $p, kinds: $k) { cursor itemId rfi { id subject } } }`
			p := strconv.FormatInt(l.project, 10)
			var clients []*wsClient
			for s := range sockets {
				w := dialWS(t, l.srv.URL, onNext)
				clients = append(clients, w)
				for i := s; i < same; i += sockets {
					w.subscribe(t, strconv.Itoa(i), q, map[string]any{"p": p})
				}
			}
			clients[0].subscribe(t, "other", q, map[string]any{"p": p, "k": []string{"RFI"}})
			l.waitActive(t, same+1)

			before := l.calls.Load()
			l.publish(t, l.rfi)
			deadline := time.Now().Add(20 * time.Second)
			for {
				mu.Lock()
				n := len(got)
				mu.Unlock()
				if n == same+1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d subscriptions received the event", n, same+1)
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond) // a duplicate would arrive now
			if calls := l.calls.Load() - before; calls != tc.wantCalls {
				t.Errorf("the event cost %d Procore calls, want %d", calls, tc.wantCalls)
			}
			wantRFI := fmt.Sprintf(`"rfi":{"id":"%d"`, l.rfi)
			check := func(want int) {
				t.Helper()
				mu.Lock()
				defer mu.Unlock()
				for id, ps := range got {
					if len(ps) != want {
						t.Fatalf("subscription %s received %d answers, want %d: %s", id, len(ps), want, ps)
					}
					for _, p := range ps {
						if !json.Valid(p) || !strings.Contains(string(p), wantRFI) {
							t.Fatalf("subscription %s received %s, want its RFI (%s...)", id, p, wantRFI)
						}
					}
				}
			}
			check(1)

			// The subscriptions of one socket leave; the others, in the
			// same shared execution, go on, counted one by one.
			clients[1].close()
			left := same / sockets
			l.waitActive(t, int64(same+1-left))
			mu.Lock()
			for i := 1; i < same; i += sockets {
				delete(got, strconv.Itoa(i))
			}
			for id := range got {
				got[id] = got[id][:0]
			}
			mu.Unlock()
			before = l.calls.Load()
			l.publish(t, l.rfi)
			deadline = time.Now().Add(20 * time.Second)
			for {
				mu.Lock()
				n := 0
				for _, ps := range got {
					if len(ps) > 0 {
						n++
					}
				}
				mu.Unlock()
				if n == same+1-left {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d remaining subscriptions received the second event", n, same+1-left)
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			if calls := l.calls.Load() - before; calls != tc.wantAfter {
				t.Errorf("the second event cost %d Procore calls, want %d", calls, tc.wantAfter)
			}
			check(1)
			for _, c := range clients {
				c.close()
			}
			l.waitActive(t, 0)
		})
	}
}

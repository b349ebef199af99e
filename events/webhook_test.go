package events_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"procoregraph/testwait"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"procoregraph/adapter"
	"procoregraph/cache"
	"procoregraph/cache/cachetest"
	"procoregraph/events"
	"procoregraph/tenant"
)

// gatedProcore answers RFI reads only when the test lets it, and fails the
// first failFirst of them.
type gatedProcore struct {
	adapter.Procore // nil: only RFI is called
	gate            chan struct{}
	failFirst       int64
	started, done   atomic.Int64
}

func (g *gatedProcore) RFI(ctx context.Context, projectID, id int64) (adapter.RFI, error) {
	n := g.started.Add(1)
	select {
	case <-g.gate:
	case <-ctx.Done():
		return adapter.RFI{}, ctx.Err()
	}
	defer g.done.Add(1)
	if n <= g.failFirst {
		return adapter.RFI{}, adapter.Errorf(adapter.CodeUpstreamUnavailable, "Procore answered 503")
	}
	return adapter.RFI{ID: id, ProjectID: projectID, Subject: "s", Status: adapter.RFIStatus("open"),
		UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, nil
}

// recordingObserver reports every snapshot it is given.
type recordingObserver struct{ got chan events.Snapshot }

func (o recordingObserver) Observe(_ context.Context, s events.Snapshot, _ events.Source) ([]events.Event, error) {
	o.got <- s
	return nil, nil
}

type receiverWorld struct {
	srv     *httptest.Server
	procore *gatedProcore
	obs     recordingObserver
	h       *events.WebhookHandler
}

const companyID = 5_358_233

func newReceiverWorld(t *testing.T, q events.WebhookQueue, failFirst int64) *receiverWorld {
	t.Helper()
	w := &receiverWorld{procore: &gatedProcore{gate: make(chan struct{}), failFirst: failFirst},
		obs: recordingObserver{got: make(chan events.Snapshot, 100)}}
	conn := &tenant.Connection{ID: "c1", CompanyID: companyID, UserKey: "u", Procore: w.procore}
	store, _ := cache.NewMemory(cache.MemoryOptions{})
	t.Cleanup(func() { _ = store.Close() })
	h, err := events.NewWebhookHandler(events.WebhookOptions{
		Authorization: "Bearer right",
		Connection: func(_ context.Context, company int64) (*tenant.Connection, bool) {
			return conn, company == companyID
		},
		Observer: w.obs, Store: store, Queue: q, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.h = h
	t.Cleanup(func() { _ = h.Close() })
	w.srv = httptest.NewServer(h)
	t.Cleanup(w.srv.Close)
	return w
}

func (w *receiverWorld) post(t *testing.T, eventID string, rfi int64) int {
	t.Helper()
	body := `{"id": 5982324300946918154, "ulid": "` + eventID + `", "timestamp": "2026-07-20T15:22:01.353581Z",
		"api_version": "v2", "event_type": "update", "resource_name": "RFIs", "resource_id": ` + strconv.FormatInt(rfi, 10) + `,
		"company_id": ` + strconv.Itoa(companyID) + `, "project_id": 8, "user_id": 1}`
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer right")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (w *receiverWorld) observed(t *testing.T) events.Snapshot {
	t.Helper()
	select {
	case s := <-w.obs.got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("nothing observed")
		return events.Snapshot{}
	}
}

func memoryQueue(t *testing.T, o events.MemoryQueueOptions) events.WebhookQueue {
	t.Helper()
	if o.Seen == nil {
		store, _ := cache.NewMemory(cache.MemoryOptions{})
		t.Cleanup(func() { _ = store.Close() })
		o.Seen = store
	}
	o.QueueOptions = fastRetries(o.QueueOptions)
	q, err := events.NewMemoryQueue(o)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestWebhookReceiver(t *testing.T) {
	backends := map[string]func(t *testing.T) events.WebhookQueue{
		"Memory": func(t *testing.T) events.WebhookQueue { return memoryQueue(t, events.MemoryQueueOptions{}) },
		"Redis": func(t *testing.T) events.WebhookQueue {
			rdb := cachetest.Client(t)
			q, err := events.NewRedisQueue(events.RedisQueueOptions{QueueOptions: fastRetries(events.QueueOptions{}),
				Client: rdb, Prefix: cachetest.Prefix(t, rdb, "webhook-receiver"), Block: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			return q
		},
	}
	for name, newQueue := range backends {
		t.Run(name, func(t *testing.T) {
			t.Run("AnswersBeforeReadingProcore", func(t *testing.T) {
				w := newReceiverWorld(t, newQueue(t), 0)
				for i := range 3 {
					if code := w.post(t, "01J0000000000000000000000"+strconv.Itoa(i), int64(40+i)); code != http.StatusOK {
						t.Fatalf("delivery %d: status %d", i, code)
					}
				}
				// Every delivery was answered while no Procore read had finished.
				if n := w.procore.done.Load(); n != 0 {
					t.Fatalf("%d Procore reads finished before the answers", n)
				}
				testwait.For(t, "reads started", func() bool { return w.procore.started.Load() >= 1 })
				close(w.procore.gate)
				seen := map[int64]bool{}
				for range 3 {
					s := w.observed(t)
					seen[s.ItemID] = true
					if s.ItemKind != events.ItemRFI || s.ProjectID != 8 || s.Conn != "c1" {
						t.Fatalf("snapshot %+v", s)
					}
				}
				if len(seen) != 3 {
					t.Fatalf("observed %v", seen)
				}
			})

			t.Run("FailingReadIsRetriedThenReported", func(t *testing.T) {
				w := newReceiverWorld(t, newQueue(t), 2)
				close(w.procore.gate)
				if code := w.post(t, "01J0000000000000000000000R", 41); code != http.StatusOK {
					t.Fatalf("status %d", code)
				}
				if s := w.observed(t); s.ItemID != 41 {
					t.Fatalf("snapshot %+v", s)
				}
				if n := w.procore.started.Load(); n != 3 {
					t.Fatalf("%d reads, want 2 failures and a success", n)
				}
				// The queue counts a delivery processed after its processing
				// returned (and, on Redis, was acknowledged): the event can be
				// observed before that.
				testwait.For(t, "the delivery counted processed", func() bool { return w.h.Queue().Stats().Processed == 1 })
				if st := w.h.Queue().Stats(); st.Retries != 2 || st.Processed != 1 {
					t.Fatalf("stats %+v", st)
				}
			})

			t.Run("DuplicateDeliveryIsReadOnce", func(t *testing.T) {
				w := newReceiverWorld(t, newQueue(t), 0)
				close(w.procore.gate)
				for range 3 {
					if code := w.post(t, "01J0000000000000000000000D", 42); code != http.StatusOK {
						t.Fatalf("status %d", code)
					}
				}
				w.observed(t)
				select {
				case s := <-w.obs.got:
					t.Fatalf("a duplicate was processed: %+v", s)
				case <-time.After(200 * time.Millisecond):
				}
				if n := w.procore.started.Load(); n != 1 {
					t.Fatalf("%d reads for one event", n)
				}
			})
		})
	}

	t.Run("FullMemoryQueueAnswers503AndTakesTheRetry", func(t *testing.T) {
		w := newReceiverWorld(t, memoryQueue(t, events.MemoryQueueOptions{Capacity: 1, QueueOptions: events.QueueOptions{Workers: 1}}), 0)
		if code := w.post(t, "01J0000000000000000000000A", 41); code != http.StatusOK {
			t.Fatalf("first: %d", code)
		}
		testwait.For(t, "the only worker busy", func() bool { return w.procore.started.Load() == 1 })
		if code := w.post(t, "01J0000000000000000000000B", 42); code != http.StatusOK {
			t.Fatalf("second (queued): %d", code)
		}
		if code := w.post(t, "01J0000000000000000000000C", 43); code != http.StatusServiceUnavailable {
			t.Fatalf("third: %d, want 503 from a full queue", code)
		}
		if n, _ := w.h.QueueDepth(context.Background()); n != 2 {
			t.Fatalf("depth %d, want 2", n)
		}
		close(w.procore.gate)
		testwait.For(t, "room", func() bool { n, _ := w.h.QueueDepth(context.Background()); return n == 0 })
		if code := w.post(t, "01J0000000000000000000000C", 43); code != http.StatusOK { // Procore's retry
			t.Fatalf("retry: %d", code)
		}
		got := map[int64]bool{}
		for range 3 {
			got[w.observed(t).ItemID] = true
		}
		if !got[41] || !got[42] || !got[43] {
			t.Fatalf("observed %v, want 41, 42 and 43", got)
		}
	})
}

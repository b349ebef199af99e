package events

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"procoregraph/adapter"
	"procoregraph/cache"
	"procoregraph/tenant"
)

// Invalidator drops cached values; *cache.Cache implements it.
type Invalidator interface {
	Invalidate(ctx context.Context, conn, scope string) error
}

// WebhookOptions configure NewWebhookHandler. Zero values mean the defaults.
type WebhookOptions struct {
	// Authorization is the exact Authorization header value every delivery
	// must carry (the hook's destination_headers.Authorization). Required:
	// when empty, every delivery is refused.
	Authorization string
	// Connection returns the connection a delivery's company belongs to;
	// false ignores the delivery (answered 202, so Procore does not retry).
	// It is called while Procore waits, so it must not do I/O. Required.
	Connection func(ctx context.Context, companyID int64) (*tenant.Connection, bool)
	// Observer receives the state of every changed item. Required.
	Observer Observer
	// Store keeps the ids of accepted events for the default queue (see
	// MemoryQueueOptions.Seen). Required unless Queue is set.
	Store cache.Store
	// Queue holds accepted deliveries until they are processed; the handler
	// starts it and Close closes it. Default: a MemoryQueue over Store with
	// the default QueueOptions (and DedupeTTL, Logger from here). Pass a
	// RedisQueue when replicas share Redis.
	Queue WebhookQueue
	// Cache is invalidated for the changed item's project; nil when the
	// gateway runs without a cache.
	Cache Invalidator
	// DedupeTTL is how long an event id is remembered by the default queue.
	// Default 24 h (Procore discards undelivered events after 12 h).
	DedupeTTL time.Duration
	// Timeout bounds the work done before answering (deduplication and
	// enqueueing), well inside Procore's 5 s; past it the answer is 503 and
	// Procore retries. Default 2 s.
	Timeout time.Duration
	// MaxBody bounds the request body. Default 64 KiB.
	MaxBody int64
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// WebhookHandler is the receiver of Procore webhook deliveries
// (POST /webhooks/procore). It answers each delivery without reading
// Procore, because a slow or failing answer pauses every delivery to this
// endpoint (exponential backoff up to 1 h, events discarded after 12 h):
//
//  1. a wrong Authorization value is refused with 401 (constant-time
//     compare) before anything else is read, so a forged delivery changes
//     nothing;
//  2. the body (at most MaxBody) is decoded as Procore's payload (v2.0/v3.0
//     with integer ids, v4.0 with string ids): 400 when malformed, 202 when
//     the company is not one of ours;
//  3. the delivery is handed to the Queue, which accepts each event id once
//     across replicas: 200 for a new or a duplicate delivery, 503 when the
//     queue is full or unreachable (the id is then not recorded, so
//     Procore's retry is accepted).
//
// The queue's workers then process each delivery: invalidate the project's
// cache scope and, for the WatchedItems (RFIs, submittals, punch items,
// subcontractor invoices as requisitions, commitments, change events, PCOs,
// change order packages: prime and commitment change orders and 3-tier
// packages, owner invoices as payment applications), read the item from
// Procore (payloads carry ids only) and report it to the Observer with
// SourceWebhook. A failed read is
// retried with backoff and dead-lettered after QueueOptions.MaxAttempts.
// Reordered deliveries are harmless: the item is read as it is now, and the
// differ ignores states older than the one it knows.
type WebhookHandler struct {
	o       WebhookOptions
	q       WebhookQueue
	authSum [sha256.Size]byte
}

// NewWebhookHandler returns the receiver with its queue started; Close stops
// the queue's workers.
func NewWebhookHandler(o WebhookOptions) (*WebhookHandler, error) {
	if o.Connection == nil || o.Observer == nil || (o.Store == nil && o.Queue == nil) {
		return nil, errors.New("events: WebhookOptions need Connection, Observer, and Store or Queue")
	}
	if o.DedupeTTL <= 0 {
		o.DedupeTTL = 24 * time.Hour
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &WebhookHandler{o: o, q: o.Queue, authSum: sha256.Sum256([]byte(o.Authorization))}
	if h.q == nil {
		q, err := NewMemoryQueue(MemoryQueueOptions{Seen: o.Store,
			QueueOptions: QueueOptions{DedupeTTL: o.DedupeTTL, Logger: o.Logger}})
		if err != nil {
			return nil, err
		}
		h.q = q
	}
	if err := h.q.Start(h.process); err != nil {
		return nil, err
	}
	return h, nil
}

// Queue is the handler's queue (for metrics: Depth, Stats).
func (h *WebhookHandler) Queue() WebhookQueue { return h.q }

// QueueDepth is the number of deliveries accepted and not yet finished.
func (h *WebhookHandler) QueueDepth(ctx context.Context) (int64, error) { return h.q.Depth(ctx) }

// Close stops the queue's workers and waits for them.
func (h *WebhookHandler) Close() error { return h.q.Close() }

// authorized compares the header with the configured value in constant time
// (over digests, so the length does not leak either).
func (h *WebhookHandler) authorized(r *http.Request) bool {
	if h.o.Authorization == "" {
		return false
	}
	got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
	return subtle.ConstantTimeCompare(got[:], h.authSum[:]) == 1
}

// webhookPayload is Procore's delivery body; v4.0 names the resource
// resource_type and the event type reason, and sends every id as a string.
type webhookPayload struct {
	ID           flexInt64 `json:"id"`
	ULID         string    `json:"ulid"`
	EventType    string    `json:"event_type"`
	Reason       string    `json:"reason"`
	ResourceName string    `json:"resource_name"`
	ResourceType string    `json:"resource_type"`
	ResourceID   flexInt64 `json:"resource_id"`
	CompanyID    flexInt64 `json:"company_id"`
	ProjectID    flexInt64 `json:"project_id"`
}

func (p webhookPayload) eventID() string {
	switch {
	case p.ULID != "":
		return p.ULID
	case p.ID.s != "":
		return p.ID.s
	}
	return ""
}

// flexInt64 is an id sent as a JSON number (possibly above 2^53) or string.
type flexInt64 struct {
	v int64
	s string // as sent, for event ids that are ULIDs in v4.0
}

func (f *flexInt64) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	f.s = s
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		f.v = n
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		h.o.Logger.Warn("webhook refused: wrong or missing Authorization", "remote", r.RemoteAddr)
		writeWebhook(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	if err != nil {
		writeWebhook(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	var p webhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		writeWebhook(w, http.StatusBadRequest, "malformed payload")
		return
	}
	resource := firstNonEmpty(p.ResourceName, p.ResourceType)
	eventType := strings.ToLower(firstNonEmpty(p.EventType, p.Reason))
	eid := p.eventID()
	if eid == "" || resource == "" || p.CompanyID.v == 0 {
		writeWebhook(w, http.StatusBadRequest, "payload needs id, resource_name and company_id")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	conn, ok := h.o.Connection(ctx, p.CompanyID.v)
	if !ok {
		writeWebhook(w, http.StatusAccepted, "ignored: unknown company")
		return
	}
	d := Delivery{Conn: conn.ID, EventID: eid, CompanyID: p.CompanyID.v, ProjectID: p.ProjectID.v,
		ResourceName: resource, ResourceID: p.ResourceID.v, EventType: eventType, ReceivedAt: time.Now().UTC()}
	accepted, err := h.q.Enqueue(ctx, d)
	switch {
	case errors.Is(err, ErrQueueFull):
		h.o.Logger.Warn("webhook refused: the queue is full; Procore will retry", "resource", resource, "event", eid)
		w.Header().Set("Retry-After", "5")
		writeWebhook(w, http.StatusServiceUnavailable, "queue full: try again")
	case err != nil:
		h.o.Logger.Error("webhook: cannot queue the delivery; Procore will retry", "resource", resource, "event", eid, "err", err)
		writeWebhook(w, http.StatusServiceUnavailable, "try again")
	case !accepted:
		writeWebhook(w, http.StatusOK, "duplicate")
	default:
		writeWebhook(w, http.StatusOK, "ok")
	}
}

// process handles one queued delivery (ProcessFunc): the project's cache
// scope is invalidated, and a watched item is read and reported to the
// Observer. A read that fails is retried by the queue; one the credential may
// not make, or a connection that is gone, is not.
func (h *WebhookHandler) process(ctx context.Context, d Delivery) error {
	conn, ok := h.o.Connection(ctx, d.CompanyID)
	if !ok || conn.ID != d.Conn {
		h.o.Logger.Info("webhook: dropping a delivery whose connection is gone", "conn", d.Conn, "company", d.CompanyID)
		return nil
	}
	if d.ProjectID != 0 && h.o.Cache != nil {
		if err := h.o.Cache.Invalidate(ctx, conn.ID, "project:"+strconv.FormatInt(d.ProjectID, 10)); err != nil {
			h.o.Logger.Warn("webhook: cache invalidation failed", "err", err)
		}
	}
	w, ok := ItemOfResource(d.ResourceName)
	if !ok || d.ProjectID == 0 || d.ResourceID == 0 {
		return nil
	}
	if d.EventType == "delete" {
		if len(w.Also) > 0 {
			// The item is gone and its kind cannot be read back; which of
			// the resource's kinds it was is unknown: no tombstone.
			return nil
		}
		// The item is gone (in the recycle bin): nothing to read; a tombstone.
		_, err := h.o.Observer.Observe(ctx, Snapshot{Conn: conn.ID, ProjectID: d.ProjectID, ItemKind: w.Kind,
			ItemID: d.ResourceID, Deleted: true}, SourceWebhook)
		return err
	}
	s, err := fetchWatched(ctx, conn.Procore, conn.ID, w, d.ProjectID, d.ResourceID)
	switch {
	case adapter.IsNotFound(err):
		return nil // deleted since, or not visible to this credential
	case err != nil:
		if c := adapter.ErrorCode(err); c == adapter.CodeForbidden || c == adapter.CodeBadUserInput {
			return Permanent(err)
		}
		return err
	}
	s.Created = d.EventType == "create"
	_, err = h.o.Observer.Observe(ctx, s, SourceWebhook)
	return err
}

func writeWebhook(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": msg})
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

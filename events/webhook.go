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
	// Required.
	Connection func(ctx context.Context, companyID int64) (*tenant.Connection, bool)
	// Observer receives the state of every changed item. Required.
	Observer Observer
	// Store keeps the ids of events already handled (SetNX under
	// cache.AuxKey(conn, "webhook", id)), shared by replicas. Required.
	Store cache.Store
	// Cache is invalidated for the changed item's project; nil when the
	// gateway runs without a cache.
	Cache Invalidator
	// DedupeTTL is how long an event id is remembered. Default 24 h (Procore
	// discards undelivered events after 12 h).
	DedupeTTL time.Duration
	// Timeout bounds handling one delivery (Procore waits 5 s). Default 4 s.
	Timeout time.Duration
	// MaxBody bounds the request body. Default 64 KiB.
	MaxBody int64
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// WebhookHandler is the receiver of Procore webhook deliveries
// (POST /webhooks/procore). For each delivery it:
//
//  1. refuses a wrong Authorization value with 401 (constant-time compare)
//     before reading anything else, so a forged delivery changes nothing;
//  2. decodes Procore's payload (v2.0/v3.0 with integer ids, v4.0 with
//     string ids);
//  3. handles each event id once across replicas (Store.SetNX), answering a
//     duplicate 200 at once;
//  4. for RFIs, submittals, punch items, invoices (Payment Applications) and
//     commitments: reads the item from Procore (payloads carry ids only),
//     invalidates its project's cache scope and reports it to the Observer
//     with SourceWebhook. Other resources only invalidate the cache.
//
// A failure to read the item or to record its state forgets the event id and
// answers 503, so Procore's retry handles it again. Reordered deliveries are
// harmless: the item is read as it is now, and the differ ignores states older
// than the one it knows.
type WebhookHandler struct {
	o       WebhookOptions
	authSum [sha256.Size]byte
}

// NewWebhookHandler returns the receiver.
func NewWebhookHandler(o WebhookOptions) (*WebhookHandler, error) {
	if o.Connection == nil || o.Observer == nil || o.Store == nil {
		return nil, errors.New("events: WebhookOptions need Connection, Observer and Store")
	}
	if o.DedupeTTL <= 0 {
		o.DedupeTTL = 24 * time.Hour
	}
	if o.Timeout <= 0 {
		o.Timeout = 4 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &WebhookHandler{o: o, authSum: sha256.Sum256([]byte(o.Authorization))}, nil
}

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
	key := cache.AuxKey(conn.ID, "webhook", eid)
	first, err := h.o.Store.SetNX(ctx, key, []byte(resource), h.o.DedupeTTL)
	if err != nil {
		h.o.Logger.Error("webhook: cannot record the event id", "err", err)
		writeWebhook(w, http.StatusServiceUnavailable, "try again")
		return
	}
	if !first {
		writeWebhook(w, http.StatusOK, "duplicate")
		return
	}
	if err := h.handle(ctx, conn, p, resource, eventType); err != nil {
		// Forget the id so that Procore's retry is handled again.
		if derr := h.o.Store.Delete(context.WithoutCancel(ctx), key); derr != nil {
			h.o.Logger.Error("webhook: cannot forget a failed event id; its retry will be ignored", "err", derr)
		}
		h.o.Logger.Warn("webhook: handling failed; Procore will retry", "resource", resource,
			"resource_id", p.ResourceID.v, "err", err)
		writeWebhook(w, http.StatusServiceUnavailable, "try again")
		return
	}
	writeWebhook(w, http.StatusOK, "ok")
}

func (h *WebhookHandler) handle(ctx context.Context, conn *tenant.Connection, p webhookPayload, resource, eventType string) error {
	projectID := p.ProjectID.v
	if projectID != 0 && h.o.Cache != nil {
		if err := h.o.Cache.Invalidate(ctx, conn.ID, "project:"+strconv.FormatInt(projectID, 10)); err != nil {
			h.o.Logger.Warn("webhook: cache invalidation failed", "err", err)
		}
	}
	kind, ck, ok := itemOfResource(resource)
	if !ok || projectID == 0 || p.ResourceID.v == 0 || eventType == "delete" {
		return nil
	}
	s, err := fetchSnapshot(ctx, conn.Procore, conn.ID, kind, ck, projectID, p.ResourceID.v)
	if adapter.IsNotFound(err) {
		return nil // deleted since, or not visible to this credential
	}
	if err != nil {
		return err
	}
	s.Created = eventType == "create"
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

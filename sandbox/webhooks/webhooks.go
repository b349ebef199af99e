package webhooks

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Event is one change in the simulated Procore that may fire webhooks.
type Event struct {
	CompanyID, ProjectID, UserID int64
	// ResourceName is Procore's human resource name from the resources
	// catalog: "RFIs", "Submittals", "Work Order Contracts", "Purchase Order
	// Contracts", "Requisitions" (subcontractor invoices), "Punch Items", ...
	// (the Resource* constants). Emit sends it in the catalog's spelling.
	ResourceName string
	ResourceID   int64
	// EventType is create, update or delete (case-insensitive).
	EventType string
	// ApplicationID is the OAuth client id of the writer, sent as
	// metadata.source_application_id; empty sends null.
	ApplicationID string
}

// Config configures a Service. Zero values mean the documented defaults.
type Config struct {
	// Client posts deliveries. Default: a client with its own transport and a
	// 5 s timeout (Procore's limit), whose idle connections Close releases.
	// A caller-supplied client's connections stay the caller's to close.
	Client *http.Client
	// Now stamps events and log records and measures DiscardAfter.
	// Default time.Now.
	Now func() time.Time
	// Seed makes event ids, ulids, operation ids and jitter deterministic.
	Seed int64
	// Duplicate, when it returns true for an event, delivers that event twice
	// (same id and ulid). Nil never duplicates.
	Duplicate func() bool
	// Reorder, when it returns true for an event, holds it and delivers it
	// right after the next emitted event. Nil never reorders.
	Reorder func() bool
	// MinBackoff is the first retry wait after a failure. Default 1 s.
	MinBackoff time.Duration
	// MaxBackoff caps the doubling retry wait. Default 1 h.
	MaxBackoff time.Duration
	// DiscardAfter is how long a destination may keep failing before its
	// queue is flushed and logged as discarded. Default 12 h.
	DiscardAfter time.Duration
	// ReorderHold is how long a held (reordered) event waits for a next event
	// before it is delivered anyway. Default 1 s.
	ReorderHold time.Duration
	// ProjectCompany maps a project id to its company id, reporting false for
	// a project that does not exist or that the caller in ctx (see
	// auth.PrincipalFrom) may not see; such projects answer 404. Nil trusts
	// the caller's company context (the Procore-Company-Id header).
	ProjectCompany func(ctx context.Context, projectID int64) (companyID int64, ok bool)
}

// Service is the webhooks simulator: hook and trigger configuration, the
// delivery pipeline and the delivery log. It is safe for concurrent use.
type Service struct {
	cfg       Config
	client    *http.Client
	ownClient bool
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu             sync.Mutex
	closed         bool
	rng            *rand.Rand
	entropy        *ulid.MonotonicEntropy
	hooks          map[int64]*hook
	dests          map[string]*destination
	held           *heldEvent
	nextHookID     int64
	nextTriggerID  int64
	nextDeliveryID int64
}

const (
	firstHookID     = 7_000_000_001
	firstTriggerID  = 7_100_000_001
	firstDeliveryID = 7_200_000_001
	maxLogPerHook   = 10_000
)

// New returns a running Service; call Close to stop its goroutines.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Hour
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.DiscardAfter <= 0 {
		cfg.DiscardAfter = 12 * time.Hour
	}
	if cfg.ReorderHold <= 0 {
		cfg.ReorderHold = time.Second
	}
	s := &Service{
		cfg:            cfg,
		client:         cfg.Client,
		hooks:          map[int64]*hook{},
		dests:          map[string]*destination{},
		nextHookID:     firstHookID,
		nextTriggerID:  firstTriggerID,
		nextDeliveryID: firstDeliveryID,
	}
	if s.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		s.client = &http.Client{Timeout: 5 * time.Second, Transport: tr}
		s.ownClient = true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	seed := uint64(cfg.Seed)
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	copy(key[8:], "procoregraph webhooks ulid")
	s.entropy = ulid.Monotonic(rand.NewChaCha8(key), 0)
	return s
}

// Close stops delivery: in-flight requests are cancelled, queued events are
// dropped, and every goroutine the Service started has returned when Close
// returns. Close is idempotent.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.held = nil
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	if s.ownClient {
		s.client.CloseIdleConnections()
	}
}

// Emit records e and queues it for every matching hook. It never blocks on
// delivery; after Close it does nothing.
func (s *Service) Emit(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	e.ResourceName = emittedName(e.ResourceName)
	ev := s.stamp(e)
	if s.cfg.Duplicate != nil && s.cfg.Duplicate() {
		ev.copies = 2
	}
	if h := s.held; h != nil {
		s.held = nil
		close(h.release)
		s.dispatch(ev)
		s.dispatch(h.ev)
		return
	}
	if s.cfg.Reorder != nil && s.cfg.Reorder() {
		s.hold(ev)
		return
	}
	s.dispatch(ev)
}

// emittedName is the catalog spelling of name (any case), name itself when
// the catalog does not list it.
func emittedName(name string) string {
	if r, ok := findResource(name); ok {
		return r.Name
	}
	return name
}

// stampedEvent is an Event with the identity Procore gives it.
type stampedEvent struct {
	Event
	id          int64
	ulid        string
	at          time.Time
	operationID int64
	copies      int
}

type heldEvent struct {
	ev      *stampedEvent
	release chan struct{}
}

func (s *Service) stamp(e Event) *stampedEvent {
	at := s.cfg.Now().UTC()
	e.EventType = strings.ToLower(e.EventType)
	id := ulid.MustNew(ulid.Timestamp(at), s.entropy)
	return &stampedEvent{
		Event: e,
		// Procore's event ids are 64-bit and exceed 2^53: keep them there so
		// receivers that parse them as float64 fail loudly in tests.
		id:          int64(1<<62 | s.rng.Uint64()>>2),
		ulid:        id.String(),
		at:          at,
		operationID: int64(1<<40 | s.rng.Uint64()>>24),
		copies:      1,
	}
}

// hold keeps ev back until the next Emit or ReorderHold, whichever is first.
// Called with s.mu held.
func (s *Service) hold(ev *stampedEvent) {
	h := &heldEvent{ev: ev, release: make(chan struct{})}
	s.held = h
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(s.cfg.ReorderHold)
		defer t.Stop()
		select {
		case <-t.C:
			s.mu.Lock()
			if s.held == h && !s.closed {
				s.held = nil
				s.dispatch(h.ev)
			}
			s.mu.Unlock()
		case <-h.release:
		case <-s.ctx.Done():
		}
	}()
}

// dispatch queues ev for every matching hook, in hook id order. Called with
// s.mu held.
func (s *Service) dispatch(ev *stampedEvent) {
	ids := make([]int64, 0, len(s.hooks))
	for id, h := range s.hooks {
		if h.matches(ev) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		h := s.hooks[id]
		body, event := payload(h.APIVersion, ev)
		for range ev.copies {
			s.enqueue(h.DestinationURL, &item{hookID: h.ID, eventID: ev.id, body: body, event: event})
		}
	}
}

func (h *hook) matches(ev *stampedEvent) bool {
	if h.ProjectID != 0 {
		if ev.ProjectID != h.ProjectID || (h.CompanyID != 0 && ev.CompanyID != 0 && ev.CompanyID != h.CompanyID) {
			return false
		}
	} else if ev.CompanyID != h.CompanyID {
		return false
	}
	for _, t := range h.triggers {
		if t.ResourceName == ev.ResourceName && t.EventType == ev.EventType {
			return true
		}
	}
	return false
}

// payloadV2 is Procore's v2.0 (and, with RelatedResources, v3.0) delivery body.
type payloadV2 struct {
	ID               int64      `json:"id"`
	ULID             string     `json:"ulid"`
	Timestamp        string     `json:"timestamp"`
	Metadata         metadata   `json:"metadata"`
	UserID           *int64     `json:"user_id"`
	CompanyID        *int64     `json:"company_id"`
	ProjectID        *int64     `json:"project_id"`
	APIVersion       string     `json:"api_version"`
	EventType        string     `json:"event_type"`
	ResourceName     string     `json:"resource_name"`
	ResourceID       int64      `json:"resource_id"`
	RelatedResources *[]related `json:"related_resources,omitempty"`
}

type metadata struct {
	SourceUserID        *int64  `json:"source_user_id"`
	SourceProjectID     *int64  `json:"source_project_id"`
	SourceCompanyID     *int64  `json:"source_company_id"`
	SourceApplicationID *string `json:"source_application_id"`
	SourceOperationID   int64   `json:"source_operation_id"`
}

type related struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// payloadV4 is Procore's v4.0 delivery body: string ids, ulid as id.
type payloadV4 struct {
	ID           string  `json:"id"`
	Timestamp    string  `json:"timestamp"`
	Reason       string  `json:"reason"`
	CompanyID    *string `json:"company_id"`
	ProjectID    *string `json:"project_id"`
	UserID       *string `json:"user_id"`
	ResourceType string  `json:"resource_type"`
	ResourceID   string  `json:"resource_id"`
}

const timestampLayout = "2006-01-02T15:04:05.000000Z"

// payload renders ev for a hook of apiVersion; body and event are the same
// JSON (event is kept for the delivery log).
func payload(apiVersion string, ev *stampedEvent) (body []byte, event json.RawMessage) {
	var v any
	switch apiVersion {
	case "v4.0", "v4":
		v = payloadV4{
			ID:           ev.ulid,
			Timestamp:    ev.at.Format(timestampLayout),
			Reason:       ev.EventType,
			CompanyID:    idString(ev.CompanyID),
			ProjectID:    idString(ev.ProjectID),
			UserID:       idString(ev.UserID),
			ResourceType: ev.ResourceName,
			ResourceID:   strconv.FormatInt(ev.ResourceID, 10),
		}
	default:
		p := payloadV2{
			ID:        ev.id,
			ULID:      ev.ulid,
			Timestamp: ev.at.Format(timestampLayout),
			Metadata: metadata{
				SourceUserID:      idPtr(ev.UserID),
				SourceProjectID:   idPtr(ev.ProjectID),
				SourceCompanyID:   idPtr(ev.CompanyID),
				SourceOperationID: ev.operationID,
			},
			UserID:       idPtr(ev.UserID),
			CompanyID:    idPtr(ev.CompanyID),
			ProjectID:    idPtr(ev.ProjectID),
			APIVersion:   apiVersion,
			EventType:    ev.EventType,
			ResourceName: ev.ResourceName,
			ResourceID:   ev.ResourceID,
		}
		if ev.ApplicationID != "" {
			app := ev.ApplicationID
			p.Metadata.SourceApplicationID = &app
		}
		if strings.HasPrefix(apiVersion, "v3") {
			p.RelatedResources = &[]related{}
		}
		v = p
	}
	b, err := json.Marshal(v)
	if err != nil { // cannot happen: plain structs of strings and ints
		b = []byte("{}")
	}
	return b, json.RawMessage(b)
}

func idPtr(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func idString(id int64) *string {
	if id == 0 {
		return nil
	}
	s := strconv.FormatInt(id, 10)
	return &s
}

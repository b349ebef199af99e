// Package audit records who changed what: every mutation, every gateway
// session created, refreshed or revoked, every sign-in and sign-out, and
// every refused credential writes one Record. Records name the principal
// (kind, key name or Procore user), the operation, the ids it was given and
// the Procore ids it wrote, and the outcome. They never hold a secret: no
// token, key, password, cookie or code is ever put in one.
//
// By default records go to the log as JSON lines ({"msg":"audit",...});
// with Redis they also go to a capped Redis Stream.
package audit

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"procoregraph/principal"
	"procoregraph/reqid"
)

// Events.
const (
	EventMutation          = "mutation"
	EventSessionCreate     = "session.create"
	EventSessionRefresh    = "session.refresh"
	EventSessionRevoke     = "session.revoke"
	EventSignIn            = "signin"
	EventSignOut           = "signout"
	EventCredentialRefused = "credential.refused"
)

// Outcomes.
const (
	OutcomeOK        = "ok"        // done
	OutcomeRejected  = "rejected"  // refused with userErrors: nothing written
	OutcomeError     = "error"     // failed; Code says why
	OutcomeForbidden = "forbidden" // the principal may not do it: nothing attempted
	OutcomeRefused   = "refused"   // a credential was refused
)

// Written is one Procore object a mutation wrote.
type Written struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Record is one audited action.
type Record struct {
	Time      time.Time     `json:"time"`
	RequestID string        `json:"requestId,omitempty"`
	Event     string        `json:"event"`
	Principal principal.Ref `json:"principal"`
	// Operation is the mutation field (createRFI) or the session action.
	Operation string `json:"operation,omitempty"`
	// OperationName is the GraphQL operation's name, when it has one.
	OperationName string `json:"operationName,omitempty"`
	// Inputs are the ids the operation was given (projectId, rfiId, ...).
	Inputs map[string]string `json:"inputIds,omitempty"`
	// IdempotencyKey is the create's key, when one was sent.
	IdempotencyKey string    `json:"idempotencyKey,omitempty"`
	Written        []Written `json:"written,omitempty"`
	Outcome        string    `json:"outcome"`
	// Code is the error or first userError code when the outcome is not ok.
	Code string `json:"code,omitempty"`
	// Credential is the kind of credential refused (credential.refused).
	Credential string `json:"credential,omitempty"`
	// Remote is the client's address.
	Remote string `json:"remote,omitempty"`
}

// Sink receives records. Implementations must be safe for concurrent use
// and must not block for long (the request waits).
type Sink interface {
	Write(ctx context.Context, r Record)
}

// Logger fills in time and request id and hands records to its sinks. A
// nil *Logger discards records.
type Logger struct {
	sinks []Sink
	now   func() time.Time
}

// New returns a Logger writing to sinks.
func New(sinks ...Sink) *Logger { return &Logger{sinks: sinks, now: time.Now} }

// Record writes r to every sink, with Time and RequestID filled in when
// empty.
func (l *Logger) Record(ctx context.Context, r Record) {
	if l == nil {
		return
	}
	if r.Time.IsZero() {
		r.Time = l.now().UTC()
	}
	if r.RequestID == "" {
		r.RequestID = reqid.From(ctx)
	}
	for _, s := range l.sinks {
		s.Write(ctx, r)
	}
}

// JSONSink writes each record as one JSON line {"time","level":"INFO",
// "msg":"audit","audit":{...}} through a slog JSON handler.
type JSONSink struct{ log *slog.Logger }

// NewJSONSink returns a sink writing JSON lines to w.
func NewJSONSink(w io.Writer) *JSONSink {
	return &JSONSink{log: slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))}
}

// Write implements Sink.
func (s *JSONSink) Write(ctx context.Context, r Record) {
	s.log.LogAttrs(ctx, slog.LevelInfo, "audit", slog.Any("audit", recordValue(r)))
}

// recordValue marshals r once so that the handler writes it as a JSON object.
type recordValue Record

func (v recordValue) MarshalJSON() ([]byte, error) { return json.Marshal(Record(v)) }

// Memory keeps the last records in memory (tests, debugging). The zero
// value keeps 1,000.
type Memory struct {
	mu   sync.Mutex
	max  int
	recs []Record
}

// Write implements Sink.
func (m *Memory) Write(_ context.Context, r Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := m.max
	if limit <= 0 {
		limit = 1000
	}
	m.recs = append(m.recs, r)
	if len(m.recs) > limit {
		m.recs = m.recs[len(m.recs)-limit:]
	}
}

// Records returns a copy of what was kept.
func (m *Memory) Records() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.recs...)
}

// collector gathers what one mutation wrote.
type collector struct {
	mu      sync.Mutex
	written []Written
}

type collectorKey struct{}

// Collect returns ctx carrying a new collector for one mutation, and the
// func that returns what was reported to it.
func Collect(ctx context.Context) (context.Context, func() []Written) {
	c := &collector{}
	return context.WithValue(ctx, collectorKey{}, c), func() []Written {
		c.mu.Lock()
		defer c.mu.Unlock()
		return append([]Written(nil), c.written...)
	}
}

// Wrote reports that the running mutation wrote the Procore object kind/id.
// Without a collector in ctx it does nothing.
func Wrote(ctx context.Context, kind, id string) {
	c, _ := ctx.Value(collectorKey{}).(*collector)
	if c == nil || id == "" {
		return
	}
	c.mu.Lock()
	c.written = append(c.written, Written{Kind: kind, ID: id})
	c.mu.Unlock()
}

type remoteKey struct{}

// WithRemote returns ctx carrying the client's address for records.
func WithRemote(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteKey{}, addr)
}

// RemoteFrom returns the client address in ctx, or "".
func RemoteFrom(ctx context.Context) string {
	s, _ := ctx.Value(remoteKey{}).(string)
	return s
}

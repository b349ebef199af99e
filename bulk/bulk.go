// Package bulk runs bulk exports (like Shopify's bulkOperationRunQuery): a
// query is read over every page of its connections in the background, within
// the Procore budget, and written as gzip-compressed JSON Lines to a bounded
// store, from which a signed URL serves it until it expires.
//
// The paging rule: the document's one root field is a connection; it and
// every connection nested directly in a connection's nodes are read to their
// end by following pageInfo.endCursor while hasNextPage (first as in plan.go:
// PageCap, NestedFirst, or what keeps a page query within PageItems nodes).
// The next pages of a nested connection are read through _entities lookups
// of its parent, so nested connections must sit under entity types (Project,
// Commitment, ...). Connection-level fields (totalCount, pageInfo, cursors)
// are not exported.
//
// The file: one JSON object a line, one line per node, keys sorted; "__path"
// names the connection by response keys ("projects", "projects.rfis"),
// "__parentId" the id of the parent node of a nested row (absent on root
// rows), "id" is always present. Rows come depth first: a node, then every
// row of its first nested connection, then of the next, so a parent always
// precedes its children.
//
// State lives in the process that runs the export (its store is a local
// directory): behind a load balancer, route a principal's bulk calls and
// downloads to one replica, or retry on the one that answers.
package bulk

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/principal"
	"procoregraph/tenant"
)

// Status of an export.
type Status string

// Statuses.
const (
	StatusCreated   Status = "CREATED"
	StatusRunning   Status = "RUNNING"
	StatusCompleted Status = "COMPLETED"
	StatusFailed    Status = "FAILED"
	StatusCanceled  Status = "CANCELED"
)

// Codes of refused starts (UserError.code) and of failed exports.
const (
	// CodeInProgress: the principal already runs an export.
	CodeInProgress = "IN_PROGRESS"
	// CodeBusy: the gateway runs (or keeps) its maximum of exports.
	CodeBusy = "BUSY"
	// CodeInvalidValue: the document is not one a bulk export runs.
	CodeInvalidValue = "INVALID_VALUE"
	// CodeTooLarge: the file outgrew MaxFileBytes (a failed export).
	CodeTooLarge = "TOO_LARGE"
	// CodeShutdown: the gateway stopped while the export ran (canceled).
	CodeShutdown = "SHUTDOWN"
	// CodeInternal: the store could not be written.
	CodeInternal = "INTERNAL"
)

// Owner is who starts an export: its principal and Procore connection, and
// Key, which names them (connection and principal) so that only the same
// caller sees the export.
type Owner struct {
	Key string
	// RateKey is the principal's rate-limit key (principal.RateKey).
	RateKey   string
	Principal principal.Principal
	Conn      *tenant.Connection
}

// Executor runs one page query as owner (same schema, resolvers, loaders
// and cache as a request of the owner would) and returns its data, or the
// first error with its code (extensions.code).
type Executor interface {
	Execute(ctx context.Context, owner Owner, query string, vars map[string]any) (data []byte, err error)
}

// ExecError is a page query's failure.
type ExecError struct{ Code, Message string }

func (e *ExecError) Error() string { return e.Code + ": " + e.Message }

// Pacer admits a page query of an estimated cost in Procore calls, waiting
// as long as it must; it fails only when ctx ends.
type Pacer interface {
	Wait(ctx context.Context, owner Owner, query string, vars map[string]any) error
}

// Options configure a Service. Zero values take the defaults.
type Options struct {
	// Schema validates documents. Required.
	Schema *ast.Schema
	// Exec runs page queries. Required.
	Exec Executor
	// Pace admits page queries (the Procore budget). Nil: none.
	Pace Pacer
	// Dir holds the files. Default: a new directory under os.TempDir(),
	// removed by Close. Files of this process are deleted when they expire
	// and by Close.
	Dir string
	// Key signs download URLs (HMAC-SHA256). Required, at least 32 bytes.
	Key []byte
	// PublicURL is the gateway's base URL for download links.
	PublicURL string
	// MaxRunning bounds the exports running at once, all principals
	// together. Default 2.
	MaxRunning int
	// MaxKept bounds the exports kept (running or finished, not yet
	// expired). Default 100.
	MaxKept int
	// MaxFileBytes bounds one export's compressed file. Default 1 GiB.
	MaxFileBytes int64
	// TTL is how long a finished export (and its file) is kept, and the
	// longest a download URL is valid. Default 1 h.
	TTL time.Duration
	// PageItems bounds the nodes one page query returns. Default 50,000.
	PageItems int
	// PageSize is the first of connection pages (BULK_PAGE_SIZE), between 1
	// and PageCap. Default PageCap.
	PageSize int
	// MaxQueryBytes bounds the document. Default 64 KiB.
	MaxQueryBytes int
	// Check applies the gateway's document rules (trusted documents, depth,
	// aliases, root fields) to the query and its parsed document; its error
	// message is reported. Nil: none.
	Check func(query string, doc *ast.QueryDocument, vars map[string]any) error
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// Now. Default time.Now.
	Now func() time.Time
}

// Export is an export's state as reported to its owner.
type Export struct {
	ID        string
	Status    Status
	Query     string
	Objects   int64
	Bytes     int64
	ErrorCode string
	Error     string
	CreatedAt time.Time
	// FinishedAt and ExpiresAt are zero until the export ends.
	FinishedAt, ExpiresAt time.Time
	// URL downloads the file (COMPLETED only), signed until ExpiresAt.
	URL string
}

type export struct {
	Export
	owner  string
	file   string
	cancel context.CancelFunc
}

// Service runs and keeps exports. Its methods are safe for concurrent use.
type Service struct {
	o       Options
	ownDir  bool
	ctx     context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	exports map[string]*export
	running map[string]string // owner key -> running export id
}

// New returns a Service; Close stops it.
func New(o Options) (*Service, error) {
	if o.Schema == nil || o.Exec == nil {
		return nil, errors.New("bulk: Schema and Exec are required")
	}
	if len(o.Key) < 32 {
		return nil, errors.New("bulk: a signing key of at least 32 bytes is required")
	}
	if o.MaxRunning <= 0 {
		o.MaxRunning = 2
	}
	if o.MaxKept <= 0 {
		o.MaxKept = 100
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 1 << 30
	}
	if o.TTL <= 0 {
		o.TTL = time.Hour
	}
	if o.PageItems <= 0 {
		o.PageItems = 50_000
	}
	if o.PageSize <= 0 || o.PageSize > PageCap {
		o.PageSize = PageCap
	}
	if o.MaxQueryBytes <= 0 {
		o.MaxQueryBytes = 64 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{o: o, exports: map[string]*export{}, running: map[string]string{}}
	if s.o.Dir == "" {
		d, err := os.MkdirTemp("", "procoregraph-bulk-")
		if err != nil {
			return nil, fmt.Errorf("bulk: %w", err)
		}
		s.o.Dir, s.ownDir = d, true
	} else if err := os.MkdirAll(s.o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("bulk: BULK_DIR: %w", err)
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.sweep()
	return s, nil
}

// Close cancels running exports, waits for them and deletes every file of
// this process.
func (s *Service) Close() {
	s.stop()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, e := range s.exports {
		_ = os.Remove(e.file)
		delete(s.exports, id)
	}
	if s.ownDir {
		_ = os.RemoveAll(s.o.Dir)
	}
}

// StartError is a refused start: Code is a UserError code.
type StartError struct{ Code, Message string }

func (e *StartError) Error() string { return e.Message }

// Start validates query and starts reading it in the background. It
// refuses (StartError) an invalid document (INVALID_VALUE), a second export
// while owner's first runs (IN_PROGRESS), and a start beyond MaxRunning or
// MaxKept (BUSY).
func (s *Service) Start(owner Owner, query string, vars map[string]any) (Export, error) {
	if len(query) > s.o.MaxQueryBytes {
		return Export{}, &StartError{CodeInvalidValue, fmt.Sprintf("the query has %d bytes; the limit is %d", len(query), s.o.MaxQueryBytes)}
	}
	p, err := s.validate(query, vars)
	if err != nil {
		return Export{}, &StartError{CodeInvalidValue, err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return Export{}, &StartError{CodeBusy, "the gateway is shutting down"}
	}
	if id, ok := s.running[owner.Key]; ok {
		return Export{}, &StartError{CodeInProgress, "export " + id + " of this caller is still running: wait for it or cancel it"}
	}
	if len(s.running) >= s.o.MaxRunning {
		return Export{}, &StartError{CodeBusy, fmt.Sprintf("the gateway runs its maximum of %d exports; retry later", s.o.MaxRunning)}
	}
	if len(s.exports) >= s.o.MaxKept {
		return Export{}, &StartError{CodeBusy, fmt.Sprintf("the gateway keeps its maximum of %d exports until they expire; retry later", s.o.MaxKept)}
	}
	id := newID()
	ctx, cancel := context.WithCancel(s.ctx)
	e := &export{Export: Export{ID: id, Status: StatusRunning, Query: query, CreatedAt: s.o.Now()},
		owner: owner.Key, file: filepath.Join(s.o.Dir, id+".jsonl.gz"), cancel: cancel}
	s.exports[id] = e
	s.running[owner.Key] = id
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		s.run(ctx, e, owner, p, vars)
	}()
	return e.Export, nil
}

// Get returns owner's export id, with a download URL when it completed;
// false when it does not exist, expired, or belongs to someone else.
func (s *Service) Get(ownerKey, id string) (Export, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.exports[id]
	if !ok || e.owner != ownerKey {
		return Export{}, false
	}
	out := e.Export
	if out.Status == StatusCompleted {
		out.URL = s.signedURL(id, out.ExpiresAt)
	}
	return out, true
}

// Cancel cancels owner's running export id and returns its state (a
// finished export is returned as it is); false as for Get.
func (s *Service) Cancel(ownerKey, id string) (Export, bool) {
	s.mu.Lock()
	e, ok := s.exports[id]
	if !ok || e.owner != ownerKey {
		s.mu.Unlock()
		return Export{}, false
	}
	if e.Status == StatusRunning {
		e.cancel()
		s.finishLocked(e, StatusCanceled, "", "")
	}
	s.mu.Unlock()
	return s.Get(ownerKey, id)
}

// finishLocked ends e (once): later calls keep the first outcome.
func (s *Service) finishLocked(e *export, st Status, code, msg string) {
	if e.Status != StatusRunning {
		return
	}
	e.Status, e.ErrorCode, e.Error = st, code, msg
	e.FinishedAt = s.o.Now()
	e.ExpiresAt = e.FinishedAt.Add(s.o.TTL)
	if s.running[e.owner] == e.ID {
		delete(s.running, e.owner)
	}
	if st != StatusCompleted {
		_ = os.Remove(e.file)
	}
}

// sweep deletes expired exports and their files.
func (s *Service) sweep() {
	defer s.wg.Done()
	t := time.NewTicker(min(time.Minute, max(s.o.TTL/4, 10*time.Millisecond)))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		now := s.o.Now()
		s.mu.Lock()
		for id, e := range s.exports {
			if e.Status != StatusRunning && !now.Before(e.ExpiresAt) {
				_ = os.Remove(e.file)
				delete(s.exports, id)
			}
		}
		s.mu.Unlock()
	}
}

// newID is a random positive 62-bit decimal id (the schema's ID scalar is
// an integer here).
func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return strconv.FormatUint(binary.BigEndian.Uint64(b)>>2|1<<60, 10)
}

type ctxKey struct{}

// NewContext returns ctx carrying s, for the resolvers.
func NewContext(ctx context.Context, s *Service) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// For returns the Service in ctx, or nil.
func For(ctx context.Context) *Service {
	s, _ := ctx.Value(ctxKey{}).(*Service)
	return s
}

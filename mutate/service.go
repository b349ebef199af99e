// Package mutate runs procoregraph's writes: it validates a mutation's input
// before any upstream call, keeps creates exactly-once per idempotency key,
// calls the connection's adapter, maps Procore's refusals to UserErrors,
// invalidates the cache scope the write touched so the next query shows it,
// and reports the new state to the events Observer (the differ), which
// publishes typed events.
//
// Every mutation follows the same steps:
//
//  1. static checks of the input (required fields, decimal formats, ranges,
//     dates): UserErrors and no upstream call at all;
//  2. for creates with an idempotency key (input field or Idempotency-Key
//     header): claim the key, or replay the first result;
//  3. checks against Procore's current state, read (never written): the
//     referenced people, vendors, line items and periods exist, and the
//     status transition is one Procore allows; UserErrors and no write;
//  4. the write; Procore's 422 becomes UserErrors with field paths;
//  5. cache invalidation of the project scope and an observation of the
//     item's new state (and, for updates, of its state just before).
//
// Resolvers call a Runner found in the request context (For), so they stay
// one line each.
package mutate

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"procoregraph/adapter"
	"procoregraph/audit"
	"procoregraph/cache"
	"procoregraph/events"
	"procoregraph/loaders"
	"procoregraph/tenant"
)

// Options configure a Runner. Zero values mean the documented default.
type Options struct {
	// Store holds idempotency records (Redis when configured, shared by
	// replicas). Nil disables idempotency keys: a create with a key then
	// fails with an error instead of risking a duplicate.
	Store cache.Store
	// Cache is invalidated after writes. Nil: nothing to invalidate.
	Cache *cache.Cache
	// Observer receives the state of written items. Nil: no events.
	Observer events.Observer
	// Idempotency configures idempotency records (default TTL 24h).
	Idempotency IdempotencyOptions
	// WriteTimeout bounds one mutation's upstream work. The write runs on a
	// context detached from the client's cancellation, so a client that
	// disconnects mid-create still gets the result on retry. Default 60s.
	WriteTimeout time.Duration
	// MaxUploadBytes bounds an uploadAttachment file. Default 32 MiB.
	MaxUploadBytes int64
	// Logger receives failures after a successful write (invalidation,
	// events). Default slog.Default().
	Logger *slog.Logger
}

// Runner runs mutations. It is safe for concurrent use and shared by all
// requests; per-request state (connection, loaders) comes from the context.
type Runner struct {
	opt   Options
	idem  *Idempotency
	log   *slog.Logger
	cache *cache.Cache
	obs   events.Observer
}

// New returns a Runner.
func New(o Options) *Runner {
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 60 * time.Second
	}
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = 32 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Runner{opt: o, log: o.Logger, cache: o.Cache, obs: o.Observer}
	if o.Store != nil {
		s.idem = NewIdempotency(o.Store, o.Idempotency)
	}
	return s
}

type ctxKey struct{}
type headerKey struct{}

// NewContext returns ctx carrying s.
func NewContext(ctx context.Context, s *Runner) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// For returns the Runner in ctx, or nil.
func For(ctx context.Context) *Runner {
	s, _ := ctx.Value(ctxKey{}).(*Runner)
	return s
}

// WithIdempotencyKey returns ctx carrying the request's Idempotency-Key
// header. It applies to every create mutation of the request.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, headerKey{}, key)
}

func headerIdempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(headerKey{}).(string)
	return k
}

// env is one mutation's per-request state.
type env struct {
	conn *tenant.Connection
	p    adapter.Procore
	ld   *loaders.Loaders
}

func (s *Runner) env(ctx context.Context) (env, error) {
	c, ok := tenant.From(ctx)
	if !ok {
		return env{}, adapter.Errorf(adapter.CodeUnauthenticated, "no Procore connection for this request")
	}
	return env{conn: c, p: c.Procore, ld: loaders.For(ctx)}, nil
}

// detach returns a context for upstream work that survives the client's
// cancellation but not WriteTimeout.
func (s *Runner) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.opt.WriteTimeout)
}

// createOp describes one create mutation for create().
type createOp[T any] struct {
	name      string // the mutation's schema name, e.g. "createRFI"
	projectID int64
	// key is the input's idempotencyKey; hashOf is the input without it.
	key    *string
	hashOf any
	// check runs against Procore's current state (reads only) and returns
	// UserErrors; an error is an upstream failure.
	check func(ctx context.Context, c *checker) error
	// do is the upstream create. A non-zero result with an error means
	// Procore created the item but a later step failed.
	do func(ctx context.Context) (T, error)
	// exists reports whether do's result is a created item.
	exists func(T) bool
	// snapshot is the created item's state for the differ (ok false: none).
	snapshot func(T) (events.Snapshot, bool)
	// skipInvalidate: the create changes no cached project data.
	skipInvalidate bool
}

// create runs steps 2 to 5 of the package doc for a create mutation whose
// static checks passed.
func create[T any](ctx context.Context, s *Runner, e env, op createOp[T]) (*T, []UserError, error) {
	key, errs := s.idempotencyKey(ctx, op.key)
	if errs != nil {
		return nil, errs, nil
	}
	if key == "" {
		wctx, cancel := s.detach(ctx)
		defer cancel()
		out, uerrs, _, err := runCreate(wctx, s, e, op)
		return out, uerrs, err
	}
	if s.idem == nil {
		return nil, nil, adapter.Errorf(adapter.CodeInternal, "idempotency keys are not available: no store configured")
	}
	hash, err := HashInput(struct {
		Project int64
		Input   any
	}{op.projectID, op.hashOf})
	if err != nil {
		return nil, nil, adapter.Errorf(adapter.CodeInternal, "%s: %v", op.name, err)
	}
	// Waiting for a duplicate's result ends with the client; the create
	// itself (once claimed) does not.
	lease, rec, err := s.idem.Begin(ctx, e.conn.ID, op.name, key, hash)
	switch {
	case errors.Is(err, ErrKeyReused):
		return nil, []UserError{{Field: inputPath("idempotencyKey"), Code: CodeConflict,
			Message: "this idempotency key was already used with a different input; use a new key for a different request"}}, nil
	case errors.Is(err, ErrInProgress):
		return nil, []UserError{{Field: inputPath("idempotencyKey"), Code: CodeInProgress,
			Message: "a request with this idempotency key is still in progress; retry later with the same key"}}, nil
	case adapter.ErrorCode(err) == adapter.CodeStateFull:
		return nil, nil, err // the state store's own STATE_FULL, with its retry time
	case err != nil:
		return nil, nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable,
			Message: "idempotency records are unavailable, so the create was not attempted; retry later", Err: err}
	case rec != nil:
		return replay[T](rec)
	}

	ctx, cancel := s.detach(ctx)
	defer cancel()
	out, uerrs, wrote, err := runCreate(ctx, s, e, op)
	switch {
	case out != nil:
		raw, merr := json.Marshal(out)
		if merr == nil {
			merr = lease.Complete(ctx, Record{State: stateDone, Result: raw, UserErrors: uerrs})
		}
		if merr != nil {
			// The result may be refused where the smaller in-progress record
			// was not (a full state store): keep the key with a record no
			// larger, so that a retry answers OUTCOME_UNKNOWN instead of
			// creating again.
			if ferr := lease.Complete(ctx, Record{State: stateUnknown, Message: "created; result not kept", At: time.Now().UTC().Truncate(time.Second)}); ferr != nil {
				s.log.WarnContext(ctx, "idempotency: could not record a create's result; a retry with the same key may create it again",
					"mutation", op.name, "err", errors.Join(merr, ferr))
			} else {
				s.log.WarnContext(ctx, "idempotency: could not record a create's result; a retry with the same key answers OUTCOME_UNKNOWN",
					"mutation", op.name, "err", merr)
			}
		}
	case err != nil && wrote && !provablyNotApplied(err):
		if cerr := lease.Complete(ctx, Record{State: stateUnknown, Message: string(adapter.ErrorCode(err)) + ": " + messageOf(err)}); cerr != nil {
			s.log.WarnContext(ctx, "idempotency: could not record an unknown outcome", "mutation", op.name, "err", cerr)
		}
	default:
		if rerr := lease.Release(ctx); rerr != nil {
			s.log.WarnContext(ctx, "idempotency: could not release a key after a refused create", "mutation", op.name, "err", rerr)
		}
	}
	return out, uerrs, err
}

// runCreate runs steps 3 to 5: state checks, the write, invalidation and
// the observation. wrote says whether the upstream write was attempted.
func runCreate[T any](ctx context.Context, s *Runner, e env, op createOp[T]) (out *T, uerrs []UserError, wrote bool, err error) {
	if op.check != nil {
		var c checker
		if err := op.check(ctx, &c); err != nil {
			return nil, nil, false, err
		}
		if !c.ok() {
			return nil, c.result(), false, nil
		}
	}
	v, err := op.do(ctx)
	created := op.exists(v)
	if created {
		auditWrite(ctx, v)
		var snaps []events.Snapshot
		if op.snapshot != nil {
			if snap, ok := op.snapshot(v); ok {
				snap.Created = true
				snaps = append(snaps, snap)
			}
		}
		if op.skipInvalidate {
			s.observe(ctx, snaps...)
		} else {
			s.after(ctx, e, op.projectID, snaps...)
		}
	}
	if err != nil {
		uerrs, err := fromUpstream(err, "projectId")
		if !created {
			return nil, uerrs, true, err
		}
		if err != nil {
			// Created, then a later step failed (Procore has no
			// transactions): report the item with what is missing rather
			// than hide it behind an error.
			uerrs = []UserError{{Field: inputPath(), Code: CodeIncomplete, Message: messageOf(err)}}
		}
		return &v, uerrs, true, nil
	}
	return &v, []UserError{}, true, nil
}

// replay returns a finished record's result.
func replay[T any](rec *Record) (*T, []UserError, error) {
	if rec.State == stateUnknown {
		return nil, []UserError{{Field: inputPath("idempotencyKey"), Code: CodeOutcomeUnknown,
			Message: "an earlier request with this idempotency key failed without knowing whether Procore applied it (" + rec.Message +
				"); check Procore, then retry with a new key if needed"}}, nil
	}
	uerrs := rec.UserErrors
	if uerrs == nil {
		uerrs = []UserError{}
	}
	if len(rec.Result) == 0 || string(rec.Result) == "null" {
		return nil, uerrs, nil
	}
	var v T
	if err := json.Unmarshal(rec.Result, &v); err != nil {
		return nil, nil, adapter.Errorf(adapter.CodeInternal, "idempotency: stored result unreadable: %v", err)
	}
	return &v, uerrs, nil
}

// idempotencyKey returns the create's key: the input's, else the
// Idempotency-Key header's. Both given and different is a UserError.
func (s *Runner) idempotencyKey(ctx context.Context, in *string) (string, []UserError) {
	header := headerIdempotencyKey(ctx)
	switch {
	case in != nil && header != "" && *in != header:
		return "", []UserError{{Field: inputPath("idempotencyKey"), Code: CodeConflict,
			Message: "differs from the Idempotency-Key header; send one key"}}
	case in != nil:
		return *in, nil
	}
	if len(header) > 255 {
		return "", []UserError{{Field: inputPath("idempotencyKey"), Code: CodeOutOfRange,
			Message: "the Idempotency-Key header is longer than 255 characters"}}
	}
	return header, nil
}

// provablyNotApplied reports whether a failed write certainly did not
// happen upstream: Procore refused it (4xx) or said it was overloaded before
// processing (429, 503). Timeouts, transport errors and other 5xx leave the
// outcome unknown.
func provablyNotApplied(err error) bool {
	var ae *adapter.Error
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Code {
	case adapter.CodeBadUserInput, adapter.CodeNotFound, adapter.CodeForbidden, adapter.CodeUnauthenticated,
		adapter.CodeReauthRequired, adapter.CodeConflict, adapter.CodeRateLimited:
		return true
	case adapter.CodeUpstreamUnavailable:
		return ae.Status == 429 || ae.Status == 503
	}
	return false
}

func messageOf(err error) string {
	var ae *adapter.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return "internal error"
}

// updateOp describes one update mutation for update().
type updateOp[T any] struct {
	projectID int64
	// target is the input path of the item acted on (for NOT_FOUND).
	target []string
	// before is the item's state just read (ok false: none).
	before []events.Snapshot
	do     func(ctx context.Context) (T, error)
	// snapshot is the item's new state for the differ (ok false: none).
	snapshot func(T) (events.Snapshot, bool)
}

// update runs the write, invalidation and observations of an update whose
// checks passed.
func update[T any](ctx context.Context, s *Runner, e env, op updateOp[T]) (*T, []UserError, error) {
	ctx, cancel := s.detach(ctx)
	defer cancel()
	s.observe(ctx, op.before...)
	v, err := op.do(ctx)
	if err != nil {
		uerrs, err := fromUpstream(err, op.target...)
		return nil, uerrs, err
	}
	auditWrite(ctx, v)
	var snaps []events.Snapshot
	if op.snapshot != nil {
		if snap, ok := op.snapshot(v); ok {
			snaps = append(snaps, snap)
		}
	}
	s.after(ctx, e, op.projectID, snaps...)
	return &v, []UserError{}, nil
}

// after invalidates the project's cache scope and reports the new states.
// Failures are logged: the write itself succeeded.
func (s *Runner) after(ctx context.Context, e env, projectID int64, snaps ...events.Snapshot) {
	if s.cache != nil {
		if err := s.cache.Invalidate(ctx, e.conn.ID, ProjectScope(projectID)); err != nil {
			s.log.WarnContext(ctx, "mutation: cache invalidation failed; reads may be stale until the TTL", "project", projectID, "err", err)
		}
	}
	s.observe(ctx, snaps...)
}

func (s *Runner) observe(ctx context.Context, snaps ...events.Snapshot) {
	if s.obs == nil {
		return
	}
	for _, snap := range snaps {
		if _, err := s.obs.Observe(ctx, snap, events.SourceMutation); err != nil {
			s.log.WarnContext(ctx, "mutation: events observer failed", "item_kind", snap.ItemKind, "item", snap.ItemID, "err", err)
		}
	}
}

// ProjectScope is the cache scope of everything in a project (what loaders
// use), invalidated after every write to the project.
func ProjectScope(projectID int64) string { return "project:" + strconv.FormatInt(projectID, 10) }

// auditWrite reports the Procore object a write produced to the audit log's
// collector for the running mutation.
func auditWrite(ctx context.Context, v any) {
	var kind string
	var id int64
	switch x := v.(type) {
	case adapter.RFI:
		kind, id = "rfi", x.ID
	case adapter.Submittal:
		kind, id = "submittal", x.ID
	case adapter.Commitment:
		kind, id = "commitment", x.ID
	case adapter.ChangeOrder:
		kind, id = "change_order", x.ID
	case adapter.Invoice:
		kind, id = "invoice", x.ID
	case adapter.ChangeEvent:
		kind, id = "change_event", x.ID
	case adapter.PotentialChangeOrder:
		kind, id = "potential_change_order", x.ID
	case UploadedFile:
		audit.Wrote(ctx, "upload", x.ID)
		return
	default:
		return
	}
	if id != 0 {
		audit.Wrote(ctx, kind, strconv.FormatInt(id, 10))
	}
}

// IdempotencyKeyFrom returns the request's Idempotency-Key header (see
// WithIdempotencyKey), or "".
func IdempotencyKeyFrom(ctx context.Context) string { return headerIdempotencyKey(ctx) }

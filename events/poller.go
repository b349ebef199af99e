package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"procoregraph/adapter"
	"procoregraph/cache"
	"procoregraph/tenant"
)

// PollerOptions configure NewPoller. Zero values mean the defaults.
type PollerOptions struct {
	// Store holds the lock that makes one replica the connection's poller,
	// and the per-project, per-tool watermarks. Required.
	Store cache.Store
	// Observer receives every item found changed. Required.
	Observer Observer
	// Cache is invalidated for projects in which items changed; nil when the
	// gateway runs without a cache.
	Cache Invalidator
	// Interval between polls. Default 30 s.
	Interval time.Duration
	// Lease is how long the lock is held without renewal; a replica that
	// dies or stalls is replaced after at most Lease. A running poll renews
	// it every Lease/3, so a poll may take longer than Lease. Default
	// 3 × Interval.
	Lease time.Duration
	// CycleTimeout bounds one poll (listing the projects, every tool's lists,
	// reporting to the Observer). A poll that outlives it is cancelled and
	// the lock released, so a replica that polls better can take over; this
	// one tries again at the next interval. Default 2 × Interval, at least
	// 2 minutes.
	CycleTimeout time.Duration
	// Overlap is how far each updated_at window reaches back before the
	// newest updated_at seen, so an item changed in the same second is not
	// missed (the differ ignores what it already knows). Default 2 s.
	Overlap time.Duration
	// ClockSkew is how far Procore's clock may lag ours; it only matters for
	// a project with no items yet. Default 1 min.
	ClockSkew time.Duration
	// Kinds are the tools polled on every poll. Default AllItemKinds.
	Kinds []ItemKind
	// OnDemand are further tools polled only in the projects where Wanted
	// says someone subscribes to them (checked per kind, then per project
	// unless the kind is wanted in every project, once per poll). Procore
	// lists them whole, so each costs its list calls per project per poll:
	// one each for change events, PCOs, packages, prime and commitment
	// change orders, and 1 + one per prime contract for owner invoices.
	// Default none.
	OnDemand []ItemKind
	// Wanted reports whether kind is subscribed to on conn in projectID (0:
	// by a subscription to every project) (Demand.Wanted). Nil polls every
	// OnDemand kind in every project on every poll.
	Wanted func(ctx context.Context, conn string, kind ItemKind, projectID int64) (bool, error)
	// ProjectIDs restricts polling to these projects. Default: the
	// company's active projects, re-listed every ProjectsEvery polls.
	ProjectIDs []int64
	// ProjectsEvery is how many polls reuse one project list. Default 10.
	ProjectsEvery int
	// MaxConcurrency bounds concurrent list calls. Default 4.
	MaxConcurrency int
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// Now is the local clock. Default time.Now.
	Now func() time.Time
}

// Poller finds changed items of one connection that has no webhooks: every
// Interval it lists each project's RFIs, submittals, punch items, invoices
// and commitments (and, while someone subscribes to them, the OnDemand
// kinds: change events, change orders, owner invoices) with a
// filters[updated_at] window (applied by the gateway for lists Procore
// cannot filter) starting just before the
// newest updated_at it saw (a project's first poll lists everything, which
// the differ records as a silent baseline), and reports every item to the
// Observer with SourcePoller. When the client is an adapter.RecycleBin it
// also lists each project's RFI recycle bin the same way and reports its
// items as deleted (DELETED tombstones; its first pass is a baseline too).
//
// Among all replicas polling the same connection, one holds the lock
// cache.AuxKey(conn, "poller", "lock") (SetNX with a lease, renewed by
// compare-and-swap every poll and every Lease/3 while a poll runs, released
// by compare-and-delete on stop and when a poll outlives CycleTimeout); the
// others wait and take over within a lease if it dies or stalls. Watermarks
// live in the Store too, so a new holder continues where the last one
// stopped.
type Poller struct {
	conn  *tenant.Connection
	o     PollerOptions
	token []byte

	mu       sync.Mutex
	holding  bool
	projects []int64
	polls    int
}

// NewPoller returns a poller for conn; call Run to start it.
func NewPoller(conn *tenant.Connection, o PollerOptions) (*Poller, error) {
	if conn == nil || o.Store == nil || o.Observer == nil {
		return nil, errors.New("events: NewPoller needs a connection, a Store and an Observer")
	}
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 3 * o.Interval
	}
	if o.CycleTimeout <= 0 {
		o.CycleTimeout = max(2*o.Interval, 2*time.Minute)
	}
	if o.Overlap <= 0 {
		o.Overlap = 2 * time.Second
	}
	if o.ClockSkew <= 0 {
		o.ClockSkew = time.Minute
	}
	if len(o.Kinds) == 0 {
		o.Kinds = AllItemKinds
	}
	if o.ProjectsEvery <= 0 {
		o.ProjectsEvery = 10
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = 4
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	return &Poller{conn: conn, o: o, token: []byte(hex.EncodeToString(tok))}, nil
}

func (p *Poller) lockKey() string { return cache.AuxKey(p.conn.ID, "poller", "lock") }

// Run polls every Interval while it holds the lock, until ctx is done; then it
// releases the lock. It returns nil when ctx ends.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.o.Interval)
	defer t.Stop()
	defer p.release()
	for {
		if _, err := p.PollOnce(ctx); err != nil && ctx.Err() == nil {
			p.o.Logger.Warn("poller: poll failed; retrying next interval", "conn", p.conn.ID, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Holding reports whether this poller holds the connection's lock.
func (p *Poller) Holding() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.holding
}

// ErrCycleTimeout ends a poll that outlived PollerOptions.CycleTimeout.
var ErrCycleTimeout = errors.New("events: the poll outlived its deadline (PollerOptions.CycleTimeout)")

// ErrLockLost ends a poll whose lock another replica holds now (it expired
// while this one could not renew it).
var ErrLockLost = errors.New("events: the poller's lock was lost to another replica")

// PollOnce takes or renews the lock and, when it holds it, runs one poll,
// renewing the lock while it runs. It returns how many item states it
// reported (0 when another replica polls). A poll that outlives CycleTimeout
// ends with ErrCycleTimeout and releases the lock; one whose lock another
// replica took meanwhile ends with ErrLockLost.
func (p *Poller) PollOnce(ctx context.Context) (int, error) {
	held, err := p.acquire(ctx)
	if err != nil || !held {
		return 0, err
	}
	cctx, lost := context.WithCancelCause(ctx)
	defer lost(nil)
	cctx, cancel := context.WithTimeoutCause(cctx, p.o.CycleTimeout, ErrCycleTimeout)
	defer cancel()
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		p.renewWhile(cctx, lost)
	}()
	n, err := p.poll(cctx)
	cancel() // ends the renewals
	<-renewed
	switch cause := context.Cause(cctx); {
	case ctx.Err() != nil:
	case errors.Is(cause, ErrCycleTimeout):
		p.release()
		return n, fmt.Errorf("poll of %s: %w (lock released)", p.conn.ID, ErrCycleTimeout)
	case errors.Is(cause, ErrLockLost):
		return n, fmt.Errorf("poll of %s: %w", p.conn.ID, ErrLockLost)
	}
	return n, err
}

// renewWhile extends the lock every Lease/3 until ctx ends. When the lock
// turns out to be another replica's, it calls lost with ErrLockLost. A
// renewal that fails (the store is down) is retried at the next tick; the
// lock then expires by itself if the store stays away.
func (p *Poller) renewWhile(ctx context.Context, lost context.CancelCauseFunc) {
	t := time.NewTicker(max(p.o.Lease/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := p.o.Store.CompareAndSwap(ctx, p.lockKey(), p.token, p.token, p.o.Lease)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				p.o.Logger.Warn("poller: could not renew the lock; retrying", "conn", p.conn.ID, "err", err)
			}
		case !ok:
			p.mu.Lock()
			p.holding = false
			p.mu.Unlock()
			p.o.Logger.Warn("poller: lost the lock to another replica during a poll; stopping it", "conn", p.conn.ID)
			lost(ErrLockLost)
			return
		}
	}
}

// kinds are the tools this poll lists in each project: Kinds everywhere,
// and each OnDemand kind where it is wanted (one that cannot be checked is
// skipped this time).
func (p *Poller) kinds(ctx context.Context, projects []int64) map[int64][]ItemKind {
	out := make(map[int64][]ItemKind, len(projects))
	for _, pid := range projects {
		out[pid] = slices.Clone(p.o.Kinds)
	}
	wanted := func(k ItemKind, pid int64) bool {
		if p.o.Wanted == nil {
			return true
		}
		ok, err := p.o.Wanted(ctx, p.conn.ID, k, pid)
		if err != nil {
			p.o.Logger.Warn("poller: cannot tell whether a kind is subscribed to; skipping it this poll", "conn", p.conn.ID,
				"kind", k, "project", pid, "err", err)
		}
		return ok
	}
	for _, k := range p.o.OnDemand {
		if slices.Contains(p.o.Kinds, k) {
			continue
		}
		everywhere := wanted(k, 0)
		for _, pid := range projects {
			if everywhere || wanted(k, pid) {
				out[pid] = append(out[pid], k)
			}
		}
	}
	return out
}

// poll lists every project's tools once, under the lock.
func (p *Poller) poll(ctx context.Context) (int, error) {
	projects, err := p.projectIDs(ctx)
	if err != nil {
		return 0, err
	}
	kinds := p.kinds(ctx, projects)
	var mu sync.Mutex
	total := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.o.MaxConcurrency)
	_, hasBin := p.conn.Procore.(adapter.RecycleBin)
	for _, pid := range projects {
		if hasBin && slices.Contains(p.o.Kinds, ItemRFI) {
			g.Go(func() error {
				n, err := p.pollRecycled(gctx, pid, ItemRFI)
				mu.Lock()
				total += n
				mu.Unlock()
				if err != nil && !adapter.IsNotFound(err) && adapter.ErrorCode(err) != adapter.CodeForbidden {
					return fmt.Errorf("project %d %s recycle bin: %w", pid, ItemRFI, err)
				}
				return nil
			})
		}
		for _, kind := range kinds[pid] {
			g.Go(func() error {
				n, err := p.pollTool(gctx, pid, kind)
				mu.Lock()
				total += n
				mu.Unlock()
				if err != nil && !adapter.IsNotFound(err) && adapter.ErrorCode(err) != adapter.CodeForbidden {
					return fmt.Errorf("project %d %s: %w", pid, kind, err)
				}
				return nil
			})
		}
	}
	err = g.Wait()
	return total, err
}

// acquire takes the lock, or extends it when this poller holds it.
func (p *Poller) acquire(ctx context.Context) (bool, error) {
	p.mu.Lock()
	holding := p.holding
	p.mu.Unlock()
	var ok bool
	var err error
	if holding {
		ok, err = p.o.Store.CompareAndSwap(ctx, p.lockKey(), p.token, p.token, p.o.Lease)
		if err == nil && !ok {
			p.o.Logger.Info("poller: lost the lock to another replica", "conn", p.conn.ID)
		}
	}
	if !ok && err == nil {
		ok, err = p.o.Store.SetNX(ctx, p.lockKey(), p.token, p.o.Lease)
	}
	p.mu.Lock()
	p.holding = ok && err == nil
	p.mu.Unlock()
	return ok, err
}

func (p *Poller) release() {
	p.mu.Lock()
	holding := p.holding
	p.holding = false
	p.mu.Unlock()
	if !holding {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.o.Store.CompareAndDelete(ctx, p.lockKey(), p.token); err != nil {
		p.o.Logger.Warn("poller: could not release the lock; it expires with its lease", "err", err)
	}
}

func (p *Poller) projectIDs(ctx context.Context) ([]int64, error) {
	if len(p.o.ProjectIDs) > 0 {
		return p.o.ProjectIDs, nil
	}
	p.mu.Lock()
	cached, polls := p.projects, p.polls
	p.polls++
	p.mu.Unlock()
	if cached != nil && polls%p.o.ProjectsEvery != 0 {
		return cached, nil
	}
	ids, err := companyProjectIDs(ctx, p.conn)
	if err != nil {
		return cached, err
	}
	p.mu.Lock()
	p.projects = ids
	p.mu.Unlock()
	return ids, nil
}

func companyProjectIDs(ctx context.Context, conn *tenant.Connection) ([]int64, error) {
	page, err := conn.Procore.Projects(ctx, conn.CompanyID, adapter.ProjectFilter{}, adapter.ListOptions{})
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(page.Items))
	for i, pr := range page.Items {
		ids[i] = pr.ID
	}
	return ids, nil
}

// markTTL lets watermarks of projects no longer polled expire.
const markTTL = 30 * 24 * time.Hour

func (p *Poller) markKey(projectID int64, kind ItemKind) string {
	return cache.AuxKey(p.conn.ID, "poller", "mark", strconv.FormatInt(projectID, 10), string(kind))
}

// readMark reads the watermark stored at key. found is false when none is
// stored or it does not parse; otherwise opt asks for items updated since
// the watermark less the overlap.
func (p *Poller) readMark(ctx context.Context, key string) (mark time.Time, found bool, opt adapter.ListOptions, err error) {
	it, found, err := p.o.Store.Get(ctx, key)
	if err != nil || !found {
		return mark, false, opt, err
	}
	if mark, err = time.Parse(time.RFC3339Nano, string(it.Value)); err != nil {
		return time.Time{}, false, opt, nil
	}
	since := mark.Add(-p.o.Overlap)
	opt.UpdatedSince = &since
	return mark, true, opt, nil
}

// writeMark stores next as the watermark at key when it moved from mark or
// none was stored before.
func (p *Poller) writeMark(ctx context.Context, key string, mark, next time.Time, found bool) error {
	if next.Equal(mark) && found {
		return nil
	}
	return p.o.Store.Set(ctx, key, []byte(next.UTC().Format(time.RFC3339Nano)), markTTL)
}

// invalidateProject drops what the cache holds for projectID; a failure is
// logged, not returned.
func (p *Poller) invalidateProject(ctx context.Context, projectID int64) {
	if err := p.o.Cache.Invalidate(ctx, p.conn.ID, "project:"+strconv.FormatInt(projectID, 10)); err != nil {
		p.o.Logger.Warn("poller: cache invalidation failed", "err", err)
	}
}

// pollTool lists one project's items of one kind changed since its
// watermark, reports them and moves the watermark to the newest updated_at.
func (p *Poller) pollTool(ctx context.Context, projectID int64, kind ItemKind) (int, error) {
	key := p.markKey(projectID, kind)
	mark, found, opt, err := p.readMark(ctx, key)
	if err != nil {
		return 0, err
	}
	listedAt := p.o.Now()
	snaps, err := listSnapshots(ctx, p.conn.Procore, p.conn.ID, projectID, kind, opt)
	if err != nil {
		return 0, err
	}
	next := mark
	if !found && len(snaps) == 0 {
		next = listedAt.Add(-p.o.ClockSkew) // nothing yet: start from about now
	}
	invalidated := false
	for _, s := range snaps {
		if s.UpdatedAt.After(next) {
			next = s.UpdatedAt
		}
		if found && p.o.Cache != nil && !invalidated && s.UpdatedAt.After(mark) {
			// Something changed since the last poll: what the cache holds
			// for this project may be stale.
			invalidated = true
			p.invalidateProject(ctx, projectID)
		}
		if _, err := p.o.Observer.Observe(ctx, s, SourcePoller); err != nil {
			return 0, err // the watermark stays: the next poll reports it again
		}
	}
	return len(snaps), p.writeMark(ctx, key, mark, next, found)
}

// pollRecycled lists a project's recycle bin of one kind for items recycled
// since its watermark and reports each as deleted (the differ publishes one
// DELETED per item, however many sources report it). A project's first pass
// only sets the watermark: what was deleted before the gateway watched is
// not news.
func (p *Poller) pollRecycled(ctx context.Context, projectID int64, kind ItemKind) (int, error) {
	bin, ok := p.conn.Procore.(adapter.RecycleBin)
	if !ok || kind != ItemRFI {
		return 0, nil
	}
	key := p.markKey(projectID, kind+":recycle_bin")
	mark, found, opt, err := p.readMark(ctx, key)
	if err != nil {
		return 0, err
	}
	listedAt := p.o.Now()
	page, err := bin.RecycledRFIs(ctx, projectID, opt)
	if err != nil {
		return 0, err
	}
	next := mark
	if !found {
		next = listedAt.Add(-p.o.ClockSkew)
	}
	invalidated := false
	for _, r := range page.Items {
		s := RFISnapshot(p.conn.ID, r)
		s.ProjectID, s.Deleted = projectID, true
		if s.UpdatedAt.After(next) {
			next = s.UpdatedAt
		}
		if !found {
			continue // the first pass is a baseline
		}
		if p.o.Cache != nil && !invalidated && s.UpdatedAt.After(mark) {
			// Only news clears the cache: an item still inside the overlap
			// window was seen by an earlier poll.
			invalidated = true
			p.invalidateProject(ctx, projectID)
		}
		if _, err := p.o.Observer.Observe(ctx, s, SourcePoller); err != nil {
			return 0, err // the watermark stays: the next poll reports it again
		}
	}
	return len(page.Items), p.writeMark(ctx, key, mark, next, found)
}

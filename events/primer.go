package events

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"procoregraph/adapter"
	"procoregraph/cache"
	"procoregraph/safe"
	"procoregraph/tenant"
)

// PrimerOptions configure NewPrimer. Zero values mean the defaults.
type PrimerOptions struct {
	// Store remembers which (project, kind) pairs were primed, shared by
	// replicas. Required.
	Store cache.Store
	// Observer receives the items' states. Required.
	Observer Observer
	// TTL is how long a priming counts; after it the next subscription
	// primes again (which also reports any change that no source saw).
	// Default 6 h.
	TTL time.Duration
	// MaxConcurrency bounds concurrent list calls. Default 4.
	MaxConcurrency int
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Primer records the current state of a project's items as the differ's
// baseline before a subscription starts. The differ's first sight of an item
// is silent (it cannot know the previous ball in court), so without a
// baseline the first change a webhook reports after a subscription opens
// would go unannounced. Priming lists the project's items of the asked kinds
// once per TTL per connection (replicas share the marker
// cache.AuxKey(conn, "primed", project, kind)) and reports them to the
// Observer with SourcePoller; items the differ already knows are diffed as
// usual.
type Primer struct {
	o  PrimerOptions
	sf singleflight.Group
}

// NewPrimer returns a Primer.
func NewPrimer(o PrimerOptions) (*Primer, error) {
	if o.Store == nil || o.Observer == nil {
		return nil, errors.New("events: NewPrimer needs a Store and an Observer")
	}
	if o.TTL <= 0 {
		o.TTL = 6 * time.Hour
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = 4
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Primer{o: o}, nil
}

// Prime makes sure the differ has a baseline for conn's items of kinds
// (empty: all) in projectID (0: every active project of the company). It
// returns when the baseline is recorded; concurrent calls for the same pair
// share one listing.
func (p *Primer) Prime(ctx context.Context, conn *tenant.Connection, projectID int64, kinds []ItemKind) error {
	if len(kinds) == 0 {
		kinds = AllItemKinds
	}
	projects := []int64{projectID}
	if projectID == 0 {
		ids, err := companyProjectIDs(ctx, conn)
		if err != nil {
			return err
		}
		projects = ids
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.o.MaxConcurrency)
	for _, pid := range projects {
		for _, kind := range slices.Compact(slices.Sorted(slices.Values(kinds))) {
			g.Go(safe.Func(func() error { return p.primeOne(gctx, conn, pid, kind) }))
		}
	}
	return g.Wait()
}

func (p *Primer) primeOne(ctx context.Context, conn *tenant.Connection, projectID int64, kind ItemKind) error {
	key := cache.AuxKey(conn.ID, "primed", strconv.FormatInt(projectID, 10), string(kind))
	if _, ok, err := p.o.Store.Get(ctx, key); err == nil && ok {
		return nil
	}
	ch := p.sf.DoChan(key, func() (any, error) {
		ctx := context.WithoutCancel(ctx) // shared by every waiter
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		snaps, err := listSnapshots(ctx, conn.Procore, conn.ID, projectID, kind, adapter.ListOptions{})
		if adapter.IsNotFound(err) || adapter.ErrorCode(err) == adapter.CodeForbidden {
			return nil, nil // nothing this credential can watch there
		}
		if err != nil {
			return nil, err
		}
		for _, s := range snaps {
			if _, err := p.o.Observer.Observe(ctx, s, SourcePoller); err != nil {
				return nil, err
			}
		}
		return nil, p.o.Store.Set(ctx, key, []byte("1"), p.o.TTL)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			p.o.Logger.Warn("primer: could not record a baseline", "conn", conn.ID, "project", projectID, "kind", kind, "err", r.Err)
		}
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

package events

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"procoregraph/cache"
	"procoregraph/tenant"
)

// DemandOptions configure NewDemand. Zero values mean the defaults.
type DemandOptions struct {
	// Store holds the markers, shared by replicas. Required.
	Store cache.Store
	// Kinds are the item kinds whose demand is tracked; Hold ignores the
	// others. Default ChangeMgmtItemKinds.
	Kinds []ItemKind
	// TTL is how long a marker outlives its last renewal: a replica that
	// dies with subscriptions open stops counting after at most TTL, and the
	// poller keeps following a kind for up to TTL after its last subscriber
	// left. Markers are renewed every TTL/3. Default 3 minutes.
	TTL time.Duration
	// Logger receives renewal failures. Default slog.Default().
	Logger *slog.Logger
}

// Demand records, per connection and project, which item kinds someone
// subscribes to, so that the poller follows costly kinds only while, and
// only in the projects where, they are watched. Each held (kind, project) is
// a marker cache.AuxKey(conn, "demand", kind, project) in the Store (shared
// by replicas; project 0 stands for every project), written when a
// subscription holds it and renewed by one goroutine every TTL/3 while any
// subscription of this process does. A released marker is not deleted
// (another replica may hold it): it expires.
type Demand struct {
	o    DemandOptions
	mu   sync.Mutex
	held map[demandKey]int
	stop chan struct{}
	done chan struct{}
}

type demandKey struct {
	conn    string
	kind    ItemKind
	project int64
}

// NewDemand returns a Demand with its renewal goroutine started; Close stops it.
func NewDemand(o DemandOptions) (*Demand, error) {
	if o.Store == nil {
		return nil, errors.New("events: NewDemand needs a Store")
	}
	if len(o.Kinds) == 0 {
		o.Kinds = ChangeMgmtItemKinds
	}
	if o.TTL <= 0 {
		o.TTL = 3 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	d := &Demand{o: o, held: map[demandKey]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go d.renew()
	return d, nil
}

func demandMarker(conn string, kind ItemKind, project int64) string {
	return cache.AuxKey(conn, "demand", string(kind), strconv.FormatInt(project, 10))
}

// Hold marks conn's tracked kinds among kinds (empty: all tracked kinds) as
// wanted in projectID (0: every project) until release is called. The markers are written before Hold
// returns (a failure is logged; the next renewal retries), so a poll that
// starts afterwards follows them.
func (d *Demand) Hold(ctx context.Context, conn *tenant.Connection, projectID int64, kinds []ItemKind) (release func()) {
	if len(kinds) == 0 {
		kinds = d.o.Kinds
	}
	var keys []demandKey
	for _, k := range slices.Compact(slices.Sorted(slices.Values(kinds))) {
		if slices.Contains(d.o.Kinds, k) {
			keys = append(keys, demandKey{conn.ID, k, projectID})
		}
	}
	if len(keys) == 0 {
		return func() {}
	}
	d.mu.Lock()
	for _, k := range keys {
		d.held[k]++
	}
	d.mu.Unlock()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	d.write(wctx, keys)
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			for _, k := range keys {
				if d.held[k]--; d.held[k] <= 0 {
					delete(d.held, k)
				}
			}
		})
	}
}

// Wanted reports whether a subscription on any replica holds kind for conn
// in projectID (0: in every project, a subscription without a project).
func (d *Demand) Wanted(ctx context.Context, conn string, kind ItemKind, projectID int64) (bool, error) {
	_, ok, err := d.o.Store.Get(ctx, demandMarker(conn, kind, projectID))
	return ok, err
}

// Close stops the renewals (markers then expire within TTL).
func (d *Demand) Close() {
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
	<-d.done
}

func (d *Demand) write(ctx context.Context, keys []demandKey) {
	for _, k := range keys {
		if err := d.o.Store.Set(ctx, demandMarker(k.conn, k.kind, k.project), []byte("1"), d.o.TTL); err != nil {
			d.o.Logger.Warn("demand: could not record a subscription's kind for the poller; retrying at the next renewal",
				"conn", k.conn, "kind", k.kind, "err", err)
			return
		}
	}
}

func (d *Demand) renew() {
	defer close(d.done)
	t := time.NewTicker(max(d.o.TTL/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		d.mu.Lock()
		keys := make([]demandKey, 0, len(d.held))
		for k := range d.held {
			keys = append(keys, k)
		}
		d.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		d.write(ctx, keys)
		cancel()
	}
}

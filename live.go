package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"procoregraph/adapter"
	"procoregraph/adapter/rest"
	"procoregraph/cache"
	"procoregraph/events"
	"procoregraph/tenant"
)

// liveParts are the live-update pieces of one gateway process: the event bus
// (Redis Streams when REDIS_URL is set, else in memory), the differ every
// source feeds, the webhook receiver, the subscription primer and the poller.
type liveParts struct {
	// Bus carries events between replicas.
	Bus events.Bus
	// Observer is the differ: mutations, webhooks and the poller report to it.
	Observer events.Observer
	// Live goes to gateway.Deps.Live (subscriptions).
	Live *events.Live
	// Webhooks goes to gateway.Deps.Webhooks; nil without WEBHOOK_AUTHORIZATION.
	Webhooks http.Handler
	// WebhookQueue holds accepted webhook deliveries until they are processed
	// (Redis Streams with REDIS_URL, else in memory); nil without
	// WEBHOOK_AUTHORIZATION. Its Depth and Stats are for metrics.
	WebhookQueue events.WebhookQueue

	cfg    config
	logger *slog.Logger
	conn   *tenant.Connection
	// conns are every served company's service connection, conn first
	// (PROCORE_COMPANY_IDS): webhooks are routed, registered and polled per
	// company.
	conns  []*tenant.Connection
	store  cache.Store
	cache  *cache.Cache
	demand *events.Demand
	wg     sync.WaitGroup
	closer []func()
}

// controlStoreTimeout bounds one Redis operation on correctness state.
const controlStoreTimeout = 2 * time.Second

// newLive builds the bus, the differ, the primer and the webhook receiver
// for conn and the other companies' service connections others, and the correctness-state store (newStateStore) they, the
// mutations' idempotency records and the sessions share. It is never the
// evicting cache c: an evicted differ entry would count as first sight and
// its event would never be published.
func newLive(cfg config, logger *slog.Logger, reg prometheus.Registerer, c *cache.Cache, conn *tenant.Connection, others ...*tenant.Connection) (*liveParts, error) {
	l := &liveParts{cfg: cfg, logger: logger, conn: conn, conns: append([]*tenant.Connection{conn}, others...), cache: c}
	s, closeStore, err := newStateStore(cfg, reg)
	if err != nil {
		return nil, err
	}
	l.store = s
	l.closer = append(l.closer, closeStore)

	// The event streams and the webhook queue are durable state too: they
	// live on the state's Redis.
	var rdb redis.UniversalClient
	if u := stateRedisURL(cfg); u != "" {
		rdb, err = cache.ParseRedisURL(u)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("STATE_REDIS_URL or REDIS_URL: %w", err)
		}
		l.closer = append(l.closer, func() { _ = rdb.Close() })
		bus, err := events.NewRedisBus(events.RedisBusOptions{Client: rdb, Prefix: cfg.CachePrefix,
			Retention: cfg.EventRetention, Logger: logger})
		if err != nil {
			l.close()
			return nil, err
		}
		l.Bus = bus
	} else {
		l.Bus = events.NewMemoryBus(events.MemoryOptions{Retention: cfg.EventRetention})
	}
	// Closed first (closers run last to first): ends every subscription.
	l.closer = append(l.closer, func() { _ = l.Bus.Close() })
	l.Observer = events.NewDiffer(l.store, l.Bus, events.DifferOptions{Logger: logger})

	primer, err := events.NewPrimer(events.PrimerOptions{Store: l.store, Observer: l.Observer, Logger: logger})
	if err != nil {
		l.close()
		return nil, err
	}
	// Subscriptions to change management and owner invoices tell the
	// poller to follow those kinds (they cost whole lists per project).
	demand, err := events.NewDemand(events.DemandOptions{Store: l.store, Logger: logger})
	if err != nil {
		l.close()
		return nil, err
	}
	l.demand = demand
	l.closer = append(l.closer, demand.Close)
	active := new(atomic.Int64)
	l.Live = &events.Live{Bus: l.Bus, Prime: primer.Prime, Hold: demand.Hold, Active: active, Delivered: eventLag(reg)}
	if reg != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "procoregraph_subscriptions_active",
			Help: "Open GraphQL subscriptions on this replica.",
		}, func() float64 { return float64(active.Load()) }))
	}

	if cfg.WebhookAuthorization != "" {
		var inv events.Invalidator
		if c != nil {
			inv = c
		}
		// The receiver answers Procore at once and processes from this queue:
		// with Redis, one stream and consumer group shared by the replicas
		// (durable, recovered when a replica dies); else a bounded in-memory
		// queue (503 when full, so Procore retries).
		var q events.WebhookQueue
		if rdb != nil {
			rq, err := events.NewRedisQueue(events.RedisQueueOptions{Client: rdb, Prefix: cfg.CachePrefix,
				QueueOptions: events.QueueOptions{Logger: logger}})
			if err != nil {
				l.close()
				return nil, err
			}
			q = rq
		}
		wh, err := events.NewWebhookHandler(events.WebhookOptions{
			Authorization: cfg.WebhookAuthorization,
			// A delivery goes to the connection of the company it names.
			Connection: func(_ context.Context, companyID int64) (*tenant.Connection, bool) {
				for _, c := range l.conns {
					if c.CompanyID == companyID {
						return c, true
					}
				}
				return nil, false
			},
			Observer: l.Observer, Store: l.store, Queue: q, Cache: inv, Logger: logger,
		})
		if err != nil {
			if q != nil {
				_ = q.Close()
			}
			l.close()
			return nil, err
		}
		// Closed before the bus and Redis (closers run last to first): its
		// workers publish through them.
		l.closer = append(l.closer, func() { _ = wh.Close() })
		l.Webhooks = wh
		l.WebhookQueue = wh.Queue()
		if reg != nil {
			reg.MustRegister(events.NewQueueCollector(l.WebhookQueue))
		}
	}
	return l, nil
}

// start runs what needs the listening address: webhook registration (when
// asked) and the poller (when -poll-interval is set), for every served
// company. It returns once registration is done; the pollers run until ctx
// ends.
func (l *liveParts) start(ctx context.Context, addr net.Addr) error {
	for _, conn := range l.conns {
		if err := l.startCompany(ctx, addr, conn); err != nil {
			return fmt.Errorf("company %d: %w", conn.CompanyID, err)
		}
	}
	return nil
}

// startCompany registers conn's company's webhooks (when asked) and starts
// its poller (when -poll-interval is set).
func (l *liveParts) startCompany(ctx context.Context, addr net.Addr, conn *tenant.Connection) error {
	if l.cfg.RegisterWebhooks {
		api, ok := conn.Procore.(adapter.Webhooks)
		if !ok {
			return fmt.Errorf("-register-webhooks: this connection's Procore client cannot manage webhooks")
		}
		base := l.cfg.PublicURL
		if base == "" {
			base = "http://" + addr.String()
		}
		dest := strings.TrimSuffix(base, "/") + "/webhooks/procore"
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		reg, err := events.Register(rctx, api, conn.CompanyID, events.RegisterOptions{
			Namespace: l.cfg.WebhookNamespace, DestinationURL: dest, Authorization: l.cfg.WebhookAuthorization,
			Catalog: l.webhookCatalog(conn),
		})
		cancel()
		if err != nil {
			return fmt.Errorf("register Procore webhooks: %w", err)
		}
		l.logger.Info("Procore webhooks registered", "company", conn.CompanyID, "hook", reg.Hook.ID, "destination", dest,
			"new_hook", reg.CreatedHook, "new_triggers", len(reg.CreatedTriggers),
			"removed_triggers", len(reg.DeletedTriggers), "resources", reg.Resources)
		for _, it := range reg.Missing {
			l.logger.Warn("Procore's webhook catalog lists none of this item's resources: its changes arrive only through mutations and the poller",
				"item", it.Kind, "resources", it.Names)
		}
	}
	if l.cfg.PollInterval > 0 {
		pctx, cancel := context.WithCancel(ctx)
		l.closer = append(l.closer, func() { cancel(); l.wg.Wait() })
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.poll(pctx, conn)
		}()
	}
	return nil
}

// webhookCatalog reads Procore's webhook resources catalog through conn's
// REST client (events.RegisterOptions.Catalog).
func (l *liveParts) webhookCatalog(conn *tenant.Connection) func(ctx context.Context, companyID int64) ([]events.CatalogResource, error) {
	return func(ctx context.Context, companyID int64) ([]events.CatalogResource, error) {
		return catalogOf(ctx, conn, companyID)
	}
}

func catalogOf(ctx context.Context, conn *tenant.Connection, companyID int64) ([]events.CatalogResource, error) {
	c, ok := conn.Procore.(interface {
		WebhookResources(ctx context.Context, companyID int64) ([]rest.WebhookResource, error)
	})
	if !ok {
		return nil, fmt.Errorf("this connection's Procore client cannot read the webhook resources catalog")
	}
	rs, err := c.WebhookResources(ctx, companyID)
	if err != nil {
		return nil, err
	}
	out := make([]events.CatalogResource, len(rs))
	for i, r := range rs {
		out[i] = events.CatalogResource{Name: r.Name, Except: r.Except}
	}
	return out, nil
}

// poll runs the poller of conn (when -poll-interval is set) until ctx ends.
// The configured OAuth connection is polled from start; browser-session
// connections from when this process first serves them
// (sessions.Options.Watch) until their sessions end. Among replicas, one
// polls each connection (the poller's lock).
func (l *liveParts) poll(ctx context.Context, conn *tenant.Connection) {
	if l.cfg.PollInterval <= 0 {
		return
	}
	var inv events.Invalidator
	if l.cache != nil {
		inv = l.cache
	}
	p, err := events.NewPoller(conn, events.PollerOptions{Store: l.store, Observer: l.Observer, Cache: inv,
		Interval: l.cfg.PollInterval, Logger: l.logger,
		OnDemand: events.ChangeMgmtItemKinds, Wanted: l.demand.Wanted})
	if err != nil {
		l.logger.Warn("poller not started", "conn", conn.ID, "err", err)
		return
	}
	_ = p.Run(ctx)
}

// close stops the poller, ends every subscription and releases the bus's and
// the store's connections, in that order.
func (l *liveParts) close() {
	for i := len(l.closer) - 1; i >= 0; i-- {
		l.closer[i]()
	}
	l.closer = nil
}

// randomSecret returns a random webhook Authorization value for the
// embedded sandbox, which the gateway registers itself.
func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "Bearer " + hex.EncodeToString(b)
}

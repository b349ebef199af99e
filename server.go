package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/vektah/gqlparser/v2/formatter"

	"procoregraph/adapter/rest"
	"procoregraph/admission"
	"procoregraph/authn"
	"procoregraph/bulk"
	"procoregraph/cache"
	"procoregraph/gateway"
	"procoregraph/graph"
	"procoregraph/httpguard"
	"procoregraph/jwtauth"
	"procoregraph/limits"
	"procoregraph/loaders"
	"procoregraph/mutate"
	"procoregraph/oauthstore"
	"procoregraph/persisted"
	"procoregraph/ratelimit"
	"procoregraph/reqstats"
	"procoregraph/respcache"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
	"procoregraph/sealbox"
	"procoregraph/state"
	"procoregraph/streamlimit"
	"procoregraph/tenant"
)

// run is the whole program: it reads configuration, wires every part by
// constructor injection, serves HTTP until ctx is done and shuts down
// gracefully. Tests call it with their own args, getenv and writers.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "sandbox" {
		return sandbox.Main(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "apikey" {
		return mintAPIKey(args[1:], stdout, stderr)
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	tel, err := newObservability(cfg, getenv, stderr) // LOG_FORMAT, OTEL_* (telemetry_settings.go)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	defer tel.shutdown()
	logger := tel.logger
	// ctx ends when the process is told to stop; serving ends when run
	// returns, after the drain, so what in-flight requests need (the
	// embedded sandbox, the JWT key set) outlives the signal.
	serving, endServing := context.WithCancel(context.WithoutCancel(ctx))
	defer endServing()
	applyMemorySettings(getenv, cfg, containerMemoryLimit, logger)

	embedded := cfg.APIURL == ""
	if embedded {
		sb, err := sandbox.Start(serving, sandbox.Config{
			ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret,
			Faults: sandbox.Faults{Latency: sandbox.Duration(cfg.SandboxLatency)},
		}, "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("start embedded sandbox: %w", err)
		}
		defer sb.Close()
		cfg.APIURL, cfg.LoginURL = sb.URL, sb.URL
		cfg.ClientID, cfg.ClientSecret = sandbox.DefaultClientID, sandbox.DefaultClientSecret
		if cfg.CompanyID == 0 {
			sb.ReadDataset(func(d *data.Dataset) { cfg.CompanyID = d.Companies[0].ID })
		}
		if cfg.PortalCodeProvider == "" {
			cfg.PortalCodeProvider = "outbox" // the sandbox's SMS/email outbox
		}
		fmt.Fprintf(stdout, "embedded Procore sandbox at %s (client id %s)\n", sb.URL, sandbox.DefaultClientID)
		// The demo gets live updates: the gateway registers its own webhooks.
		cfg.RegisterWebhooks = true
		if cfg.WebhookAuthorization == "" {
			cfg.WebhookAuthorization = randomSecret()
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	upstreamMetrics := reqstats.NewUpstreamMetrics(reg)
	// One drift detector for every Procore client in the process (service,
	// Sign in with Procore, browser sessions): counted in
	// procoregraph_procore_drift_total, listed on the debug listener.
	drift := rest.NewDrift(rest.DriftOptions{Logger: logger})
	reg.MustRegister(drift)
	key, err := sessionKey(cfg, embedded, logger)
	if err != nil {
		return err
	}
	tokens, closeTokens, err := newTokenStore(cfg, key)
	if err != nil {
		return err
	}
	defer closeTokens()
	budgets, closeBudgets, err := newBudgets(cfg)
	if err != nil {
		return err
	}
	defer closeBudgets()
	procore, err := rest.New(rest.Config{
		SharedBudget:   budgets("service-" + shortHash(cfg.APIURL+"|"+cfg.ClientID+"|"+cfg.RefreshToken)),
		APIURL:         cfg.APIURL,
		LoginURL:       cfg.LoginURL,
		ClientID:       cfg.ClientID,
		ClientSecret:   cfg.ClientSecret,
		RefreshToken:   cfg.RefreshToken,
		CompanyID:      cfg.CompanyID,
		MaxConcurrency: cfg.MaxConcurrency,
		HTTPClient:     &http.Client{Transport: reqstats.Transport{Next: rest.NewBaseTransport(cfg.MaxConcurrency)}},
		OnUpstreamCall: upstreamMetrics.Observe,
		OnRateLimit:    upstreamMetrics.ObserveRateLimit,
		Logger:         logger,
		TokenStore:     tokens,
		Drift:          drift,
	})
	if err != nil {
		return fmt.Errorf("procore client: %w", err)
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	companyID, err := procore.CompanyID(startCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("cannot reach Procore at %s with the configured credentials: %w", cfg.APIURL, err)
	}
	// Hold an access token before the first query needs one.
	warmCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := procore.Warm(warmCtx); err != nil {
		logger.Warn("could not obtain a Procore access token at start; the first query will try again", "err", err)
	}
	cancel()

	var c *cache.Cache
	if !cfg.NoCache {
		store, closeStore, err := newStore(cfg, 0)
		if err != nil {
			return err
		}
		defer closeStore()
		c, err = cache.New(store, cache.Options{
			DefaultTTL: cfg.CacheTTL,
			TTL:        cfg.CacheTTLs,
			Registerer: reg,
			Logger:     logger,
			OnResult: func(ctx context.Context, _ string, hits, misses int) {
				reqstats.From(ctx).AddCache(hits, misses)
			},
		})
		if err != nil {
			return fmt.Errorf("cache: %w", err)
		}
		defer c.Close()
	}

	var answers *respcache.Cache
	if c != nil && !cfg.NoResponseCache {
		ro := respcache.Options{Version: buildVersion(), Registerer: reg, Logger: logger}
		if cfg.RedisURL != "" {
			ro.LocalBytes = cfg.ResponseCacheBytes // hits then read only the answer's tokens from Redis
		} else { // answers get a store (and a byte bound) of their own
			m, err := cache.NewMemory(cache.MemoryOptions{MaxBytes: cfg.ResponseCacheBytes})
			if err != nil {
				return fmt.Errorf("response cache: %w", err)
			}
			defer m.Close()
			ro.Store = m
		}
		if answers, err = respcache.New(c, ro); err != nil {
			return err
		}
	}

	var decoded *loaders.DecodeCache
	if c != nil {
		if decoded, err = loaders.NewDecodeCache(cfg.DecodeCacheBytes); err != nil {
			return err
		}
	}
	conn := &tenant.Connection{
		ID:        connectionID(cfg.APIURL, cfg.ClientID, companyID),
		CompanyID: companyID,
		UserKey:   "client-" + shortHash(cfg.ClientID),
		Procore:   procore,
	}
	startCtx, cancel = context.WithTimeout(ctx, 30*time.Second)
	companies, err := newServiceCompanies(startCtx, cfg, procore, conn)
	cancel()
	if err != nil {
		return err
	}
	lv, err := newLive(cfg, logger, reg, c, conn, companies.others()...)
	if err != nil {
		return fmt.Errorf("live updates: %w", err)
	}
	defer lv.close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	served := false
	defer func() {
		if !served {
			_ = ln.Close()
		}
	}()
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	revocations, closeRevocations, err := newRevocations(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeRevocations()
	var watch func(context.Context, *tenant.Connection)
	if cfg.PollInterval > 0 {
		watch = lv.poll // browser-session connections are polled too
	}
	auditLog, closeAudit := newAudit(cfg, stderr, logger)
	defer closeAudit()
	sess, sessionCodes, closeSessions, err := newSessions(cfg, key, logger, upstreamMetrics.Observe, drift, lv.store, watch, revocations, auditLog)
	if err != nil {
		return err
	}
	defer closeSessions()
	hosts := cfg.AllowedHosts
	if len(hosts) == 0 {
		hosts = httpguard.DefaultHosts(cfg.Addr, publicURL)
	}
	guard, err := httpguard.New(httpguard.Options{AllowedHosts: hosts, CORSOrigins: cfg.CORSOrigins})
	if err != nil {
		return err
	}
	signIn, err := newSignIn(cfg, key, publicURL, conn, lv.store, logger, upstreamMetrics.Observe, drift, auditLog, revocations, guard, budgets)
	if err != nil {
		return err
	}
	anonymous := cfg.Anonymous == "service" || cfg.Anonymous == "" && embedded
	ao := authn.Options{Service: conn, Anonymous: anonymous, Keys: cfg.APIKeys, BrowserSessions: sess, SignIn: signIn,
		Companies: companies.ByCompany, CompanyIDs: companies.IDs()}
	if cfg.JWT.JWKSURL != "" {
		jo := cfg.JWT
		jo.Logger = logger
		v, err := jwtauth.New(serving, jo)
		if err != nil {
			return err
		}
		ao.JWT = v
	}
	auth, err := authn.New(ao)
	if err != nil {
		return err
	}
	stopping, stopStreams := context.WithCancel(context.Background())
	defer stopStreams()
	draining, startDraining := context.WithCancel(context.Background())
	defer startDraining()
	rates, closeRates := newRateLimits(cfg, logger)
	defer closeRates()
	manifest, apq, closeAPQ, err := newPersisted(cfg, logger)
	if err != nil {
		return err
	}
	defer closeAPQ()
	analyzer := limits.NewAnalyzer(cfg.Limits, limits.Rules())
	loaderOpts := loaders.Options{Cache: c, Naive: cfg.Naive, MaxConcurrency: cfg.MaxConcurrency, Decoded: decoded, RemoteCache: cfg.RedisURL != ""}
	exports, err := newBulk(cfg, key, publicURL, analyzer, manifest, rates, loaderOpts, logger)
	if err != nil {
		return err
	}
	defer exports.Close() // after the drain: cancels running exports, deletes the files
	ready, closeReady, err := readiness(cfg, procore)
	if err != nil {
		return err
	}
	defer closeReady()
	handler := gateway.NewServer(gateway.Deps{
		TracerProvider:    tel.tracing.Provider,
		Propagator:        tel.tracing.Propagator,
		Metrics:           reg,
		Ready:             ready,
		Bulk:              exports,
		RateLimits:        rates,
		Persisted:         manifest,
		OnlyPersisted:     cfg.OnlyPersisted,
		APQ:               apq,
		NoIntrospection:   cfg.NoIntrospection,
		NoGraphiQL:        cfg.NoGraphiQL,
		RouterSecret:      cfg.RouterSecret,
		Guard:             guard,
		Live:              lv.Live,
		Webhooks:          lv.Webhooks,
		Stopping:          stopping,
		Draining:          draining,
		Auth:              auth,
		Audit:             auditLog,
		Limits:            analyzer,
		MaxBody:           cfg.MaxBodyBytes,
		MaxTokens:         cfg.MaxTokens,
		MaxNodes:          cfg.MaxAnswerFields,
		ExecuteEveryField: cfg.ExecuteEveryField,
		MaxAnswerBytes:    cfg.MaxAnswerBytes,
		Admission:         admission.New(cfg.MaxExecutingCost),
		Subscriptions: streamlimit.New(streamlimit.Options{Total: cfg.MaxSubscriptions,
			PerPrincipal: cfg.MaxSubscriptionsPerPrincipal}),
		// A useful websocket carries at least one subscription, so the same
		// bounds also bound the sockets.
		Websockets: streamlimit.New(streamlimit.Options{Total: cfg.MaxSubscriptions,
			PerPrincipal: cfg.MaxSubscriptionsPerPrincipal, Noun: "websockets"}),
		OperationTimeout: cfg.OperationTimeout,
		SignIn:           signIn,
		Streams:          revocations.registry,
		Sessions:         sess,
		SessionCodes:     sessionCodes,
		Loaders:          loaderOpts,
		ResponseCache:    answers,
		Logger:           logger,
		Gatherer:         reg,
		// Idempotency records share the differ's state store (never the
		// evicting cache): Redis when configured, so duplicates on any
		// replica find them.
		Mutations: mutate.New(mutate.Options{Store: lv.store, Cache: c, Observer: lv.Observer, Logger: logger}),
	})

	if cfg.DebugAddr != "" {
		stopDebug, err := serveDebug(cfg.DebugAddr, logger, drift, func(ctx context.Context, scope string) error {
			for _, sc := range companies.All { // every served company's service connection
				if err := c.Invalidate(ctx, sc.ID, scope); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		defer stopDebug()
	}
	// Streams (websockets, SSE) lift the read and write deadlines for
	// themselves (gateway.withRequestState); uploads get the read timeout.
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute,
		WriteTimeout: cfg.OperationTimeout + 30*time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 1 << 20}
	srv.RegisterOnShutdown(stopStreams) // end subscriptions instead of waiting for them
	if err := lv.start(ctx, ln.Addr()); err != nil {
		_ = ln.Close()
		return err
	}
	switch {
	case anonymous && embedded:
		fmt.Fprintf(stdout, "anonymous requests act as the embedded sandbox's service account (a demo: no credential needed); with a real Procore they get 401\n")
	case anonymous:
		fmt.Fprintf(stdout, "WARNING: ANONYMOUS=service: anyone who reaches this gateway acts as the Procore service account; serve it on a private network only\n")
	default:
		fmt.Fprintf(stdout, "every request needs a credential: %d API key(s) configured (mint one with `procoregraph apikey`)\n", cfg.APIKeys.Len())
	}
	if len(companies.All) > 1 {
		fmt.Fprintf(stdout, "serving the Procore companies %s (the Procore-Company-Id request header picks one; default %d)\n", joinIDs(companies.IDs()), companyID)
	}
	fmt.Fprintf(stdout, "procoregraph listening on http://%s (GraphiQL at /, GraphQL at /graphql, company %d)\n", ln.Addr(), companyID)

	fmt.Fprintf(stdout, "Sign in with Procore at %s/auth/login (register %s as a redirect URI of the Procore app)\n", strings.TrimSuffix(publicURL, "/"), signIn.RedirectURL())
	fmt.Fprintf(stdout, "serving the hosts %s (ALLOWED_HOSTS; others get 421)\n", strings.Join(hosts, ", "))

	served = true
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return drain(srv, errc, startDraining, lv.Live.Active, drainOptions{Delay: cfg.ShutdownDelay, Grace: cfg.ShutdownGrace}, logger)
}

// newBulk returns the bulk export service (package bulk): page queries run
// in process (gateway.BulkExecutor) within the document limits, paced by the
// owner's own calls budget and Procore's window (bulk.BudgetPacer); download
// URLs are signed with a key derived from the session key.
func newBulk(cfg config, key []byte, publicURL string, a *limits.Analyzer, m *persisted.Manifest, rates *ratelimit.Limiter, lo loaders.Options, logger *slog.Logger) (*bulk.Service, error) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	reserve := cfg.BulkProcoreReserve
	if reserve == 0 {
		reserve = -1 // BudgetPacer: none
	}
	return bulk.New(bulk.Options{
		Schema:       schema,
		Exec:         gateway.NewBulkExecutor(lo, logger, 0, cfg.ExecuteEveryField),
		Pace:         &bulk.BudgetPacer{Schema: schema, Analyzer: a, Rates: rates, Reserve: reserve},
		Check:        gateway.BulkCheck(a, m, cfg.OnlyPersisted),
		Dir:          cfg.BulkDir,
		Key:          key,
		PublicURL:    publicURL,
		MaxRunning:   cfg.BulkMaxRunning,
		PageSize:     cfg.BulkPageSize,
		MaxFileBytes: cfg.BulkMaxFileBytes,
		TTL:          cfg.BulkTTL,
		Logger:       logger,
	})
}

// newStore returns the cache's byte store and its closer: Redis when
// REDIS_URL is set (shared by replicas; when Redis fails, queries fall back to
// upstream calls), else in memory.
// timeout bounds each Redis operation (0: the store's default, 200 ms).
func newStore(cfg config, timeout time.Duration) (cache.Store, func(), error) {
	if cfg.RedisURL == "" {
		m, err := cache.NewMemory(cache.MemoryOptions{MaxBytes: cfg.CacheMaxBytes})
		if err != nil {
			return nil, nil, fmt.Errorf("memory cache: %w", err)
		}
		return m, func() { _ = m.Close() }, nil
	}
	rdb, err := cache.ParseRedisURL(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	s, err := cache.NewRedis(cache.RedisOptions{Client: rdb, Prefix: cfg.CachePrefix, Timeout: timeout})
	if err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("redis cache: %w", err)
	}
	return s, func() { _ = rdb.Close() }, nil
}

// connectionID names a connection without revealing its credential.
func connectionID(apiURL, clientID string, companyID int64) string {
	return "c" + shortHash(fmt.Sprintf("%s|%s|%d", apiURL, clientID, companyID))
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// buildVersion names this build for the response cache's keys: the VCS
// revision when the binary records one, and a hash of the served schema, so
// replicas of different builds sharing Redis never serve each other's
// answers.
func buildVersion() string {
	h := sha256.New()
	var sdl strings.Builder
	formatter.NewFormatter(&sdl).FormatSchema(graph.NewExecutableSchema(graph.Config{}).Schema())
	h.Write([]byte(sdl.String()))
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
				fmt.Fprintf(h, "%s=%s;", s.Key, s.Value)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// serveDebug serves Go's profiler (net/http/pprof) on addr, apart from the
// public listener, until the returned func is called. POST
// /debug/cache/invalidate?scope=S drops the service connections' cached
// data (every served company's) in scope S (all of it when S is empty), as a mutation would: for
// operators, and for benchmarks that measure cold queries in a warm process.
// GET /debug/procore/drift lists the Procore response drift seen so far
// (rest.Drift): operation, field, kind, count, first and last seen.
func serveDebug(addr string, logger *slog.Logger, drift http.Handler, invalidate func(ctx context.Context, scope string) error) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle("GET /debug/procore/drift", drift)
	mux.HandleFunc("POST /debug/cache/invalidate", func(w http.ResponseWriter, r *http.Request) {
		if err := invalidate(r.Context(), r.URL.Query().Get("scope")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("profiler listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// newTokenStore returns where the OAuth token pair lives. With Redis it is
// shared by the replicas (oauthstore: one access token for all of them, and
// a lock so that only one spends Procore's single-use refresh token) in the
// state store, sealed with the session key and expiring state.DefaultTTL
// after its last refresh; the pair an older version stored (in plain JSON,
// in the cache's keys) is moved there, sealed, on first use. The key is
// derived from the API host, the client id and the configured refresh
// token, so configuring a new authorization starts from it rather than from
// the pair an older one left behind. Without Redis: nil, the client's own
// in-memory store.
func newTokenStore(cfg config, sessionKey []byte) (rest.TokenStore, func(), error) {
	if cfg.RedisURL == "" {
		return nil, func() {}, nil
	}
	box, err := sealbox.New(sessionKey)
	if err != nil {
		return nil, nil, err
	}
	s, closeState, err := newStateStore(cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	legacy, closeLegacy, err := newStore(cfg, controlStoreTimeout) // where versions before the state store kept it
	if err != nil {
		closeState()
		return nil, nil, err
	}
	conn := "oauth-" + shortHash(cfg.APIURL+"|"+cfg.ClientID+"|"+cfg.RefreshToken)
	return oauthstore.New(s, conn, oauthstore.Options{Box: box, TTL: state.DefaultTTL, MigratePlaintext: true, Legacy: legacy}),
		func() { closeLegacy(); closeState() }, nil
}

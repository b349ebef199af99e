package main

import (
	"context"

	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"github.com/99designs/gqlgen/graphql"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"procoregraph/adapter"
	"procoregraph/adapter/portal"
	"procoregraph/adapter/rest"
	"procoregraph/apikeys"
	"procoregraph/audit"
	"procoregraph/cache"
	"procoregraph/graph"
	"procoregraph/httpguard"
	"procoregraph/persisted"
	"procoregraph/principal"
	"procoregraph/ratelimit"
	"procoregraph/reqstats"
	"procoregraph/sealbox"
	"procoregraph/signin"
	"procoregraph/streams"
	"procoregraph/tenant"
)

// mintAPIKey is `procoregraph apikey -name NAME -scopes read,write,subscribe
// [-projects ID,...]`: it prints a new random key once, and the API_KEYS
// entry (its hash, never the key) to configure.
func mintAPIKey(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("procoregraph apikey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the key's name, for the audit log (letters, digits, '.', '_', '-')")
	scopes := fs.String("scopes", "read", "comma-separated scopes: read (queries), write (mutations and uploads), subscribe (subscriptions)")
	projects := fs.String("projects", "", "optional comma-separated Procore project ids: the only projects the key may see")
	maxCost := fs.Int("max-cost", 0, "optional: most estimated Procore calls of one operation for this key (default: the gateway's MAX_COST)")
	rpm := fs.Int("rpm", 0, "optional: requests a minute for this key (default: the gateway's)")
	cpm := fs.Int("cpm", 0, "optional: estimated Procore calls a minute for this key (default: the gateway's)")
	subs := fs.Int("subs", 0, "optional: most subscriptions, and websockets, this key holds open at once on a replica (default: the gateway's MAX_SUBSCRIPTIONS_PER_PRINCIPAL)")
	companies := fs.String("companies", "", "optional comma-separated Procore company ids: the only companies (of PROCORE_COMPANY_IDS) the key may use")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("apikey: unexpected argument %q", fs.Arg(0))
	}
	if *name == "" {
		return fmt.Errorf("apikey: -name is required")
	}
	sc, err := principal.ParseScopes(*scopes)
	if err != nil {
		return fmt.Errorf("apikey: -scopes: %w", err)
	}
	ids, err := apikeys.ParseProjects(*projects)
	if err != nil {
		return fmt.Errorf("apikey: -projects: %w", err)
	}
	if *maxCost < 0 || *rpm < 0 || *cpm < 0 || *subs < 0 {
		return fmt.Errorf("apikey: -max-cost, -rpm, -cpm and -subs must be positive")
	}
	cos, err := apikeys.ParseProjects(*companies) // the same shape: positive ids
	if err != nil {
		return fmt.Errorf("apikey: -companies: %s", strings.Replace(err.Error(), "project", "company", 2))
	}
	secret, k, err := apikeys.Mint(*name, sc, ids, apikeys.Limits{MaxCost: *maxCost, RequestsPerMinute: *rpm, CallsPerMinute: *cpm,
		MaxSubscriptions: *subs, Companies: cos})
	if err != nil {
		return fmt.Errorf("apikey: %w", err)
	}
	fmt.Fprintf(stdout, "key (shown once: give it to the client, which sends it as `Authorization: Bearer <key>`):\n%s\n\n", secret)
	fmt.Fprintf(stdout, "API_KEYS entry (the gateway keeps only this; join entries with ';'):\n%s\n", k.Entry())
	return nil
}

// newAudit returns the audit log and its closer: JSON lines on stderr, and
// with Redis a capped stream shared by the replicas.
func newAudit(cfg config, stderr io.Writer, logger *slog.Logger) (*audit.Logger, func()) {
	sinks := []audit.Sink{audit.NewJSONSink(stderr)}
	closer := func() {}
	if cfg.RedisURL != "" {
		if rdb, err := cache.ParseRedisURL(cfg.RedisURL); err == nil {
			sinks = append(sinks, audit.NewStreamSink(rdb, audit.StreamOptions{Prefix: cfg.CachePrefix, Logger: logger}))
			closer = func() { _ = rdb.Close() }
		}
	}
	return audit.New(sinks...), closer
}

// sessionKey is the key that encrypts stored sessions (browser sessions,
// sign-in sessions and their Procore tokens): PORTAL_SESSION_KEY, or a random
// one for this process. With a real Procore and Redis a random key is
// refused: each replica would pick its own, so a token would work on one
// replica only and a revocation elsewhere would "succeed" without revoking.
func sessionKey(cfg config, embedded bool, logger *slog.Logger) ([]byte, error) {
	if cfg.PortalSessionKey != "" {
		k, err := portal.ParseKey(cfg.PortalSessionKey)
		if err != nil {
			return nil, fmt.Errorf("PORTAL_SESSION_KEY: %w", err)
		}
		return k, nil
	}
	if cfg.RedisURL != "" && !embedded {
		return nil, errors.New("REDIS_URL is set but PORTAL_SESSION_KEY is not: replicas sharing Redis must share the key that encrypts sessions (generate one with `openssl rand -base64 32`)")
	}
	key := make([]byte, sealbox.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	logger.Info("sessions use a random key: they end with this process and are not shared by replicas (set PORTAL_SESSION_KEY)")
	return key, nil
}

// revocations ends revoked sessions' open streams: on this replica, and
// with Redis on every replica (pub/sub), with a periodic re-check.
type revocations struct {
	registry *streams.Registry
	pub      streams.Publisher
}

// Revoke implements streams.Publisher.
func (r *revocations) Revoke(ctx context.Context, sessionID string) error {
	return r.pub.Revoke(ctx, sessionID)
}

func newRevocations(ctx context.Context, cfg config, logger *slog.Logger) (*revocations, func(), error) {
	reg := streams.NewRegistry(streams.Options{Logger: logger})
	if cfg.RedisURL == "" {
		return &revocations{registry: reg, pub: streams.Local{R: reg}}, reg.Close, nil
	}
	rdb, err := cache.ParseRedisURL(cfg.RedisURL)
	if err != nil {
		reg.Close()
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := streams.NewRedisBroadcast(sctx, reg, streams.RedisOptions{Client: rdb, Prefix: cfg.CachePrefix, Logger: logger})
	if err != nil {
		reg.Close()
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("session revocations over Redis: %w", err)
	}
	return &revocations{registry: reg, pub: b}, func() { _ = b.Close(); reg.Close(); _ = rdb.Close() }, nil
}

// newSignIn wires "Sign in with Procore" (package signin): the OAuth app
// configured for the service connection, the gateway's public URL for the
// redirect, the shared store for sessions and token pairs.
func newSignIn(cfg config, key []byte, publicURL string, conn *tenant.Connection, store cache.Store, logger *slog.Logger,
	observe func(string, string, int, time.Duration), drift *rest.Drift, auditLog *audit.Logger, rev streams.Publisher, guard *httpguard.Guard,
	budgets func(key string) rest.BudgetStore) (*signin.Service, error) {
	box, err := sealbox.New(key)
	if err != nil {
		return nil, err
	}
	origins := map[string]bool{}
	for _, o := range cfg.CORSOrigins {
		if n, err := httpguard.NormalizeOrigin(o); err == nil {
			origins[n] = true
		}
	}
	return signin.New(signin.Options{
		LoginURL: cfg.LoginURL, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, PublicURL: publicURL,
		Company: conn, Store: store, Box: box, Audit: auditLog, Revocations: rev, Logger: logger,
		CookieRequestAllowed: guard.CookieRequestAllowed,
		ReturnAllowed:        func(u *url.URL) bool { return origins[strings.ToLower(u.Scheme+"://"+u.Host)] },
		NewClient: func(tokens rest.TokenStore, refreshToken, budgetKey string) (adapter.Procore, error) {
			return rest.New(rest.Config{
				SharedBudget: budgets(budgetKey),
				APIURL:       cfg.APIURL, LoginURL: cfg.LoginURL, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
				RefreshToken: refreshToken, TokenStore: tokens, CompanyID: conn.CompanyID,
				MaxConcurrency: cfg.MaxConcurrency,
				HTTPClient:     &http.Client{Transport: reqstats.Transport{Next: rest.NewBaseTransport(cfg.MaxConcurrency)}},
				OnUpstreamCall: observe,
				Logger:         logger,
				Drift:          drift,
			})
		},
	})
}

// newRateLimits returns each principal's rate limiter: shared by replicas
// through Redis when configured, else counted in this process.
func newRateLimits(cfg config, logger *slog.Logger) (*ratelimit.Limiter, func()) {
	o := ratelimit.Options{
		Requests: ratelimit.Policy{Limit: cfg.RateRPM, Window: time.Minute, Burst: max(1, cfg.RateRPM/6)},
		Calls:    ratelimit.Policy{Limit: cfg.RateCPM, Window: time.Minute, Burst: max(1, cfg.RateCPM/4)},
		Logger:   logger,
	}
	if cfg.RedisURL != "" {
		if rdb, err := cache.ParseRedisURL(cfg.RedisURL); err == nil {
			return ratelimit.New(ratelimit.NewRedis(rdb, cfg.CachePrefix), o), func() { _ = rdb.Close() }
		}
	}
	return ratelimit.New(ratelimit.NewMemory(), o), func() {}
}

// newPersisted loads the trusted documents (PERSISTED_OPERATIONS, checked
// against the schema: a manifest that does not validate stops the start)
// and the automatic persisted queries' store (Redis when configured).
func newPersisted(cfg config, logger *slog.Logger) (*persisted.Manifest, graphql.Cache[string], func(), error) {
	var m *persisted.Manifest
	if cfg.PersistedOperations != "" {
		var err error
		if m, err = persisted.LoadManifest(cfg.PersistedOperations); err != nil {
			return nil, nil, nil, fmt.Errorf("PERSISTED_OPERATIONS: %w", err)
		}
		if err := m.CheckSchema(graph.NewExecutableSchema(graph.Config{}).Schema()); err != nil {
			return nil, nil, nil, fmt.Errorf("PERSISTED_OPERATIONS: %w", err)
		}
	}
	if cfg.NoAPQ {
		return m, nil, func() {}, nil
	}
	report := func(ctx context.Context, op string, err error) {
		logger.DebugContext(ctx, "apq store", "op", op, "err", err)
	}
	if cfg.RedisURL != "" {
		if rdb, err := cache.ParseRedisURL(cfg.RedisURL); err == nil {
			c, err := persisted.NewRedisCache(persisted.RedisOptions{Client: rdb, Prefix: cfg.CachePrefix + "pg:apq:", OnError: report})
			if err != nil {
				_ = rdb.Close()
				return nil, nil, nil, err
			}
			return m, c, func() { _ = rdb.Close() }, nil
		}
	}
	c, err := persisted.NewMemoryCache(persisted.MemoryOptions{OnError: report})
	if err != nil {
		return nil, nil, nil, err
	}
	return m, c, func() {}, nil
}

// newBudgets returns where each Procore token's rate-limit budget lives:
// with Redis, shared by every replica (rest.NewRedisBudget, keyed by the
// token's connection), so N replicas together stay inside Procore's windows;
// without Redis, nil (each client paces alone).
func newBudgets(cfg config) (func(key string) rest.BudgetStore, func(), error) {
	if cfg.RedisURL == "" {
		return func(string) rest.BudgetStore { return nil }, func() {}, nil
	}
	rdb, err := cache.ParseRedisURL(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	return func(key string) rest.BudgetStore {
		b, err := rest.NewRedisBudget(rdb, cfg.CachePrefix+"procore-budget:"+key, rest.RedisBudgetOptions{})
		if err != nil {
			return nil
		}
		return b
	}, func() { _ = rdb.Close() }, nil
}

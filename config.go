package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"procoregraph/adapter/portal"
	"procoregraph/adapter/rest"
	"procoregraph/apikeys"
	"procoregraph/httpguard"
	"procoregraph/jwtauth"
	"procoregraph/limits"
	"procoregraph/loaders"
	"procoregraph/mutate"
)

// config is the gateway's configuration: flags override environment variables.
type config struct {
	Addr         string
	APIURL       string
	LoginURL     string
	ClientID     string
	ClientSecret string
	CompanyID    int64
	// Companies are the companies the service connection serves
	// (PROCORE_COMPANY_IDS; see companies.go); nil: CompanyID alone.
	Companies    companiesSetting
	RefreshToken string
	RedisURL     string
	// StateRedisURL is the Redis of correctness state (package state):
	// idempotency records, sessions, locks, differ state, the token pair.
	// Default: RedisURL. Its instance must not evict (README).
	StateRedisURL string
	// StateMaxBytes bounds the in-memory state store (without Redis); when
	// full it refuses new entries with STATE_FULL. 0: 64 MiB.
	StateMaxBytes int64
	// CachePrefix namespaces every Redis key, so environments can share a Redis.
	CachePrefix string
	// Naive turns dataloader batching off (benchmark baseline only).
	Naive bool
	// NoCache turns the cache of Procore data off (and with it the
	// response cache).
	NoCache bool
	// DebugAddr serves net/http/pprof when set (a private address).
	DebugAddr string
	// NoResponseCache turns only the whole-response cache off.
	NoResponseCache bool
	// MaxConcurrency bounds concurrent upstream calls per connection.
	MaxConcurrency int
	// CacheTTL is the default freshness of cached Procore data.
	CacheTTL time.Duration
	// CacheTTLs overrides CacheTTL per cache kind (loaders.Kinds,
	// mutate.Kinds).
	CacheTTLs map[string]time.Duration
	// PortalSessionKey encrypts stored browser sessions (32 bytes, base64 or
	// hex). Empty: a random key per process (sessions do not survive a restart
	// and cannot be shared by replicas).
	PortalSessionKey string
	// ChromiumPath is the browser for session logins; empty: found on PATH.
	ChromiumPath string
	// PortalCodeProvider delivers SMS/email login codes: "outbox" (the
	// sandbox's outbox; refused with a real Procore URL) or "inbox" (POST
	// /sessions/codes with PortalInboxSecret). Default: outbox for the
	// embedded sandbox, else inbox when a secret is set.
	PortalCodeProvider string
	PortalInboxSecret  string
	// PortalSMSNumbers is the phone number receiving each login's SMS
	// codes, by login email (PORTAL_SMS_NUMBERS).
	PortalSMSNumbers map[string]string
	// SandboxLatency adds latency to the embedded sandbox (demos, benchmarks).
	SandboxLatency time.Duration

	// Live updates (issue 6).
	// WebhookAuthorization is the Authorization value Procore sends with
	// webhook deliveries; set, it enables POST /webhooks/procore.
	WebhookAuthorization string
	// RegisterWebhooks registers the gateway's hook and triggers through
	// Procore's Webhooks API at start (always on over the embedded sandbox).
	RegisterWebhooks bool
	// PublicURL is the gateway's base URL as Procore reaches it, for the
	// registered hook's destination. Default http://<listen address>.
	PublicURL string
	// WebhookNamespace isolates the gateway's hooks in Procore.
	WebhookNamespace string
	// PollInterval runs the poller for changes (0: off).
	PollInterval time.Duration
	// EventRetention is how long events stay replayable by cursor (0: the
	// bus's default, 24 h with Redis and 1 h in memory).
	EventRetention time.Duration

	// Security (issue 11).
	// APIKeys are the service keys (API_KEYS entries, package apikeys).
	APIKeys *apikeys.Set
	// Anonymous is what a request without a credential may do: "service"
	// (act as the service account with every scope), "off" (nothing: 401),
	// or "" for the default: "service" over the embedded sandbox (the demo)
	// and "off" with a real Procore.
	Anonymous string
	// AllowedHosts are the Host values served (ALLOWED_HOSTS); empty: the
	// listen host, loopback names and PUBLIC_URL's host.
	AllowedHosts []string
	// CORSOrigins are the frontends allowed to call cross-origin
	// (CORS_ORIGINS); empty: CORS off.
	CORSOrigins []string
	// JWT configures identity-provider tokens (JWT_*); JWKSURL empty: off.
	JWT jwtauth.Options

	// Limits (issue 12).
	Limits           limits.Options
	MaxBodyBytes     int64
	MaxTokens        int
	MaxAnswerFields  int64
	MaxAnswerBytes   int64
	OperationTimeout time.Duration
	// ShutdownGrace is how long in-flight requests may run once the
	// listener closes on SIGTERM; ShutdownDelay is how long the listener
	// keeps serving before that, with /readyz answering 503 (issue 14).
	ShutdownGrace, ShutdownDelay time.Duration
	// RateRPM and RateCPM are each principal's requests and estimated
	// Procore calls a minute.
	RateRPM, RateCPM int
	// PersistedOperations is the trusted-documents manifest's path;
	// OnlyPersisted refuses anything else.
	PersistedOperations string
	OnlyPersisted       bool
	// NoAPQ turns automatic persisted queries off (APQ=off).
	NoAPQ bool
	// NoIntrospection and NoGraphiQL (INTROSPECTION=off, GRAPHIQL=off).
	NoIntrospection, NoGraphiQL bool
	// RouterSecret restricts _entities and _service to the router.
	RouterSecret string

	// Memory (issue 14; memlimit.go).
	// MemoryLimit is MEMORY_LIMIT: the Go memory limit as a size, or "off";
	// empty: GOMEMLIMIT, else 90% of the container's cgroup limit.
	MemoryLimit string
	// CacheMaxBytes bounds the in-memory cache of Procore data (without
	// Redis); ResponseCacheBytes the whole answers kept in process memory
	// (their own store without Redis, local copies with it);
	// DecodeCacheBytes the decoded values (by encoded size). Each defaults
	// to 64 MiB.
	CacheMaxBytes, ResponseCacheBytes, DecodeCacheBytes int64

	// Bulk exports (issue 15; package bulk).
	// BulkDir holds export files (BULK_DIR); empty: a temporary directory.
	BulkDir string
	// BulkMaxRunning bounds exports running at once (BULK_MAX_RUNNING).
	BulkMaxRunning int
	// BulkMaxFileBytes bounds one export's compressed file
	// (BULK_MAX_FILE_BYTES).
	BulkMaxFileBytes int64
	// BulkPageSize is the first of bulk export pages (BULK_PAGE_SIZE).
	BulkPageSize int
	// BulkTTL is how long a finished export and its file are kept (BULK_TTL).
	BulkTTL time.Duration
	// BulkProcoreReserve is the share of Procore's rate-limit window exports
	// leave to interactive requests (BULK_PROCORE_RESERVE).
	BulkProcoreReserve float64
}

// parseConfig reads the environment through getenv, then flags from args, and
// validates the result with messages that say what to fix.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	var c config
	var companyID, companyIDs string
	fs := flag.NewFlagSet("procoregraph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", env("ADDR", "127.0.0.1:8080"), "listen address (ADDR)")
	fs.StringVar(&c.APIURL, "procore-api-url", env("PROCORE_API_URL", ""), "Procore API base URL, e.g. https://api.procore.com; empty serves the embedded sandbox (PROCORE_API_URL)")
	fs.StringVar(&c.LoginURL, "procore-login-url", env("PROCORE_LOGIN_URL", ""), "Procore OAuth base URL (the token endpoint's host), e.g. https://login.procore.com; default: the login host of a Procore API URL (api.procore.com: login.procore.com, sandbox.procore.com: login-sandbox.procore.com, api-monthly.procore.com: login-sandbox-monthly.procore.com, api.procoregov.com: login.procoregov.com), else the API URL itself (PROCORE_LOGIN_URL)")
	fs.StringVar(&c.ClientID, "procore-client-id", env("PROCORE_CLIENT_ID", ""), "OAuth client id (PROCORE_CLIENT_ID)")
	fs.StringVar(&c.ClientSecret, "procore-client-secret", env("PROCORE_CLIENT_SECRET", ""), "OAuth client secret (PROCORE_CLIENT_SECRET)")
	fs.StringVar(&companyID, "procore-company-id", env("PROCORE_COMPANY_ID", ""), "Procore company id; optional when the credential sees one company (PROCORE_COMPANY_ID)")
	fs.StringVar(&companyIDs, "procore-company-ids", env("PROCORE_COMPANY_IDS", ""), "comma-separated Procore company ids this gateway serves through one client-credentials app (clients pick one with the Procore-Company-Id header; the default is PROCORE_COMPANY_ID, else the first), or all: every company the credential sees; empty: PROCORE_COMPANY_ID alone (PROCORE_COMPANY_IDS)")
	fs.StringVar(&c.JWT.CompaniesClaim, "jwt-companies-claim", env("JWT_COMPANIES_CLAIM", ""), "claim of identity-provider tokens listing the Procore company ids the caller may use; empty: every company the gateway serves (JWT_COMPANIES_CLAIM)")
	fs.StringVar(&c.RefreshToken, "procore-refresh-token", env("PROCORE_REFRESH_TOKEN", ""), "OAuth refresh token for the refresh-token grant instead of client credentials (PROCORE_REFRESH_TOKEN)")
	fs.StringVar(&c.RedisURL, "redis-url", env("REDIS_URL", ""), "Redis URL for the shared cache, e.g. redis://127.0.0.1:6379/0; empty uses an in-memory cache (REDIS_URL)")
	fs.StringVar(&c.StateRedisURL, "state-redis-url", env("STATE_REDIS_URL", ""), "Redis URL for correctness state (idempotency records, sessions, locks, differ state, the OAuth token pair), on an instance with maxmemory-policy noeviction; default REDIS_URL (STATE_REDIS_URL)")
	fs.Int64Var(&c.StateMaxBytes, "state-max-bytes", envInt64(getenv, "STATE_MAX_BYTES", 64<<20), "bytes the in-memory correctness state may use (without Redis); when full, new entries are refused with STATE_FULL rather than evicting live ones (STATE_MAX_BYTES)")
	fs.StringVar(&c.CachePrefix, "cache-prefix", env("CACHE_PREFIX", ""), "prefix for every Redis key, to share one Redis between environments (CACHE_PREFIX)")
	fs.StringVar(&c.PortalSessionKey, "portal-session-key", env("PORTAL_SESSION_KEY", ""), "32-byte key (base64 or hex) encrypting stored browser sessions; share it between replicas (PORTAL_SESSION_KEY)")
	fs.StringVar(&c.ChromiumPath, "chromium-path", env("CHROMIUM_PATH", ""), "Chromium for browser-session logins; default: found on PATH (CHROMIUM_PATH)")
	fs.StringVar(&c.PortalCodeProvider, "portal-code-provider", env("PORTAL_CODE_PROVIDER", ""), "where SMS/email login codes come from: outbox (the sandbox's outbox; not with a real Procore) or inbox (POST /sessions/codes) (PORTAL_CODE_PROVIDER)")
	fs.StringVar(&c.PortalInboxSecret, "portal-inbox-secret", env("PORTAL_INBOX_SECRET", ""), "bearer secret for POST /sessions/codes deliveries (PORTAL_INBOX_SECRET)")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("DEBUG_ADDR", ""), "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; keep it private; empty disables (DEBUG_ADDR)")
	fs.BoolVar(&c.Naive, "naive", false, "disable dataloader batching (benchmark baseline)")
	fs.BoolVar(&c.NoCache, "no-cache", false, "disable the cache of Procore data and the response cache (benchmark baseline)")
	fs.BoolVar(&c.NoResponseCache, "no-response-cache", env("RESPONSE_CACHE", "on") == "off", "disable the whole-response cache; repeated queries are executed from the data cache (RESPONSE_CACHE=off)")
	fs.IntVar(&c.MaxConcurrency, "max-concurrency", 32, "concurrent upstream calls per connection")
	fs.DurationVar(&c.CacheTTL, "cache-ttl", 60*time.Second, "default freshness of cached Procore data")
	cacheTTLs := fs.String("cache-ttls", env("CACHE_TTLS", ""), "freshness per kind of Procore data, e.g. projects=10m,rfis=30s,submittal_statuses=1h (CACHE_TTLS)")
	fs.DurationVar(&c.SandboxLatency, "sandbox-latency", 0, "latency added by the embedded sandbox to every call")
	fs.StringVar(&c.WebhookAuthorization, "webhook-authorization", env("WEBHOOK_AUTHORIZATION", ""), "Authorization header value Procore sends with webhook deliveries; enables POST /webhooks/procore (WEBHOOK_AUTHORIZATION)")
	fs.BoolVar(&c.RegisterWebhooks, "register-webhooks", env("REGISTER_WEBHOOKS", "") == "true", "register the gateway's webhook hook and triggers in Procore at start; needs WEBHOOK_AUTHORIZATION (REGISTER_WEBHOOKS=true)")
	fs.StringVar(&c.PublicURL, "public-url", env("PUBLIC_URL", ""), "the gateway's base URL as Procore reaches it, for registered webhooks; default http://<listen address> (PUBLIC_URL)")
	fs.StringVar(&c.WebhookNamespace, "webhook-namespace", env("WEBHOOK_NAMESPACE", "procoregraph"), "namespace of the gateway's webhook hooks in Procore (WEBHOOK_NAMESPACE)")
	fs.DurationVar(&c.PollInterval, "poll-interval", envDuration(getenv, "POLL_INTERVAL"), "poll Procore for changes this often, for connections without webhooks; costs about projects x 6 calls per poll (5 lists and the RFI recycle bin), and while someone subscribes to change orders, change events or payment applications up to (subscribed projects) x (6 + prime contracts) more; 0 disables (POLL_INTERVAL)")
	fs.DurationVar(&c.EventRetention, "event-retention", envDuration(getenv, "EVENT_RETENTION"), "how long subscription events stay replayable by cursor; 0 means 24h with Redis, 1h in memory (EVENT_RETENTION)")
	apiKeys := fs.String("api-keys", env("API_KEYS", ""), "service keys, NAME:SCOPES:PROJECTS:SHA256 entries separated by ';' as `procoregraph apikey` prints them (API_KEYS)")
	fs.StringVar(&c.Anonymous, "anonymous", env("ANONYMOUS", ""), "what requests without a credential may do: service (act as the service account; only on a private network) or off; default: service over the embedded sandbox, off with a real Procore (ANONYMOUS)")
	allowedHosts := fs.String("allowed-hosts", env("ALLOWED_HOSTS", ""), "comma-separated Host header values served (host, host:port, *.domain, or * for any); others get 421; default: the listen host, localhost names and PUBLIC_URL's host (ALLOWED_HOSTS)")
	corsOrigins := fs.String("cors-origins", env("CORS_ORIGINS", ""), "comma-separated browser origins allowed to call cross-origin with credentials, e.g. https://app.example.com; default none (CORS_ORIGINS)")
	fs.StringVar(&c.JWT.JWKSURL, "jwt-jwks-url", env("JWT_JWKS_URL", ""), "JWKS URL of the identity provider whose bearer tokens are accepted (with JWT_ISSUER and JWT_AUDIENCE); empty: off (JWT_JWKS_URL)")
	fs.StringVar(&c.JWT.Issuer, "jwt-issuer", env("JWT_ISSUER", ""), "required iss of identity-provider tokens (JWT_ISSUER)")
	fs.StringVar(&c.JWT.Audience, "jwt-audience", env("JWT_AUDIENCE", ""), "required aud of identity-provider tokens (JWT_AUDIENCE)")
	fs.StringVar(&c.JWT.ScopesClaim, "jwt-scopes-claim", env("JWT_SCOPES_CLAIM", "scope"), "claim holding the granted scopes, a space-separated string or a list (JWT_SCOPES_CLAIM)")
	fs.StringVar(&c.JWT.ScopePrefix, "jwt-scope-prefix", env("JWT_SCOPE_PREFIX", ""), "prefix of the gateway's scopes in that claim, e.g. procoregraph: (JWT_SCOPE_PREFIX)")
	smsNumbers := fs.String("portal-sms-numbers", env("PORTAL_SMS_NUMBERS", ""), "phone numbers receiving SMS login codes, by login email: email=+15551234567,... (PORTAL_SMS_NUMBERS)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", envInt64(getenv, "MAX_BODY_BYTES", limits.DefaultMaxBody), "largest JSON request body; larger ones get 413 (MAX_BODY_BYTES)")
	fs.IntVar(&c.MaxTokens, "max-tokens", int(envInt64(getenv, "MAX_TOKENS", 15_000)), "most tokens the GraphQL parser reads from one document (MAX_TOKENS)")
	fs.IntVar(&c.Limits.MaxDepth, "max-depth", int(envInt64(getenv, "MAX_DEPTH", 12)), "deepest field nesting (MAX_DEPTH)")
	fs.IntVar(&c.Limits.MaxAliases, "max-aliases", int(envInt64(getenv, "MAX_ALIASES", 30)), "most aliased fields in one operation (MAX_ALIASES)")
	fs.IntVar(&c.Limits.MaxRootFields, "max-root-fields", int(envInt64(getenv, "MAX_ROOT_FIELDS", 20)), "most root fields in one operation (MAX_ROOT_FIELDS)")
	fs.IntVar(&c.Limits.MaxCost, "max-cost", int(envInt64(getenv, "MAX_COST", 1000)), "most estimated Procore calls of one operation; an API key's cost= overrides it (MAX_COST)")
	fs.Int64Var(&c.MaxAnswerFields, "max-answer-fields", envInt64(getenv, "MAX_ANSWER_FIELDS", limits.DefaultMaxNodes), "most fields in one answer, enforced while it is built (MAX_ANSWER_FIELDS)")
	fs.Int64Var(&c.MaxAnswerBytes, "max-answer-bytes", envInt64(getenv, "MAX_ANSWER_BYTES", limits.DefaultMaxBytes), "largest answer in bytes (MAX_ANSWER_BYTES)")
	fs.IntVar(&c.RateRPM, "rate-limit-rpm", int(envInt64(getenv, "RATE_LIMIT_RPM", 600)), "requests a minute per principal (API key, person, token; anonymous: per address), shared by replicas through Redis (RATE_LIMIT_RPM)")
	fs.IntVar(&c.RateCPM, "rate-limit-cpm", int(envInt64(getenv, "RATE_LIMIT_CPM", 20_000)), "estimated Procore calls a minute per principal (RATE_LIMIT_CPM)")
	fs.StringVar(&c.PersistedOperations, "persisted-operations", env("PERSISTED_OPERATIONS", ""), "trusted documents: an Apollo persisted query manifest or GraphQL Code Generator's persisted documents JSON (PERSISTED_OPERATIONS)")
	fs.BoolVar(&c.OnlyPersisted, "only-persisted", env("ONLY_PERSISTED", "") == "true", "run only the trusted documents of PERSISTED_OPERATIONS (ONLY_PERSISTED=true)")
	fs.BoolVar(&c.NoAPQ, "no-apq", env("APQ", "on") == "off", "turn automatic persisted queries off (APQ=off)")
	fs.BoolVar(&c.NoIntrospection, "no-introspection", env("INTROSPECTION", "on") == "off", "refuse introspection (__schema, __type) (INTROSPECTION=off)")
	fs.BoolVar(&c.NoGraphiQL, "no-graphiql", env("GRAPHIQL", "on") == "off", "serve no GraphiQL page at / (GRAPHIQL=off)")
	fs.StringVar(&c.RouterSecret, "router-secret", env("ROUTER_SECRET", ""), "when set, _entities and _service answer only requests with X-Router-Secret: <secret> (the federation router) (ROUTER_SECRET)")
	fs.DurationVar(&c.OperationTimeout, "operation-timeout", envDurationOr(getenv, "OPERATION_TIMEOUT", 30*time.Second), "deadline of one query or mutation, Procore calls and rate-limit waits included (OPERATION_TIMEOUT)")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", envDurationOr(getenv, "SHUTDOWN_GRACE", 25*time.Second), "on SIGTERM, how long in-flight queries and mutations may run after the listener closes (SHUTDOWN_GRACE)")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", envDurationOr(getenv, "SHUTDOWN_DELAY", 0), "on SIGTERM, how long to keep serving with /readyz answering 503 before closing the listener, so load balancers stop sending first (SHUTDOWN_DELAY)")
	fs.StringVar(&c.MemoryLimit, "memory-limit", env("MEMORY_LIMIT", ""), "Go memory limit (GOMEMLIMIT's form, e.g. 900MiB) or off; default: GOMEMLIMIT, else 90% of the container's cgroup memory limit (MEMORY_LIMIT)")
	fs.StringVar(&c.BulkDir, "bulk-dir", env("BULK_DIR", ""), "directory of bulk export files; empty: a temporary directory removed at exit (BULK_DIR)")
	fs.IntVar(&c.BulkMaxRunning, "bulk-max-running", int(envInt64(getenv, "BULK_MAX_RUNNING", 2)), "bulk exports running at once, all callers together (BULK_MAX_RUNNING)")
	fs.IntVar(&c.BulkPageSize, "bulk-page-size", int(envInt64(getenv, "BULK_PAGE_SIZE", 1000)), "items a bulk export asks for per connection page, 1 to 1000 (BULK_PAGE_SIZE)")
	fs.DurationVar(&c.BulkTTL, "bulk-ttl", envDurationOr(getenv, "BULK_TTL", time.Hour), "how long a finished bulk export and its file are kept; also the longest its download URL is valid (BULK_TTL)")
	reserve := fs.String("bulk-procore-reserve", env("BULK_PROCORE_RESERVE", "0.2"), "share of Procore's rate-limit window bulk exports leave to interactive requests: they wait for the reset below it (BULK_PROCORE_RESERVE)")
	byteFlags := map[string]*string{
		"BULK_MAX_FILE_BYTES":      fs.String("bulk-max-file-bytes", env("BULK_MAX_FILE_BYTES", "1GiB"), "largest compressed bulk export file; a larger export fails with TOO_LARGE (BULK_MAX_FILE_BYTES)"),
		"CACHE_MAX_BYTES":          fs.String("cache-max-bytes", env("CACHE_MAX_BYTES", "64MiB"), "bound of the in-memory cache of Procore data, without Redis (CACHE_MAX_BYTES)"),
		"RESPONSE_CACHE_MAX_BYTES": fs.String("response-cache-max-bytes", env("RESPONSE_CACHE_MAX_BYTES", "64MiB"), "bound of the whole answers kept in process memory (RESPONSE_CACHE_MAX_BYTES)"),
		"DECODE_CACHE_MAX_BYTES":   fs.String("decode-cache-max-bytes", env("DECODE_CACHE_MAX_BYTES", "64MiB"), "bound of the decoded-value cache, by encoded size (DECODE_CACHE_MAX_BYTES)"),
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (subcommands: sandbox, apikey)", fs.Arg(0))
	}

	var errs []error
	for name, dst := range map[string]*int64{"CACHE_MAX_BYTES": &c.CacheMaxBytes, "RESPONSE_CACHE_MAX_BYTES": &c.ResponseCacheBytes, "DECODE_CACHE_MAX_BYTES": &c.DecodeCacheBytes, "BULK_MAX_FILE_BYTES": &c.BulkMaxFileBytes} {
		n, err := parseByteSize(*byteFlags[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %v", name, *byteFlags[name], err))
		}
		*dst = n
	}
	if r, err := strconv.ParseFloat(*reserve, 64); err != nil || r < 0 || r >= 1 {
		errs = append(errs, fmt.Errorf("BULK_PROCORE_RESERVE %q: want a share between 0 and 1, such as 0.2", *reserve))
	} else {
		c.BulkProcoreReserve = r
	}
	if c.BulkMaxRunning <= 0 || c.BulkTTL <= 0 {
		errs = append(errs, fmt.Errorf("BULK_MAX_RUNNING and BULK_TTL must be positive"))
	}
	if c.BulkPageSize < 1 || c.BulkPageSize > 1000 {
		errs = append(errs, fmt.Errorf("BULK_PAGE_SIZE %d: want 1 to 1000", c.BulkPageSize))
	}
	if c.MemoryLimit != "" && c.MemoryLimit != "off" {
		if _, err := parseByteSize(c.MemoryLimit); err != nil {
			errs = append(errs, fmt.Errorf("MEMORY_LIMIT %q: %v, or off", c.MemoryLimit, err))
		}
	}
	if companyID != "" {
		id, err := strconv.ParseInt(companyID, 10, 64)
		if err != nil || id <= 0 {
			errs = append(errs, fmt.Errorf("PROCORE_COMPANY_ID %q: want a positive integer company id", companyID))
		}
		c.CompanyID = id
	}
	if cs, err := parseCompaniesSetting(companyIDs, c.CompanyID); err != nil {
		errs = append(errs, err)
	} else {
		c.Companies = cs
		if c.CompanyID == 0 && len(cs.IDs) > 0 {
			c.CompanyID = cs.IDs[0] // the default company
		}
	}
	for name, u := range map[string]string{"PROCORE_API_URL": c.APIURL, "PROCORE_LOGIN_URL": c.LoginURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q: want an absolute http(s) URL such as https://api.procore.com", name, u))
		}
	}
	if c.APIURL == "" && c.LoginURL != "" {
		errs = append(errs, errors.New("PROCORE_LOGIN_URL is set but PROCORE_API_URL is not: set both to use a real Procore, or neither for the embedded sandbox"))
	}
	if c.APIURL != "" && c.LoginURL == "" {
		// Procore's token endpoint is on its login host, not the API host.
		c.LoginURL = rest.LoginURLFor(c.APIURL)
	}
	if c.APIURL != "" && (c.ClientID == "" || c.ClientSecret == "") {
		errs = append(errs, errors.New("PROCORE_API_URL is set: PROCORE_CLIENT_ID and PROCORE_CLIENT_SECRET are required"))
	}
	if c.RedisURL != "" {
		if p, err := url.Parse(c.RedisURL); err != nil || (p.Scheme != "redis" && p.Scheme != "rediss") {
			errs = append(errs, fmt.Errorf("REDIS_URL: want redis://host:port/db or rediss://..."))
		}
	}
	if c.StateMaxBytes < 64<<10 {
		errs = append(errs, errors.New("STATE_MAX_BYTES must be at least 64 KiB (65536)"))
	}
	if c.StateRedisURL != "" {
		if p, err := url.Parse(c.StateRedisURL); err != nil || (p.Scheme != "redis" && p.Scheme != "rediss") {
			errs = append(errs, fmt.Errorf("STATE_REDIS_URL: want redis://host:port/db or rediss://..."))
		}
		if c.RedisURL == "" {
			errs = append(errs, errors.New("STATE_REDIS_URL needs REDIS_URL: replicas share state only when they share the cache's Redis too"))
		}
	}
	if c.RegisterWebhooks && c.WebhookAuthorization == "" && c.APIURL != "" {
		errs = append(errs, errors.New("-register-webhooks needs WEBHOOK_AUTHORIZATION: the value Procore will send and the gateway will check"))
	}
	if c.PublicURL != "" {
		if p, err := url.Parse(c.PublicURL); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			errs = append(errs, fmt.Errorf("PUBLIC_URL %q: want an absolute http(s) URL", c.PublicURL))
		}
	}
	if c.PollInterval < 0 || c.PollInterval > 0 && c.PollInterval < time.Second {
		errs = append(errs, errors.New("-poll-interval must be 0 (off) or at least 1s"))
	}
	switch c.PortalCodeProvider {
	case "", "outbox", "inbox":
	default:
		errs = append(errs, fmt.Errorf("PORTAL_CODE_PROVIDER %q: want outbox or inbox", c.PortalCodeProvider))
	}
	if c.PortalCodeProvider == "outbox" {
		for _, u := range []string{c.APIURL, c.LoginURL} {
			if rest.IsProcoreHost(u) {
				errs = append(errs, fmt.Errorf("PORTAL_CODE_PROVIDER=outbox: the SMS/email code outbox exists only in the sandbox, not at Procore (%s); use PORTAL_CODE_PROVIDER=inbox with PORTAL_INBOX_SECRET", u))
				break
			}
		}
	}
	if c.PortalCodeProvider == "inbox" && c.PortalInboxSecret == "" {
		errs = append(errs, errors.New("PORTAL_CODE_PROVIDER=inbox needs PORTAL_INBOX_SECRET"))
	}
	if c.RedisURL != "" && c.APIURL != "" && c.PortalSessionKey == "" {
		errs = append(errs, errors.New("REDIS_URL is set but PORTAL_SESSION_KEY is not: replicas sharing Redis must share the key that encrypts sessions (generate one with `openssl rand -base64 32`)"))
	}
	if c.PortalSessionKey != "" {
		if _, err := portal.ParseKey(c.PortalSessionKey); err != nil {
			errs = append(errs, fmt.Errorf("PORTAL_SESSION_KEY: %v", err))
		}
	}
	if c.MaxConcurrency <= 0 {
		errs = append(errs, errors.New("-max-concurrency must be positive"))
	}
	if c.CacheTTL <= 0 {
		errs = append(errs, errors.New("-cache-ttl must be positive"))
	}
	switch c.Anonymous {
	case "", "service", "off":
	default:
		errs = append(errs, fmt.Errorf("ANONYMOUS %q: want service or off", c.Anonymous))
	}
	c.AllowedHosts = splitList(*allowedHosts)
	c.CORSOrigins = splitList(*corsOrigins)
	if _, err := httpguard.New(httpguard.Options{AllowedHosts: c.AllowedHosts, CORSOrigins: c.CORSOrigins}); err != nil {
		errs = append(errs, err)
	}
	if c.JWT.JWKSURL != "" || c.JWT.Issuer != "" || c.JWT.Audience != "" {
		if c.JWT.JWKSURL == "" || c.JWT.Issuer == "" || c.JWT.Audience == "" {
			errs = append(errs, errors.New("JWT_JWKS_URL, JWT_ISSUER and JWT_AUDIENCE go together: set all three to accept identity-provider tokens"))
		} else if p, err := url.Parse(c.JWT.JWKSURL); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			errs = append(errs, fmt.Errorf("JWT_JWKS_URL %q: want an absolute http(s) URL", c.JWT.JWKSURL))
		}
	}
	c.PortalSMSNumbers = map[string]string{}
	for _, pair := range splitList(*smsNumbers) {
		email, phone, ok := strings.Cut(pair, "=")
		if !ok || !strings.Contains(email, "@") || strings.TrimSpace(phone) == "" {
			errs = append(errs, fmt.Errorf("PORTAL_SMS_NUMBERS %q: want email=+15551234567 pairs separated by commas", pair))
			continue
		}
		c.PortalSMSNumbers[strings.ToLower(strings.TrimSpace(email))] = strings.TrimSpace(phone)
	}
	for name, v := range map[string]int64{"MAX_BODY_BYTES": c.MaxBodyBytes, "MAX_TOKENS": int64(c.MaxTokens), "MAX_DEPTH": int64(c.Limits.MaxDepth),
		"MAX_ALIASES": int64(c.Limits.MaxAliases), "MAX_ROOT_FIELDS": int64(c.Limits.MaxRootFields), "MAX_COST": int64(c.Limits.MaxCost),
		"MAX_ANSWER_FIELDS": c.MaxAnswerFields, "MAX_ANSWER_BYTES": c.MaxAnswerBytes, "RATE_LIMIT_RPM": int64(c.RateRPM), "RATE_LIMIT_CPM": int64(c.RateCPM)} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive number", name))
		}
	}
	for name, v := range map[string]string{"MAX_BODY_BYTES": getenv("MAX_BODY_BYTES"), "MAX_TOKENS": getenv("MAX_TOKENS"), "MAX_DEPTH": getenv("MAX_DEPTH"),
		"MAX_ALIASES": getenv("MAX_ALIASES"), "MAX_ROOT_FIELDS": getenv("MAX_ROOT_FIELDS"), "MAX_COST": getenv("MAX_COST"),
		"MAX_ANSWER_FIELDS": getenv("MAX_ANSWER_FIELDS"), "MAX_ANSWER_BYTES": getenv("MAX_ANSWER_BYTES"),
		"RATE_LIMIT_RPM": getenv("RATE_LIMIT_RPM"), "RATE_LIMIT_CPM": getenv("RATE_LIMIT_CPM")} {
		if _, err := strconv.ParseInt(v, 10, 64); v != "" && err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want a whole number", name, v))
		}
	}
	if v := getenv("OPERATION_TIMEOUT"); v != "" {
		if _, err := time.ParseDuration(v); err != nil {
			errs = append(errs, fmt.Errorf("OPERATION_TIMEOUT %q: want a duration with a unit, e.g. 30s", v))
		}
	}
	if c.OperationTimeout <= 0 {
		errs = append(errs, errors.New("OPERATION_TIMEOUT must be positive"))
	}
	for _, name := range []string{"SHUTDOWN_GRACE", "SHUTDOWN_DELAY"} {
		if v := getenv(name); v != "" {
			if _, err := time.ParseDuration(v); err != nil {
				errs = append(errs, fmt.Errorf("%s %q: want a duration with a unit, e.g. 25s", name, v))
			}
		}
	}
	if c.ShutdownGrace <= 0 || c.ShutdownDelay < 0 {
		errs = append(errs, errors.New("SHUTDOWN_GRACE must be positive and SHUTDOWN_DELAY not negative"))
	}
	for name, v := range map[string]string{"APQ": getenv("APQ"), "INTROSPECTION": getenv("INTROSPECTION"), "GRAPHIQL": getenv("GRAPHIQL")} {
		if v != "" && v != "on" && v != "off" {
			errs = append(errs, fmt.Errorf("%s %q: want on or off", name, v))
		}
	}
	if v := getenv("ONLY_PERSISTED"); v != "" && v != "true" && v != "false" {
		errs = append(errs, fmt.Errorf("ONLY_PERSISTED %q: want true or false", v))
	}
	if c.OnlyPersisted && c.PersistedOperations == "" {
		errs = append(errs, errors.New("ONLY_PERSISTED=true needs PERSISTED_OPERATIONS: the manifest of the documents to allow"))
	}
	keys, err := apikeys.Parse(*apiKeys)
	if err != nil {
		errs = append(errs, err)
	}
	c.APIKeys = keys
	ttls, err := parseKindTTLs(*cacheTTLs)
	if err != nil {
		errs = append(errs, fmt.Errorf("CACHE_TTLS: %w", err))
	}
	c.CacheTTLs = ttls
	return c, errors.Join(errs...)
}

// splitList splits a comma- or space-separated setting, dropping empties.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
}

// envInt64 reads an integer from the environment, def when unset or not a
// number (the flag's own parse reports a bad flag value).
func envInt64(getenv func(string) string, k string, def int64) int64 {
	if v := getenv(k); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

// envDurationOr reads a duration from the environment, def when unset.
func envDurationOr(getenv func(string) string, k string, def time.Duration) time.Duration {
	if v := getenv(k); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// envDuration reads a duration from the environment; an unparsable value is
// reported by the flag package when it becomes the flag's default text.
func envDuration(getenv func(string) string, k string) time.Duration {
	d, _ := time.ParseDuration(getenv(k))
	return d
}

// parseKindTTLs parses "kind=duration,kind=duration" (CACHE_TTLS). Kinds must
// be ones the gateway caches, durations positive.
func parseKindTTLs(s string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	known := append(slices.Clone(loaders.Kinds), mutate.Kinds...)
	for part := range strings.SplitSeq(s, ",") {
		kind, dur, ok := strings.Cut(strings.TrimSpace(part), "=")
		kind = strings.TrimSpace(kind)
		if !ok || kind == "" {
			return nil, fmt.Errorf("%q: want kind=duration, e.g. rfis=30s", part)
		}
		if !slices.Contains(known, kind) {
			slices.Sort(known)
			return nil, fmt.Errorf("unknown kind %q; the kinds are %s", kind, strings.Join(known, ", "))
		}
		d, err := time.ParseDuration(strings.TrimSpace(dur))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s=%s: want a positive duration such as 30s or 10m", kind, dur)
		}
		out[kind] = d
	}
	return out, nil
}

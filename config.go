package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"procoregraph/adapter/portal"
	"procoregraph/adapter/rest"
	"procoregraph/admission"
	"procoregraph/apikeys"
	"procoregraph/httpguard"
	"procoregraph/jwtauth"
	"procoregraph/limits"
	"procoregraph/loaders"
	"procoregraph/mutate"
	"procoregraph/settings"
	"procoregraph/streamlimit"
)

// config is the gateway's configuration, one sub-struct per concern; their
// fields are promoted, so cfg.RedisURL reads cacheSettings.RedisURL. Every
// field is declared once in declareSettings (environment name, flag,
// default, help, strict parser); parseConfig reads them (package settings:
// defaults < CONFIG_FILE's YAML < environment < flags) and checks what
// involves several settings.
type config struct {
	serverSettings
	procoreSettings
	cacheSettings
	liveSettings
	sessionSettings
	authSettings
	limitSettings
	bulkSettings
	telemetrySettings
}

// serverSettings: the listener, the profiler, shutdown and memory.
type serverSettings struct {
	// ConfigFile is the optional YAML file of settings (CONFIG_FILE).
	ConfigFile string
	Addr       string
	// DebugAddr serves net/http/pprof when set (a private address).
	DebugAddr string
	// ShutdownGrace is how long in-flight requests may run once the
	// listener closes on SIGTERM; ShutdownDelay is how long the listener
	// keeps serving before that, with /readyz answering 503 (issue 14).
	ShutdownGrace, ShutdownDelay time.Duration
	// MemoryLimit is MEMORY_LIMIT: the Go memory limit as a size, or "off";
	// empty: GOMEMLIMIT, else 90% of the container's cgroup limit.
	MemoryLimit string
}

// procoreSettings: where Procore is and how the service account reaches it.
type procoreSettings struct {
	APIURL       string
	LoginURL     string
	ClientID     string
	ClientSecret string
	CompanyID    int64
	// Companies are the companies the service connection serves
	// (PROCORE_COMPANY_IDS; see companies.go); nil: CompanyID alone.
	Companies    companiesSetting
	companyIDs   string // PROCORE_COMPANY_IDS as given; parseConfig reads it with CompanyID
	RefreshToken string
	// MaxConcurrency bounds concurrent upstream calls per connection.
	MaxConcurrency int
	// SandboxLatency adds latency to the embedded sandbox (demos, benchmarks).
	SandboxLatency time.Duration
}

// cacheSettings: the cache of Procore data, the response cache and the
// store of correctness state.
type cacheSettings struct {
	RedisURL string
	// StateRedisURL is the Redis of correctness state (package state):
	// idempotency records, sessions, locks, differ state, the token pair.
	// Default: RedisURL. Its instance must not evict (README).
	StateRedisURL string
	// StateMaxBytes bounds the in-memory state store (without Redis); when
	// full it refuses new entries with STATE_FULL.
	StateMaxBytes int64
	// CachePrefix namespaces every Redis key, so environments can share a Redis.
	CachePrefix string
	// Naive turns dataloader batching off (benchmark baseline only).
	Naive bool
	// ExecuteEveryField turns plain sub-tree rendering off
	// (gateway.Deps.ExecuteEveryField).
	ExecuteEveryField bool
	// NoCache turns the cache of Procore data off (and with it the
	// response cache).
	NoCache bool
	// NoResponseCache turns only the whole-response cache off.
	NoResponseCache bool
	// CacheTTL is the default freshness of cached Procore data.
	CacheTTL time.Duration
	// CacheTTLs overrides CacheTTL per cache kind (loaders.Kinds,
	// mutate.Kinds).
	CacheTTLs     map[string]time.Duration
	cacheTTLsText string
	// CacheMaxBytes bounds the in-memory cache of Procore data (without
	// Redis); ResponseCacheBytes the whole answers kept in process memory
	// (their own store without Redis, local copies with it);
	// DecodeCacheBytes the decoded values (by encoded size).
	CacheMaxBytes, ResponseCacheBytes, DecodeCacheBytes int64
}

// liveSettings: live updates (issue 6).
type liveSettings struct {
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
}

// sessionSettings: browser sessions (package sessions, adapter/portal).
type sessionSettings struct {
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
	smsNumbersText   string
}

// authSettings: who may call (issue 11).
type authSettings struct {
	// APIKeys are the service keys (API_KEYS entries, package apikeys).
	APIKeys     *apikeys.Set
	apiKeysText string
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
	// RouterSecret restricts _entities and _service to the router.
	RouterSecret string
}

// limitSettings: what one request may cost (issue 12).
type limitSettings struct {
	Limits          limits.Options
	MaxBodyBytes    int64
	MaxTokens       int
	MaxAnswerFields int64
	MaxAnswerBytes  int64
	// MaxExecutingCost is the admission budget (package admission).
	MaxExecutingCost int64
	// MaxSubscriptions and MaxSubscriptionsPerPrincipal bound the
	// subscriptions open at once on this replica (streamlimit).
	MaxSubscriptions             int
	MaxSubscriptionsPerPrincipal int
	OperationTimeout             time.Duration
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
}

// bulkSettings: bulk exports (issue 15; package bulk).
type bulkSettings struct {
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

// telemetrySettings: logs (traces and metrics are configured by the
// standard OTEL_* variables, read by the OpenTelemetry SDK itself).
type telemetrySettings struct {
	// LogFormat is LOG_FORMAT: text or json.
	LogFormat string
}

var (
	httpSchemes  = []string{"https", "http"}
	redisSchemes = []string{"redis", "rediss"}
)

// declareSettings declares every setting of c: one line per setting with
// its environment name, flag, default, help and parser. README's
// configuration table, testdata/config-defaults.golden and the deployment
// files are checked against it (config_test.go, deploy_test.go).
func declareSettings(c *config) *settings.Registry {
	r := settings.New("procoregraph")
	positive := settings.AtLeast(1)
	positive64 := settings.AtLeast[int64](1)
	positiveDur := settings.Check(func(d time.Duration) error {
		if d <= 0 {
			return errors.New("want a positive duration, such as 30s")
		}
		return nil
	})
	notNegative := settings.AtLeast(time.Duration(0))

	g := r.Group("server")
	g.ConfigFile("CONFIG_FILE", "config", "optional YAML file of settings, keyed by the environment names in lower case (e.g. poll_interval: 30s); the environment and flags override it")
	g.Addr(&c.Addr, "ADDR", "addr", "127.0.0.1:8080", "listen address")
	g.Addr(&c.DebugAddr, "DEBUG_ADDR", "debug-addr", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; keep it private; empty disables")
	g.Duration(&c.ShutdownGrace, "SHUTDOWN_GRACE", "shutdown-grace", 25*time.Second, "on SIGTERM, how long in-flight queries and mutations may run after the listener closes", positiveDur)
	g.Duration(&c.ShutdownDelay, "SHUTDOWN_DELAY", "shutdown-delay", 0, "on SIGTERM, how long to keep serving with /readyz answering 503 before closing the listener, so load balancers stop sending first", notNegative)
	g.Func("MEMORY_LIMIT", "memory-limit", "", "Go memory limit (GOMEMLIMIT's form, e.g. 900MiB) or off; default: GOMEMLIMIT, else 90% of the container's cgroup memory limit",
		func(s string) error {
			s = strings.TrimSpace(s)
			if s != "" && s != "off" {
				if _, err := settings.ParseByteSize(s); err != nil {
					return fmt.Errorf("%v, or off", err)
				}
			}
			c.MemoryLimit = s
			return nil
		}, func() string { return c.MemoryLimit })

	g = r.Group("procore")
	g.URL(&c.APIURL, "PROCORE_API_URL", "procore-api-url", "", httpSchemes, "Procore API base URL, e.g. https://api.procore.com; empty serves the embedded sandbox")
	g.URL(&c.LoginURL, "PROCORE_LOGIN_URL", "procore-login-url", "", httpSchemes, "Procore OAuth base URL (the token endpoint's host), e.g. https://login.procore.com; default: the login host of a Procore API URL (api.procore.com: login.procore.com, sandbox.procore.com: login-sandbox.procore.com, api-monthly.procore.com: login-sandbox-monthly.procore.com, api.procoregov.com: login.procoregov.com), else the API URL itself")
	g.String(&c.ClientID, "PROCORE_CLIENT_ID", "procore-client-id", "", "OAuth client id")
	g.String(&c.ClientSecret, "PROCORE_CLIENT_SECRET", "procore-client-secret", "", "OAuth client secret", settings.Secret())
	g.Func("PROCORE_COMPANY_ID", "procore-company-id", "", "Procore company id; optional when the credential sees one company",
		func(s string) error {
			if s = strings.TrimSpace(s); s == "" {
				c.CompanyID = 0
				return nil
			}
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil || id <= 0 {
				return errors.New("want a positive integer company id")
			}
			c.CompanyID = id
			return nil
		}, func() string { return formatID(c.CompanyID) })
	g.Func("PROCORE_COMPANY_IDS", "procore-company-ids", "", "comma-separated Procore company ids this gateway serves through one client-credentials app (clients pick one with the Procore-Company-Id header; the default is PROCORE_COMPANY_ID, else the first), or all: every company the credential sees; empty: PROCORE_COMPANY_ID alone",
		func(s string) error {
			if _, err := parseCompaniesSetting(s, 0); err != nil {
				return errors.New(strings.TrimPrefix(err.Error(), "PROCORE_COMPANY_IDS: "))
			}
			c.companyIDs = s
			return nil
		}, func() string { return c.companyIDs }, settings.YAMLList(","))
	g.String(&c.RefreshToken, "PROCORE_REFRESH_TOKEN", "procore-refresh-token", "", "OAuth refresh token for the refresh-token grant instead of client credentials", settings.Secret())
	g.Int(&c.MaxConcurrency, "MAX_CONCURRENCY", "max-concurrency", 256, "upstream calls in flight per connection; when all are busy, freed slots go to the waiting requests in turn, so one request's fan-out does not queue another's (Procore's rate-limit windows, not this bound, pace the calls)", positive)
	g.Duration(&c.SandboxLatency, "SANDBOX_LATENCY", "sandbox-latency", 0, "latency added by the embedded sandbox to every call (demos)", notNegative)

	g = r.Group("cache")
	g.URL(&c.RedisURL, "REDIS_URL", "redis-url", "", redisSchemes, "Redis URL for the shared cache, e.g. redis://127.0.0.1:6379/0; empty uses an in-memory cache", settings.Secret())
	g.URL(&c.StateRedisURL, "STATE_REDIS_URL", "state-redis-url", "", redisSchemes, "Redis URL for correctness state (idempotency records, sessions, locks, differ state, the OAuth token pair), on an instance with maxmemory-policy noeviction; default REDIS_URL", settings.Secret())
	g.Bytes(&c.StateMaxBytes, "STATE_MAX_BYTES", "state-max-bytes", "64MiB", "bytes the in-memory correctness state may use (without Redis); when full, new entries are refused with STATE_FULL rather than evicting live ones",
		settings.Check(func(n int64) error {
			if n < 64<<10 {
				return errors.New("must be at least 64 KiB (65536)")
			}
			return nil
		}))
	g.String(&c.CachePrefix, "CACHE_PREFIX", "cache-prefix", "", "prefix for every Redis key, to share one Redis between environments")
	g.Bool(&c.Naive, "NAIVE", "naive", false, "disable dataloader batching (benchmark baseline)")
	g.Switch(&c.ExecuteEveryField, "PLAIN_TREES", "no-plain-trees", "off makes gqlgen execute every field of every answer instead of writing plain data sub-trees directly (the same answers, more CPU; for comparison)")
	g.Switch(&c.NoCache, "CACHE", "no-cache", "off disables the cache of Procore data and the response cache (benchmark baseline)")
	g.Switch(&c.NoResponseCache, "RESPONSE_CACHE", "no-response-cache", "off disables the whole-response cache; repeated queries are executed from the data cache")
	g.Duration(&c.CacheTTL, "CACHE_TTL", "cache-ttl", 60*time.Second, "default freshness of cached Procore data", positiveDur)
	g.Func("CACHE_TTLS", "cache-ttls", "", "freshness per kind of Procore data, e.g. projects=10m,rfis=30s,submittal_statuses=1h",
		func(s string) error {
			ttls, err := parseKindTTLs(s)
			if err != nil {
				return err
			}
			c.CacheTTLs, c.cacheTTLsText = ttls, s
			return nil
		}, func() string { return c.cacheTTLsText }, settings.YAMLMap(","))
	g.Bytes(&c.CacheMaxBytes, "CACHE_MAX_BYTES", "cache-max-bytes", "64MiB", "bound of the in-memory cache of Procore data, without Redis")
	g.Bytes(&c.ResponseCacheBytes, "RESPONSE_CACHE_MAX_BYTES", "response-cache-max-bytes", "64MiB", "bound of the whole answers kept in process memory")
	g.Bytes(&c.DecodeCacheBytes, "DECODE_CACHE_MAX_BYTES", "decode-cache-max-bytes", "64MiB", "bound of the decoded-value cache, by encoded size")

	g = r.Group("live")
	g.String(&c.WebhookAuthorization, "WEBHOOK_AUTHORIZATION", "webhook-authorization", "", "Authorization header value Procore sends with webhook deliveries; enables POST /webhooks/procore", settings.Secret())
	g.Bool(&c.RegisterWebhooks, "REGISTER_WEBHOOKS", "register-webhooks", false, "register the gateway's webhook hook and triggers in Procore at start; needs WEBHOOK_AUTHORIZATION (always on with the embedded sandbox)")
	g.URL(&c.PublicURL, "PUBLIC_URL", "public-url", "", httpSchemes, "the gateway's base URL as browsers and Procore reach it, for registered webhooks and the sign-in redirect; default http://<listen address>")
	g.String(&c.WebhookNamespace, "WEBHOOK_NAMESPACE", "webhook-namespace", "procoregraph", "namespace of the gateway's webhook hooks in Procore")
	g.Duration(&c.PollInterval, "POLL_INTERVAL", "poll-interval", 0, "poll Procore for changes this often, for connections without webhooks; costs about projects x 6 calls per poll (5 lists and the RFI recycle bin), and while someone subscribes to change orders, change events or payment applications up to (subscribed projects) x (6 + prime contracts) more; 0 disables",
		settings.Check(func(d time.Duration) error {
			if d < 0 || d > 0 && d < time.Second {
				return errors.New("want 0 (off) or at least 1s")
			}
			return nil
		}))
	g.Duration(&c.EventRetention, "EVENT_RETENTION", "event-retention", 0, "how long subscription events stay replayable by cursor; 0 means 24h with Redis, 1h in memory", notNegative)

	g = r.Group("sessions")
	g.Func("PORTAL_SESSION_KEY", "portal-session-key", "", "32-byte key (base64 or hex) encrypting stored browser sessions; share it between replicas",
		func(s string) error {
			if s != "" {
				if _, err := portal.ParseKey(s); err != nil {
					return err
				}
			}
			c.PortalSessionKey = s
			return nil
		}, func() string { return c.PortalSessionKey }, settings.Secret())
	g.String(&c.ChromiumPath, "CHROMIUM_PATH", "chromium-path", "", "Chromium for browser-session logins; default: found on PATH")
	g.Enum(&c.PortalCodeProvider, "PORTAL_CODE_PROVIDER", "portal-code-provider", "", []string{"outbox", "inbox"}, "where SMS/email login codes come from: outbox (the sandbox's outbox; not with a real Procore) or inbox (POST /sessions/codes); default: outbox with the embedded sandbox, inbox when PORTAL_INBOX_SECRET is set")
	g.String(&c.PortalInboxSecret, "PORTAL_INBOX_SECRET", "portal-inbox-secret", "", "bearer secret for POST /sessions/codes deliveries", settings.Secret())
	g.Func("PORTAL_SMS_NUMBERS", "portal-sms-numbers", "", "phone numbers receiving SMS login codes, by login email: email=+15551234567,...",
		func(s string) error {
			m := map[string]string{}
			for _, pair := range splitList(s) {
				email, phone, ok := strings.Cut(pair, "=")
				if !ok || !strings.Contains(email, "@") || strings.TrimSpace(phone) == "" {
					return fmt.Errorf("%q: want email=+15551234567 pairs separated by commas", pair)
				}
				m[strings.ToLower(strings.TrimSpace(email))] = strings.TrimSpace(phone)
			}
			c.PortalSMSNumbers, c.smsNumbersText = m, s
			return nil
		}, func() string { return c.smsNumbersText }, settings.YAMLMap(","))

	g = r.Group("auth")
	g.Func("API_KEYS", "api-keys", "", "service keys, NAME:SCOPES:PROJECTS:SHA256[:OPTIONS] entries separated by ';' as `procoregraph apikey` prints them; OPTIONS (cost=N,rpm=N,cpm=N,subs=N,company=N) override the limits for that key",
		func(s string) error {
			keys, err := apikeys.Parse(s)
			if err != nil {
				return err
			}
			c.APIKeys, c.apiKeysText = keys, s
			return nil
		}, func() string { return c.apiKeysText }, settings.YAML(apiKeysFromYAML),
		// Entries are hashes, but a key pasted by mistake must never be
		// repeated in an error.
		settings.Secret())
	g.Enum(&c.Anonymous, "ANONYMOUS", "anonymous", "", []string{"service", "off"}, "what requests without a credential may do: service (act as the service account; only on a private network) or off; default: service over the embedded sandbox, off with a real Procore")
	g.List(&c.AllowedHosts, "ALLOWED_HOSTS", "allowed-hosts", "", "comma-separated Host header values served (host, host:port, *.domain, or * for any); others get 421; default: the listen host, localhost names and PUBLIC_URL's host")
	g.List(&c.CORSOrigins, "CORS_ORIGINS", "cors-origins", "", "comma-separated browser origins allowed to call cross-origin with credentials, e.g. https://app.example.com; default none")
	g.URL(&c.JWT.JWKSURL, "JWT_JWKS_URL", "jwt-jwks-url", "", httpSchemes, "JWKS URL of the identity provider whose bearer tokens are accepted (with JWT_ISSUER and JWT_AUDIENCE); empty: off")
	g.String(&c.JWT.Issuer, "JWT_ISSUER", "jwt-issuer", "", "required iss of identity-provider tokens")
	g.String(&c.JWT.Audience, "JWT_AUDIENCE", "jwt-audience", "", "required aud of identity-provider tokens")
	g.String(&c.JWT.ScopesClaim, "JWT_SCOPES_CLAIM", "jwt-scopes-claim", "scope", "claim holding the granted scopes, a space-separated string or a list")
	g.String(&c.JWT.ScopePrefix, "JWT_SCOPE_PREFIX", "jwt-scope-prefix", "", "prefix of the gateway's scopes in that claim, e.g. procoregraph:")
	g.String(&c.JWT.CompaniesClaim, "JWT_COMPANIES_CLAIM", "jwt-companies-claim", "", "claim of identity-provider tokens listing the Procore company ids the caller may use; empty: every company the gateway serves")
	g.String(&c.RouterSecret, "ROUTER_SECRET", "router-secret", "", "when set, _entities and _service answer only requests with X-Router-Secret: <secret> (the federation router)", settings.Secret())

	g = r.Group("limits")
	g.Bytes(&c.MaxBodyBytes, "MAX_BODY_BYTES", "max-body-bytes", strconv.FormatInt(limits.DefaultMaxBody, 10), "largest JSON request body; larger ones get 413")
	g.Int(&c.MaxTokens, "MAX_TOKENS", "max-tokens", 15_000, "most tokens the GraphQL parser reads from one document", positive)
	g.Int(&c.Limits.MaxDepth, "MAX_DEPTH", "max-depth", 12, "deepest field nesting", positive)
	g.Int(&c.Limits.MaxAliases, "MAX_ALIASES", "max-aliases", 30, "most aliased fields in one operation", positive)
	g.Int(&c.Limits.MaxRootFields, "MAX_ROOT_FIELDS", "max-root-fields", 20, "most root fields in one operation", positive)
	g.Int(&c.Limits.MaxCost, "MAX_COST", "max-cost", 1000, "most estimated Procore calls of one operation; an API key's cost= overrides it", positive)
	g.Int64(&c.MaxExecutingCost, "MAX_EXECUTING_COST", "max-executing-cost", admission.DefaultBudget, "most estimated Procore calls of the queries and mutations executing at once on this replica; those past it wait for room (until their deadline: SERVER_BUSY)", positive64)
	g.Int64(&c.MaxAnswerFields, "MAX_ANSWER_FIELDS", "max-answer-fields", limits.DefaultMaxNodes, "most fields in one answer, enforced while it is built", positive64)
	g.Bytes(&c.MaxAnswerBytes, "MAX_ANSWER_BYTES", "max-answer-bytes", settings.FormatByteSize(limits.DefaultMaxBytes), "largest answer in bytes")
	g.Int(&c.MaxSubscriptions, "MAX_SUBSCRIPTIONS", "max-subscriptions", streamlimit.DefaultTotal, "most subscriptions open at once on this replica (websocket, SSE and multipart together), and most websockets", positive)
	g.Int(&c.MaxSubscriptionsPerPrincipal, "MAX_SUBSCRIPTIONS_PER_PRINCIPAL", "max-subscriptions-per-principal", streamlimit.DefaultPerPrincipal, "most subscriptions one principal (API key, person, token; anonymous: per address) holds open at once on this replica, and most websockets", positive)
	g.Duration(&c.OperationTimeout, "OPERATION_TIMEOUT", "operation-timeout", 30*time.Second, "deadline of one query or mutation, Procore calls and rate-limit waits included", positiveDur)
	g.Int(&c.RateRPM, "RATE_LIMIT_RPM", "rate-limit-rpm", 600, "requests a minute per principal (API key, person, token; anonymous: per address), shared by replicas through Redis; an API key's rpm= overrides it", positive)
	g.Int(&c.RateCPM, "RATE_LIMIT_CPM", "rate-limit-cpm", 20_000, "estimated Procore calls a minute per principal; an API key's cpm= overrides it", positive)
	g.String(&c.PersistedOperations, "PERSISTED_OPERATIONS", "persisted-operations", "", "trusted documents: the path of an Apollo persisted query manifest or GraphQL Code Generator's persisted documents JSON")
	g.Bool(&c.OnlyPersisted, "ONLY_PERSISTED", "only-persisted", false, "run only the trusted documents of PERSISTED_OPERATIONS")
	g.Switch(&c.NoAPQ, "APQ", "no-apq", "off turns automatic persisted queries off")
	g.Switch(&c.NoIntrospection, "INTROSPECTION", "no-introspection", "off refuses introspection (__schema, __type)")
	g.Switch(&c.NoGraphiQL, "GRAPHIQL", "no-graphiql", "off serves no GraphiQL page at /")

	g = r.Group("bulk")
	g.String(&c.BulkDir, "BULK_DIR", "bulk-dir", "", "directory of bulk export files; empty: a temporary directory removed at exit")
	g.Int(&c.BulkMaxRunning, "BULK_MAX_RUNNING", "bulk-max-running", 2, "bulk exports running at once, all callers together", positive)
	g.Bytes(&c.BulkMaxFileBytes, "BULK_MAX_FILE_BYTES", "bulk-max-file-bytes", "1GiB", "largest compressed bulk export file; a larger export fails with TOO_LARGE")
	g.Int(&c.BulkPageSize, "BULK_PAGE_SIZE", "bulk-page-size", 1000, "items a bulk export asks for per connection page, 1 to 1000", settings.Range(1, 1000))
	g.Duration(&c.BulkTTL, "BULK_TTL", "bulk-ttl", time.Hour, "how long a finished bulk export and its file are kept; also the longest its download URL is valid", positiveDur)
	g.Float(&c.BulkProcoreReserve, "BULK_PROCORE_RESERVE", "bulk-procore-reserve", 0.2, "share of Procore's rate-limit window bulk exports leave to interactive requests: they wait for the reset below it",
		settings.Check(func(r float64) error {
			if r < 0 || r >= 1 {
				return errors.New("want a share between 0 and 1, such as 0.2")
			}
			return nil
		}))

	g = r.Group("telemetry")
	g.Enum(&c.LogFormat, "LOG_FORMAT", "log-format", "text", []string{"text", "json"}, "format of the log on stderr: text (key=value) or json (one object a line); traces and metrics are configured by the standard OTEL_* variables")
	return r
}

// formatID renders a company id setting ("" for none).
func formatID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// apiKeysFromYAML turns the YAML file's api_keys into API_KEYS' text: a
// string, or a list whose items are entries as `procoregraph apikey`
// prints them or mappings with name, scopes, projects, sha256 and the
// optional per-key overrides cost, rpm, cpm, subs and companies.
func apiKeysFromYAML(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []any:
		entries := make([]string, 0, len(v))
		for i, it := range v {
			switch it := it.(type) {
			case string:
				entries = append(entries, it)
			case map[string]any:
				e, err := apiKeyEntryFromYAML(it)
				if err != nil {
					return "", fmt.Errorf("item %d: %w", i+1, err)
				}
				entries = append(entries, e)
			default:
				return "", fmt.Errorf("item %d: want an entry or a mapping with name, scopes, projects and sha256", i+1)
			}
		}
		return strings.Join(entries, ";"), nil
	}
	return "", errors.New("want a list of keys")
}

func apiKeyEntryFromYAML(m map[string]any) (string, error) {
	text := func(k string) string {
		switch v := m[k].(type) {
		case nil:
			return ""
		case []any:
			parts := make([]string, len(v))
			for i, x := range v {
				parts[i] = fmt.Sprint(x)
			}
			return strings.Join(parts, ",")
		default:
			return fmt.Sprint(v)
		}
	}
	for k := range m {
		if !slices.Contains([]string{"name", "scopes", "projects", "sha256", "cost", "rpm", "cpm", "subs", "companies"}, k) {
			return "", fmt.Errorf("unknown field %q (the fields are name, scopes, projects, sha256, cost, rpm, cpm, subs, companies)", k)
		}
	}
	var opts []string
	for _, k := range []string{"cost", "rpm", "cpm", "subs"} {
		if v := text(k); v != "" {
			opts = append(opts, k+"="+v)
		}
	}
	if cs := text("companies"); cs != "" {
		for c := range strings.SplitSeq(cs, ",") {
			opts = append(opts, "company="+strings.TrimSpace(c))
		}
	}
	entry := strings.Join([]string{text("name"), text("scopes"), text("projects"), text("sha256")}, ":")
	if len(opts) > 0 {
		entry += ":" + strings.Join(opts, ",")
	}
	return entry, nil
}

// parseConfig reads the settings (declareSettings: defaults, then
// CONFIG_FILE, then the environment through getenv, then flags from args)
// and checks what involves several of them, with messages that say what to
// fix. A value that does not parse stops the start.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	rest, err := declareSettings(&c).Load(args, getenv, os.ReadFile, stderr)
	if err != nil {
		return c, err
	}
	if len(rest) > 0 {
		return c, fmt.Errorf("unexpected argument %q (subcommands: sandbox, apikey)", rest[0])
	}
	return c, c.validate()
}

// validate checks the settings that depend on each other, fills the
// defaults derived from others, and reports every problem at once.
func (c *config) validate() error {
	var errs []error
	if cs, err := parseCompaniesSetting(c.companyIDs, c.CompanyID); err != nil {
		errs = append(errs, err)
	} else {
		c.Companies = cs
		if c.CompanyID == 0 && len(cs.IDs) > 0 {
			c.CompanyID = cs.IDs[0] // the default company
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
	if c.StateRedisURL != "" && c.RedisURL == "" {
		errs = append(errs, errors.New("STATE_REDIS_URL needs REDIS_URL: replicas share state only when they share the cache's Redis too"))
	}
	if c.RegisterWebhooks && c.WebhookAuthorization == "" && c.APIURL != "" {
		errs = append(errs, errors.New("REGISTER_WEBHOOKS needs WEBHOOK_AUTHORIZATION: the value Procore will send and the gateway will check"))
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
	if _, err := httpguard.New(httpguard.Options{AllowedHosts: c.AllowedHosts, CORSOrigins: c.CORSOrigins}); err != nil {
		errs = append(errs, err)
	}
	if c.JWT.JWKSURL != "" || c.JWT.Issuer != "" || c.JWT.Audience != "" {
		if c.JWT.JWKSURL == "" || c.JWT.Issuer == "" || c.JWT.Audience == "" {
			errs = append(errs, errors.New("JWT_JWKS_URL, JWT_ISSUER and JWT_AUDIENCE go together: set all three to accept identity-provider tokens"))
		}
	}
	if c.OnlyPersisted && c.PersistedOperations == "" {
		errs = append(errs, errors.New("ONLY_PERSISTED=true needs PERSISTED_OPERATIONS: the manifest of the documents to allow"))
	}
	return errors.Join(errs...)
}

// splitList splits a comma- or space-separated setting, dropping empties.
func splitList(s string) []string { return settings.SplitList(s) }

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

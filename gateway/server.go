// Package gateway is procoregraph's HTTP surface: GraphQL (POST and GET per the
// GraphQL-over-HTTP spec), GraphiQL, health and metrics. NewServer takes every
// dependency as an argument; routes.go shows the whole surface in one place.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"procoregraph/adapter"
	"procoregraph/admission"
	"procoregraph/audit"
	"procoregraph/authn"
	"procoregraph/bulk"
	"procoregraph/events"
	"procoregraph/graph"
	"procoregraph/httpguard"
	"procoregraph/limits"
	"procoregraph/loaders"
	"procoregraph/mutate"
	"procoregraph/persisted"
	"procoregraph/principal"
	"procoregraph/ratelimit"
	"procoregraph/reqid"
	"procoregraph/reqstats"
	"procoregraph/resolvers"
	"procoregraph/respcache"
	"procoregraph/sessions"
	"procoregraph/streamlimit"
	"procoregraph/streams"
	"procoregraph/tenant"
)

// DebugHeader asks for per-request statistics (upstream calls, cache hits and
// misses) in the response's extensions.procoregraph.
const DebugHeader = "X-Procoregraph-Debug"

// Deps are the server's dependencies.
type Deps struct {
	// Auth resolves each request (and each websocket's connection_init) to
	// its principal and Procore connection (authn.Authenticator). Required.
	Auth Authenticator
	// Audit records mutations and refused credentials. Nil: none.
	Audit *audit.Logger
	// SignIn serves "Sign in with Procore" at /auth/* (signin.Service).
	// Nil: the routes answer 404.
	SignIn interface{ Register(*http.ServeMux) }
	// Streams ends the websockets and SSE streams of revoked sessions
	// (streams.Registry). Nil: streams end only with their clients.
	Streams *streams.Registry
	// Guard checks the Host header, answers CORS and decides whether a
	// cookie-authenticated state change comes from an allowed origin
	// (httpguard). Nil: httpguard's defaults (loopback hosts, no CORS).
	Guard *httpguard.Guard
	// Loaders configures per-request dataloaders (cache, batching mode).
	Loaders loaders.Options
	// Logger for request errors. Default: slog.Default().
	Logger *slog.Logger
	// Gatherer serves /metrics. Nil: /metrics answers 404.
	Gatherer prometheus.Gatherer
	// Metrics receives the per-operation metrics (requests, errors and
	// duration by operation name). Nil: they are kept but not exported.
	Metrics prometheus.Registerer
	// TracerProvider traces requests (a server span continuing the caller's
	// traceparent, an operation span, and below them loader batches,
	// Procore calls and Redis commands). Nil: nothing is traced.
	TracerProvider trace.TracerProvider
	// Propagator reads the caller's trace context. Nil: W3C traceparent.
	Propagator propagation.TextMapPropagator
	// Ready lists what /readyz checks besides draining, in order (Redis
	// reachable, a Procore token held). Nil: only draining and Health.
	Ready []ReadinessCheck
	// Health checks dependencies for /healthz. Nil: always healthy.
	Health func(ctx context.Context) error
	// Limits measures every operation (depth, aliases, root fields,
	// estimated Procore calls) before it runs. Nil: limits' defaults over
	// limits.Rules().
	Limits *limits.Analyzer
	// MaxBody bounds a JSON request body. Default 2 MiB.
	MaxBody int64
	// MaxTokens bounds the tokens the GraphQL parser reads. Default 15,000.
	MaxTokens int
	// ExecuteEveryField turns off plain sub-tree rendering (package
	// plaintree): gqlgen then executes every field of every answer. The
	// answers are the same bytes either way; this is for comparing the two.
	ExecuteEveryField bool
	// MaxNodes bounds the fields of one answer while it is built. Default
	// 200,000.
	MaxNodes int64
	// MaxAnswerBytes bounds one (non-streaming) answer. Default 32 MiB.
	MaxAnswerBytes int64
	// Persisted are the trusted documents (PERSISTED_OPERATIONS); with
	// OnlyPersisted nothing else runs. Nil: none.
	Persisted     *persisted.Manifest
	OnlyPersisted bool
	// APQ stores automatic persisted queries (Redis or memory). Nil: APQ off.
	APQ graphql.Cache[string]
	// NoIntrospection refuses __schema and __type (INTROSPECTION=off).
	NoIntrospection bool
	// NoGraphiQL serves no GraphiQL page at / (GRAPHIQL=off).
	NoGraphiQL bool
	// RouterSecret, when set, restricts _entities and _service to requests
	// carrying X-Router-Secret (the federation router).
	RouterSecret string
	// RateLimits bounds each principal's requests and estimated Procore calls
	// (ratelimit.Limiter). Nil: no rate limits.
	RateLimits *ratelimit.Limiter
	// OperationTimeout bounds a query or mutation request, upstream calls
	// and rate-limit waits included. Default 30 s.
	OperationTimeout time.Duration
	// UnsharedSubscriptions runs every subscription on its own. By default
	// subscriptions with the same document, variables and visibility share
	// one execution per event (package subshare); this is for comparisons.
	UnsharedSubscriptions bool
	// Admission admits queries and mutations by their estimated Procore
	// calls against a replica-wide budget before they execute; those past
	// it wait. Nil: admission's default budget.
	Admission *admission.Gate
	// Subscriptions bounds the subscriptions open at once on this replica,
	// in all and per principal (streamlimit). Nil: streamlimit's defaults.
	Subscriptions *streamlimit.Limiter
	// Websockets bounds the websockets open at once on this replica, in all
	// and per principal, from connection_init until they close. Nil:
	// streamlimit's defaults.
	Websockets *streamlimit.Limiter
	// Live feeds the subscriptions (event bus, primer, counter). Nil:
	// subscriptions fail with "subscriptions are not configured".
	Live *events.Live
	// Webhooks receives Procore webhook deliveries at POST /webhooks/procore
	// (events.WebhookHandler). Nil: the route answers 404.
	Webhooks http.Handler
	// Websocket tunes the websocket and SSE transports.
	Websocket WebsocketOptions
	// Stopping is cancelled when the server begins to shut down: websocket
	// and SSE streams then end (so Shutdown does not wait for them and
	// clients reconnect elsewhere). Nil: streams end only with their clients.
	Stopping context.Context
	// Draining is cancelled when the replica starts to drain for a shutdown:
	// /readyz then answers 503 so load balancers stop sending it requests,
	// while /healthz (liveness) still answers 200. Nil: /readyz follows
	// Health alone.
	Draining context.Context
	// Mutations runs the mutations (validation, idempotency, invalidation,
	// events). Nil: mutations fail with an internal error.
	Mutations *mutate.Runner
	// Sessions serves browser-session logins (createSession, POST /sessions)
	// and should also be Tenants, so session tokens select their connection.
	// Nil: sessions are disabled.
	Sessions *sessions.Service
	// SessionCodes receives SMS/email login codes at POST /sessions/codes
	// (portal.CodeInbox). Nil: the route answers 404.
	SessionCodes http.Handler
	// ResponseCache serves repeated queries whose data is unchanged without
	// executing them (package respcache). Nil: every query is executed.
	ResponseCache *respcache.Cache
	// Bulk runs bulk exports (startBulkExport, bulkExport) and serves their
	// files at GET /bulk/{id}. Nil: the mutations fail with an internal
	// error and the route answers 404.
	Bulk *bulk.Service
	// MaxUploadBytes bounds a multipart request's file (uploadAttachment).
	// Default 32 MiB.
	MaxUploadBytes int64
}

// NewServer returns the gateway's HTTP handler.
func NewServer(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Limits == nil {
		d.Limits = limits.NewAnalyzer(limits.Options{}, limits.Rules())
	}
	if d.MaxTokens <= 0 {
		d.MaxTokens = 15_000
	}
	if d.OperationTimeout <= 0 {
		d.OperationTimeout = 30 * time.Second
	}
	if d.Admission == nil {
		d.Admission = admission.New(0)
	}
	if d.Subscriptions == nil {
		d.Subscriptions = streamlimit.New(streamlimit.Options{})
	}
	if d.Websockets == nil {
		d.Websockets = streamlimit.New(streamlimit.Options{Noun: "websockets"})
	}
	if d.Guard == nil {
		d.Guard, _ = httpguard.New(httpguard.Options{})
	}
	if len(d.Websocket.OriginPatterns) == 0 {
		d.Websocket.OriginPatterns = d.Guard.OriginHosts()
	}
	return withTracing(d.TracerProvider, d.Propagator, reqid.Middleware(tagRequestID(d.Guard.Handler(routes(d, newGraphQL(d))))))
}

func newGraphQL(d Deps) http.Handler {
	es := graph.NewExecutableSchema(graph.Config{Resolvers: resolvers.New()})
	srv := handler.New(es)
	addSubscriptionTransports(srv, d) // SSE must precede POST
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	addMutationTransport(srv, d) // multipart must precede POST
	srv.AddTransport(newPostJSON())
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(d.MaxTokens)
	srv.Use(extension.Introspection{})
	// Trusted documents resolve ids before APQ would answer "not found" for
	// them; the guards run after parsing, before the authorizer.
	if d.Persisted != nil || d.OnlyPersisted {
		srv.Use(persisted.Trusted{Manifest: d.Persisted, Only: d.OnlyPersisted})
	}
	if d.APQ != nil && !d.OnlyPersisted {
		srv.Use(extension.AutomaticPersistedQuery{Cache: d.APQ})
	}
	if d.NoIntrospection {
		srv.Use(persisted.IntrospectionOff{})
	}
	if d.RouterSecret != "" {
		srv.Use(persisted.RouterOnly(d.RouterSecret))
	}
	srv.Use(authorizer{audit: d.Audit})
	srv.Use(costGuard{a: d.Limits, rates: d.RateLimits})
	srv.SetErrorPresenter(presentError(d.Logger))
	srv.SetRecoverFunc(recoverFunc(d.Logger))
	var render graphql.FieldMiddleware
	if !d.ExecuteEveryField {
		// Inside guardFields: it spends and audits the field itself; the
		// fields rendered below it are spent by the renderer.
		pt := newPlainTrees(es)
		srv.AroundOperations(pt.Operations)
		render = pt.Field
	}
	srv.AroundFields(guardFields(d.Audit, render))
	srv.AroundOperations(observeOperations(newOperationMetrics(d.Metrics), d.Logger))
	srv.AroundOperations(stampServerTime)
	srv.AroundOperations(admitOperations(d.Admission, d.Metrics))
	srv.AroundResponses(addServerTime)
	srv.AroundResponses(boundAnswers(d.MaxNodes))
	srv.AroundResponses(perEventLoaders(d))
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp == nil || !debugRequested(ctx) {
			return resp
		}
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["procoregraph"] = reqstats.From(ctx).Snapshot()
		return resp
	})
	if d.ResponseCache != nil {
		srv.AroundResponses(responseCache(d.ResponseCache))
	}
	return srv
}

type debugKey struct{}

func debugRequested(ctx context.Context) bool {
	v, _ := ctx.Value(debugKey{}).(bool)
	return v
}

// withRequestState authenticates the request and installs its principal,
// connection, loaders and stats. A refused credential is answered 401 here
// (and audited); a request without one goes on as the anonymous principal,
// which the authorizer refuses unless anonymous access is on. A websocket's
// credentials are checked at connection_init instead (websocketInit), where
// browsers can send them.
func withRequestState(d Deps, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := audit.WithRemote(r.Context(), remoteHost(r))
		ctx = withAuthStatus(ctx)
		r = r.WithContext(ctx)
		var id authn.Identity
		if !isWebsocketUpgrade(r) {
			var err error
			if id, err = d.Auth.Authenticate(r); err != nil {
				recordRefusal(ctx, d.Audit, err)
				writeAuthError(w, err)
				return
			}
			if id.Principal.ViaCookie && !d.Guard.CookieRequestAllowed(r) {
				recordRefusal(ctx, d.Audit, &authn.Refusal{Credential: "cookie", Err: adapter.Errorf(adapter.CodeForbidden, "cross-site request")})
				writeAuthError(w, adapter.Errorf(adapter.CodeForbidden,
					"a request signed in by cookie must come from this gateway's origin or a CORS_ORIGINS frontend and, to change state, send JSON (or a header that requires a CORS preflight)"))
				return
			}
			if id.Conn == nil && isStream(r) {
				// An SSE stream has sent its 200 before the operation is
				// authorized: refuse it here instead.
				writeAuthError(w, adapter.Errorf(adapter.CodeUnauthenticated, "authentication required: send `Authorization: Bearer <API key or session token>`"))
				return
			}
		}
		// Stats collect upstream calls (reqstats.Transport in the adapter) and
		// cache results (cache.Options.OnResult) made under this context.
		ctx, _ = reqstats.With(ctx)
		ctx, release := endStreamsOnStop(d, r, ctx)
		defer release()
		if d.Live != nil {
			ctx = events.WithLive(ctx, d.Live)
		}
		if isStream(r) {
			// Streams live long: the server's read and write deadlines do
			// not apply to them (a websocket keeps these after the upgrade).
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
			if !isWebsocketUpgrade(r) {
				ctx = trackStream(ctx, d, r, id.Principal)
			}
		} else {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d.OperationTimeout)
			defer cancel()
		}
		ctx = context.WithValue(ctx, upgradeKey{}, r)
		if d.Sessions != nil {
			ctx = sessions.NewContext(ctx, d.Sessions)
		}
		if d.Bulk != nil {
			ctx = bulk.NewContext(ctx, d.Bulk)
		}
		ctx = principal.With(ctx, id.Principal)
		if id.Conn != nil {
			ctx = tenant.With(ctx, id.Conn)
			ctx = tenant.WithCompanies(ctx, id.Companies)
			ctx = loaders.With(ctx, loaders.New(id.Conn, d.Loaders))
		}
		if r.Header.Get(DebugHeader) != "" {
			ctx = context.WithValue(ctx, debugKey{}, true)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// recordRefusal audits a refused credential (never the credential itself).
func recordRefusal(ctx context.Context, l *audit.Logger, err error) {
	rec := audit.Record{Event: audit.EventCredentialRefused, Principal: principal.Principal{}.Ref(),
		Outcome: audit.OutcomeRefused, Code: string(adapter.ErrorCode(err)), Remote: audit.RemoteFrom(ctx)}
	var rf *authn.Refusal
	if errors.As(err, &rf) {
		rec.Credential = rf.Credential
	}
	l.Record(ctx, rec)
}

// remoteHost is the client's address without its port.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// trackStream ties a long-lived stream of a session's principal to the
// session: revoking it (on any replica) ends the stream, and so does a
// periodic re-authentication of the same credential that fails.
func trackStream(ctx context.Context, d Deps, r *http.Request, p principal.Principal) context.Context {
	if d.Streams == nil || p.SessionID == "" {
		return ctx
	}
	again := r.Clone(context.WithoutCancel(ctx))
	return d.Streams.Track(ctx, p.SessionID, func(cctx context.Context) error {
		_, err := d.Auth.Authenticate(again.WithContext(cctx))
		return err
	})
}

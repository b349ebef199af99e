// Package gateway is procoregraph's HTTP surface: GraphQL (POST and GET per the
// GraphQL-over-HTTP spec), GraphiQL, health and metrics. NewServer takes every
// dependency as an argument; routes.go shows the whole surface in one place.
package gateway

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/events"
	"procoregraph/graph"
	"procoregraph/loaders"
	"procoregraph/mutate"
	"procoregraph/reqstats"
	"procoregraph/resolvers"
	"procoregraph/respcache"
	"procoregraph/sessions"
	"procoregraph/tenant"
)

// DebugHeader asks for per-request statistics (upstream calls, cache hits and
// misses) in the response's extensions.procoregraph.
const DebugHeader = "X-Procoregraph-Debug"

// Deps are the server's dependencies.
type Deps struct {
	// Tenants maps a request to its Procore connection. Required.
	Tenants tenant.Resolver
	// Loaders configures per-request dataloaders (cache, batching mode).
	Loaders loaders.Options
	// Logger for request errors. Default: slog.Default().
	Logger *slog.Logger
	// Gatherer serves /metrics. Nil: /metrics answers 404.
	Gatherer prometheus.Gatherer
	// Health checks dependencies for /healthz. Nil: always healthy.
	Health func(ctx context.Context) error
	// ComplexityLimit bounds a query's cost. Default 50000; -1 disables.
	ComplexityLimit int
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
	// MaxUploadBytes bounds a multipart request's file (uploadAttachment).
	// Default 32 MiB.
	MaxUploadBytes int64
}

// NewServer returns the gateway's HTTP handler.
func NewServer(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.ComplexityLimit == 0 {
		d.ComplexityLimit = 50000
	}
	return routes(d, newGraphQL(d))
}

func newGraphQL(d Deps) http.Handler {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: resolvers.New()}))
	addSubscriptionTransports(srv, d) // SSE must precede POST
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	addMutationTransport(srv, d) // multipart must precede POST
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	if d.ComplexityLimit > 0 {
		srv.Use(extension.FixedComplexityLimit(d.ComplexityLimit))
	}
	srv.SetErrorPresenter(presentError(d.Logger))
	srv.SetRecoverFunc(recoverFunc(d.Logger))
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

// withRequestState installs the request's connection, loaders and stats.
func withRequestState(d Deps, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := d.Tenants.Resolve(r)
		if err != nil && !isWebsocketUpgrade(r) {
			writeAuthError(w, err)
			return
		}
		// Stats collect upstream calls (reqstats.Transport in the adapter) and
		// cache results (cache.Options.OnResult) made under this context.
		ctx, _ := reqstats.With(r.Context())
		ctx, release := endStreamsOnStop(d, r, ctx)
		defer release()
		if d.Live != nil {
			ctx = events.WithLive(ctx, d.Live)
		}
		ctx = context.WithValue(ctx, upgradeKey{}, r)
		if d.Sessions != nil {
			ctx = sessions.NewContext(ctx, d.Sessions)
		}
		if err != nil {
			// A websocket's credentials are checked at connection_init
			// (websocketInit), where browsers can send them.
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		// No connection (no session token and no OAuth connection
		// configured): only createSession can run; everything else answers
		// UNAUTHENTICATED.
		if conn != nil {
			ctx = tenant.With(ctx, conn)
			ctx = loaders.With(ctx, loaders.New(conn, d.Loaders))
		}
		if r.Header.Get(DebugHeader) != "" {
			ctx = context.WithValue(ctx, debugKey{}, true)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

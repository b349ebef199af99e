package gateway

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/cache"
)

// ServerTimeExtension is the response extension carrying the instant the
// gateway started the operation (RFC 3339 with nanoseconds, UTC): taken as
// the request arrives, before any cache read or Procore call of the
// operation. A client syncing with updatedSince stores it as its next
// watermark: whatever Procore changes after it is updated after it. It is a
// safe watermark for an answer read from Procore, which
// Cache-Control: max-age=0 (or no-cache) forces; an answer from the
// gateway's caches can be as old as their TTL.
const ServerTimeExtension = "serverTime"

type serverTimeKey struct{}

// withSyncHeaders notes the request's arrival time (the serverTime of an
// operation sent over plain HTTP) and, for Cache-Control: max-age=0,
// no-cache or no-store, marks the request's cache reads fresh-only (see
// cache.WithFresh): every list and item is read from Procore and written
// back, within the same rate limits and cost limits as any request.
// Websocket upgrades are left alone: their operations take their own time.
func withSyncHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := context.WithValue(r.Context(), serverTimeKey{}, time.Now().UTC())
		if freshRequested(r) {
			ctx = cache.WithFresh(ctx)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// freshRequested reports whether the client sent Cache-Control: no-cache,
// no-store or max-age=0: the answer is then executed, not served from the
// response cache, and its data read from Procore, not from the data cache.
func freshRequested(r *http.Request) bool {
	for _, d := range strings.Split(strings.ToLower(r.Header.Get("Cache-Control")), ",") {
		switch strings.TrimSpace(d) {
		case "no-cache", "no-store", "max-age=0":
			return true
		}
	}
	return false
}

// serverTimeOf returns the serverTime noted for ctx's request.
func serverTimeOf(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(serverTimeKey{}).(time.Time)
	return t, ok
}

// stampServerTime notes the operation's start for operations that did not
// arrive over plain HTTP (websocket and SSE transports start theirs here,
// before any resolver runs).
func stampServerTime(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if _, ok := serverTimeOf(ctx); !ok {
		ctx = context.WithValue(ctx, serverTimeKey{}, time.Now().UTC())
	}
	return next(ctx)
}

// addServerTime puts serverTime in the extensions of query and mutation
// answers (not in subscription events).
func addServerTime(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || !graphql.HasOperationContext(ctx) {
		return resp
	}
	if op := graphql.GetOperationContext(ctx).Operation; op == nil || op.Operation == ast.Subscription {
		return resp
	}
	if t, ok := serverTimeOf(ctx); ok {
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions[ServerTimeExtension] = t.Format(time.RFC3339Nano)
	}
	return resp
}

package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/cache"
	"procoregraph/principal"
	"procoregraph/reqstats"
	"procoregraph/respcache"
	"procoregraph/tenant"
)

// cacheableRoots are the Query fields whose whole answer is read through the
// value cache (and the static federation and introspection fields). An
// operation selecting anything else is executed every time.
var cacheableRoots = map[string]bool{
	"viewer": true, "companies": true, "projects": true, "project": true,
	"_entities": true, "_service": true, "__typename": true, "__schema": true, "__type": true,
}

// maxCachedRequestBody bounds the request bodies the response cache reads to
// compute a key; larger requests are executed without it.
const maxCachedRequestBody = 1 << 20

// answerKey is the response-cache key of the request, put in its context
// by withResponseCache for a miss, so the executor can store the answer.
type answerKey struct{}

// withResponseCache answers a GraphQL query (POST application/json, or GET)
// from rc when the same connection and user asked the same document,
// operation and variables before and every cache scope the stored answer was
// built from is unchanged (package respcache). A hit is written here, without
// parsing or executing the document. A miss goes on to the executor with its
// key in the context; responseCache (below) stores the answer if it is
// cacheable. Cache-Control: no-cache, no-store or max-age=0 makes the request
// execute (and refresh the stored answer). Other requests (multipart, websockets, persisted
// queries, bodies over 1 MiB) always execute.
func withResponseCache(rc *respcache.Cache, next http.Handler) http.Handler {
	if rc == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, ok := tenant.From(r.Context())
		// Only principals that may run queries get stored answers (the
		// authorizer never sees a hit). Narrower credentials have their own
		// connection user key, so they never share a wider one's answers.
		if !ok || r.Header.Get("Upgrade") != "" || !principal.From(r.Context()).Can(principal.ScopeRead) {
			next.ServeHTTP(w, r)
			return
		}
		var key string
		switch r.Method {
		case http.MethodGet:
			key, ok = getRequestKey(rc, conn, r.URL.Query())
		case http.MethodPost:
			key, ok = postRequestKey(rc, conn, r)
		default:
			ok = false
		}
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		stats := reqstats.From(r.Context())
		if !freshRequested(r) {
			if data, ok := rc.Get(r.Context(), key); ok {
				outcome(rc, stats, respcache.ResultHit)
				writeCachedAnswer(w, r, data)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), answerKey{}, key)))
	})
}

// postRequestKey reads a POST application/json body (putting it back for the
// executor) and returns its cache key.
func postRequestKey(rc *respcache.Cache, conn *tenant.Connection, r *http.Request) (string, bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return "", false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCachedRequestBody+1))
	rest := r.Body
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), rest), rest}
	if err != nil || len(body) > maxCachedRequestBody {
		return "", false
	}
	var p struct {
		Query         string          `json:"query"`
		OperationName string          `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	if err := json.Unmarshal(body, &p); err != nil || hasExtensions(string(p.Extensions)) {
		return "", false
	}
	return requestKey(rc, conn, p.Query, p.OperationName, p.Variables)
}

// getRequestKey returns the cache key of a GET request's parameters.
func getRequestKey(rc *respcache.Cache, conn *tenant.Connection, q url.Values) (string, bool) {
	if hasExtensions(q.Get("extensions")) {
		return "", false
	}
	return requestKey(rc, conn, q.Get("query"), q.Get("operationName"), []byte(q.Get("variables")))
}

// hasExtensions reports whether a request carries extensions (persisted
// queries), which the response cache leaves to the executor.
func hasExtensions(raw string) bool {
	raw = strings.TrimSpace(raw)
	return raw != "" && raw != "null" && raw != "{}"
}

// requestKey returns the cache key of a document, operation and variables
// (JSON). Numbers in variables keep their exact text, so ids above 2^53 stay
// distinct.
func requestKey(rc *respcache.Cache, conn *tenant.Connection, query, operationName string, variables []byte) (string, bool) {
	if query == "" {
		return "", false
	}
	var vars map[string]any
	if v := bytes.TrimSpace(variables); len(v) > 0 && string(v) != "null" {
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&vars); err != nil {
			return "", false
		}
	}
	key, err := rc.Key(respcache.Request{Conn: conn.ID, User: conn.UserKey, Query: query, OperationName: operationName, Variables: vars})
	return key, err == nil
}

// writeCachedAnswer writes a stored answer as gqlgen's transports would:
// the media type the client accepts, status 200, {"data": ...}, and the
// request's statistics when the debug header asked for them.
func writeCachedAnswer(w http.ResponseWriter, r *http.Request, data []byte) {
	w.Header().Set("Content-Type", responseMediaType(r.Header.Get("Accept")))
	var b bytes.Buffer
	b.Grow(len(data) + 256)
	b.WriteString(`{"data":`)
	b.Write(data)
	ext := map[string]any{}
	if t, ok := serverTimeOf(r.Context()); ok {
		ext[ServerTimeExtension] = t.Format(time.RFC3339Nano)
	}
	if r.Header.Get(DebugHeader) != "" {
		ext["procoregraph"] = reqstats.From(r.Context()).Snapshot()
	}
	if len(ext) > 0 {
		if raw, err := json.Marshal(ext); err == nil {
			b.WriteString(`,"extensions":`)
			b.Write(raw)
		}
	}
	b.WriteByte('}')
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// responseMediaType is the media type gqlgen's POST transport picks for an
// Accept header: application/json unless the client prefers
// application/graphql-response+json.
func responseMediaType(accept string) string {
	const gqlJSON = "application/graphql-response+json"
	if accept == "" {
		return "application/json"
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "*/*", "application/*", "application/json":
			return "application/json"
		case gqlJSON:
			return gqlJSON
		}
	}
	return gqlJSON
}

// outcome records the response cache's result for the request: in the
// metrics and in the request's debug statistics.
func outcome(rc *respcache.Cache, stats *reqstats.Stats, result string) {
	rc.Count(result)
	stats.SetResponseCache(result)
}

// responseCache stores the answers of requests withResponseCache missed
// when they are cacheable: query operations over cacheableRoots, without
// errors or @defer, whose every upstream call went through the value cache
// and whose every value was fresh (cache.Deps).
func responseCache(rc *respcache.Cache) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		key, _ := ctx.Value(answerKey{}).(string)
		stats := reqstats.From(ctx)
		if key == "" || !graphql.HasOperationContext(ctx) || !cacheableOperation(graphql.GetOperationContext(ctx)) {
			outcome(rc, stats, respcache.ResultBypass)
			return next(ctx)
		}
		outcome(rc, stats, respcache.ResultMiss)
		ctx, deps := cache.WithDeps(ctx)
		resp := next(ctx)
		if resp == nil || len(resp.Errors) > 0 || resp.HasNext != nil || len(resp.Data) == 0 {
			return resp
		}
		if stats.UncachedCalls() > 0 {
			deps.Uncacheable("an upstream call bypassed the cache")
		}
		if rc.Put(ctx, key, resp.Data, deps) {
			rc.Count(respcache.ResultStored)
		}
		return resp
	}
}

// cacheableOperation reports whether oc is a query selecting only
// cacheableRoots, without @defer or @stream.
func cacheableOperation(oc *graphql.OperationContext) bool {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return false
	}
	if strings.Contains(oc.RawQuery, "@defer") || strings.Contains(oc.RawQuery, "@stream") {
		return false
	}
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"}) {
		if !cacheableRoots[f.Name] {
			return false
		}
	}
	return true
}

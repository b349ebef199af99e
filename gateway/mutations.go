package gateway

import (
	"encoding/json"
	"mime"
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"procoregraph/httpguard"
	"procoregraph/mutate"
)

// IdempotencyKeyHeader carries an idempotency key for the create mutations
// of a request (the input's idempotencyKey field takes its place per create).
const IdempotencyKeyHeader = "Idempotency-Key"

// addMutationTransport adds the GraphQL multipart request transport
// (uploadAttachment's files). It must precede POST.
func addMutationTransport(srv *handler.Server, d Deps) {
	limit := d.MaxUploadBytes
	if limit <= 0 {
		limit = 32 << 20
	}
	// The form's other parts (operations, map) need a little room besides the file.
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: limit + 1<<20, MaxMemory: 8 << 20})
}

// withMutations installs the mutation runner and the request's
// Idempotency-Key header in the context, and refuses multipart requests
// that a browser could have sent without a CORS preflight.
func withMutations(d Deps, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isMultipart(r) && !httpguard.HasPreflightHeader(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{
				"message":    "multipart requests must carry a header that requires a CORS preflight, such as Apollo-Require-Preflight: true",
				"extensions": map[string]any{"code": "BAD_REQUEST"},
			}}})
			return
		}
		ctx := r.Context()
		if d.Mutations != nil {
			ctx = mutate.NewContext(ctx, d.Mutations)
		}
		if k := r.Header.Get(IdempotencyKeyHeader); k != "" {
			ctx = mutate.WithIdempotencyKey(ctx, k)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func isMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

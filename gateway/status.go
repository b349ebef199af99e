package gateway

import (
	"context"
	"mime"
	"net/http"
	"strconv"
)

// legacyJSONStatus implements the GraphQL-over-HTTP rule for
// application/json responses: a request that fails to parse, validate or
// coerce its variables is still answered 200, with the errors in the body.
// gqlgen answers 422; clients that accept application/graphql-response+json
// keep the 4xx, as the spec wants for that media type.
func legacyJSONStatus(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&statusRewriter{ResponseWriter: w, ctx: r.Context()}, r)
	})
}

type statusRewriter struct {
	http.ResponseWriter
	ctx   context.Context
	wrote bool
}

// WriteHeader applies the GraphQL-over-HTTP rule above, and the status an
// authorization refusal asked for (401 without a credential, 403 without
// the scope), which gqlgen's executor cannot set itself.
func (s *statusRewriter) WriteHeader(code int) {
	if s.wrote {
		return // a second status (e.g. after a refused websocket upgrade) would only be logged as superfluous
	}
	if !s.wrote && (code < 300 || code == http.StatusUnprocessableEntity) {
		if st := authStatusOf(s.ctx); st != 0 {
			if st == http.StatusUnauthorized {
				s.Header().Set("WWW-Authenticate", `Bearer realm="procoregraph"`)
			}
			if secs := retryAfterOf(s.ctx); st == http.StatusTooManyRequests && secs > 0 {
				s.Header().Set("Retry-After", strconv.Itoa(secs))
			}
			s.wrote = true
			s.ResponseWriter.WriteHeader(st)
			return
		}
	}
	if !s.wrote && code == http.StatusUnprocessableEntity {
		if mt, _, err := mime.ParseMediaType(s.Header().Get("Content-Type")); err == nil && mt == "application/json" {
			code = http.StatusOK
		}
	}
	s.wrote = true
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRewriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// Flush keeps streaming transports (SSE) working through the wrapper.
func (s *statusRewriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer
// (websocket upgrades hijack the connection).
func (s *statusRewriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

package gateway

import (
	"mime"
	"net/http"
)

// legacyJSONStatus implements the GraphQL-over-HTTP rule for
// application/json responses: a request that fails to parse, validate or
// coerce its variables is still answered 200, with the errors in the body.
// gqlgen answers 422; clients that accept application/graphql-response+json
// keep the 4xx, as the spec wants for that media type.
func legacyJSONStatus(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&statusRewriter{ResponseWriter: w}, r)
	})
}

type statusRewriter struct {
	http.ResponseWriter
	wrote bool
}

func (s *statusRewriter) WriteHeader(code int) {
	if !s.wrote && code == http.StatusUnprocessableEntity {
		if mt, _, err := mime.ParseMediaType(s.Header().Get("Content-Type")); err == nil && mt == "application/json" {
			code = http.StatusOK
		}
	}
	s.wrote = true
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRewriter) Write(b []byte) (int, error) {
	s.wrote = true
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

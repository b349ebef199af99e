// Package reqid gives every HTTP request an id, carried in its context and
// echoed in the X-Request-Id response header, so that logs and audit
// records of one request can be joined.
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
)

// Header carries the request id in responses (and, from a trusted proxy,
// in requests).
const Header = "X-Request-Id"

// valid are ids accepted from a caller: short and printable, so a client
// cannot inject anything into logs through them.
var valid = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)

type ctxKey struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the request id in ctx, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// New returns a fresh random id (16 hex characters).
func New() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Middleware gives each request an id: the caller's X-Request-Id when it is
// well formed (a router's id joins both logs), else a new one.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !valid.MatchString(id) {
			id = New()
		}
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(With(r.Context(), id)))
	})
}

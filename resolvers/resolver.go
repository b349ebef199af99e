// Package resolvers holds the thin GraphQL resolvers: arguments go to the
// request's loaders (reads) or the connection's adapter (writes), results come
// back as adapter types. No HTTP, no Redis, no JSON here.
package resolvers

import (
	"context"

	"procoregraph/adapter"
	"procoregraph/loaders"
	"procoregraph/tenant"
)

// Resolver is the root resolver and the one place dependencies arrive.
// Per-request state (connection, loaders) travels in the context.
type Resolver struct{}

// New returns the root resolver.
func New() *Resolver { return &Resolver{} }

// ld returns the request's loaders. A request without them has no Procore
// connection: it carried no session token and the gateway has no OAuth
// connection configured.
func ld(ctx context.Context) (*loaders.Loaders, error) {
	l := loaders.For(ctx)
	if l == nil {
		return nil, adapter.Errorf(adapter.CodeUnauthenticated,
			"no Procore connection: send a session token from createSession as Authorization: Bearer <token>")
	}
	return l, nil
}

// conn returns the request's Procore connection.
func conn(ctx context.Context) (*tenant.Connection, error) {
	c, ok := tenant.From(ctx)
	if !ok {
		return nil, adapter.Errorf(adapter.CodeUnauthenticated, "no Procore connection for this request")
	}
	return c, nil
}

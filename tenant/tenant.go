// Package tenant names the Procore connection a request acts for. A Connection
// is (Procore environment, company, credential); every cache key, loader and
// event is scoped by its ID, so no request can read another tenant's data.
package tenant

import (
	"context"

	"procoregraph/adapter"
)

// Connection is one Procore tenant as the gateway sees it.
type Connection struct {
	// ID is stable across replicas and restarts and contains no secret
	// (e.g. a hash of the environment, client id and company id).
	ID string
	// CompanyID is the Procore company this connection works in.
	CompanyID int64
	// UserKey identifies the Procore user behind the credential, for cache keys.
	UserKey string
	// Procore is the adapter bound to this connection's credential.
	Procore adapter.Procore
	// CanSeeProject, when set, reports whether this connection's credential
	// may see project id. Connections of one company share its events (same
	// ID), so subscriptions use it to keep other projects' events away from a
	// narrower credential (a person, a key with a project allowlist). Nil:
	// every project of the company.
	CanSeeProject func(ctx context.Context, projectID int64) bool
}

// Sees reports whether c may see project id (see CanSeeProject).
func (c *Connection) Sees(ctx context.Context, projectID int64) bool {
	return c.CanSeeProject == nil || c.CanSeeProject(ctx, projectID)
}

type ctxKey struct{}

// With returns ctx carrying c.
func With(ctx context.Context, c *Connection) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// From returns the connection in ctx, or nil and false.
func From(ctx context.Context) (*Connection, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Connection)
	return c, ok && c != nil
}

type companiesKey struct{}

// WithCompanies returns ctx carrying the Procore companies the request's
// principal may use on this gateway (the companies it serves, within the
// principal's allowlist; a person's session company), which Query.companies
// lists.
func WithCompanies(ctx context.Context, ids []int64) context.Context {
	return context.WithValue(ctx, companiesKey{}, ids)
}

// Companies returns the companies set by WithCompanies; ok is false when
// none were set (every company the connection's credential sees).
func Companies(ctx context.Context) (ids []int64, ok bool) {
	ids, ok = ctx.Value(companiesKey{}).([]int64)
	return ids, ok
}

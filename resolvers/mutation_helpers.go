package resolvers

import (
	"context"

	"procoregraph/adapter"
	"procoregraph/mutate"
)

// mutations returns the request's mutation runner, or an internal error when
// the server forgot to install it (a wiring bug, never a client error).
func mutations(ctx context.Context) (*mutate.Runner, error) {
	m := mutate.For(ctx)
	if m == nil {
		return nil, adapter.Errorf(adapter.CodeInternal, "no mutation runner in request context")
	}
	return m, nil
}

package resolvers

import (
	"context"

	"procoregraph/mutate"
)

// Status writes (schema/status_writes.graphqls): the resolvers hand the
// input to the request's mutation runner, which validates, reads, writes,
// invalidates and observes (mutate/changeorder_status.go, payapp_status.go).

func updateChangeOrderStatus(ctx context.Context, input mutate.UpdateChangeOrderStatusInput) (*mutate.UpdateChangeOrderStatusPayload, error) {
	m, err := mutations(ctx)
	if err != nil {
		return nil, err
	}
	return m.UpdateChangeOrderStatus(ctx, input)
}

func updatePaymentApplicationStatus(ctx context.Context, input mutate.UpdatePaymentApplicationStatusInput) (*mutate.UpdatePaymentApplicationStatusPayload, error) {
	m, err := mutations(ctx)
	if err != nil {
		return nil, err
	}
	return m.UpdatePaymentApplicationStatus(ctx, input)
}

package resolvers

import (
	"time"

	"procoregraph/adapter"
	"procoregraph/graph/model"
)

// The keys (id, updated_at) of prime contracts and payment applications.
var (
	primeContractKeys = keyFns[adapter.PrimeContract]{func(x *adapter.PrimeContract) int64 { return x.ID },
		func(x *adapter.PrimeContract) time.Time { return x.UpdatedAt }}
	paymentApplicationKeys = keyFns[adapter.PaymentApplication]{func(x *adapter.PaymentApplication) int64 { return x.ID },
		func(x *adapter.PaymentApplication) time.Time { return x.UpdatedAt }}
)

func primeContractConnection(out pageOut[adapter.PrimeContract]) *model.PrimeContractConnection {
	return &model.PrimeContractConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.PrimeContract) model.PrimeContractEdge {
			return model.PrimeContractEdge{Cursor: c, Node: n}
		})}
}

func paymentApplicationConnection(out pageOut[adapter.PaymentApplication]) *model.PaymentApplicationConnection {
	return &model.PaymentApplicationConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.PaymentApplication) model.PaymentApplicationEdge {
			return model.PaymentApplicationEdge{Cursor: c, Node: n}
		})}
}

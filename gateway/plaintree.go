package gateway

import (
	"reflect"

	"github.com/99designs/gqlgen/graphql"

	"procoregraph/gqlscalar"
	"procoregraph/graph"
	"procoregraph/plaintree"
)

// newPlainTrees is the renderer of plain sub-trees for the executable
// schema es. Its scalars are gqlgen.yml's `models`: each GraphQL scalar or
// enum with the function gqlgen's generated code marshals each of its Go
// types with (TestPlainTreeScalarsAreGqlgens checks them against
// graph/generated.go). A scalar missing here is not wrong, only slower:
// gqlgen executes the fields that have one.
func newPlainTrees(es graphql.ExecutableSchema) *plaintree.Renderer {
	return plaintree.New(es.Schema(), reflect.TypeFor[graph.ResolverRoot](), plainScalars())
}

func plainScalars() []plaintree.Scalar {
	return []plaintree.Scalar{
		plaintree.Bind("String", graphql.MarshalString),
		plaintree.Bind("Int", graphql.MarshalInt),
		plaintree.Bind("Boolean", graphql.MarshalBoolean),
		plaintree.Bind("ID", gqlscalar.MarshalID64),
		plaintree.Bind("Decimal", gqlscalar.MarshalDecimal),
		plaintree.Bind("Date", gqlscalar.MarshalDate),
		plaintree.Bind("DateTime", gqlscalar.MarshalDateTime),
		plaintree.Bind("RFIStatus", gqlscalar.MarshalRFIStatus),
		plaintree.Bind("ImpactStatus", gqlscalar.MarshalImpactStatus),
		plaintree.Bind("CommitmentKind", gqlscalar.MarshalCommitmentKind),
		plaintree.Bind("CommitmentStatus", gqlscalar.MarshalCommitmentStatus),
		plaintree.Bind("DirectCostType", gqlscalar.MarshalDirectCostType),
		plaintree.Bind("DirectCostStatus", gqlscalar.MarshalDirectCostStatus),
		plaintree.Bind("ChangeOrderStatus", gqlscalar.MarshalChangeOrderStatus),
		plaintree.Bind("ChangeEventStatus", gqlscalar.MarshalChangeEventStatus),
		plaintree.Bind("ChangeEventScope", gqlscalar.MarshalChangeEventScope),
		plaintree.Bind("PrimeContractStatus", gqlscalar.MarshalPrimeContractStatus),
		plaintree.Bind("PaymentApplicationStatus", gqlscalar.MarshalPaymentApplicationStatus),
		plaintree.Bind("ChangeOrderType", gqlscalar.MarshalChangeOrderType),
		plaintree.Bind("InvoiceStatus", gqlscalar.MarshalInvoiceStatus),
		plaintree.Bind("ObservationStatus", gqlscalar.MarshalObservationStatus),
		plaintree.Bind("PunchStatus", gqlscalar.MarshalPunchStatus),
		plaintree.Bind("ProjectStatus", gqlscalar.MarshalProjectStatus),
		plaintree.Bind("RFIBallInCourtRole", gqlscalar.MarshalRFIBallInCourtRole),
	}
}

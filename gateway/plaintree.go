package gateway

import (
	"reflect"

	"github.com/99designs/gqlgen/graphql"

	"procoregraph/adapter"
	"procoregraph/gqlscalar"
	"procoregraph/graph"
	"procoregraph/plaintree"
	"procoregraph/resolvers"
)

// newPlainTrees is the renderer of plain sub-trees for the executable
// schema es. Its scalars are gqlgen.yml's `models`: each GraphQL scalar or
// enum with the function gqlgen's generated code marshals each of its Go
// types with (TestPlainTreeScalarsAreGqlgens checks them against
// graph/generated.go). The appenders write what their marshalers write
// (gqlscalar's tests hold them to it), without allocating for the values
// an answer holds (TestAppendersDoNotAllocate); enums remember what their
// marshaler wrote for each value.
//
// Its inline fields are resolved while their objects are rendered, so that
// a dashboard's projects, with their RFIs, submittals and commitments, and
// these with their vendors and invoices, are rendered whole rather than
// executed by gqlgen project by project and commitment by commitment.
func newPlainTrees(es graphql.ExecutableSchema) *plaintree.Renderer {
	return plaintree.New(es.Schema(), reflect.TypeFor[graph.ResolverRoot](), plainScalars(), plainInlines()...)
}

// plainInlines are the fields served by methods or resolvers that the
// renderer resolves itself (TestPlainTreeInlinesAreGqlgens checks the
// methods and the resolved fields' arguments against graph/generated.go).
func plainInlines() []plaintree.Inline {
	return []plaintree.Inline{
		plaintree.Method("Commitment", "vendor", (*adapter.Commitment).Vendor),
		plaintree.Resolved("Commitment", "invoices", resolvers.CommitmentInvoicesInline),
		plaintree.Resolved("Project", "rfis", resolvers.ProjectRFIsInline),
		plaintree.Resolved("Project", "submittals", resolvers.ProjectSubmittalsInline),
		plaintree.Resolved("Project", "commitments", resolvers.ProjectCommitmentsInline),
	}
}

func plainScalars() []plaintree.Scalar {
	return []plaintree.Scalar{
		plaintree.BindAppend("String", graphql.MarshalString, plaintree.AppendString),
		plaintree.BindAppend("Int", graphql.MarshalInt, plaintree.AppendInt),
		plaintree.BindAppend("Boolean", graphql.MarshalBoolean, plaintree.AppendBoolean),
		plaintree.BindAppend("ID", gqlscalar.MarshalID64, gqlscalar.AppendID64),
		plaintree.BindAppend("Decimal", gqlscalar.MarshalDecimal, gqlscalar.AppendDecimal),
		plaintree.BindAppend("Date", gqlscalar.MarshalDate, gqlscalar.AppendDate),
		plaintree.BindAppend("DateTime", gqlscalar.MarshalDateTime, gqlscalar.AppendDateTime),
		plaintree.BindEnum("RFIStatus", gqlscalar.MarshalRFIStatus),
		plaintree.BindEnum("ImpactStatus", gqlscalar.MarshalImpactStatus),
		plaintree.BindEnum("CommitmentKind", gqlscalar.MarshalCommitmentKind),
		plaintree.BindEnum("CommitmentStatus", gqlscalar.MarshalCommitmentStatus),
		plaintree.BindEnum("DirectCostType", gqlscalar.MarshalDirectCostType),
		plaintree.BindEnum("DirectCostStatus", gqlscalar.MarshalDirectCostStatus),
		plaintree.BindEnum("ChangeOrderStatus", gqlscalar.MarshalChangeOrderStatus),
		plaintree.BindEnum("ChangeEventStatus", gqlscalar.MarshalChangeEventStatus),
		plaintree.BindEnum("ChangeEventScope", gqlscalar.MarshalChangeEventScope),
		plaintree.BindEnum("PrimeContractStatus", gqlscalar.MarshalPrimeContractStatus),
		plaintree.BindEnum("PaymentApplicationStatus", gqlscalar.MarshalPaymentApplicationStatus),
		plaintree.BindEnum("ChangeOrderType", gqlscalar.MarshalChangeOrderType),
		plaintree.BindEnum("InvoiceStatus", gqlscalar.MarshalInvoiceStatus),
		plaintree.BindEnum("ObservationStatus", gqlscalar.MarshalObservationStatus),
		plaintree.BindEnum("PunchStatus", gqlscalar.MarshalPunchStatus),
		plaintree.BindEnum("ProjectStatus", gqlscalar.MarshalProjectStatus),
		plaintree.BindEnum("RFIBallInCourtRole", gqlscalar.MarshalRFIBallInCourtRole),
	}
}

package gqlscalar

import (
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"procoregraph/adapter"
)

func marshalEnum[T ~string](v T, unknown T, known []T) graphql.Marshaler {
	if !slices.Contains(known, v) {
		v = unknown
	}
	return graphql.WriterFunc(func(w io.Writer) { io.WriteString(w, strconv.Quote(string(v))) })
}

func unmarshalEnum[T ~string](v any, name string, known []T) (T, error) {
	s, ok := v.(string)
	if !ok || !slices.Contains(known, T(s)) {
		return "", fmt.Errorf("invalid %s %v", name, v)
	}
	return T(s), nil
}

var (
	rfiStatuses = []adapter.RFIStatus{adapter.RFIStatusOpen, adapter.RFIStatusClosed, adapter.RFIStatusDraft,
		adapter.RFIStatusRecycled, adapter.RFIStatusUnknown}
	impactStatuses = []adapter.ImpactStatus{adapter.ImpactYesKnown, adapter.ImpactYesUnknown, adapter.ImpactNoImpact,
		adapter.ImpactTBD, adapter.ImpactNA, adapter.ImpactUnknown}
	commitmentKinds    = []adapter.CommitmentKind{adapter.CommitmentSubcontract, adapter.CommitmentPurchaseOrder}
	commitmentStatuses = []adapter.CommitmentStatus{adapter.CommitmentDraft, adapter.CommitmentOutForBid,
		adapter.CommitmentOutForSignature, adapter.CommitmentApproved, adapter.CommitmentComplete,
		adapter.CommitmentTerminated, adapter.CommitmentVoid, adapter.CommitmentProcessing, adapter.CommitmentSubmitted,
		adapter.CommitmentPartiallyReceived, adapter.CommitmentReceived, adapter.CommitmentClosed, adapter.CommitmentUnknown}
	changeOrderStatuses = []adapter.ChangeOrderStatus{adapter.ChangeOrderDraft, adapter.ChangeOrderPricing,
		adapter.ChangeOrderNotPricing, adapter.ChangeOrderPending, adapter.ChangeOrderRevised, adapter.ChangeOrderProceeding,
		adapter.ChangeOrderNotProceeding, adapter.ChangeOrderPendingBillable, adapter.ChangeOrderNoCharge,
		adapter.ChangeOrderApproved, adapter.ChangeOrderRejected, adapter.ChangeOrderVoid, adapter.ChangeOrderUnknown}
	invoiceStatuses = []adapter.InvoiceStatus{adapter.InvoiceDraft, adapter.InvoiceUnderReview,
		adapter.InvoiceReviseAndResubmit, adapter.InvoiceApproved, adapter.InvoiceApprovedAsNoted,
		adapter.InvoicePendingOwnerApproval, adapter.InvoiceUnknown}
	observationStatuses = []adapter.ObservationStatus{adapter.ObservationInitiated, adapter.ObservationReadyForReview,
		adapter.ObservationNotAccepted, adapter.ObservationClosed, adapter.ObservationUnknown}
	punchStatuses = []adapter.PunchStatus{adapter.PunchOpen, adapter.PunchClosed, adapter.PunchOverdue,
		adapter.PunchPending, adapter.PunchUnknown}
	ballInCourtRoles = []adapter.RFIBallInCourtRole{adapter.BallInCourtAssignees, adapter.BallInCourtCreator,
		adapter.BallInCourtRFIManager, adapter.BallInCourtUnknown}
	projectStatuses = []adapter.ProjectStatus{adapter.ProjectStatusActive, adapter.ProjectStatusInactive,
		adapter.ProjectStatusAll}
)

// The functions below bind the schema's enums to the adapter's string types.
// Marshal maps a value the schema does not know to UNKNOWN.

func MarshalRFIStatus(v adapter.RFIStatus) graphql.Marshaler {
	return marshalEnum(v, adapter.RFIStatusUnknown, rfiStatuses)
}
func UnmarshalRFIStatus(v any) (adapter.RFIStatus, error) {
	return unmarshalEnum(v, "RFIStatus", rfiStatuses)
}
func MarshalImpactStatus(v adapter.ImpactStatus) graphql.Marshaler {
	return marshalEnum(v, adapter.ImpactUnknown, impactStatuses)
}
func UnmarshalImpactStatus(v any) (adapter.ImpactStatus, error) {
	return unmarshalEnum(v, "ImpactStatus", impactStatuses)
}
func MarshalCommitmentKind(v adapter.CommitmentKind) graphql.Marshaler {
	return marshalEnum(v, adapter.CommitmentSubcontract, commitmentKinds)
}
func UnmarshalCommitmentKind(v any) (adapter.CommitmentKind, error) {
	return unmarshalEnum(v, "CommitmentKind", commitmentKinds)
}
func MarshalCommitmentStatus(v adapter.CommitmentStatus) graphql.Marshaler {
	return marshalEnum(v, adapter.CommitmentUnknown, commitmentStatuses)
}
func UnmarshalCommitmentStatus(v any) (adapter.CommitmentStatus, error) {
	return unmarshalEnum(v, "CommitmentStatus", commitmentStatuses)
}
func MarshalChangeOrderStatus(v adapter.ChangeOrderStatus) graphql.Marshaler {
	return marshalEnum(v, adapter.ChangeOrderUnknown, changeOrderStatuses)
}
func UnmarshalChangeOrderStatus(v any) (adapter.ChangeOrderStatus, error) {
	return unmarshalEnum(v, "ChangeOrderStatus", changeOrderStatuses)
}
func MarshalInvoiceStatus(v adapter.InvoiceStatus) graphql.Marshaler {
	return marshalEnum(v, adapter.InvoiceUnknown, invoiceStatuses)
}
func UnmarshalInvoiceStatus(v any) (adapter.InvoiceStatus, error) {
	return unmarshalEnum(v, "InvoiceStatus", invoiceStatuses)
}
func MarshalObservationStatus(v adapter.ObservationStatus) graphql.Marshaler {
	return marshalEnum(v, adapter.ObservationUnknown, observationStatuses)
}
func UnmarshalObservationStatus(v any) (adapter.ObservationStatus, error) {
	return unmarshalEnum(v, "ObservationStatus", observationStatuses)
}
func MarshalPunchStatus(v adapter.PunchStatus) graphql.Marshaler {
	return marshalEnum(v, adapter.PunchUnknown, punchStatuses)
}
func UnmarshalPunchStatus(v any) (adapter.PunchStatus, error) {
	return unmarshalEnum(v, "PunchStatus", punchStatuses)
}
func MarshalProjectStatus(v adapter.ProjectStatus) graphql.Marshaler {
	return marshalEnum(v, adapter.ProjectStatusActive, projectStatuses)
}
func UnmarshalProjectStatus(v any) (adapter.ProjectStatus, error) {
	return unmarshalEnum(v, "ProjectStatus", projectStatuses)
}
func MarshalRFIBallInCourtRole(v adapter.RFIBallInCourtRole) graphql.Marshaler {
	return marshalEnum(v, adapter.BallInCourtUnknown, ballInCourtRoles)
}
func UnmarshalRFIBallInCourtRole(v any) (adapter.RFIBallInCourtRole, error) {
	return unmarshalEnum(v, "RFIBallInCourtRole", ballInCourtRoles)
}

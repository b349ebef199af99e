package mutate

import (
	"context"
	"slices"
	"testing"

	"github.com/shopspring/decimal"

	"procoregraph/adapter"
	"procoregraph/adapter/rest"
	"procoregraph/tenant"
)

// changeOrderProcore knows commitment 55 of project 7 and answers
// CreateChangeOrder with created and err.
type changeOrderProcore struct {
	*fakeProcore
	created adapter.ChangeOrder
	err     error
}

func (p changeOrderProcore) Commitments(_ context.Context, projectID int64, _ adapter.ListOptions) (adapter.Page[adapter.Commitment], error) {
	return adapter.Page[adapter.Commitment]{Items: []adapter.Commitment{{ID: 55, ProjectID: projectID, Kind: adapter.CommitmentSubcontract}}}, nil
}

func (p changeOrderProcore) CreateChangeOrder(_ context.Context, _ int64, _ adapter.ChangeOrderCreate) (adapter.ChangeOrder, error) {
	p.called("CreateChangeOrder")
	return p.created, p.err
}

func runChangeOrder(t *testing.T, p changeOrderProcore) *CreateCommitmentChangeOrderPayload {
	t.Helper()
	h := newHarness(t, nil)
	p.fakeProcore = h.fake
	conn, _ := tenant.From(h.ctx)
	c2 := *conn
	c2.Procore = p
	out, err := h.runner.CreateCommitmentChangeOrder(tenant.With(h.ctx, &c2), CreateCommitmentChangeOrderInput{ProjectID: 7, CommitmentID: 55,
		Amount: decimal.RequireFromString("2500.25")})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestThreeTierProjectChangeOrderIsAUserErrorSayingWhy(t *testing.T) {
	// As the REST adapter reports Procore's refusal on a 3-tier project.
	out := runChangeOrder(t, changeOrderProcore{err: &adapter.Error{Code: adapter.CodeBadUserInput, Status: 422, Message: rest.ThreeTierChangeOrdersMessage}})
	if out.ChangeOrder != nil || len(out.UserErrors) != 1 {
		t.Fatalf("%+v, want one userError and no change order", out)
	}
	ue := out.UserErrors[0]
	if ue.Code != CodeRejected || ue.Message != rest.ThreeTierChangeOrdersMessage || !slices.Equal(ue.Field, []string{"input"}) {
		t.Fatalf("userError %+v, want REJECTED at input: %q", ue, rest.ThreeTierChangeOrdersMessage)
	}
}

func TestChangeOrderWhoseAmountFailedIsReportedWithAUserError(t *testing.T) {
	created := adapter.ChangeOrder{ID: 91, ProjectID: 7, CommitmentID: 55, Status: adapter.ChangeOrderDraft}
	for _, c := range []struct {
		name  string
		err   *adapter.Error
		code  UserErrorCode
		field []string
	}{
		{"ProcoreRefusedTheLine", &adapter.Error{Code: adapter.CodeBadUserInput, Status: 400,
			Message: "commitment change order 91 was created (in draft, without its amount), but adding its amount as a line item failed: Invalid line item",
			Fields:  []adapter.FieldError{{Field: []string{"amount"}, Message: "commitment change order 91 was created (in draft, without its amount), but adding its amount as a line item failed: Invalid line item"}}},
			CodeInvalidValue, []string{"input", "amount"}},
		{"ProcoreUnavailable", &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Status: 500,
			Message: "commitment change order 91 was created (in draft, without its amount), but adding its amount as a line item failed"},
			CodeIncomplete, []string{"input"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := runChangeOrder(t, changeOrderProcore{created: created, err: c.err})
			if out.ChangeOrder == nil || out.ChangeOrder.ID != 91 {
				t.Fatalf("%+v: the created change order is hidden", out)
			}
			if len(out.UserErrors) != 1 || out.UserErrors[0].Code != c.code || !slices.Equal(out.UserErrors[0].Field, c.field) {
				t.Fatalf("userErrors %+v, want %s at %v", out.UserErrors, c.code, c.field)
			}
		})
	}
}

func TestSubmittalResponseIDErrorsNameResponseID(t *testing.T) {
	for _, field := range [][]string{{"submittal_response_id"}, {"submittal_approver", "submittal_response_id"}} {
		errs, err := fromUpstream(&adapter.Error{Code: adapter.CodeBadUserInput, Fields: []adapter.FieldError{{Field: field, Message: "is invalid"}}})
		if err != nil || len(errs) != 1 || !slices.Equal(errs[0].Field, []string{"input", "responseId"}) || errs[0].Code != CodeNotFound {
			t.Errorf("Procore's %v: %+v %v, want NOT_FOUND at input.responseId", field, errs, err)
		}
	}
}

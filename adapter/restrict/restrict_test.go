package restrict_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"procoregraph/adapter"
	"procoregraph/adapter/restrict"
)

// call is one call that reached the wrapped adapter.
type call struct {
	method  string
	id      int64 // the project id, or the company id for company-wide calls
	listIDs []int64
	hasIDs  bool
}

// fake is the wrapped adapter: it records every call and answers empty
// values. The embedded interface is nil: a method this file does not
// implement would panic, so every method the tests call is implemented.
type fake struct {
	adapter.Procore
	mu    sync.Mutex
	calls []call
	// projects is what Projects answers.
	projects adapter.Page[adapter.Project]
}

func (f *fake) rec(method string, id int64) {
	f.mu.Lock()
	f.calls = append(f.calls, call{method: method, id: id})
	f.mu.Unlock()
}

func (f *fake) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fake) Me(context.Context) (adapter.Person, error) {
	f.rec("Me", 0)
	return adapter.Person{ID: 1}, nil
}
func (f *fake) Companies(context.Context) ([]adapter.Company, error) {
	f.rec("Companies", 0)
	return []adapter.Company{{ID: 9}}, nil
}
func (f *fake) Projects(_ context.Context, companyID int64, _ adapter.ProjectFilter, opt adapter.ListOptions) (adapter.Page[adapter.Project], error) {
	f.mu.Lock()
	f.calls = append(f.calls, call{method: "Projects", id: companyID, listIDs: slices.Clone(opt.IDs), hasIDs: opt.IDs != nil})
	f.mu.Unlock()
	return f.projects, nil
}
func (f *fake) Project(_ context.Context, _, projectID int64) (adapter.Project, error) {
	f.rec("Project", projectID)
	return adapter.Project{ID: projectID}, nil
}
func (f *fake) CompanyUsers(_ context.Context, companyID int64, _ adapter.ListOptions) (adapter.Page[adapter.User], error) {
	f.rec("CompanyUsers", companyID)
	return adapter.Page[adapter.User]{}, nil
}
func (f *fake) CompanyVendors(_ context.Context, companyID int64, _ adapter.ListOptions) (adapter.Page[adapter.Vendor], error) {
	f.rec("CompanyVendors", companyID)
	return adapter.Page[adapter.Vendor]{}, nil
}
func (f *fake) SubmittalStatuses(_ context.Context, companyID int64) ([]adapter.SubmittalStatus, error) {
	f.rec("SubmittalStatuses", companyID)
	return nil, nil
}
func (f *fake) ProjectUsers(_ context.Context, projectID int64, _ adapter.ListOptions) (adapter.Page[adapter.User], error) {
	f.rec("ProjectUsers", projectID)
	return adapter.Page[adapter.User]{}, nil
}
func (f *fake) ProjectVendors(_ context.Context, projectID int64, _ adapter.ListOptions) (adapter.Page[adapter.Vendor], error) {
	f.rec("ProjectVendors", projectID)
	return adapter.Page[adapter.Vendor]{}, nil
}
func (f *fake) CostCodes(_ context.Context, projectID int64, _ adapter.ListOptions) (adapter.Page[adapter.CostCode], error) {
	f.rec("CostCodes", projectID)
	return adapter.Page[adapter.CostCode]{}, nil
}
func (f *fake) RFIs(_ context.Context, projectID int64, _ adapter.ListOptions) (adapter.Page[adapter.RFI], error) {
	f.rec("RFIs", projectID)
	return adapter.Page[adapter.RFI]{}, nil
}
func (f *fake) RFI(_ context.Context, projectID, _ int64) (adapter.RFI, error) {
	f.rec("RFI", projectID)
	return adapter.RFI{}, nil
}
func (f *fake) Submittals(_ context.Context, projectID int64, _ adapter.ListOptions) (adapter.Page[adapter.Submittal], error) {
	f.rec("Submittals", projectID)
	return adapter.Page[adapter.Submittal]{}, nil
}
func (f *fake) Submittal(_ context.Context, projectID, _ int64) (adapter.Submittal, error) {
	f.rec("Submittal", projectID)
	return adapter.Submittal{}, nil
}
func (f *fake) Commitments(_ context.Context, projectID int64, _ adapter.ListOptions) (adapter.Page[adapter.Commitment], error) {
	f.rec("Commitments", projectID)
	return adapter.Page[adapter.Commitment]{}, nil
}
func (f *fake) Commitment(_ context.Context, projectID int64, _ adapter.CommitmentKind, _ int64) (adapter.Commitment, error) {
	f.rec("Commitment", projectID)
	return adapter.Commitment{}, nil
}
func (f *fake) ChangeOrders(_ context.Context, projectID int64, _ *int64) ([]adapter.ChangeOrder, error) {
	f.rec("ChangeOrders", projectID)
	return nil, nil
}
func (f *fake) Invoices(_ context.Context, projectID int64, _ adapter.InvoiceFilter, _ adapter.ListOptions) (adapter.Page[adapter.Invoice], error) {
	f.rec("Invoices", projectID)
	return adapter.Page[adapter.Invoice]{}, nil
}
func (f *fake) Invoice(_ context.Context, projectID, _ int64) (adapter.Invoice, error) {
	f.rec("Invoice", projectID)
	return adapter.Invoice{}, nil
}
func (f *fake) BillingPeriods(_ context.Context, projectID int64) ([]adapter.BillingPeriod, error) {
	f.rec("BillingPeriods", projectID)
	return nil, nil
}
func (f *fake) BudgetViews(_ context.Context, projectID int64) ([]adapter.BudgetView, error) {
	f.rec("BudgetViews", projectID)
	return nil, nil
}
func (f *fake) BudgetRows(_ context.Context, projectID, _ int64) ([]adapter.BudgetRow, error) {
	f.rec("BudgetRows", projectID)
	return nil, nil
}
func (f *fake) DailyLogs(_ context.Context, projectID int64, _ adapter.DateRange) ([]adapter.DailyLog, error) {
	f.rec("DailyLogs", projectID)
	return nil, nil
}
func (f *fake) Observations(_ context.Context, projectID int64, _ adapter.ListOptions) (adapter.Page[adapter.Observation], error) {
	f.rec("Observations", projectID)
	return adapter.Page[adapter.Observation]{}, nil
}
func (f *fake) PunchItems(_ context.Context, projectID int64, _ adapter.ListOptions) (adapter.Page[adapter.PunchItem], error) {
	f.rec("PunchItems", projectID)
	return adapter.Page[adapter.PunchItem]{}, nil
}
func (f *fake) CreateRFI(_ context.Context, projectID int64, _ adapter.RFICreate) (adapter.RFI, error) {
	f.rec("CreateRFI", projectID)
	return adapter.RFI{}, nil
}
func (f *fake) ReplyToRFI(_ context.Context, projectID, _ int64, _ adapter.RFIReply) (adapter.RFI, error) {
	f.rec("ReplyToRFI", projectID)
	return adapter.RFI{}, nil
}
func (f *fake) SetRFIAccepted(_ context.Context, projectID, _ int64, _ bool) (adapter.RFI, error) {
	f.rec("SetRFIAccepted", projectID)
	return adapter.RFI{}, nil
}
func (f *fake) ForwardRFI(_ context.Context, projectID, _, _ int64) (adapter.RFI, error) {
	f.rec("ForwardRFI", projectID)
	return adapter.RFI{}, nil
}
func (f *fake) AdvanceRFIBallInCourt(_ context.Context, projectID, _ int64) (adapter.RFI, error) {
	f.rec("AdvanceRFIBallInCourt", projectID)
	return adapter.RFI{}, nil
}
func (f *fake) CreateSubmittal(_ context.Context, projectID int64, _ adapter.SubmittalCreate) (adapter.Submittal, error) {
	f.rec("CreateSubmittal", projectID)
	return adapter.Submittal{}, nil
}
func (f *fake) RespondToSubmittal(_ context.Context, projectID, _, _, _ int64, _ string) (adapter.Submittal, error) {
	f.rec("RespondToSubmittal", projectID)
	return adapter.Submittal{}, nil
}
func (f *fake) UpdateSubmittalStatus(_ context.Context, projectID, _, _ int64) (adapter.Submittal, error) {
	f.rec("UpdateSubmittalStatus", projectID)
	return adapter.Submittal{}, nil
}
func (f *fake) SubmittalResponses(_ context.Context, projectID int64) ([]adapter.SubmittalResponse, error) {
	f.rec("SubmittalResponses", projectID)
	return nil, nil
}
func (f *fake) CreateCommitment(_ context.Context, projectID int64, _ adapter.CommitmentCreate) (adapter.Commitment, error) {
	f.rec("CreateCommitment", projectID)
	return adapter.Commitment{}, nil
}
func (f *fake) UpdateCommitmentStatus(_ context.Context, projectID int64, _ adapter.CommitmentKind, _ int64, _ adapter.CommitmentStatus) (adapter.Commitment, error) {
	f.rec("UpdateCommitmentStatus", projectID)
	return adapter.Commitment{}, nil
}
func (f *fake) CreateChangeOrder(_ context.Context, projectID int64, _ adapter.ChangeOrderCreate) (adapter.ChangeOrder, error) {
	f.rec("CreateChangeOrder", projectID)
	return adapter.ChangeOrder{}, nil
}
func (f *fake) CreateInvoice(_ context.Context, projectID int64, _ adapter.InvoiceCreate) (adapter.Invoice, error) {
	f.rec("CreateInvoice", projectID)
	return adapter.Invoice{}, nil
}
func (f *fake) UpdateInvoiceStatus(_ context.Context, projectID, _ int64, _ adapter.InvoiceStatus) (adapter.Invoice, error) {
	f.rec("UpdateInvoiceStatus", projectID)
	return adapter.Invoice{}, nil
}
func (f *fake) Upload(_ context.Context, projectID int64, _ adapter.UploadInput) (string, error) {
	f.rec("Upload", projectID)
	return "upload-1", nil
}

const (
	companyID int64 = 9
	allowedA  int64 = 101
	allowedB  int64 = 202
	other     int64 = 303
)

// projectScoped calls every project-scoped method of p for project id.
var projectScoped = []struct {
	method string
	call   func(ctx context.Context, p adapter.Procore, id int64) error
}{
	{"Project", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.Project(ctx, companyID, id)
		return err
	}},
	{"ProjectUsers", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.ProjectUsers(ctx, id, adapter.ListOptions{})
		return err
	}},
	{"ProjectVendors", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.ProjectVendors(ctx, id, adapter.ListOptions{})
		return err
	}},
	{"CostCodes", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.CostCodes(ctx, id, adapter.ListOptions{})
		return err
	}},
	{"RFIs", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.RFIs(ctx, id, adapter.ListOptions{})
		return err
	}},
	{"RFI", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.RFI(ctx, id, 1)
		return err
	}},
	{"Submittals", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.Submittals(ctx, id, adapter.ListOptions{})
		return err
	}},
	{"Submittal", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.Submittal(ctx, id, 1)
		return err
	}},
	{"Commitments", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.Commitments(ctx, id, adapter.ListOptions{})
		return err
	}},
	{"Commitment", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.Commitment(ctx, id, adapter.CommitmentSubcontract, 1)
		return err
	}},
	{"ChangeOrders", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.ChangeOrders(ctx, id, nil)
		return err
	}},
	{"Invoices", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.Invoices(ctx, id, adapter.InvoiceFilter{}, adapter.ListOptions{})
		return err
	}},
	{"Invoice", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.Invoice(ctx, id, 1)
		return err
	}},
	{"BillingPeriods", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.BillingPeriods(ctx, id)
		return err
	}},
	{"BudgetViews", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.BudgetViews(ctx, id)
		return err
	}},
	{"BudgetRows", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.BudgetRows(ctx, id, 1)
		return err
	}},
	{"DailyLogs", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.DailyLogs(ctx, id, adapter.DateRange{})
		return err
	}},
	{"Observations", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.Observations(ctx, id, adapter.ListOptions{})
		return err
	}},
	{"PunchItems", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.PunchItems(ctx, id, adapter.ListOptions{})
		return err
	}},
	{"CreateRFI", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.CreateRFI(ctx, id, adapter.RFICreate{Subject: "s", Question: "q", ManagerID: 1})
		return err
	}},
	{"ReplyToRFI", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.ReplyToRFI(ctx, id, 1, adapter.RFIReply{Body: "b"})
		return err
	}},
	{"SetRFIAccepted", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.SetRFIAccepted(ctx, id, 1, true)
		return err
	}},
	{"ForwardRFI", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.ForwardRFI(ctx, id, 1, 2)
		return err
	}},
	{"AdvanceRFIBallInCourt", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.AdvanceRFIBallInCourt(ctx, id, 1)
		return err
	}},
	{"CreateSubmittal", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.CreateSubmittal(ctx, id, adapter.SubmittalCreate{Number: "1"})
		return err
	}},
	{"RespondToSubmittal", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.RespondToSubmittal(ctx, id, 1, 2, 3, "ok")
		return err
	}},
	{"UpdateSubmittalStatus", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.UpdateSubmittalStatus(ctx, id, 1, 2)
		return err
	}},
	{"SubmittalResponses", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.SubmittalResponses(ctx, id)
		return err
	}},
	{"CreateCommitment", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.CreateCommitment(ctx, id, adapter.CommitmentCreate{Kind: adapter.CommitmentSubcontract})
		return err
	}},
	{"UpdateCommitmentStatus", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.UpdateCommitmentStatus(ctx, id, adapter.CommitmentPurchaseOrder, 1, adapter.CommitmentApproved)
		return err
	}},
	{"CreateChangeOrder", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.CreateChangeOrder(ctx, id, adapter.ChangeOrderCreate{CommitmentID: 1})
		return err
	}},
	{"CreateInvoice", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.CreateInvoice(ctx, id, adapter.InvoiceCreate{CommitmentID: 1})
		return err
	}},
	{"UpdateInvoiceStatus", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.UpdateInvoiceStatus(ctx, id, 1, adapter.InvoiceApproved)
		return err
	}},
	{"Upload", func(ctx context.Context, p adapter.Procore, id int64) error {
		_, err := p.Upload(ctx, id, adapter.UploadInput{Filename: "a.txt", Data: []byte("a")})
		return err
	}},
}

func TestProjectScopedMethods(t *testing.T) {
	ctx := context.Background()
	for _, m := range projectScoped {
		t.Run(m.method+"/OtherProjectIsNotFoundWithoutCallingProcore", func(t *testing.T) {
			f := &fake{}
			err := m.call(ctx, restrict.New(f, []int64{allowedA, allowedB}), other)
			if !adapter.IsNotFound(err) {
				t.Fatalf("%s(project %d) error = %v, want NOT_FOUND", m.method, other, err)
			}
			if calls := f.Calls(); len(calls) != 0 {
				t.Fatalf("%s reached the wrapped adapter: %+v", m.method, calls)
			}
		})
		t.Run(m.method+"/AllowedProjectPassesThrough", func(t *testing.T) {
			f := &fake{}
			if err := m.call(ctx, restrict.New(f, []int64{allowedA, allowedB}), allowedB); err != nil {
				t.Fatalf("%s(project %d): %v", m.method, allowedB, err)
			}
			if calls := f.Calls(); len(calls) != 1 || calls[0].method != m.method || calls[0].id != allowedB {
				t.Fatalf("calls %+v, want one %s for project %d", calls, m.method, allowedB)
			}
		})
		t.Run(m.method+"/EmptyAllowlistFindsNothing", func(t *testing.T) {
			f := &fake{}
			if err := m.call(ctx, restrict.New(f, nil), allowedA); !adapter.IsNotFound(err) {
				t.Fatalf("%s with an empty allowlist: %v, want NOT_FOUND", m.method, err)
			}
			if calls := f.Calls(); len(calls) != 0 {
				t.Fatalf("%s reached the wrapped adapter: %+v", m.method, calls)
			}
		})
	}
}

func TestNotFoundIsAnAdapterError(t *testing.T) {
	_, err := restrict.New(&fake{}, []int64{allowedA}).RFI(context.Background(), other, 5)
	if got := adapter.ErrorCode(err); got != adapter.CodeNotFound {
		t.Fatalf("ErrorCode = %q, want %q", got, adapter.CodeNotFound)
	}
}

func TestCompanyWideMethodsPassThrough(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		method string
		call   func(p adapter.Procore) error
	}{
		{"Me", func(p adapter.Procore) error { _, err := p.Me(ctx); return err }},
		{"Companies", func(p adapter.Procore) error { _, err := p.Companies(ctx); return err }},
		{"CompanyUsers", func(p adapter.Procore) error {
			_, err := p.CompanyUsers(ctx, companyID, adapter.ListOptions{})
			return err
		}},
		{"CompanyVendors", func(p adapter.Procore) error {
			_, err := p.CompanyVendors(ctx, companyID, adapter.ListOptions{})
			return err
		}},
		{"SubmittalStatuses", func(p adapter.Procore) error { _, err := p.SubmittalStatuses(ctx, companyID); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.method+"/PassesThrough", func(t *testing.T) {
			f := &fake{}
			if err := tt.call(restrict.New(f, []int64{allowedA})); err != nil {
				t.Fatal(err)
			}
			if calls := f.Calls(); len(calls) != 1 || calls[0].method != tt.method {
				t.Fatalf("calls %+v, want one %s", calls, tt.method)
			}
		})
	}
}

func TestProjects(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		allowed []int64
		ids     []int64 // ListOptions.IDs
		// wantIDs is the id filter sent to Procore; nil means Procore is not
		// called and the page is empty.
		wantIDs []int64
	}{
		{"AllowlistIsTheIDFilter", []int64{allowedB, allowedA}, nil, []int64{allowedA, allowedB}},
		{"DuplicateAllowlistEntriesAreSentOnce", []int64{allowedA, allowedA, allowedB}, nil, []int64{allowedA, allowedB}},
		{"GivenIDsAreIntersected", []int64{allowedA, allowedB}, []int64{other, allowedB}, []int64{allowedB}},
		{"GivenIDsInsideAllowlistAreKept", []int64{allowedA, allowedB}, []int64{allowedA, allowedB}, []int64{allowedA, allowedB}},
		{"EmptyIntersectionAnswersEmptyPage", []int64{allowedA, allowedB}, []int64{other}, nil},
		{"EmptyGivenIDsAnswerEmptyPage", []int64{allowedA}, []int64{}, nil},
		{"EmptyAllowlistAnswersEmptyPage", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{projects: adapter.Page[adapter.Project]{Items: []adapter.Project{{ID: allowedB}}, Total: 1}}
			given := slices.Clone(tt.ids)
			page, err := restrict.New(f, tt.allowed).Projects(ctx, companyID, adapter.ProjectFilter{}, adapter.ListOptions{Limit: 10, IDs: given})
			if err != nil {
				t.Fatal(err)
			}
			calls := f.Calls()
			if tt.wantIDs == nil {
				if len(calls) != 0 {
					t.Fatalf("Procore was called: %+v", calls)
				}
				if page.Items == nil || len(page.Items) != 0 || page.Total != 0 {
					t.Fatalf("page = %+v, want an empty page with a non-nil Items", page)
				}
				return
			}
			if len(calls) != 1 {
				t.Fatalf("calls %+v, want one Projects", calls)
			}
			if !calls[0].hasIDs || !slices.Equal(calls[0].listIDs, tt.wantIDs) {
				t.Fatalf("IDs sent = %v, want %v", calls[0].listIDs, tt.wantIDs)
			}
			if calls[0].id != companyID {
				t.Fatalf("company %d, want %d", calls[0].id, companyID)
			}
			if page.Total != 1 || len(page.Items) != 1 {
				t.Fatalf("page = %+v, want the wrapped adapter's page", page)
			}
			if !slices.Equal(given, tt.ids) {
				t.Fatalf("the caller's IDs were changed: %v, was %v", given, tt.ids)
			}
		})
	}
}

func TestAllows(t *testing.T) {
	p := restrict.New(&fake{}, []int64{allowedB, allowedA})
	tests := []struct {
		name string
		id   int64
		want bool
	}{
		{"ListedProjectIsAllowed", allowedA, true},
		{"OtherListedProjectIsAllowed", allowedB, true},
		{"UnlistedProjectIsNotAllowed", other, false},
		{"ZeroIsNotAllowed", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Allows(tt.id); got != tt.want {
				t.Fatalf("Allows(%d) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestNewDoesNotShareTheCallersAllowlist(t *testing.T) {
	allowed := []int64{allowedA}
	p := restrict.New(&fake{}, allowed)
	allowed[0] = other
	if p.Allows(other) || !p.Allows(allowedA) {
		t.Fatal("changing the caller's slice changed the allowlist")
	}
}

// Package restrict narrows an adapter.Procore to an allowlist of projects:
// the connection of an API key with a project allowlist. Lists of projects
// ask Procore for the allowed ids only (filters[id][]), and every call about
// another project answers NOT_FOUND without reaching Procore, exactly as
// Procore answers for a project the caller cannot see. Company-wide data (the
// company directory, submittal statuses) is not project data and passes
// through.
package restrict

import (
	"context"
	"slices"

	"procoregraph/adapter"
)

// Procore is an adapter.Procore that sees only some projects.
type Procore struct {
	next    adapter.Procore
	allowed []int64 // sorted
}

var _ adapter.Procore = (*Procore)(nil)

// New returns next narrowed to the projects in allowed.
func New(next adapter.Procore, allowed []int64) *Procore {
	a := slices.Clone(allowed)
	slices.Sort(a)
	return &Procore{next: next, allowed: slices.Compact(a)}
}

// Allows reports whether project id is in the allowlist.
func (p *Procore) Allows(id int64) bool {
	_, ok := slices.BinarySearch(p.allowed, id)
	return ok
}

func (p *Procore) check(projectID int64) error {
	if p.Allows(projectID) {
		return nil
	}
	return adapter.Errorf(adapter.CodeNotFound, "project %d not found", projectID)
}

// RateLimit implements adapter.RateLimiter when the wrapped adapter does:
// the window is the credential's, whatever the allowlist.
func (p *Procore) RateLimit(ctx context.Context) (adapter.RateLimitStatus, bool) {
	if rl, ok := p.next.(adapter.RateLimiter); ok {
		return rl.RateLimit(ctx)
	}
	return adapter.RateLimitStatus{}, false
}

// Me implements adapter.Reader.
func (p *Procore) Me(ctx context.Context) (adapter.Person, error) { return p.next.Me(ctx) }

// Companies implements adapter.Reader.
func (p *Procore) Companies(ctx context.Context) ([]adapter.Company, error) {
	return p.next.Companies(ctx)
}

// Projects lists only allowed projects: the allowlist (intersected with
// opt.IDs) goes to Procore as an id filter, so paging and Total stay exact.
func (p *Procore) Projects(ctx context.Context, companyID int64, f adapter.ProjectFilter, opt adapter.ListOptions) (adapter.Page[adapter.Project], error) {
	ids := slices.Clone(p.allowed)
	if opt.IDs != nil {
		ids = slices.DeleteFunc(slices.Clone(opt.IDs), func(id int64) bool { return !p.Allows(id) })
	}
	if len(ids) == 0 {
		return adapter.Page[adapter.Project]{Items: []adapter.Project{}}, nil
	}
	opt.IDs = ids
	return p.next.Projects(ctx, companyID, f, opt)
}

// Project implements adapter.Reader.
func (p *Procore) Project(ctx context.Context, companyID, projectID int64) (adapter.Project, error) {
	if err := p.check(projectID); err != nil {
		return adapter.Project{}, err
	}
	return p.next.Project(ctx, companyID, projectID)
}

// CompanyUsers implements adapter.Reader (company directory: not narrowed).
func (p *Procore) CompanyUsers(ctx context.Context, companyID int64, opt adapter.ListOptions) (adapter.Page[adapter.User], error) {
	return p.next.CompanyUsers(ctx, companyID, opt)
}

// CompanyVendors implements adapter.Reader (company directory: not narrowed).
func (p *Procore) CompanyVendors(ctx context.Context, companyID int64, opt adapter.ListOptions) (adapter.Page[adapter.Vendor], error) {
	return p.next.CompanyVendors(ctx, companyID, opt)
}

// SubmittalStatuses implements adapter.Writer (company-wide: not narrowed).
func (p *Procore) SubmittalStatuses(ctx context.Context, companyID int64) ([]adapter.SubmittalStatus, error) {
	return p.next.SubmittalStatuses(ctx, companyID)
}

// in runs f when projectID is allowed, else answers NOT_FOUND.
func in[T any](p *Procore, projectID int64, f func() (T, error)) (T, error) {
	if err := p.check(projectID); err != nil {
		var zero T
		return zero, err
	}
	return f()
}

// ProjectUsers implements adapter.Reader.
func (p *Procore) ProjectUsers(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.User], error) {
	return in(p, projectID, func() (adapter.Page[adapter.User], error) { return p.next.ProjectUsers(ctx, projectID, opt) })
}

// ProjectVendors implements adapter.Reader.
func (p *Procore) ProjectVendors(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.Vendor], error) {
	return in(p, projectID, func() (adapter.Page[adapter.Vendor], error) { return p.next.ProjectVendors(ctx, projectID, opt) })
}

// CostCodes implements adapter.Reader.
func (p *Procore) CostCodes(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.CostCode], error) {
	return in(p, projectID, func() (adapter.Page[adapter.CostCode], error) { return p.next.CostCodes(ctx, projectID, opt) })
}

// RFIs implements adapter.Reader.
func (p *Procore) RFIs(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.RFI], error) {
	return in(p, projectID, func() (adapter.Page[adapter.RFI], error) { return p.next.RFIs(ctx, projectID, opt) })
}

// RFI implements adapter.Reader.
func (p *Procore) RFI(ctx context.Context, projectID, rfiID int64) (adapter.RFI, error) {
	return in(p, projectID, func() (adapter.RFI, error) { return p.next.RFI(ctx, projectID, rfiID) })
}

// Submittals implements adapter.Reader.
func (p *Procore) Submittals(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.Submittal], error) {
	return in(p, projectID, func() (adapter.Page[adapter.Submittal], error) { return p.next.Submittals(ctx, projectID, opt) })
}

// Submittal implements adapter.Reader.
func (p *Procore) Submittal(ctx context.Context, projectID, submittalID int64) (adapter.Submittal, error) {
	return in(p, projectID, func() (adapter.Submittal, error) { return p.next.Submittal(ctx, projectID, submittalID) })
}

// Commitments implements adapter.Reader.
func (p *Procore) Commitments(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.Commitment], error) {
	return in(p, projectID, func() (adapter.Page[adapter.Commitment], error) { return p.next.Commitments(ctx, projectID, opt) })
}

// Commitment implements adapter.Reader.
func (p *Procore) Commitment(ctx context.Context, projectID int64, kind adapter.CommitmentKind, commitmentID int64) (adapter.Commitment, error) {
	return in(p, projectID, func() (adapter.Commitment, error) { return p.next.Commitment(ctx, projectID, kind, commitmentID) })
}

// ChangeOrders implements adapter.Reader.
func (p *Procore) ChangeOrders(ctx context.Context, projectID int64, commitmentID *int64) ([]adapter.ChangeOrder, error) {
	return in(p, projectID, func() ([]adapter.ChangeOrder, error) { return p.next.ChangeOrders(ctx, projectID, commitmentID) })
}

// Invoices implements adapter.Reader.
func (p *Procore) Invoices(ctx context.Context, projectID int64, f adapter.InvoiceFilter, opt adapter.ListOptions) (adapter.Page[adapter.Invoice], error) {
	return in(p, projectID, func() (adapter.Page[adapter.Invoice], error) { return p.next.Invoices(ctx, projectID, f, opt) })
}

// Invoice implements adapter.Reader.
func (p *Procore) Invoice(ctx context.Context, projectID, invoiceID int64) (adapter.Invoice, error) {
	return in(p, projectID, func() (adapter.Invoice, error) { return p.next.Invoice(ctx, projectID, invoiceID) })
}

// BillingPeriods implements adapter.Reader.
func (p *Procore) BillingPeriods(ctx context.Context, projectID int64) ([]adapter.BillingPeriod, error) {
	return in(p, projectID, func() ([]adapter.BillingPeriod, error) { return p.next.BillingPeriods(ctx, projectID) })
}

// BudgetViews implements adapter.Reader.
func (p *Procore) BudgetViews(ctx context.Context, projectID int64) ([]adapter.BudgetView, error) {
	return in(p, projectID, func() ([]adapter.BudgetView, error) { return p.next.BudgetViews(ctx, projectID) })
}

// BudgetRows implements adapter.Reader.
func (p *Procore) BudgetRows(ctx context.Context, projectID, viewID int64) ([]adapter.BudgetRow, error) {
	return in(p, projectID, func() ([]adapter.BudgetRow, error) { return p.next.BudgetRows(ctx, projectID, viewID) })
}

// DailyLogs implements adapter.Reader.
func (p *Procore) DailyLogs(ctx context.Context, projectID int64, r adapter.DateRange) ([]adapter.DailyLog, error) {
	return in(p, projectID, func() ([]adapter.DailyLog, error) { return p.next.DailyLogs(ctx, projectID, r) })
}

// Observations implements adapter.Reader.
func (p *Procore) Observations(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.Observation], error) {
	return in(p, projectID, func() (adapter.Page[adapter.Observation], error) { return p.next.Observations(ctx, projectID, opt) })
}

// PunchItems implements adapter.Reader.
func (p *Procore) PunchItems(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.PunchItem], error) {
	return in(p, projectID, func() (adapter.Page[adapter.PunchItem], error) { return p.next.PunchItems(ctx, projectID, opt) })
}

// CreateRFI implements adapter.Writer.
func (p *Procore) CreateRFI(ctx context.Context, projectID int64, in_ adapter.RFICreate) (adapter.RFI, error) {
	return in(p, projectID, func() (adapter.RFI, error) { return p.next.CreateRFI(ctx, projectID, in_) })
}

// ReplyToRFI implements adapter.Writer.
func (p *Procore) ReplyToRFI(ctx context.Context, projectID, rfiID int64, in_ adapter.RFIReply) (adapter.RFI, error) {
	return in(p, projectID, func() (adapter.RFI, error) { return p.next.ReplyToRFI(ctx, projectID, rfiID, in_) })
}

// SetRFIAccepted implements adapter.Writer.
func (p *Procore) SetRFIAccepted(ctx context.Context, projectID, rfiID int64, accepted bool) (adapter.RFI, error) {
	return in(p, projectID, func() (adapter.RFI, error) { return p.next.SetRFIAccepted(ctx, projectID, rfiID, accepted) })
}

// ForwardRFI implements adapter.Writer.
func (p *Procore) ForwardRFI(ctx context.Context, projectID, rfiID, forwardeeID int64) (adapter.RFI, error) {
	return in(p, projectID, func() (adapter.RFI, error) { return p.next.ForwardRFI(ctx, projectID, rfiID, forwardeeID) })
}

// AdvanceRFIBallInCourt implements adapter.Writer.
func (p *Procore) AdvanceRFIBallInCourt(ctx context.Context, projectID, rfiID int64) (adapter.RFI, error) {
	return in(p, projectID, func() (adapter.RFI, error) { return p.next.AdvanceRFIBallInCourt(ctx, projectID, rfiID) })
}

// CreateSubmittal implements adapter.Writer.
func (p *Procore) CreateSubmittal(ctx context.Context, projectID int64, in_ adapter.SubmittalCreate) (adapter.Submittal, error) {
	return in(p, projectID, func() (adapter.Submittal, error) { return p.next.CreateSubmittal(ctx, projectID, in_) })
}

// RespondToSubmittal implements adapter.Writer.
func (p *Procore) RespondToSubmittal(ctx context.Context, projectID, submittalID, approverID, responseID int64, comment string) (adapter.Submittal, error) {
	return in(p, projectID, func() (adapter.Submittal, error) {
		return p.next.RespondToSubmittal(ctx, projectID, submittalID, approverID, responseID, comment)
	})
}

// UpdateSubmittalStatus implements adapter.Writer.
func (p *Procore) UpdateSubmittalStatus(ctx context.Context, projectID, submittalID, statusID int64) (adapter.Submittal, error) {
	return in(p, projectID, func() (adapter.Submittal, error) {
		return p.next.UpdateSubmittalStatus(ctx, projectID, submittalID, statusID)
	})
}

// SubmittalResponses implements adapter.Writer.
func (p *Procore) SubmittalResponses(ctx context.Context, projectID int64) ([]adapter.SubmittalResponse, error) {
	return in(p, projectID, func() ([]adapter.SubmittalResponse, error) { return p.next.SubmittalResponses(ctx, projectID) })
}

// CreateCommitment implements adapter.Writer.
func (p *Procore) CreateCommitment(ctx context.Context, projectID int64, in_ adapter.CommitmentCreate) (adapter.Commitment, error) {
	return in(p, projectID, func() (adapter.Commitment, error) { return p.next.CreateCommitment(ctx, projectID, in_) })
}

// UpdateCommitmentStatus implements adapter.Writer.
func (p *Procore) UpdateCommitmentStatus(ctx context.Context, projectID int64, kind adapter.CommitmentKind, commitmentID int64, status adapter.CommitmentStatus) (adapter.Commitment, error) {
	return in(p, projectID, func() (adapter.Commitment, error) {
		return p.next.UpdateCommitmentStatus(ctx, projectID, kind, commitmentID, status)
	})
}

// CreateChangeOrder implements adapter.Writer.
func (p *Procore) CreateChangeOrder(ctx context.Context, projectID int64, in_ adapter.ChangeOrderCreate) (adapter.ChangeOrder, error) {
	return in(p, projectID, func() (adapter.ChangeOrder, error) { return p.next.CreateChangeOrder(ctx, projectID, in_) })
}

// CreateInvoice implements adapter.Writer.
func (p *Procore) CreateInvoice(ctx context.Context, projectID int64, in_ adapter.InvoiceCreate) (adapter.Invoice, error) {
	return in(p, projectID, func() (adapter.Invoice, error) { return p.next.CreateInvoice(ctx, projectID, in_) })
}

// UpdateInvoiceStatus implements adapter.Writer.
func (p *Procore) UpdateInvoiceStatus(ctx context.Context, projectID, invoiceID int64, status adapter.InvoiceStatus) (adapter.Invoice, error) {
	return in(p, projectID, func() (adapter.Invoice, error) { return p.next.UpdateInvoiceStatus(ctx, projectID, invoiceID, status) })
}

// Upload implements adapter.Writer.
func (p *Procore) Upload(ctx context.Context, projectID int64, in_ adapter.UploadInput) (string, error) {
	return in(p, projectID, func() (string, error) { return p.next.Upload(ctx, projectID, in_) })
}

var _ adapter.RecycleBin = (*Procore)(nil)

// RecycledRFIs implements adapter.RecycleBin within the allowlist; NOT_FOUND
// (as for a missing project) when the wrapped client has no recycle bin.
func (p *Procore) RecycledRFIs(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.RFI], error) {
	rb, ok := p.next.(adapter.RecycleBin)
	if !ok {
		return adapter.Page[adapter.RFI]{}, adapter.Errorf(adapter.CodeNotFound, "no recycle bin")
	}
	return in(p, projectID, func() (adapter.Page[adapter.RFI], error) { return rb.RecycledRFIs(ctx, projectID, opt) })
}

// BudgetModifications implements adapter.Reader.
func (p *Procore) BudgetModifications(ctx context.Context, projectID int64) ([]adapter.BudgetModification, error) {
	return in(p, projectID, func() ([]adapter.BudgetModification, error) { return p.next.BudgetModifications(ctx, projectID) })
}

// DirectCosts implements adapter.Reader.
func (p *Procore) DirectCosts(ctx context.Context, projectID int64) ([]adapter.DirectCost, error) {
	return in(p, projectID, func() ([]adapter.DirectCost, error) { return p.next.DirectCosts(ctx, projectID) })
}

// PrimeContracts implements adapter.Reader.
func (p *Procore) PrimeContracts(ctx context.Context, projectID int64) ([]adapter.PrimeContract, error) {
	return in(p, projectID, func() ([]adapter.PrimeContract, error) { return p.next.PrimeContracts(ctx, projectID) })
}

// PaymentApplications implements adapter.Reader.
func (p *Procore) PaymentApplications(ctx context.Context, projectID, primeContractID int64) ([]adapter.PaymentApplication, error) {
	return in(p, projectID, func() ([]adapter.PaymentApplication, error) {
		return p.next.PaymentApplications(ctx, projectID, primeContractID)
	})
}

// PrimeContractPending implements adapter.Reader.
func (p *Procore) PrimeContractPending(ctx context.Context, projectID, primeContractID int64) (*adapter.Decimal, error) {
	return in(p, projectID, func() (*adapter.Decimal, error) { return p.next.PrimeContractPending(ctx, projectID, primeContractID) })
}

// PrimeContractLines implements adapter.Reader.
func (p *Procore) PrimeContractLines(ctx context.Context, projectID, primeContractID int64) ([]adapter.PrimeContractLine, error) {
	return in(p, projectID, func() ([]adapter.PrimeContractLine, error) {
		return p.next.PrimeContractLines(ctx, projectID, primeContractID)
	})
}

// Package loaders holds the per-request dataloaders behind every nested field
// and every federation entity lookup. A Loaders value is created for one
// request and one Connection and never shared (ARCHITECTURE rule 3).
//
// Each batch function picks the coarsest Procore call that answers the whole
// batch (one requisitions list per project answers the invoices of every
// commitment of that project; filters[id][] answers entity batches), reads the
// cache with one multi-get, fetches only the misses, runs per-project fetches
// concurrently under the connection's bound, and never makes the same
// upstream call twice in one request (dataloader memoization plus cache
// single-flight).
package loaders

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"procoregraph/adapter"
	"procoregraph/cache"
	"procoregraph/tenant"
)

// Options configure loaders.
type Options struct {
	// Cache is the read-through cache; nil disables caching.
	Cache *cache.Cache
	// Naive turns batching off: every nested field makes its own upstream
	// call (commitment invoices are fetched per commitment) and nothing is
	// memoized. It exists only as the benchmark baseline. Default false.
	Naive bool
	// Wait is the batch window. Default 2ms.
	Wait time.Duration
	// RemoteCache says that a cache read is a network round trip (Redis).
	// Loaders whose keys are each answered by an upstream fetch of their
	// own (lists scoped by a project or the company) batch keys only to
	// read the cache in one round trip, so without a remote cache they
	// skip the batch window and answer each key on its own, as soon as its
	// fetch returns: a cold query's next level then starts per project
	// instead of after the slowest project of the level, and no level waits
	// the window. Memoization (one fetch per key and request) is kept.
	// Loaders that put several keys into one upstream call (entities by
	// ids) always batch.
	RemoteCache bool
	// MaxConcurrency bounds concurrent upstream fetches of one batch. Default 16.
	MaxConcurrency int
	// Decoded, when set, shares decoded cache values across requests (see
	// DecodeCache); nil decodes every cached value on every read.
	Decoded *DecodeCache
}

func (o Options) withDefaults() Options {
	if o.Wait == 0 {
		o.Wait = 2 * time.Millisecond
	}
	if o.MaxConcurrency == 0 {
		o.MaxConcurrency = 16
	}
	return o
}

// Kinds are the cache kinds (cache.Key.Kind) the loaders read through: the
// names a per-kind TTL can be configured for (see the server's CACHE_TTLS).
// TestKindsListsEveryKindTheLoadersUse keeps it complete.
var Kinds = []string{
	"billing_periods", "budget_modifications", "budget_rows", "budget_views", "change_orders", "commitment", "commitment_invoices",
	"commitments", "companies", "company_users", "company_vendors", "cost_codes", "daily_logs", "direct_costs", "invoice",
	"invoices", "me", "observations", "payment_applications", "prime_contract", "prime_contract_lines", "prime_contracts", "project", "project_users", "project_vendors", "projects",
	"punch_items", "rfi", "rfis", "submittal", "submittals", "user", "vendor",
	// change management (changemgmt.go)
	"change_events", "potential_change_orders", "pco_line_items", "change_order_requests",
	"change_order_packages", "prime_change_orders",
}

// ListKey selects a window of a list scoped by a project or company id.
type ListKey struct {
	Scope  int64 // project id, or company id for company-scoped lists
	Limit  int   // 0 = all
	Since  int64 // UpdatedSince in Unix nanoseconds, 0 = no filter
	Before int64 // UpdatedBefore in Unix nanoseconds, 0 = no filter
	Order  adapter.ListSort
}

// Options returns the adapter list options of k.
func (k ListKey) Options() adapter.ListOptions {
	opt := adapter.ListOptions{Limit: k.Limit, Order: k.Order}
	if k.Since != 0 {
		t := time.Unix(0, k.Since).UTC()
		opt.UpdatedSince = &t
	}
	if k.Before != 0 {
		t := time.Unix(0, k.Before).UTC()
		opt.UpdatedBefore = &t
	}
	return opt
}

// params names k's window in a cache key.
func (k ListKey) params() string {
	p := "limit=" + strconv.Itoa(k.Limit) + "&since=" + strconv.FormatInt(k.Since, 10)
	if k.Before != 0 || k.Order != adapter.OrderDefault {
		p += "&before=" + strconv.FormatInt(k.Before, 10) + "&order=" + string(k.Order)
	}
	return p
}

// NewListKey builds a ListKey.
func NewListKey(scope int64, limit int, since *time.Time) ListKey {
	k := ListKey{Scope: scope, Limit: limit}
	if since != nil {
		k.Since = since.UnixNano()
	}
	return k
}

// ProjectListKey selects a window of the connection company's projects.
type ProjectListKey struct {
	Status adapter.ProjectStatus // "" = Procore's default (active)
	Search string
	Since  int64 // Unix nanoseconds, 0 = no filter
	Before int64 // Unix nanoseconds, 0 = no filter
	Limit  int
}

// options returns the adapter list options of k.
func (k ProjectListKey) options() adapter.ListOptions {
	opt := adapter.ListOptions{Limit: k.Limit}
	if k.Before != 0 {
		t := time.Unix(0, k.Before).UTC()
		opt.UpdatedBefore = &t
	}
	return opt
}

func (k ProjectListKey) filter() adapter.ProjectFilter {
	var f adapter.ProjectFilter
	if k.Status != "" {
		s := k.Status
		f.Status = &s
	}
	if k.Search != "" {
		s := k.Search
		f.Search = &s
	}
	if k.Since != 0 {
		t := time.Unix(0, k.Since).UTC()
		f.UpdatedSince = &t
	}
	return f
}

func (k ProjectListKey) params() string {
	return "status=" + string(k.Status) + "&search=" + url.QueryEscape(k.Search) +
		"&since=" + strconv.FormatInt(k.Since, 10) + "&before=" + strconv.FormatInt(k.Before, 10) + "&limit=" + strconv.Itoa(k.Limit)
}

// CommitmentKey names one commitment for a detail fetch.
type CommitmentKey struct {
	ProjectID int64
	Kind      adapter.CommitmentKind
	ID        int64
}

// ItemKey names one project-scoped item.
type ItemKey struct {
	ProjectID int64
	ID        int64
}

// BudgetKey names one budget view's rows.
type BudgetKey struct {
	ProjectID int64
	ViewID    int64
}

// DailyLogKey names a project's daily logs in a date range.
type DailyLogKey struct {
	ProjectID int64
	From, To  adapter.Date
}

// Loaders are one request's dataloaders.
type Loaders struct {
	conn *tenant.Connection
	opt  Options

	Me               *Loader[struct{}, adapter.Person]
	Companies        *Loader[struct{}, []adapter.Company]
	ProjectList      *Loader[ProjectListKey, adapter.Page[adapter.Project]]
	RFIDetail        *Loader[ItemKey, adapter.RFI]
	SubmittalDetail  *Loader[ItemKey, adapter.Submittal]
	ProjectsByID     *Loader[int64, adapter.Project]
	RFIs             *Loader[ListKey, adapter.Page[adapter.RFI]]
	Submittals       *Loader[ListKey, adapter.Page[adapter.Submittal]]
	Commitments      *Loader[ListKey, adapter.Page[adapter.Commitment]]
	CommitmentDetail *Loader[CommitmentKey, adapter.Commitment]
	Invoices         *Loader[ListKey, adapter.Page[adapter.Invoice]]
	InvoiceDetail    *Loader[ItemKey, adapter.Invoice]
	ChangeOrders     *Loader[int64, []adapter.ChangeOrder]
	BillingPeriods   *Loader[int64, []adapter.BillingPeriod]
	BudgetViews      *Loader[int64, []adapter.BudgetView]
	BudgetRows       *Loader[BudgetKey, []adapter.BudgetRow]
	CostCodes        *Loader[ListKey, adapter.Page[adapter.CostCode]]
	DailyLogs        *Loader[DailyLogKey, []adapter.DailyLog]
	Observations     *Loader[ListKey, adapter.Page[adapter.Observation]]
	PunchItems       *Loader[ListKey, adapter.Page[adapter.PunchItem]]
	ProjectUsers     *Loader[ListKey, adapter.Page[adapter.User]]
	ProjectVendors   *Loader[ListKey, adapter.Page[adapter.Vendor]]
	CompanyUsers     *Loader[ListKey, adapter.Page[adapter.User]]
	CompanyVendors   *Loader[ListKey, adapter.Page[adapter.Vendor]]
	UsersByID        *Loader[int64, adapter.User]
	VendorsByID      *Loader[int64, adapter.Vendor]
	// RFIsAnywhere, SubmittalsAnywhere, CommitmentsAnywhere and
	// InvoicesAnywhere find items by id alone in every project the
	// connection can see (see searchByIDs); uncached.
	RFIsAnywhere        *Loader[int64, adapter.RFI]
	SubmittalsAnywhere  *Loader[int64, adapter.Submittal]
	CommitmentsAnywhere *Loader[int64, adapter.Commitment]
	InvoicesAnywhere    *Loader[int64, adapter.Invoice]
	// InvoicesByCommitment is used only in Naive mode: one call per commitment.
	InvoicesByCommitment *Loader[ItemKey, adapter.Page[adapter.Invoice]]

	// Cost (issue 16): a project's budget modifications and direct costs,
	// each read whole (see cost.go).
	BudgetModifications *Loader[int64, []adapter.BudgetModification]
	DirectCosts         *Loader[int64, []adapter.DirectCost]
	// ChangeMgmt are the change management loaders (changemgmt.go).
	ChangeMgmt ChangeMgmtLoaders
	// Prime contracts and owner invoices (prime.go).
	PrimeContracts       *Loader[int64, []adapter.PrimeContract]
	PaymentApplications  *Loader[ItemKey, []adapter.PaymentApplication]
	PrimeContractPending *Loader[ItemKey, *adapter.Decimal]
	PrimeContractLines   *Loader[ItemKey, []adapter.PrimeContractLine]
}

// New creates the loaders of one request for conn.
func New(conn *tenant.Connection, opt Options) *Loaders {
	opt = opt.withDefaults()
	l := &Loaders{conn: conn, opt: opt}
	p := conn.Procore
	company := conn.CompanyID

	l.Me = single(l, "me", func(ctx context.Context, _ struct{}) (adapter.Person, error) {
		return p.Me(ctx)
	}, func(struct{}) (string, string) { return "me", "" })
	l.ProjectList = single(l, "projects", func(ctx context.Context, k ProjectListKey) (adapter.Page[adapter.Project], error) {
		return p.Projects(ctx, company, k.filter(), k.options())
	}, func(k ProjectListKey) (string, string) { return companyScope(company), k.params() })
	l.RFIDetail = single(l, "rfi", func(ctx context.Context, k ItemKey) (adapter.RFI, error) {
		return p.RFI(ctx, k.ProjectID, k.ID)
	}, func(k ItemKey) (string, string) { return projectScope(k.ProjectID), itoa(k.ID) })
	l.SubmittalDetail = single(l, "submittal", func(ctx context.Context, k ItemKey) (adapter.Submittal, error) {
		return p.Submittal(ctx, k.ProjectID, k.ID)
	}, func(k ItemKey) (string, string) { return projectScope(k.ProjectID), itoa(k.ID) })
	l.Companies = single(l, "companies", func(ctx context.Context, _ struct{}) ([]adapter.Company, error) {
		return p.Companies(ctx)
	}, func(struct{}) (string, string) { return "company:" + itoa(company), "" })

	l.ProjectsByID = byIDs(l, "project", func(int64) string { return "company:" + itoa(company) },
		func(ctx context.Context, ids []int64) ([]adapter.Project, error) {
			all := adapter.ProjectStatusAll
			page, err := p.Projects(ctx, company, adapter.ProjectFilter{Status: &all}, adapter.ListOptions{IDs: ids})
			return page.Items, err
		}, func(p adapter.Project) int64 { return p.ID })
	l.UsersByID = byIDs(l, "user", func(int64) string { return "company:" + itoa(company) },
		func(ctx context.Context, ids []int64) ([]adapter.User, error) {
			page, err := p.CompanyUsers(ctx, company, adapter.ListOptions{IDs: ids})
			return page.Items, err
		}, func(u adapter.User) int64 { return u.ID })
	l.VendorsByID = byIDs(l, "vendor", func(int64) string { return "company:" + itoa(company) },
		func(ctx context.Context, ids []int64) ([]adapter.Vendor, error) {
			page, err := p.CompanyVendors(ctx, company, adapter.ListOptions{IDs: ids})
			return page.Items, err
		}, func(v adapter.Vendor) int64 { return v.ID })

	l.RFIs = list(l, "rfis", projectScope, p.RFIs)
	l.Submittals = list(l, "submittals", projectScope, p.Submittals)
	l.Commitments = list(l, "commitments", projectScope, p.Commitments)
	l.Invoices = list(l, "invoices", projectScope, func(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.Invoice], error) {
		return p.Invoices(ctx, projectID, adapter.InvoiceFilter{}, opt)
	})
	l.CostCodes = list(l, "cost_codes", projectScope, p.CostCodes)
	l.Observations = list(l, "observations", projectScope, p.Observations)
	l.PunchItems = list(l, "punch_items", projectScope, p.PunchItems)
	l.ProjectUsers = list(l, "project_users", projectScope, p.ProjectUsers)
	l.ProjectVendors = list(l, "project_vendors", projectScope, p.ProjectVendors)
	l.CompanyUsers = list(l, "company_users", companyScope, p.CompanyUsers)
	l.CompanyVendors = list(l, "company_vendors", companyScope, p.CompanyVendors)

	l.CommitmentDetail = single(l, "commitment", func(ctx context.Context, k CommitmentKey) (adapter.Commitment, error) {
		return p.Commitment(ctx, k.ProjectID, k.Kind, k.ID)
	}, func(k CommitmentKey) (string, string) {
		return projectScope(k.ProjectID), string(k.Kind) + ":" + itoa(k.ID)
	})
	l.InvoiceDetail = single(l, "invoice", func(ctx context.Context, k ItemKey) (adapter.Invoice, error) {
		return p.Invoice(ctx, k.ProjectID, k.ID)
	}, func(k ItemKey) (string, string) { return projectScope(k.ProjectID), itoa(k.ID) })
	l.InvoicesByCommitment = single(l, "commitment_invoices", func(ctx context.Context, k ItemKey) (adapter.Page[adapter.Invoice], error) {
		id := k.ID
		return p.Invoices(ctx, k.ProjectID, adapter.InvoiceFilter{CommitmentID: &id}, adapter.ListOptions{})
	}, func(k ItemKey) (string, string) { return projectScope(k.ProjectID), itoa(k.ID) })
	l.ChangeOrders = single(l, "change_orders", func(ctx context.Context, projectID int64) ([]adapter.ChangeOrder, error) {
		return p.ChangeOrders(ctx, projectID, nil)
	}, func(id int64) (string, string) { return projectScope(id), "" })
	l.BillingPeriods = single(l, "billing_periods", p.BillingPeriods, func(id int64) (string, string) { return projectScope(id), "" })
	l.BudgetViews = single(l, "budget_views", p.BudgetViews, func(id int64) (string, string) { return projectScope(id), "" })
	l.initCost(p)
	l.BudgetRows = single(l, "budget_rows", func(ctx context.Context, k BudgetKey) ([]adapter.BudgetRow, error) {
		return p.BudgetRows(ctx, k.ProjectID, k.ViewID)
	}, func(k BudgetKey) (string, string) { return projectScope(k.ProjectID), itoa(k.ViewID) })
	l.DailyLogs = single(l, "daily_logs", func(ctx context.Context, k DailyLogKey) ([]adapter.DailyLog, error) {
		return p.DailyLogs(ctx, k.ProjectID, adapter.DateRange{From: k.From, To: k.To})
	}, func(k DailyLogKey) (string, string) {
		return projectScope(k.ProjectID), k.From.String() + ".." + k.To.String()
	})
	l.RFIsAnywhere = searchByIDs(l, p.RFIs, func(x adapter.RFI) int64 { return x.ID })
	l.SubmittalsAnywhere = searchByIDs(l, p.Submittals, func(x adapter.Submittal) int64 { return x.ID })
	l.CommitmentsAnywhere = searchByIDs(l, p.Commitments, func(x adapter.Commitment) int64 { return x.ID })
	l.InvoicesAnywhere = searchByIDs(l, func(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.Invoice], error) {
		return p.Invoices(ctx, projectID, adapter.InvoiceFilter{}, opt)
	}, func(x adapter.Invoice) int64 { return x.ID })
	l.ChangeMgmt = newChangeMgmt(l, p)
	l.newPrime(p)
	return l
}

// Naive reports whether batching is off (benchmark baseline).
func (l *Loaders) Naive() bool { return l.opt.Naive }

// Connection returns the connection these loaders serve.
func (l *Loaders) Connection() *tenant.Connection { return l.conn }

type ctxKey struct{}

// With returns ctx carrying l.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// For returns the request's loaders. It returns nil when ctx has none, which is
// a wiring bug the caller reports as an internal error.
func For(ctx context.Context) *Loaders {
	l, _ := ctx.Value(ctxKey{}).(*Loaders)
	return l
}

// ListLoader is a loader of list windows of T.
type ListLoader[T any] = Loader[ListKey, adapter.Page[T]]

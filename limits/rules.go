package limits

// Page sizes of the Procore lists behind the graph (adapter/rest asks for
// the largest per_page each endpoint allows).
const (
	pageProjects = 300
	pageDefault  = 100
	idBatch      = 100 // filters[id][] ids per call
	// perRequest as a Batch: a loader key every parent shares (the
	// companies list), fetched once a request.
	perRequest = 1 << 30
)

// Rules are the costs of procoregraph's schema fields in Procore calls, keyed
// "Type.field" ("_Entity.Type" for federation lookups by key). Fields not
// listed cost nothing: they are read from their parent's payload.
//
// Whole-list reads (every invoice or commitment of a project, for one
// item's field) assume up to 300 items a project; budget views, up to 5;
// companies a credential sees, up to 100 (one page). Lists Procore cannot
// filter by updated_at (project cost codes and vendors) are read whole for
// updatedSince or updatedBefore: up to 1,000 items assumed.
func Rules() map[string]Rule {
	list := Rule{Connection: true, Page: pageDefault}
	wholeSince := Rule{Connection: true, Page: pageDefault, WholeWith: []string{"updatedSince", "updatedBefore"}, WholeItems: 1000}
	return map[string]Rule{
		// Me, and the companies list for viewer.company.
		"Query.viewer": {Calls: 2},
		// Yields one company: only the connection's is served below it.
		"Query.companies":          {Calls: 1},
		"Query.projects":           {Connection: true, Page: pageProjects},
		"Query.project":            {Calls: 1},
		"Query.submittalStatuses":  {Calls: 1, Items: 20},
		"Query.submittalResponses": {Calls: 1, Items: 10},
		// Lookups by id: the item's show with projectId (commitments: up
		// to two shows, one per kind); without it, every project is asked
		// (the project list read first is not counted, as for _Entity).
		"Query.rfi":        {Calls: 1, SearchWithout: "projectId"},
		"Query.submittal":  {Calls: 1, SearchWithout: "projectId"},
		"Query.commitment": {Calls: 2, SearchWithout: "projectId"},
		"Query.invoice":    {Calls: 1, SearchWithout: "projectId"},
		"Query.user":       {Calls: 1},
		"Query.vendor":     {Calls: 1},
		"Company.projects": {Connection: true, Page: pageProjects},
		"Company.users":    list,
		"Company.vendors":  list,

		"Project.company":     {Calls: 1, Batch: perRequest},
		"Project.rfis":        list,
		"Project.submittals":  list,
		"Project.commitments": {Connection: true, Page: pageDefault, Lists: 2},
		"Project.invoices":    list,
		// 3-tier projects: the refused list, the packages (up to 3 pages)
		// and the prime contracts (see Commitment.changeOrders).
		"Project.changeOrders":   {Connection: true, Calls: 5},
		"Project.budget":         {Calls: 1, Items: 5},
		"Project.billingPeriods": {Calls: 1, Items: 24},
		"Project.costCodes":      wholeSince,
		// Manpower and notes logs, unpaginated; up to 367 days.
		"Project.dailyLogs":    {Calls: 2, Items: 367},
		"Project.observations": list,
		"Project.punchItems":   list,
		"Project.users":        list,
		"Project.vendors":      wholeSince,
		"BudgetView.rows":      {Calls: 1, Items: 200},
		// Cost (issue 16): budget modifications and direct costs are read
		// whole (up to 300 items: 3 pages each); the financial summary reads
		// the budget views and the first view's rows (2), both whole lists
		// (6) and both commitment lists (up to 4 pages): 12.
		"Project.budgetModifications": {Connection: true, Calls: 3},
		"Project.directCosts":         {Connection: true, Calls: 3},
		"Project.financialSummary":    {Calls: 12},
		// Its owner-side figures, read only when selected (up to 3 prime
		// contracts a project assumed): the prime contract list (1), and
		// each contract's payment applications (3 more); the prime change
		// orders (1, unpaginated), the change order packages (up to 3
		// pages) and the prime contracts (to keep their packages). billedToDate and retainageHeld share their lists; each is
		// counted in full.
		"FinancialSummary.contractValue":  {Calls: 1},
		"FinancialSummary.billedToDate":   {Calls: 4},
		"FinancialSummary.retainageHeld":  {Calls: 4},
		"FinancialSummary.pendingChanges": {Calls: 5}, // + the prime contracts

		// The RFI detail, when the list item carries no questions.
		"RFI.questions": {Calls: 1},
		// Projects by id: at most one call per distinct project.
		"RFI.project":        {Calls: 1, Per: "Project"},
		"Submittal.project":  {Calls: 1, Per: "Project"},
		"Commitment.project": {Calls: 1, Per: "Project"},

		// One requisitions list per project (all of it, up to 3 pages)
		// answers every commitment's invoices.
		"Commitment.invoices": {Connection: true, Calls: 3, Per: "Project"},
		// 1 call; 5 on a 3-tier project (the refused list, the change
		// order packages, up to 3 pages, and the prime contracts).
		"Commitment.changeOrders": {Calls: 5, Per: "Project", Items: 10},
		"Commitment.lineItems":    {Calls: 1, Items: 20},
		// Both commitment lists of the project, whole: at most 4 pages.
		"Invoice.commitment": {Calls: 2, Lists: 2, Per: "Project"},
		"Invoice.period":     {Calls: 1, Per: "Project"},
		"Invoice.items":      {Calls: 1, Items: 20},

		// Subscribing primes the differ (once per project and kind until
		// its store forgets): whole lists of every active project, or of
		// projectId's. Not counted: the project list read first.
		"Subscription.ballInCourtChanged":   {Calls: 3, Lists: 3, ProjectSearch: true},
		"Subscription.rfiChanged":           {Calls: 3, ProjectSearch: true},
		"Subscription.submittalChanged":     {Calls: 3, ProjectSearch: true},
		"Subscription.invoiceStatusChanged": {Calls: 3, ProjectSearch: true},
		"Subscription.commitmentChanged":    {Calls: 2, Lists: 2, ProjectSearch: true},
		// Subscription events: the item read again, per event.
		"BallInCourtChange.rfi":       {Calls: 1},
		"BallInCourtChange.submittal": {Calls: 3},
		"BallInCourtChange.punchItem": {Calls: 3},
		"RFIChange.rfi":               {Calls: 1},
		"SubmittalChange.submittal":   {Calls: 3},
		"InvoiceStatusChange.invoice": {Calls: 1},
		"CommitmentChange.commitment": {Calls: 2, Lists: 2},

		// Change management (schema/changemgmt.graphqls): each project list
		// read whole (up to 3 pages) once per request; links answered from
		// those lists (per project), PCO line items one call per PCO.
		"Project.changeEvents":                     {Connection: true, Calls: 3},
		"Project.potentialChangeOrders":            {Connection: true, Calls: 3},
		"Project.changeOrderPackages":              {Connection: true, Calls: 4}, // + the prime contracts
		"Project.primeChangeOrders":                {Connection: true, Calls: 1},
		"ChangeEvent.rfi":                          {Calls: 1},
		"ChangeEvent.project":                      {Calls: 1, Per: "Project"},
		"PotentialChangeOrder.lineItems":           {Calls: 1, Items: 10},
		"PotentialChangeOrder.changeEvents":        {Calls: 2, Items: 3},
		"PotentialChangeOrder.changeOrderRequest":  {Calls: 3, Per: "Project"},
		"PotentialChangeOrder.package":             {Calls: 6, Per: "Project"},
		"PotentialChangeOrder.primeChangeOrder":    {Calls: 1, Per: "Project"},
		"ChangeOrderRequest.package":               {Calls: 3, Per: "Project"},
		"ChangeOrderRequest.potentialChangeOrders": {Calls: 3, Per: "Project", Items: 5},
		"ChangeOrderPackage.changeOrderRequests":   {Calls: 3, Per: "Project", Items: 5},
		"ChangeOrderPackage.potentialChangeOrders": {Calls: 6, Per: "Project", Items: 10},
		"PrimeChangeOrder.potentialChangeOrders":   {Calls: 3, Per: "Project", Items: 5},
		// Prime contracts: one whole list per project; each contract's
		// payment applications, one whole list per contract.
		"Project.primeContracts":            {Connection: true, Calls: 1},
		"PrimeContract.paymentApplications": {Connection: true, Calls: 1},
		"PrimeContract.project":             {Calls: 1, Per: "Project"},
		"PrimeContract.pendingChangeOrders": {Calls: 1},
		"PrimeContract.scheduleOfValues":    {Calls: 1, Items: 20},

		"_Entity.Project": {Calls: 1, Batch: idBatch},
		"_Entity.Company": {Calls: 1, Batch: perRequest},
		// One call per project (ProjectSearch) and 100 ids. The project
		// list read first is not counted: covered while the company has
		// fewer projects than Options.Projects.
		"_Entity.RFI":        {Calls: 1, Batch: idBatch, ProjectSearch: true},
		"_Entity.Submittal":  {Calls: 1, Batch: idBatch, ProjectSearch: true},
		"_Entity.Commitment": {Calls: 1, Lists: 2, Batch: idBatch, ProjectSearch: true},
		"_Entity.Invoice":    {Calls: 1, Batch: idBatch, ProjectSearch: true},
		// Company users have no id filter: a batch of ids walks the
		// directory (up to 1,000 users assumed: 10 pages) or fetches each
		// id, whichever is fewer calls.
		"_Entity.User":   {Calls: 10, Batch: idBatch},
		"_Entity.Vendor": {Calls: 1, Batch: idBatch},
	}
}

package limits

// Page sizes of the Procore lists behind the graph (adapter/rest asks for
// the largest per_page each endpoint allows).
const (
	pageProjects = 300
	pageDefault  = 100
	idBatch      = 100 // filters[id][] ids per call
)

// Rules are the costs of procoregraph's schema fields in Procore calls, keyed
// "Type.field" ("_Entity.Type" for federation lookups by key). Fields not
// listed cost nothing: they are read from their parent's payload.
func Rules() map[string]Rule {
	list := Rule{Connection: true, Page: pageDefault}
	return map[string]Rule{
		"Query.viewer":             {Calls: 1},
		"Query.companies":          {Calls: 1},
		"Query.projects":           {Connection: true, Page: pageProjects},
		"Query.project":            {Calls: 1, Batch: idBatch},
		"Query.submittalStatuses":  {Calls: 1, Items: 20},
		"Query.submittalResponses": {Calls: 1, Items: 10},
		"Company.projects":         {Connection: true, Page: pageProjects},
		"Company.users":            list,
		"Company.vendors":          list,

		"Project.rfis":           list,
		"Project.submittals":     list,
		"Project.commitments":    {Connection: true, Page: pageDefault, Lists: 2},
		"Project.invoices":       list,
		"Project.changeOrders":   {Connection: true, Calls: 1},
		"Project.budget":         {Calls: 1, Items: 5},
		"Project.billingPeriods": {Calls: 1, Items: 24},
		"Project.costCodes":      list,
		"Project.dailyLogs":      {Calls: 2, Items: 31},
		"Project.observations":   list,
		"Project.punchItems":     list,
		"Project.users":          list,
		"Project.vendors":        list,
		"BudgetView.rows":        {Calls: 1, Items: 200},

		// One requisitions list per project answers every commitment's
		// invoices (assumed: up to 300 invoices a project).
		"Commitment.invoices":     {Connection: true, Calls: 3, Per: "Project"},
		"Commitment.changeOrders": {Calls: 1, Per: "Project", Items: 10},
		"Commitment.lineItems":    {Calls: 1, Items: 20},
		"Invoice.items":           {Calls: 1, Items: 20},

		"_Entity.Project":    {Calls: 1, Batch: idBatch},
		"_Entity.Company":    {Calls: 1},
		"_Entity.RFI":        {Calls: 1, Batch: idBatch, ProjectSearch: true},
		"_Entity.Submittal":  {Calls: 1, Batch: idBatch, ProjectSearch: true},
		"_Entity.Commitment": {Calls: 2, Batch: idBatch, ProjectSearch: true},
		"_Entity.Invoice":    {Calls: 1, Batch: idBatch, ProjectSearch: true},
		"_Entity.User":       {Calls: 10},
		"_Entity.Vendor":     {Calls: 10},
	}
}

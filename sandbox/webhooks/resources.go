package webhooks

import "strings"

// resource is one entry of the webhook resources catalog.
type resource struct {
	Name     string
	Category string
	Company  bool     // company-level (else project-level)
	Except   []string // event types the resource does not fire
}

func (r resource) allows(eventType string) bool {
	for _, e := range r.Except {
		if e == eventType {
			return false
		}
	}
	return true
}

// resourceJSON is a catalog entry on the wire, as Procore documents
// GET /rest/v1.0/webhooks/resources: tools is the resource name triggers use
// ("Budget Line Items" in Procore's example), except lists the event types it
// does not fire, and create/update/delete are legacy strings whose documented
// example is null.
type resourceJSON struct {
	APIVersion      string   `json:"api_version"`
	ProductCategory string   `json:"product_category"`
	Tools           string   `json:"tools"`
	Except          []string `json:"except"`
	Create          *string  `json:"create"`
	Update          *string  `json:"update"`
	Delete          *string  `json:"delete"`
}

func (r resource) wire() resourceJSON {
	except := r.Except
	if except == nil {
		except = []string{}
	}
	return resourceJSON{APIVersion: "v2", ProductCategory: r.Category, Tools: r.Name, Except: except}
}

// Resource names the sandbox core emits events under (see Event.ResourceName).
const (
	ResourceRFIs                   = "RFIs"
	ResourceRFIReplies             = "RFI Replies"
	ResourceSubmittals             = "Submittals"
	ResourceWorkOrderContracts     = "Work Order Contracts"
	ResourcePurchaseOrderContracts = "Purchase Order Contracts"
	// ResourceChangeOrderPackages carries every change order: commitment
	// change orders, prime change orders and 3-tier packages.
	ResourceChangeOrderPackages = "Change Order Packages"
	ResourceObservationItems    = "Observation Items"
	ResourcePunchItems          = "Punch Items"
	// ResourceRequisitions is subcontractor invoices (/rest/v1.1/requisitions).
	// Procore's published resource list has no entry for them; webhook names
	// follow the API's nouns (the owner side kept "Payment Applications"
	// after its 2018 UI rename to Owner Invoices), so the catalog lists them
	// as "Requisitions".
	ResourceRequisitions = "Requisitions"
	// ResourcePaymentApplications is Procore's name for owner invoices
	// (prime contract payment applications).
	ResourcePaymentApplications = "Payment Applications"
	// ResourceChangeEvents and ResourcePotentialChangeOrders are change
	// events and PCOs. Prime change orders and 3-tier packages fire under
	// ResourceChangeOrderPackages, like commitment change orders: Procore's
	// list has no other name for them.
	ResourceChangeEvents          = "Change Events"
	ResourcePotentialChangeOrders = "Potential Change Orders"
)

var (
	noDelete   = []string{"delete"}
	createOnly = []string{"update", "delete"}
	updateOnly = []string{"create", "delete"}
	noUpdate   = []string{"update"}
)

// catalog returns the webhook resources Procore's developer sandbox reported
// in 2026 (25 company-level, 88 project-level; the names of Procore's
// webhook-resources.csv), plus "Requisitions" for subcontractor invoices (see
// ResourceRequisitions), with the event types each one does not fire. It is
// built per call: no package-level mutable state.
func catalog() []resource {
	const (
		core  = "Core"
		pm    = "Project Management"
		fin   = "Construction Financials"
		qs    = "Quality & Safety"
		field = "Field Productivity"
		dc    = "Design Coordination"
		pre   = "Preconstruction"
		wf    = "Workforce Management"
	)
	company := func(name, cat string, except []string) resource {
		return resource{Name: name, Category: cat, Company: true, Except: except}
	}
	project := func(name, cat string, except []string) resource {
		return resource{Name: name, Category: cat, Except: except}
	}
	return []resource{
		company("Bids", pre, updateOnly),
		company("Change Order Change Reasons", fin, nil),
		company("Change Types", fin, nil),
		company("Company File Versions", core, nil),
		company("Company Files", core, nil),
		company("Company Folders", core, nil),
		company("Company Insurances", core, nil),
		company("Company Users", core, noDelete),
		company("Company Vendors", core, noDelete),
		company("Departments", core, nil),
		company("ERP Requests", fin, nil),
		company("Form Templates", qs, nil),
		company("Line Item Types", fin, nil),
		company("Offices", core, nil),
		company("Programs", core, nil),
		company("Project Bid Types", core, nil),
		company("Project Owner Types", core, nil),
		company("Project Regions", core, nil),
		company("Project Stages", core, nil),
		company("Project Types", core, nil),
		company("Projects", core, noDelete),
		company("Standard Cost Code Lists", fin, createOnly),
		company("Standard Cost Codes", fin, nil),
		company("Timecard Time Types", wf, noUpdate),
		company("Trades", core, noUpdate),

		project("Accident Logs", field, nil),
		project("BIM File Extractions", dc, nil),
		project("BIM Model Revisions", dc, nil),
		project("BIM Models", dc, nil),
		project("Budget Change Adjustment Line Items", fin, nil),
		project("Budget Change Adjustments", fin, nil),
		project("Budget Change Production Quantities", fin, nil),
		project("Budget Changes", fin, nil),
		project("Budget Line Items", fin, nil),
		project("Budget Modifications", fin, nil),
		project("Budget View Snapshots", fin, createOnly),
		project("Call Logs", field, nil),
		project("Change Event Line Items", fin, nil),
		project("Change Events", fin, nil),
		project("Change Order Packages", fin, nil),
		project("Change Order Requests", fin, nil),
		project("Company Direct Cost Line Items", fin, nil),
		project("Contract Payments", fin, nil),
		project("Coordination Issue Activities", dc, nil),
		project("Coordination Issues", dc, nil),
		project("Cost Codes", fin, nil),
		project("Daily Construction Report Logs", field, nil),
		project("Daily Log/Entries", field, nil),
		project("Daily Logs", field, nil),
		project("Delivery Logs", field, nil),
		project("Direct Cost Line Items", fin, nil),
		project("Direct Costs", fin, nil),
		project("Draw Requests", fin, nil),
		project("Drawing Areas", pm, nil),
		project("Drawing Sets", pm, nil),
		project("Drawing Uploads", pm, nil),
		project("Drawings", pm, nil),
		project("Dumpster Logs", field, nil),
		project("Equipment Logs", field, nil),
		project("File Versions", pm, nil),
		project("Forms", pm, nil),
		project("Generic Tool Items", pm, nil),
		project("Image Categories", pm, nil),
		project("Images", pm, nil),
		project("Incidents", qs, nil),
		project("Inspection Checklists", qs, noDelete),
		project("Inspection Logs", field, nil),
		project("Locations", core, nil),
		project("Manpower Logs", field, nil),
		project("Markup Layers", pm, noDelete),
		project("Meeting Attendees", pm, nil),
		project("Meeting Categories", pm, nil),
		project("Meeting Topics", pm, nil),
		project("Meetings", pm, nil),
		project("Notes Logs", field, nil),
		project("Observation Item Response Logs", qs, createOnly),
		project("Observation Items", qs, nil),
		project("Payment Applications", fin, nil),
		project("Pdf Download Pages", pm, nil),
		project("Plan Revision Logs", field, nil),
		project("Potential Change Order Line Items", fin, nil),
		project("Potential Change Orders", fin, nil),
		project("Prime Contract Line Items", fin, nil),
		project("Prime Contracts", fin, nil),
		project("Productivity Logs", field, nil),
		project("Project Dates", core, nil),
		project("Project File Versions", pm, nil),
		project("Project Files", pm, nil),
		project("Project Folders", pm, nil),
		project("Project Insurances", core, nil),
		project("Project Users", core, nil),
		project("Project Vendors", core, nil),
		project("Punch Items", qs, nil),
		project("Purchase Order Contract Line Items", fin, nil),
		project("Purchase Order Contracts", fin, nil),
		project("Quantity Logs", field, nil),
		project("RFI Replies", pm, nil),
		project("RFIs", pm, nil),
		project("RFQ Quotes", pre, noDelete),
		project("RFQ Responses", pre, noDelete),
		project("RFQs", pre, nil),
		project(ResourceRequisitions, fin, nil),
		project("Safety Violation Logs", field, nil),
		project("Site Instructions", pm, nil),
		project("Specification Areas", pm, nil),
		project("Specification Section Divisions", pm, nil),
		project("Specification Section Revisions", pm, nil),
		project("Specification Sections", pm, noDelete),
		project("Specification Sets", pm, nil),
		project("Sub Jobs", fin, nil),
		project("Submittal Packages", pm, nil),
		project("Submittals", pm, nil),
		project("Task Items", pm, noDelete),
		project("Tasks", pm, nil),
		project("Timecard Entries", wf, nil),
		project("ToDos", pm, nil),
		project("Visitor Logs", field, nil),
		project("Waste Logs", field, nil),
		project("Weather Logs", field, noDelete),
		project("Work Logs", field, nil),
		project("Work Order Contract Line Items", fin, nil),
		project("Work Order Contracts", fin, nil),
	}
}

// findResource looks a resource name up in the catalog, case-insensitively,
// and returns its canonical spelling.
func findResource(name string) (resource, bool) {
	for _, r := range catalog() {
		if strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return resource{}, false
}

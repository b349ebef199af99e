package sandbox

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"procoregraph/sandbox/data"
)

// Renderers write one Procore object each, in Procore's field names and
// spelling. They run under the server's read lock.

// unknownEnum reports whether drift swaps in an undocumented enum value for id.
func (e *enc) unknownEnum(id int64) bool { return e.drift.UnknownEnum && id%4 == 0 }

func person(e *enc, ds *data.Dataset, k string, id int64) {
	u := ds.User(id)
	if u == nil {
		e.null(k)
		return
	}
	e.obj(k)
	personFields(e, u)
	e.close()
}

func personFields(e *enc, u *data.User) {
	e.int("id", u.ID)
	e.str("login", u.Email)
	e.str("name", u.Name())
}

func people(e *enc, ds *data.Dataset, k string, ids []int64) {
	e.arr(k)
	for _, id := range ids {
		if u := ds.User(id); u != nil {
			e.open()
			personFields(e, u)
			e.close()
		}
	}
	e.closeArr()
}

func vendorRef(e *enc, ds *data.Dataset, k string, id int64) {
	v := ds.Vendor(id)
	if v == nil {
		e.null(k)
		return
	}
	e.obj(k)
	e.int("id", v.ID)
	e.str("name", v.Name)
	e.close()
}

func costCodeRef(e *enc, p *data.Project, k string, id int64) {
	cc := p.CostCode(id)
	if cc == nil {
		e.null(k)
		return
	}
	e.obj(k)
	e.int("id", cc.ID)
	e.str("name", cc.Name)
	e.str("full_code", cc.FullCode)
	e.close()
}

func attachments(e *enc, k string, as []data.Attachment) {
	e.arr(k)
	for _, a := range as {
		e.open()
		e.int("id", a.ID)
		e.str("name", a.Name)
		e.str("filename", a.Filename)
		e.str("url", a.URL)
		e.str("content_type", a.ContentType)
		e.close()
	}
	e.closeArr()
}

func renderCompany(e *enc, c *data.Company, mine bool) {
	defer e.drifted("companies", len(e.b))
	e.open()
	e.int("id", c.ID)
	e.str("name", c.Name)
	e.bool("is_active", c.IsActive)
	e.str("logo_url", c.LogoURL)
	e.null("pcn_business_experience")
	e.bool("my_company", mine)
	e.close()
}

func renderProject(e *enc, ds *data.Dataset, p *data.Project) {
	defer e.drifted("projects", len(e.b))
	c := ds.Company(p.CompanyID)
	e.open()
	e.int("id", p.ID)
	e.str("name", p.Name)
	e.str("display_name", p.ProjectNumber+" - "+p.Name)
	e.str("project_number", p.ProjectNumber)
	e.str("address", p.Address)
	e.str("city", p.City)
	e.str("state_code", p.StateCode)
	e.str("country_code", p.CountryCode)
	e.str("zip", p.Zip)
	e.str("county", p.County)
	e.str("time_zone", p.TimeZone)
	e.raw("latitude", p.Latitude)
	e.raw("longitude", p.Longitude)
	e.str("description", p.Description)
	e.int("square_feet", p.SquareFeet)
	e.date("start_date", p.StartDate)
	e.date("completion_date", p.CompletionDate)
	e.date("estimated_start_date", p.StartDate)
	e.date("estimated_completion_date", p.CompletionDate)
	e.date("actual_start_date", p.StartDate)
	e.date("projected_finish_date", p.CompletionDate)
	e.money("total_value", p.TotalValue)
	e.money("estimated_value", p.TotalValue)
	e.bool("active", p.Active)
	e.strOrNull("flag", p.Flag)
	e.str("phone", p.Phone)
	e.null("public_notes")
	e.str("stage", p.Stage)
	e.obj("project_stage")
	e.int("id", p.StageID)
	e.str("name", p.Stage)
	e.close()
	e.obj("project_type")
	e.str("name", p.ProjectType)
	e.close()
	if c != nil {
		for _, o := range c.Offices {
			if o.ID == p.OfficeID {
				e.obj("office")
				e.int("id", o.ID)
				e.str("name", o.Name)
				e.close()
			}
		}
		e.obj("company")
		e.int("id", c.ID)
		e.str("name", c.Name)
		e.close()
	}
	e.null("program")
	e.arr("departments")
	e.closeArr()
	e.null("origin_id")
	e.null("origin_data")
	e.null("origin_code")
	e.bool("is_demo", false)
	e.bool("template", false)
	e.time("created_at", p.CreatedAt)
	e.time("updated_at", p.UpdatedAt)
	e.close()
}

func initials(u *data.User) string {
	var b strings.Builder
	if u.FirstName != "" {
		b.WriteByte(u.FirstName[0])
	}
	if u.LastName != "" {
		b.WriteByte(u.LastName[0])
	}
	return b.String()
}

// renderUser writes a company (v1.3) or project directory user.
func renderUser(e *enc, ds *data.Dataset, u *data.User) {
	defer e.drifted("users", len(e.b))
	e.open()
	e.int("id", u.ID)
	e.str("first_name", u.FirstName)
	e.str("last_name", u.LastName)
	e.str("name", u.Name())
	e.str("initials", initials(u))
	e.str("email_address", u.Email)
	e.str("job_title", u.JobTitle)
	e.bool("is_active", u.IsActive)
	e.bool("is_employee", u.IsEmployee)
	e.null("employee_id")
	e.str("business_phone", u.Phone)
	e.null("mobile_phone")
	e.null("address")
	e.null("city")
	e.null("state_code")
	e.str("country_code", "US")
	e.null("zip")
	vendorRef(e, ds, "vendor", u.VendorID)
	e.null("permission_template")
	e.null("last_login_at")
	e.null("origin_id")
	e.null("origin_data")
	e.time("created_at", u.CreatedAt)
	e.time("updated_at", u.UpdatedAt)
	e.close()
}

func renderVendor(e *enc, v *data.Vendor) {
	defer e.drifted("vendors", len(e.b))
	e.open()
	e.int("id", v.ID)
	e.str("name", v.Name)
	e.str("abbreviated_name", v.Abbrev)
	e.str("address", v.Address)
	e.str("city", v.City)
	e.str("state_code", v.StateCode)
	e.str("zip", v.Zip)
	e.str("country_code", "US")
	e.str("business_phone", v.Phone)
	e.str("email_address", v.Email)
	e.bool("is_active", v.IsActive)
	e.str("trade_name", v.TradeName)
	e.str("legal_name", v.LegalName)
	e.null("primary_contact")
	e.bool("synced_to_erp", false)
	e.bool("prequalified", v.Prequalified)
	e.null("origin_id")
	e.null("origin_data")
	e.null("origin_code")
	e.time("created_at", v.CreatedAt)
	e.time("updated_at", v.UpdatedAt)
	e.close()
}

func renderCostCode(e *enc, p *data.Project, cc *data.CostCode) {
	defer e.drifted("cost_codes", len(e.b))
	e.open()
	e.int("id", cc.ID)
	e.str("code", cc.Code)
	e.str("full_code", cc.FullCode)
	e.str("name", cc.Name)
	if parent := p.CostCode(cc.ParentID); parent != nil {
		e.obj("parent")
		e.int("id", parent.ID)
		e.str("code", parent.Code)
		e.str("name", parent.Name)
		e.close()
	} else {
		e.null("parent")
	}
	e.int("position", int64(cc.Position))
	e.str("biller", p.Name)
	e.int("biller_id", p.ID)
	e.str("biller_type", "Project")
	e.bool("budgeted", cc.ParentID != 0)
	e.null("standard_cost_code_id")
	e.null("origin_id")
	e.null("origin_data")
	e.time("created_at", cc.CreatedAt)
	e.time("updated_at", cc.UpdatedAt)
	e.null("deleted_at")
	e.arr("line_item_types")
	e.closeArr()
	e.close()
}

func impact(e *enc, k string, im data.Impact, money bool) {
	e.obj(k)
	e.strOrNull("status", im.Status)
	switch {
	case !im.HasValue:
		e.null("value")
	case money:
		e.money("value", im.Value)
	default:
		e.int("value", int64(im.Value/100))
	}
	e.close()
}

func titleStatus(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + strings.ReplaceAll(s[1:], "_", " ")
}

func renderRFI(e *enc, ds *data.Dataset, p *data.Project, r *data.RFI) {
	defer e.drifted("rfis", len(e.b))
	e.open()
	e.int("id", r.ID)
	if r.Number > 0 {
		n := strconv.Itoa(r.Number)
		e.str("number", n)
		e.str("full_number", n)
	} else {
		e.null("number")
		e.null("full_number")
	}
	e.null("prefix")
	e.str("subject", r.Subject)
	status := r.Status
	if e.unknownEnum(r.ID) {
		status = "pending_review"
	}
	e.str("status", status)
	e.str("translated_status", titleStatus(status))
	e.bool("draft", r.Draft)
	e.bool("private", r.Private)
	e.bool("accepted", r.Accepted)
	e.date("due_date", r.DueDate)
	e.time("initiated_at", r.InitiatedAt)
	e.time("time_resolved", r.TimeResolved)
	e.str("reference", r.Reference)
	e.null("drawing_number")
	e.arr("drawing_ids")
	e.closeArr()
	e.strOrNull("ball_in_court_role", r.BallInCourtRole)
	var first int64
	if len(r.BallInCourtIDs) > 0 {
		first = r.BallInCourtIDs[0]
	}
	person(e, ds, "ball_in_court", first)
	people(e, ds, "ball_in_courts", r.BallInCourtIDs)
	first = 0
	if len(r.AssigneeIDs) > 0 {
		first = r.AssigneeIDs[0]
	}
	person(e, ds, "assignee", first)
	people(e, ds, "assignees", r.AssigneeIDs)
	person(e, ds, "rfi_manager", r.ManagerID)
	person(e, ds, "received_from", r.ReceivedFromID)
	person(e, ds, "created_by", r.CreatedByID)
	e.arr("distribution_list")
	e.closeArr()
	vendorRef(e, ds, "responsible_contractor", r.ResponsibleContractorID)
	costCodeRef(e, p, "cost_code", r.CostCodeID)
	e.null("location")
	e.null("specification_section")
	impact(e, "cost_impact", r.CostImpact, true)
	impact(e, "schedule_impact", r.ScheduleImpact, false)
	e.obj("custom_fields")
	e.close()
	e.arr("questions")
	for _, q := range r.Questions {
		e.open()
		e.int("id", q.ID)
		e.time("question_date", q.Date)
		e.str("plain_text_body", q.Body)
		e.wrapped("rich_text_body", "<p>", q.Body, "</p>")
		creator := ""
		if u := ds.User(q.CreatedByID); u != nil {
			creator = u.Name()
		}
		e.str("created_by", creator)
		e.idOrNull("created_by_id", q.CreatedByID)
		attachments(e, "attachments", q.Attachments)
		e.arr("answers")
		for _, a := range q.Answers {
			renderAnswer(e, ds, a)
		}
		e.closeArr()
		e.close()
	}
	e.closeArr()
	e.time("created_at", r.CreatedAt)
	e.time("updated_at", r.UpdatedAt)
	e.null("deleted_at")
	e.close()
}

func renderAnswer(e *enc, ds *data.Dataset, a *data.Answer) {
	defer e.drifted("replies", len(e.b))
	e.open()
	e.int("id", a.ID)
	e.bool("official", a.Official)
	e.time("answer_date", a.Date)
	e.str("plain_text_body", a.Body)
	e.wrapped("rich_text_body", "<p>", a.Body, "</p>")
	creator := ""
	if u := ds.User(a.CreatedByID); u != nil {
		creator = u.Name()
	}
	e.str("created_by", creator)
	e.idOrNull("created_by_id", a.CreatedByID)
	attachments(e, "attachments", a.Attachments)
	e.close()
}

func renderSubmittalStatus(e *enc, st *data.SubmittalStatus) {
	e.open()
	e.int("id", st.ID)
	e.str("name", st.Name)
	e.str("status", st.Status)
	e.close()
}

func renderResponse(e *enc, r *data.SubmittalResponse) {
	e.open()
	e.int("id", r.ID)
	e.str("name", r.Name)
	e.str("considered", r.Considered)
	e.close()
}

func renderSubmittal(e *enc, ds *data.Dataset, c *data.Company, p *data.Project, s *data.Submittal) {
	defer e.drifted("submittals", len(e.b))
	e.open()
	e.int("id", s.ID)
	e.str("number", s.Number)
	spec := c.Spec(s.SpecSectionID)
	if spec != nil {
		e.str("formatted_number", spec.Number+"-"+s.Number)
	} else {
		e.str("formatted_number", s.Number)
	}
	e.str("revision", strconv.Itoa(s.Revision))
	e.str("title", s.Title)
	e.str("description", s.Description)
	if st := c.Status(s.StatusID); st != nil {
		e.key("status")
		renderSubmittalStatus(e, st)
	} else {
		e.null("status")
	}
	e.obj("type")
	e.str("name", s.Type)
	e.close()
	e.bool("current_revision", true)
	e.bool("private", s.Private)
	e.date("due_date", s.DueDate)
	e.date("issue_date", s.IssueDate)
	e.date("received_date", s.ReceivedDate)
	e.date("submit_by", s.SubmitBy)
	e.time("distributed_at", s.DistributedAt)
	people(e, ds, "ball_in_court", s.BallInCourtIDs)
	person(e, ds, "submittal_manager", s.ManagerID)
	person(e, ds, "received_from", s.ReceivedFromID)
	vendorRef(e, ds, "responsible_contractor", s.ResponsibleContractorID)
	person(e, ds, "created_by", s.CreatedByID)
	if spec != nil {
		e.obj("specification_section")
		e.int("id", spec.ID)
		e.str("number", spec.Number)
		e.str("description", spec.Description)
		e.str("label", spec.Number+" - "+spec.Description)
		e.null("current_revision_id")
		e.close()
	} else {
		e.null("specification_section")
	}
	e.null("submittal_package")
	e.null("location")
	e.arr("approvers")
	for _, a := range s.Approvers {
		e.open()
		e.int("id", a.ID)
		e.str("approver_type", a.ApproverType)
		e.int("workflow_group_number", int64(a.Step))
		approverResponse(e, c, a)
		e.bool("response_required", a.ResponseRequired)
		e.int("days_to_respond", int64(a.DaysToRespond))
		e.date("sent_date", a.SentDate)
		e.date("due_date", a.DueDate)
		e.date("returned_date", a.ReturnedDate)
		e.strOrNull("comment", a.Comment)
		e.bool("distributed", !s.DistributedAt.IsZero())
		person(e, ds, "user", a.UserID)
		e.arr("attachments")
		e.closeArr()
		e.close()
	}
	e.closeArr()
	people(e, ds, "distribution_members", s.DistributionIDs)
	attachments(e, "attachments", s.Attachments)
	e.time("created_at", s.CreatedAt)
	e.time("updated_at", s.UpdatedAt)
	e.close()
}

// renderCommitment writes a work order or purchase order contract; extended
// adds line_items.
func renderCommitment(e *enc, ds *data.Dataset, p *data.Project, c *data.Commitment, extended bool) {
	defer e.drifted(commitmentCollection(c.Kind), len(e.b))
	co := p.ChangeOrderTotals(c.ID)
	grand := c.GrandTotal()
	revised := grand + co.Approved
	paid := p.Payments(c.ID)
	e.open()
	e.int("id", c.ID)
	e.str("number", c.Number)
	e.str("title", c.Title)
	status := c.Status
	if e.unknownEnum(c.ID) {
		status = "Under Negotiation"
	}
	e.str("status", status)
	e.str("type", c.Kind)
	e.bool("executed", c.Executed)
	e.bool("private", c.Private)
	e.str("description", c.Description)
	e.str("accounting_method", "amount")
	e.money("retainage_percent", c.RetainagePercent)
	e.date("contract_date", c.ContractDate)
	if c.Kind == data.PurchaseOrder {
		e.date("delivery_date", c.DeliveryDate)
		e.str("ship_to_address", c.ShipTo)
		e.str("payment_terms", c.PaymentTerms)
	}
	e.money("grand_total", grand)
	e.money("revised_contract", revised)
	e.money("approved_change_orders", co.Approved)
	e.money("pending_change_orders", co.Pending)
	e.money("draft_change_orders_amount", co.Draft)
	e.money("pending_revised_contract", revised+co.Pending)
	e.money("total_payments", paid)
	e.money("percentage_paid", data.Ratio(paid, revised))
	e.money("remaining_balance_outstanding", revised-paid)
	e.money("total_requisitions_amount", p.Requisitioned(c.ID))
	e.bool("requisitions_are_enabled", c.Invoiceable())
	e.bool("show_line_items_to_non_admins", true)
	if v := ds.Vendor(c.VendorID); v != nil {
		e.obj("vendor")
		e.int("id", v.ID)
		e.str("company", v.Name)
		e.null("origin_id")
		e.null("origin_data")
		e.close()
	} else {
		e.null("vendor")
	}
	e.obj("project")
	e.int("id", p.ID)
	e.str("name", p.Name)
	e.close()
	e.obj("currency_configuration")
	e.str("currency_iso_code", "USD")
	e.close()
	if extended {
		e.arr("line_items")
		for _, li := range c.LineItems {
			renderLineItem(e, p, li)
		}
		e.closeArr()
		attachments(e, "attachments", c.Attachments)
	}
	e.null("origin_id")
	e.null("origin_data")
	e.null("origin_code")
	person(e, ds, "created_by", c.CreatedByID)
	e.time("created_at", c.CreatedAt)
	e.time("updated_at", c.UpdatedAt)
	e.close()
}

func renderLineItem(e *enc, p *data.Project, li *data.LineItem) {
	e.open()
	e.int("id", li.ID)
	e.money("amount", li.Amount)
	e.money("quantity", li.Quantity)
	e.money("unit_cost", li.UnitCost)
	e.str("uom", li.UOM)
	e.str("extended_type", "manual")
	e.str("description", li.Description)
	costCodeRef(e, p, "cost_code", li.CostCodeID)
	e.null("wbs_code")
	e.obj("line_item_type")
	e.str("name", "Commitment")
	e.str("code", "COM")
	e.str("base_type", "commitment")
	e.close()
	e.null("tax_code_id")
	e.money("total_amount", li.Amount)
	e.money("extended_amount", li.Amount)
	e.int("position", int64(li.Position))
	e.null("origin_id")
	e.null("origin_data")
	e.time("created_at", li.CreatedAt)
	e.time("updated_at", li.UpdatedAt)
	e.close()
}

func renderChangeOrder(e *enc, ds *data.Dataset, co *data.ChangeOrder) {
	defer e.drifted("commitment_change_orders", len(e.b))
	e.open()
	e.int("id", co.ID)
	e.str("type", "CommitmentChangeOrder")
	e.int("contract_id", co.ContractID)
	e.str("number", co.Number)
	e.str("title", co.Title)
	e.str("status", co.Status)
	e.str("description", co.Description)
	e.date("due_date", co.DueDate)
	e.int("revision", 0)
	e.bool("executed", co.Status == "approved")
	e.money("grand_total", co.GrandTotal())
	e.arr("line_items")
	for _, l := range co.Lines {
		e.open()
		e.int("id", l.ID)
		e.money("amount", l.Amount)
		e.str("description", l.Description)
		e.close()
	}
	e.closeArr()
	person(e, ds, "created_by", co.CreatedByID)
	e.null("reviewed_at")
	e.null("reviewed_by")
	e.time("created_at", co.CreatedAt)
	e.time("updated_at", co.UpdatedAt)
	e.close()
}

func renderBillingPeriod(e *enc, b *data.BillingPeriod) {
	defer e.drifted("billing_periods", len(e.b))
	e.open()
	e.int("id", b.ID)
	e.date("start_date", b.Start)
	e.date("end_date", b.End)
	e.date("due_date", b.Due)
	e.int("position", int64(b.Position))
	e.str("status", b.Status)
	e.close()
}

// renderInvoice writes a requisition; withItems adds the G703 items.
func renderInvoice(e *enc, ds *data.Dataset, p *data.Project, inv *data.Invoice, withItems bool) {
	defer e.drifted("requisitions", len(e.b))
	c := p.Commitment(inv.CommitmentID)
	s := p.G702(inv)
	latest := p.LatestInvoice(inv.CommitmentID)
	e.open()
	e.int("id", inv.ID)
	e.int("number", int64(inv.Number))
	e.str("invoice_number", inv.InvoiceNumber)
	status := inv.Status
	if e.unknownEnum(inv.ID) {
		status = "pending_payment"
	}
	e.str("status", status)
	e.str("erp_status", "not_synced")
	e.int("commitment_id", inv.CommitmentID)
	if c != nil {
		e.str("commitment_type", c.Kind)
		e.str("contract_name", c.Title)
		e.idOrNull("vendor_id", c.VendorID)
		if v := ds.Vendor(c.VendorID); v != nil {
			e.str("vendor_name", v.Name)
		} else {
			e.null("vendor_name")
		}
	}
	e.idOrNull("period_id", inv.PeriodID)
	e.date("billing_date", inv.BillingDate)
	e.date("requisition_start", inv.Start)
	e.date("requisition_end", inv.End)
	e.date("payment_date", inv.PaymentDate)
	e.time("submitted_at", inv.SubmittedAt)
	e.bool("final", inv.Final)
	e.bool("deletable", latest == inv && inv.Status == "draft")
	e.money("percent_complete", data.Ratio(s.TotalCompletedAndStoredToDate, s.ContractSumToDate))
	var claimed data.Fixed
	for _, it := range inv.Items {
		claimed += it.WorkThisPeriod + it.MaterialsStored
	}
	e.money("total_claimed_amount", claimed)
	var prevID int64
	for _, o := range p.Invoices {
		if o.CommitmentID == inv.CommitmentID && o.Number == inv.Number-1 {
			prevID = o.ID
		}
	}
	e.idOrNull("previous_requisition_id", prevID)
	e.null("origin_id")
	e.null("origin_data")
	if u := ds.User(inv.CreatedByID); u != nil {
		e.obj("created_by")
		e.int("id", u.ID)
		e.str("name", u.Name())
		e.str("login", u.Email)
		company := ""
		if v := ds.Vendor(u.VendorID); v != nil {
			company = v.Name
		} else if co := ds.Company(p.CompanyID); co != nil {
			company = co.Name
		}
		e.str("company_name", company)
		e.close()
	} else {
		e.null("created_by")
	}
	attachments(e, "attachments", inv.Attachments)
	e.obj("currency_configuration")
	e.str("currency_iso_code", "USD")
	e.close()
	e.obj("summary")
	e.money("original_contract_sum", s.OriginalContractSum)
	e.money("net_change_by_change_orders", s.NetChangeByChangeOrders)
	e.money("contract_sum_to_date", s.ContractSumToDate)
	e.money("total_completed_and_stored_to_date", s.TotalCompletedAndStoredToDate)
	e.money("completed_work_retainage_percent", s.CompletedWorkRetainagePct)
	e.money("completed_work_retainage_amount", s.CompletedWorkRetainage)
	e.money("stored_materials_retainage_percent", s.StoredMaterialsRetainagePct)
	e.money("stored_materials_retainage_amount", s.StoredMaterialsRetainage)
	e.money("total_retainage", s.TotalRetainage)
	e.money("total_earned_less_retainage", s.TotalEarnedLessRetainage)
	e.money("less_previous_certificates_for_payment", s.LessPreviousCertificates)
	e.money("current_payment_due", s.CurrentPaymentDue)
	e.money("balance_to_finish_including_retainage", s.BalanceToFinishInclRetainage)
	e.close()
	if withItems {
		e.arr("items")
		for _, row := range p.G703(inv) {
			renderG703(e, row)
		}
		e.closeArr()
	}
	e.time("created_at", inv.CreatedAt)
	e.time("updated_at", inv.UpdatedAt)
	e.close()
}

func renderG703(e *enc, row data.G703Row) {
	e.open()
	e.idOrNull("id", row.Item.ID)
	e.str("item_type", "contract_item")
	e.int("line_item_id", row.LineItem.ID)
	e.idOrNull("cost_code_id", row.LineItem.CostCodeID)
	e.str("description_of_work", row.LineItem.Description)
	e.money("scheduled_value", row.ScheduledValue)
	e.money("work_completed_from_previous_application", row.WorkFromPrevious)
	e.money("work_completed_this_period", row.WorkThisPeriod)
	e.money("materials_presently_stored", row.MaterialsStored)
	e.money("total_completed_and_stored_to_date", row.TotalCompletedAndStored)
	e.money("total_completed_and_stored_to_date_percent", row.PercentComplete)
	e.money("balance_to_finish", row.BalanceToFinish)
	e.money("work_completed_retainage_from_previous_application", row.WorkRetainageFromPrevious)
	e.money("work_completed_retainage_retained_this_period", row.WorkRetainageRetained)
	e.money("work_completed_retainage_percent_this_period", row.WorkRetainagePct)
	e.money("work_completed_retainage_released_this_period", row.WorkRetainageReleased)
	e.money("materials_stored_retainage_currently_retained", row.MaterialsRetainage)
	e.money("materials_stored_retainage_percent_this_period", row.MaterialsRetainagePct)
	e.money("materials_stored_retainage_released_this_period", 0)
	e.str("status", "no_action")
	e.close()
}

func renderBudgetView(e *enc, ds *data.Dataset, p *data.Project, v *data.BudgetView) {
	defer e.drifted("budget_views", len(e.b))
	e.open()
	e.int("id", v.ID)
	e.str("name", v.Name)
	e.str("description", v.Description)
	e.str("role", "admin")
	person(e, ds, "created_by", v.CreatedByID)
	e.obj("links")
	base := "/rest/v1.0/budget_views/" + strconv.FormatInt(v.ID, 10)
	q := "?project_id=" + strconv.FormatInt(p.ID, 10)
	e.str("detail_rows", base+"/detail_rows"+q)
	e.str("summary_rows", base+"/summary_rows"+q)
	e.close()
	e.time("created_at", v.CreatedAt)
	e.time("updated_at", v.UpdatedAt)
	e.close()
}

// budgetColumns computes every dynamic column of a budget line.
func budgetColumns(p *data.Project, bl *data.BudgetLine) map[string]data.Fixed {
	var committed data.Fixed
	for _, c := range p.Commitments {
		if !c.Executed {
			continue
		}
		for _, li := range c.LineItems {
			if li.CostCodeID == bl.CostCodeID {
				committed += li.Amount
			}
		}
	}
	cols := map[string]data.Fixed{"approved_cos": 0}
	cols["revised_budget"] = bl.OriginalBudget + bl.Modifications + cols["approved_cos"]
	cols["pending_budget_changes"] = bl.PendingChanges
	cols["projected_budget"] = cols["revised_budget"] + bl.PendingChanges
	cols["committed_costs"] = committed
	cols["direct_costs"] = bl.DirectCosts
	cols["pending_cost_changes"] = 0
	cols["projected_costs"] = committed + bl.DirectCosts
	cols["forecast_to_complete"] = bl.ForecastToGo
	cols["estimated_cost_at_completion"] = cols["projected_costs"] + bl.ForecastToGo
	cols["projected_over_under"] = cols["projected_budget"] - cols["estimated_cost_at_completion"]
	return cols
}

func renderBudgetRow(e *enc, p *data.Project, v *data.BudgetView, bl *data.BudgetLine) {
	defer e.drifted("detail_rows", len(e.b))
	cc := p.CostCode(bl.CostCodeID)
	e.open()
	e.int("id", bl.ID)
	e.bool("deletable", false)
	e.int("company_id", p.CompanyID)
	e.int("project_id", p.ID)
	e.null("wbs_code_id")
	e.int("biller_id", p.ID)
	e.str("biller", p.Name)
	e.str("biller_type", "Project")
	if cc != nil {
		if div := p.CostCode(cc.ParentID); div != nil {
			e.int("root_cost_code_id", div.ID)
			e.str("root_cost_code", div.Code+" - "+div.Name)
		}
		e.int("cost_code_id", cc.ID)
		e.str("cost_code", cc.FullCode+" - "+cc.Name)
	}
	e.null("cost_code_origin_id")
	e.str("category", bl.Category)
	e.money("original_budget_amount", bl.OriginalBudget)
	e.money("budget_modifications", bl.Modifications)
	e.null("unbudgeted_reason")
	cols := budgetColumns(p, bl)
	for _, k := range v.Columns {
		e.money(k, cols[k])
	}
	e.close()
}

func renderManpower(e *enc, ds *data.Dataset, p *data.Project, m *data.ManpowerLog) {
	defer e.drifted("manpower_logs", len(e.b))
	e.open()
	e.int("id", m.ID)
	e.date("date", m.Date)
	e.time("datetime", m.Date)
	e.int("num_workers", int64(m.NumWorkers))
	e.money("num_hours", m.NumHours)
	e.money("man_hours", m.NumHours*data.Fixed(m.NumWorkers))
	e.str("notes", m.Notes)
	e.str("status", m.Status)
	vendorRef(e, ds, "vendor", m.VendorID)
	e.null("user")
	e.null("contact")
	costCodeRef(e, p, "cost_code", m.CostCodeID)
	e.null("location")
	e.null("trade")
	person(e, ds, "created_by", m.CreatedByID)
	e.arr("attachments")
	e.closeArr()
	e.time("created_at", m.CreatedAt)
	e.time("updated_at", m.UpdatedAt)
	e.null("deleted_at")
	e.close()
}

func renderNote(e *enc, ds *data.Dataset, n *data.NotesLog) {
	defer e.drifted("notes_logs", len(e.b))
	e.open()
	e.int("id", n.ID)
	e.date("date", n.Date)
	e.time("datetime", n.Date)
	e.str("comment", n.Comment)
	e.bool("is_issue", n.IsIssue)
	e.null("location")
	person(e, ds, "created_by", n.CreatedByID)
	e.arr("attachments")
	e.closeArr()
	e.time("created_at", n.CreatedAt)
	e.time("updated_at", n.UpdatedAt)
	e.null("deleted_at")
	e.close()
}

func renderObservation(e *enc, ds *data.Dataset, c *data.Company, o *data.Observation) {
	defer e.drifted("observations", len(e.b))
	e.open()
	e.int("id", o.ID)
	e.int("number", int64(o.Number))
	e.str("name", o.Name)
	e.str("description", o.Description)
	status := o.Status
	if e.unknownEnum(o.ID) {
		status = "in_review"
	}
	e.str("status", status)
	e.str("priority", o.Priority)
	e.date("due_date", o.DueDate)
	if t := c.ObsType(o.TypeID); t != nil {
		e.obj("type")
		e.int("id", t.ID)
		e.str("name", t.Name)
		e.str("category", t.Category)
		e.close()
	} else {
		e.null("type")
	}
	person(e, ds, "assignee", o.AssigneeID)
	person(e, ds, "created_by", o.CreatedByID)
	e.obj("trade")
	e.str("name", o.TradeName)
	e.close()
	e.obj("location")
	e.str("name", o.Location)
	e.close()
	e.bool("personal", false)
	attachments(e, "attachments", o.Attachments)
	e.time("created_at", o.CreatedAt)
	e.time("updated_at", o.UpdatedAt)
	e.close()
}

func renderPunchItem(e *enc, ds *data.Dataset, pi *data.PunchItem) {
	defer e.drifted("punch_items", len(e.b))
	e.open()
	e.int("id", pi.ID)
	e.int("position", int64(pi.Position))
	e.str("name", pi.Name)
	e.str("description", pi.Description)
	status := titleStatus(pi.Status)
	if e.unknownEnum(pi.ID) {
		status = "Needs Review"
	}
	e.str("status", status)
	e.str("workflow_status", pi.WorkflowStatus)
	e.str("priority", pi.Priority)
	e.date("due_date", pi.DueDate)
	people(e, ds, "ball_in_court", pi.BallInCourtIDs)
	e.arr("assignments")
	for i, id := range pi.AssigneeIDs {
		e.open()
		e.int("id", pi.ID*10+int64(i)) // stable per assignee slot
		e.bool("approved", pi.Status == "closed")
		e.null("comment")
		e.time("notified_at", pi.CreatedAt)
		person(e, ds, "login_information", id)
		e.close()
	}
	e.closeArr()
	person(e, ds, "punch_item_manager", pi.ManagerID)
	person(e, ds, "final_approver", pi.FinalApproverID)
	vendorRef(e, ds, "vendor", pi.VendorID)
	e.obj("location")
	e.str("name", pi.Location)
	e.close()
	e.time("closed_at", pi.ClosedAt)
	person(e, ds, "created_by", pi.CreatedByID)
	e.time("created_at", pi.CreatedAt)
	e.time("updated_at", pi.UpdatedAt)
	e.close()
}

// approverResponse writes an approver's "response": the company's submittal
// response it names, or null.
func approverResponse(e *enc, c *data.Company, a *data.Approver) {
	if r := c.Response(a.ResponseID); r != nil {
		e.key("response")
		renderResponse(e, r)
	} else {
		e.null("response")
	}
}

func renderApprover(e *enc, ds *data.Dataset, c *data.Company, s *data.Submittal, a *data.Approver) {
	defer e.drifted("submittal_approvers", len(e.b))
	e.open()
	e.int("id", a.ID)
	e.int("submittal_id", s.ID)
	e.str("approver_type", a.ApproverType)
	e.int("workflow_group_number", int64(a.Step))
	approverResponse(e, c, a)
	e.bool("response_required", a.ResponseRequired)
	e.date("sent_date", a.SentDate)
	e.date("due_date", a.DueDate)
	e.date("returned_date", a.ReturnedDate)
	e.strOrNull("comment", a.Comment)
	person(e, ds, "user", a.UserID)
	people(e, ds, "ball_in_court", s.BallInCourtIDs)
	e.close()
}

// --- drift rules (Drift.Rules) ---

// drifted applies the drift rules of resource to the object its renderer
// wrote from start (each resource's renderer defers it). Without rules it
// costs a length check.
func (e *enc) drifted(resource string, start int) {
	if len(e.drift.Rules) == 0 {
		return
	}
	if start < len(e.b) && e.b[start] == ',' {
		start++
	}
	if start >= len(e.b) {
		return
	}
	obj, changed := e.b[start:], false
	for _, r := range e.drift.Rules {
		if !r.appliesTo(resource) || r.validate() != nil {
			continue
		}
		if out, ok := applyDriftRule(obj, strings.Split(r.Field, "."), r); ok {
			obj, changed = out, true
		}
	}
	if changed {
		e.b = append(e.b[:start], obj...)
	}
}

// commitmentCollection is the collection of a commitment kind's routes.
func commitmentCollection(kind string) string {
	if kind == data.PurchaseOrder {
		return "purchase_order_contracts"
	}
	return "work_order_contracts"
}

func (r DriftRule) appliesTo(resource string) bool {
	return r.Resource == resource ||
		r.Resource == "commitments" && (resource == "work_order_contracts" || resource == "purchase_order_contracts")
}

// driftMember is one member of a rendered object.
type driftMember struct {
	name  string
	value []byte
}

// applyDriftRule returns obj (a JSON object) with r applied at path, and
// whether anything changed (the field, or an object on its path, may be
// absent or null).
func applyDriftRule(obj []byte, path []string, r DriftRule) ([]byte, bool) {
	members, ok := splitObject(obj)
	if !ok {
		return obj, false
	}
	i := slices.IndexFunc(members, func(m driftMember) bool { return m.name == path[0] })
	if len(path) > 1 {
		if i < 0 {
			return obj, false
		}
		v, ok := applyDriftRule(members[i].value, path[1:], r)
		if !ok {
			return obj, false
		}
		members[i].value = v
		return joinObject(members), true
	}
	if i < 0 && r.Kind != DriftAddField {
		return obj, false
	}
	switch r.Kind {
	case DriftRenameField:
		name := path[0] + "_renamed"
		if len(r.Value) > 0 {
			_ = json.Unmarshal(r.Value, &name)
		}
		members[i].name = name
	case DriftUnknownEnum:
		members[i].value = valueOr(r.Value, `"procore_new_value"`)
	case DriftChangeType:
		if len(r.Value) > 0 {
			members[i].value = r.Value
		} else {
			members[i].value = slices.Concat([]byte(`{"value":`), members[i].value, []byte(`}`))
		}
	case DriftAddField:
		members = append(members, driftMember{name: path[0], value: valueOr(r.Value, `"drift"`)})
	}
	return joinObject(members), true
}

func valueOr(v json.RawMessage, def string) []byte {
	if len(v) > 0 {
		return v
	}
	return []byte(def)
}

// splitObject returns an object's members in order (false for non-objects).
func splitObject(obj []byte) ([]driftMember, bool) {
	dec := jsontext.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, false
	}
	var out []driftMember
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, false
		}
		name := tok.String() // before the next read voids tok
		v, err := dec.ReadValue()
		if err != nil {
			return nil, false
		}
		out = append(out, driftMember{name: name, value: bytes.Clone(v)})
	}
	return out, true
}

func joinObject(members []driftMember) []byte {
	b := []byte{'{'}
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b, _ = jsontext.AppendQuote(b, m.name)
		b = append(b, ':')
		b = append(b, m.value...)
	}
	return append(b, '}')
}

package sandbox

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/data"
)

// routes is the whole HTTP surface in one place.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	std := routeOpts{}
	opt := routeOpts{companyOptional: true}
	api := func(pattern string, h apiHandler, o routeOpts) { mux.HandleFunc(pattern, s.api(pattern, h, o)) }

	api("GET /rest/v1.0/me", s.getMe, opt)
	api("GET /rest/v1.0/companies", s.listCompanies, opt)
	api("GET /rest/v1.1/projects", s.listProjects, std)
	api("GET /rest/v1.0/projects", s.listProjects, std)
	api("GET /rest/v1.0/projects/{id}", s.showProject, std)
	api("GET /rest/v1.3/companies/{company_id}/users", s.listCompanyUsers, std)
	api("GET /rest/v1.3/companies/{company_id}/users/{id}", s.showCompanyUser, std)
	api("GET /rest/v1.0/projects/{project_id}/users", s.listProjectUsers, std)
	api("GET /rest/v1.0/vendors", s.listCompanyVendors, std)
	api("GET /rest/v1.1/projects/{project_id}/vendors", s.listProjectVendors, std)
	api("GET /rest/v1.0/cost_codes", s.listCostCodes, std)

	api("GET /rest/v1.0/projects/{project_id}/rfis", s.listRFIs, std)
	api("POST /rest/v1.0/projects/{project_id}/rfis", s.createRFI, std)
	api("GET /rest/v1.0/projects/{project_id}/rfis/{id}", s.showRFI, std)
	api("GET /rest/v1.0/projects/{project_id}/rfis/recycle_bin", s.listRecycledRFIs, std)
	api("PATCH /rest/v1.0/projects/{project_id}/rfis/{id}/recycle", s.recycleRFI, std)
	api("PATCH /rest/v1.0/projects/{project_id}/rfis/{id}", s.updateRFI, std)
	api("POST /rest/v1.0/projects/{project_id}/rfis/{id}/replies", s.replyRFI, std)
	api("PATCH /rest/v1.0/projects/{project_id}/rfis/{id}/advance_ball_in_court", s.advanceRFI, std)
	api("PATCH /rest/v1.0/projects/{project_id}/rfis/{id}/forward_for_review", s.forwardRFI, std)

	api("GET /rest/v1.0/companies/{company_id}/submittal_statuses", s.listSubmittalStatuses, std)
	api("GET /rest/v1.0/projects/{project_id}/submittal_responses", s.listSubmittalResponses, std)
	api("GET /rest/v1.1/projects/{project_id}/submittals", s.listSubmittals, std)
	api("POST /rest/v1.1/projects/{project_id}/submittals", s.createSubmittal, std)
	api("GET /rest/v1.1/projects/{project_id}/submittals/{id}", s.showSubmittal, std)
	api("PATCH /rest/v1.1/projects/{project_id}/submittals/{id}", s.updateSubmittal, std)
	api("PATCH /rest/v1.0/submittal_approvers/{id}", s.respondSubmittal, std)

	for _, k := range []struct{ path, kind string }{{"work_order_contracts", data.WorkOrder}, {"purchase_order_contracts", data.PurchaseOrder}} {
		base := "/rest/v1.0/" + k.path
		kind := k.kind
		api("GET "+base, func(w http.ResponseWriter, r *http.Request, c *call) { s.listCommitments(w, r, c, kind) }, std)
		api("POST "+base, func(w http.ResponseWriter, r *http.Request, c *call) { s.createCommitment(w, r, c, kind) }, std)
		api("GET "+base+"/{id}", func(w http.ResponseWriter, r *http.Request, c *call) { s.showCommitment(w, r, c, kind) }, std)
		api("PATCH "+base+"/{id}", func(w http.ResponseWriter, r *http.Request, c *call) { s.updateCommitment(w, r, c, kind) }, std)
		api("GET "+base+"/{id}/line_items", func(w http.ResponseWriter, r *http.Request, c *call) { s.listLineItems(w, r, c, kind) }, std)
		api("POST "+base+"/{id}/line_items", func(w http.ResponseWriter, r *http.Request, c *call) { s.createLineItem(w, r, c, kind) }, std)
	}
	api("GET /rest/v1.0/projects/{project_id}/commitment_change_orders", s.listChangeOrders, std)
	api("POST /rest/v1.0/projects/{project_id}/commitment_change_orders", s.createChangeOrder, std)
	api("PATCH /rest/v1.0/projects/{project_id}/commitment_change_orders/{id}", s.updateChangeOrder, std)
	api("DELETE /rest/v1.0/projects/{project_id}/commitment_change_orders/{id}", s.deleteChangeOrder, std)
	api("POST /rest/v2.0/companies/{company_id}/projects/{project_id}/commitment_change_orders/{commitment_change_order_id}/line_items", s.createChangeOrderLineItem, std)
	api("GET /rest/v2.0/companies/{company_id}/projects/{project_id}/commitment_contracts/{commitment_contract_id}/line_items", s.listCommitmentContractLineItems, std)
	api("GET /rest/v1.0/projects/{project_id}/billing_periods", s.listBillingPeriods, std)
	// Change management reads (changemgmt.go).
	api("GET /rest/v1.0/change_events", s.listChangeEvents, std)
	api("GET /rest/v1.0/potential_change_orders", s.listPCOs, std)
	api("GET /rest/v1.0/potential_change_orders/{potential_change_order_id}/line_items", s.listPCOLineItems, std)
	api("GET /rest/v1.0/change_order_requests", s.listCORs, std)
	api("GET /rest/v1.0/change_order_packages", s.listCOPackages, std)
	api("GET /rest/v1.0/projects/{project_id}/prime_change_orders", s.listPrimeChangeOrders, std)
	// Change management writes (changemgmt_write.go).
	api("GET /rest/v1.0/change_event/statuses", s.listChangeEventStatuses, std)
	api("POST /rest/v1.0/change_events", s.createChangeEvent, std)
	api("PATCH /rest/v1.1/change_events/{id}", s.updateChangeEventV11, std)
	api("DELETE /rest/v1.1/change_events/{id}", s.deleteChangeEventV11, std)
	api("POST /rest/v1.0/potential_change_orders", s.createPCO, std)
	api("PATCH /rest/v1.0/potential_change_orders/{id}", s.updatePCO, std)
	api("POST /rest/v1.0/potential_change_orders/{potential_change_order_id}/line_items", s.createPCOLine, std)
	api("DELETE /rest/v1.0/potential_change_orders/{potential_change_order_id}/line_items/{id}", s.deletePCOLine, std)
	api("GET /rest/v1.1/requisitions", s.listInvoices, std)
	api("POST /rest/v1.1/requisitions", s.createInvoice, std)
	api("GET /rest/v1.1/requisitions/{id}", s.showInvoice, std)
	api("PATCH /rest/v1.1/requisitions/{id}", s.updateInvoice, std)
	// Prime contracts and owner payment applications (prime.go).
	api("GET /rest/v1.0/prime_contracts", s.listPrimeContracts, std)
	api("GET /rest/v1.0/prime_contracts/{prime_contract_id}/payment_applications", s.listPaymentApplications, std)
	api("GET /rest/v1.0/prime_contracts/{prime_contract_id}/line_items", s.listPrimeContractLines, std)
	api("GET /rest/v1.0/prime_contract/{id}", s.showPrimeContract, std)
	// Status writes of prime change orders, packages and payment applications (status_writes.go).
	api("PATCH /rest/v1.0/projects/{project_id}/prime_change_orders/{id}", s.updatePrimeChangeOrder, std)
	api("PATCH /rest/v1.0/change_order_packages/{id}", s.updateChangeOrderPackage, std)
	api("PATCH /rest/v1.0/prime_contracts/{prime_contract_id}/payment_applications/{id}", s.updatePaymentApplication, std)
	api("GET /rest/v1.0/budget_views", s.listBudgetViews, std)
	api("GET /rest/v1.0/budget_views/{id}/detail_rows", s.listBudgetRows, std)
	// Cost (issue 16): see cost.go.
	api("GET /rest/v1.0/projects/{project_id}/budget_modifications", s.listBudgetModifications, std)
	api("GET /rest/v1.1/projects/{project_id}/direct_costs", s.listDirectCosts, std)
	api("GET /rest/v1.0/projects/{project_id}/manpower_logs", s.listManpower, std)
	api("GET /rest/v1.0/projects/{project_id}/notes_logs", s.listNotes, std)
	api("GET /rest/v1.0/observations/items", s.listObservations, std)
	api("POST /rest/v1.0/observations/items", s.createObservation, std)
	api("GET /rest/v1.0/observations/items/{id}", s.showObservation, std)
	api("GET /rest/v1.1/punch_items", s.listPunchItems, std)
	api("GET /rest/v1.1/punch_items/{id}", s.showPunchItem, std)

	// Webhooks and uploads: /rest routes behind the same chain; the presigned
	// storage routes without Procore auth.
	for pattern, h := range s.hooks.Routes() {
		mux.HandleFunc(pattern, s.api(pattern, func(w http.ResponseWriter, r *http.Request, _ *call) { h(w, r) }, std))
	}
	for pattern, h := range s.uploads.Routes() {
		if strings.Contains(pattern, " /rest/") {
			mux.HandleFunc(pattern, s.api(pattern, func(w http.ResponseWriter, r *http.Request, _ *call) { h(w, r) }, std))
		} else {
			mux.HandleFunc(pattern, h)
		}
	}
	api("/rest/", func(w http.ResponseWriter, r *http.Request, _ *call) { notFound(w) }, routeOpts{companyOptional: true})

	s.adminRoutes(mux)

	// Everything else is the login host: OAuth and the web portal.
	authMux := http.NewServeMux()
	s.auth.Register(authMux)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/oauth/token" {
			s.stats.tokenRequest()
		}
		authMux.ServeHTTP(w, r)
	}))

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", fmt.Sprintf("sbx-%016x", s.reqSeq.Add(1)))
		if s.BaseURL() == "" && r.Host != "" {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			u := scheme + "://" + r.Host
			s.baseURL.CompareAndSwap(nil, &u)
		}
		mux.ServeHTTP(w, r)
	})
}

// --- helpers for handlers ---

// projectFor resolves the project a request names (path project_id, else the
// query's, else fallback from a body), checks it belongs to the header's
// company and is visible, and writes 400/404 when not. Call with s.mu held.
func (s *Server) projectFor(w http.ResponseWriter, r *http.Request, c *call, fallback int64) *data.Project {
	raw := r.PathValue("project_id")
	if raw == "" {
		raw = r.URL.Query().Get("project_id")
	}
	var id int64
	if raw != "" {
		v, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			notFound(w)
			return nil
		}
		id = v
	} else if fallback != 0 {
		id = fallback
	} else {
		badRequest(w, "param is missing or the value is empty: project_id")
		return nil
	}
	p := s.ds.Project(id)
	if p == nil || c.company == nil || p.CompanyID != c.company.ID || !s.canSeeProject(c.p, p) {
		notFound(w)
		return nil
	}
	return p
}

// companyFor resolves company_id (path or query), which must be the header's.
func (s *Server) companyFor(w http.ResponseWriter, r *http.Request, c *call) *data.Company {
	raw := r.PathValue("company_id")
	if raw == "" {
		raw = r.URL.Query().Get("company_id")
	}
	if raw == "" {
		badRequest(w, "param is missing or the value is empty: company_id")
		return nil
	}
	id, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || c.company == nil || id != c.company.ID {
		notFound(w)
		return nil
	}
	return c.company
}

func pathID(r *http.Request, name string) int64 {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil {
		return 0
	}
	return id
}

// filterCommon applies filters[id][] and filters[updated_at] to items.
func filterCommon[T any](w http.ResponseWriter, q params, items []T, id func(T) int64, updated func(T) time.Time) ([]T, bool) {
	return filterOnly(w, q, items, id, updated)
}

// filterOnly applies the common filters an endpoint has: filters[id][] (also
// filters[id]) when id is not nil, filters[updated_at] when updated is not
// nil. Procore ignores filters an endpoint does not have, so a nil one is
// not applied even when sent.
func filterOnly[T any](w http.ResponseWriter, q params, items []T, id func(T) int64, updated func(T) time.Time) ([]T, bool) {
	in := func(int64) bool { return true }
	if id != nil {
		ids, on, err := q.ids("filters[id]")
		if err != nil {
			badRequest(w, err.Error())
			return nil, false
		}
		in = idSet(ids, on)
	}
	var tr timeRange
	if updated != nil {
		var err error
		if tr, err = q.timeRange("filters[updated_at]"); err != nil {
			badRequest(w, err.Error())
			return nil, false
		}
	}
	return filterItems(items, func(x T) bool {
		return (id == nil || in(id(x))) && (updated == nil || tr.has(updated(x)))
	}), true
}

// --- reads ---

func (s *Server) getMe(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.ds.User(c.p.UserID)
	if u == nil {
		notFound(w)
		return
	}
	s.writeOne(w, http.StatusOK, func(e *enc) {
		e.open()
		personFields(e, u)
		e.close()
	})
}

func (s *Server) listCompanies(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*data.Company
	for _, co := range s.ds.Companies {
		if s.canSeeCompany(c.p, co) {
			out = append(out, co)
		}
	}
	mine := c.p.Kind != auth.KindClientCredentials
	writeList(s, w, r, out, pageStandard, func(e *enc, co *data.Company) { renderCompany(e, co, mine) })
}

var projectSort = sorter[*data.Project]{
	"name":           func(a, b *data.Project) int { return strings.Compare(a.Name, b.Name) },
	"project_number": func(a, b *data.Project) int { return strings.Compare(a.ProjectNumber, b.ProjectNumber) },
	"created_at":     func(a, b *data.Project) int { return a.CreatedAt.Compare(b.CreatedAt) },
	"updated_at":     func(a, b *data.Project) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	co := s.companyFor(w, r, c)
	if co == nil {
		return
	}
	q := paramsOf(r)
	// filters[by_status]: Active (the default), Inactive or All. A bare
	// by_status is no parameter of Procore's and is ignored.
	status := q.v.Get("filters[by_status]")
	name := strings.ToLower(q.v.Get("filters[name]"))
	var items []*data.Project
	for _, p := range s.ds.Projects {
		if p.CompanyID != co.ID || !s.canSeeProject(c.p, p) {
			continue
		}
		switch strings.ToLower(status) {
		case "all":
		case "inactive":
			if p.Active {
				continue
			}
		default:
			if !p.Active {
				continue
			}
		}
		if name != "" && !strings.Contains(strings.ToLower(p.Name), name) {
			continue
		}
		items = append(items, p)
	}
	items, ok := filterCommon(w, q, items, func(p *data.Project) int64 { return p.ID }, func(p *data.Project) time.Time { return p.UpdatedAt })
	if !ok {
		return
	}
	sortItems(items, q, projectSort, func(p *data.Project) int64 { return p.ID })
	writeList(s, w, r, items, pageProjects, func(e *enc, p *data.Project) { renderProject(e, s.ds, p) })
}

func (s *Server) showProject(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.companyFor(w, r, c) == nil {
		return
	}
	p := s.ds.Project(pathID(r, "id"))
	if p == nil || p.CompanyID != c.company.ID || !s.canSeeProject(c.p, p) {
		notFound(w)
		return
	}
	s.writeOne(w, http.StatusOK, func(e *enc) { renderProject(e, s.ds, p) })
}

// usersList serves a directory's users. Company users have no id filter;
// project users have filters[id], a single id (filters[id][] is not
// Procore's and is ignored).
func (s *Server) usersList(w http.ResponseWriter, r *http.Request, ids []int64, byID bool) {
	q := paramsOf(r)
	var users []*data.User
	for _, id := range ids {
		if u := s.ds.User(id); u != nil {
			users = append(users, u)
		}
	}
	users, ok := filterOnly(w, q, users, nil, func(u *data.User) time.Time { return u.UpdatedAt })
	if !ok {
		return
	}
	if v := strings.TrimSpace(q.v.Get("filters[id]")); byID && v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			badRequest(w, fmt.Sprintf("filters[id]: %q is not an id", v))
			return
		}
		users = filterItems(users, func(u *data.User) bool { return u.ID == id })
	}
	sortItems(users, q, sorter[*data.User]{
		"name":       func(a, b *data.User) int { return strings.Compare(a.Name(), b.Name()) },
		"last_name":  func(a, b *data.User) int { return strings.Compare(a.LastName, b.LastName) },
		"updated_at": func(a, b *data.User) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
	}, func(u *data.User) int64 { return u.ID })
	writeList(s, w, r, users, pageStandard, func(e *enc, u *data.User) { renderUser(e, s.ds, u) })
}

func (s *Server) listCompanyUsers(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	co := s.companyFor(w, r, c)
	if co == nil {
		return
	}
	s.usersList(w, r, co.UserIDs, false)
}

// showCompanyUser serves one user of the company directory.
func (s *Server) showCompanyUser(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	co := s.companyFor(w, r, c)
	if co == nil {
		return
	}
	id := pathID(r, "id")
	u := s.ds.User(id)
	if u == nil || !slices.Contains(co.UserIDs, id) {
		notFound(w)
		return
	}
	s.writeOne(w, http.StatusOK, func(e *enc) { renderUser(e, s.ds, u) })
}

func (s *Server) listProjectUsers(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	s.usersList(w, r, p.UserIDs, true)
}

// vendorsList serves vendors; byUpdated is whether the endpoint has
// filters[updated_at] (company vendors do, project vendors do not).
func (s *Server) vendorsList(w http.ResponseWriter, r *http.Request, vs []*data.Vendor, byUpdated bool) {
	q := paramsOf(r)
	updated := func(v *data.Vendor) time.Time { return v.UpdatedAt }
	if !byUpdated {
		updated = nil
	}
	vs, ok := filterOnly(w, q, vs, func(v *data.Vendor) int64 { return v.ID }, updated)
	if !ok {
		return
	}
	sortItems(vs, q, sorter[*data.Vendor]{
		"name":       func(a, b *data.Vendor) int { return strings.Compare(a.Name, b.Name) },
		"updated_at": func(a, b *data.Vendor) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
	}, func(v *data.Vendor) int64 { return v.ID })
	writeList(s, w, r, vs, pageStandard, renderVendor)
}

func (s *Server) listCompanyVendors(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	co := s.companyFor(w, r, c)
	if co == nil {
		return
	}
	s.vendorsList(w, r, co.Vendors, true)
}

func (s *Server) listProjectVendors(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	var vs []*data.Vendor
	for _, id := range p.VendorIDs {
		if v := c.company.Vendor(id); v != nil {
			vs = append(vs, v)
		}
	}
	s.vendorsList(w, r, vs, false)
}

func (s *Server) listCostCodes(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	q := paramsOf(r)
	// Cost codes have filters[id] but no filters[updated_at].
	items, ok := filterOnly(w, q, p.CostCodes, func(x *data.CostCode) int64 { return x.ID }, nil)
	if !ok {
		return
	}
	writeList(s, w, r, items, pageStandard, func(e *enc, cc *data.CostCode) { renderCostCode(e, p, cc) })
}

var rfiSort = sorter[*data.RFI]{
	"number":     func(a, b *data.RFI) int { return a.Number - b.Number },
	"subject":    func(a, b *data.RFI) int { return strings.Compare(a.Subject, b.Subject) },
	"status":     func(a, b *data.RFI) int { return strings.Compare(a.Status, b.Status) },
	"due_date":   func(a, b *data.RFI) int { return a.DueDate.Compare(b.DueDate) },
	"created_at": func(a, b *data.RFI) int { return a.CreatedAt.Compare(b.CreatedAt) },
	"updated_at": func(a, b *data.RFI) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
	"id":         func(a, b *data.RFI) int { return cmp.Compare(a.ID, b.ID) },
}

func (s *Server) listRFIs(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	q := paramsOf(r)
	items, ok := filterCommon(w, q, p.RFIs, func(x *data.RFI) int64 { return x.ID }, func(x *data.RFI) time.Time { return x.UpdatedAt })
	if !ok {
		return
	}
	if st := q.list("filters[status]"); len(st) > 0 {
		items = filterItems(items, func(x *data.RFI) bool { return containsFold(st, x.Status) })
	}
	if bic, on, err := q.ids("filters[ball_in_court_id]"); err == nil && on {
		items = filterItems(items, func(x *data.RFI) bool { return intersects(bic, x.BallInCourtIDs) })
	}
	if mgr, on, err := q.ids("filters[rfi_manager_id]"); err == nil && on {
		items = filterItems(items, func(x *data.RFI) bool { return containsID(mgr, x.ManagerID) })
	}
	if as, on, err := q.ids("filters[assigned_id]"); err == nil && on {
		items = filterItems(items, func(x *data.RFI) bool { return intersects(as, x.AssigneeIDs) })
	}
	if search := strings.ToLower(q.v.Get("search")); search != "" {
		items = filterItems(items, func(x *data.RFI) bool { return strings.Contains(strings.ToLower(x.Subject), search) })
	}
	sortItems(items, q, rfiSort, func(x *data.RFI) int64 { return x.ID })
	writeList(s, w, r, items, pageStandard, func(e *enc, x *data.RFI) { renderRFI(e, s.ds, p, x) })
}

func (s *Server) showRFI(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, x := s.rfiFor(w, r, c)
	if x == nil {
		return
	}
	s.writeOne(w, http.StatusOK, func(e *enc) { renderRFI(e, s.ds, p, x) })
}

// canSeeRFI hides private RFIs from people who are neither admins nor on them.
func (s *Server) canSeeRFI(c *call, x *data.RFI) bool {
	if !x.Private || c.admin {
		return true
	}
	u := c.p.UserID
	return u == x.ManagerID || u == x.CreatedByID || containsID(x.AssigneeIDs, u)
}

func (s *Server) listSubmittalStatuses(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	co := s.companyFor(w, r, c)
	if co == nil {
		return
	}
	items := make([]*data.SubmittalStatus, len(co.Statuses))
	for i := range co.Statuses {
		items[i] = &co.Statuses[i]
	}
	writeList(s, w, r, items, pageWhole, renderSubmittalStatus)
}

func (s *Server) listSubmittalResponses(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.projectFor(w, r, c, 0) == nil {
		return
	}
	items := make([]*data.SubmittalResponse, len(c.company.Responses))
	for i := range c.company.Responses {
		items[i] = &c.company.Responses[i]
	}
	writeList(s, w, r, items, pageWhole, renderResponse)
}

var submittalSort = sorter[*data.Submittal]{
	"number":     func(a, b *data.Submittal) int { return strings.Compare(a.Number, b.Number) },
	"title":      func(a, b *data.Submittal) int { return strings.Compare(a.Title, b.Title) },
	"due_date":   func(a, b *data.Submittal) int { return a.DueDate.Compare(b.DueDate) },
	"created_at": func(a, b *data.Submittal) int { return a.CreatedAt.Compare(b.CreatedAt) },
	"updated_at": func(a, b *data.Submittal) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
}

func (s *Server) listSubmittals(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	q := paramsOf(r)
	items, ok := filterCommon(w, q, p.Submittals, func(x *data.Submittal) int64 { return x.ID }, func(x *data.Submittal) time.Time { return x.UpdatedAt })
	if !ok {
		return
	}
	if st, on, err := q.ids("filters[status_id]"); err == nil && on {
		items = filterItems(items, func(x *data.Submittal) bool { return containsID(st, x.StatusID) })
	}
	if bic, on, err := q.ids("filters[ball_in_court_id]"); err == nil && on {
		items = filterItems(items, func(x *data.Submittal) bool { return intersects(bic, x.BallInCourtIDs) })
	}
	sortItems(items, q, submittalSort, func(x *data.Submittal) int64 { return x.ID })
	writeList(s, w, r, items, pageStandard, func(e *enc, x *data.Submittal) { renderSubmittal(e, s.ds, c.company, p, x) })
}

func (s *Server) showSubmittal(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, x := projectItem(s, w, r, c, (*data.Project).Submittal)
	if x == nil {
		return
	}
	s.writeOne(w, http.StatusOK, func(e *enc) { renderSubmittal(e, s.ds, c.company, p, x) })
}

func (s *Server) listCommitments(w http.ResponseWriter, r *http.Request, c *call, kind string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	q := paramsOf(r)
	items := filterItems(p.Commitments, func(x *data.Commitment) bool { return x.Kind == kind })
	items, ok := filterCommon(w, q, items, func(x *data.Commitment) int64 { return x.ID }, func(x *data.Commitment) time.Time { return x.UpdatedAt })
	if !ok {
		return
	}
	if st := q.list("filters[status]"); len(st) > 0 {
		items = filterItems(items, func(x *data.Commitment) bool { return containsFold(st, x.Status) })
	}
	if v, on, err := q.ids("filters[vendor_id]"); err == nil && on {
		items = filterItems(items, func(x *data.Commitment) bool { return containsID(v, x.VendorID) })
	}
	sortItems(items, q, sorter[*data.Commitment]{
		"number":     func(a, b *data.Commitment) int { return strings.Compare(a.Number, b.Number) },
		"title":      func(a, b *data.Commitment) int { return strings.Compare(a.Title, b.Title) },
		"updated_at": func(a, b *data.Commitment) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
	}, func(x *data.Commitment) int64 { return x.ID })
	extended := q.v.Get("view") == "extended"
	writeList(s, w, r, items, pageStandard, func(e *enc, x *data.Commitment) { renderCommitment(e, s.ds, p, x, extended) })
}

// projectItem resolves the request's project (as projectFor) and the item
// find returns for its {id} path value, writing 404 when there is none; both
// are nil when anything was written. Call with s.mu held.
func projectItem[T any](s *Server, w http.ResponseWriter, r *http.Request, c *call, find func(*data.Project, int64) *T) (*data.Project, *T) {
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return nil, nil
	}
	x := find(p, pathID(r, "id"))
	if x == nil {
		notFound(w)
		return nil, nil
	}
	return p, x
}

// commitmentFor finds the {id} commitment of kind in the request's project.
func (s *Server) commitmentFor(w http.ResponseWriter, r *http.Request, c *call, kind string, fallback int64) (*data.Project, *data.Commitment) {
	p := s.projectFor(w, r, c, fallback)
	if p == nil {
		return nil, nil
	}
	x := p.Commitment(pathID(r, "id"))
	if x == nil || x.Kind != kind {
		notFound(w)
		return nil, nil
	}
	return p, x
}

func (s *Server) showCommitment(w http.ResponseWriter, r *http.Request, c *call, kind string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, x := s.commitmentFor(w, r, c, kind, 0)
	if x == nil {
		return
	}
	s.writeOne(w, http.StatusOK, func(e *enc) { renderCommitment(e, s.ds, p, x, true) })
}

func (s *Server) listLineItems(w http.ResponseWriter, r *http.Request, c *call, kind string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, x := s.commitmentFor(w, r, c, kind, 0)
	if x == nil {
		return
	}
	writeList(s, w, r, x.LineItems, pageStandard, func(e *enc, li *data.LineItem) { renderLineItem(e, p, li) })
}

func (s *Server) listBillingPeriods(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	writeList(s, w, r, p.BillingPeriods, pageWhole, renderBillingPeriod)
}

func (s *Server) listInvoices(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	q := paramsOf(r)
	items, ok := filterCommon(w, q, p.Invoices, func(x *data.Invoice) int64 { return x.ID }, func(x *data.Invoice) time.Time { return x.UpdatedAt })
	if !ok {
		return
	}
	if cm, on, err := q.ids("filters[commitment_id]"); err == nil && on {
		items = filterItems(items, func(x *data.Invoice) bool { return containsID(cm, x.CommitmentID) })
	}
	if per, on, err := q.ids("filters[period_id]"); err == nil && on {
		items = filterItems(items, func(x *data.Invoice) bool { return containsID(per, x.PeriodID) })
	}
	if st := q.list("filters[status]"); len(st) > 0 {
		items = filterItems(items, func(x *data.Invoice) bool { return containsFold(st, x.Status) })
	}
	sortItems(items, q, sorter[*data.Invoice]{
		"number":     func(a, b *data.Invoice) int { return a.Number - b.Number },
		"created_at": func(a, b *data.Invoice) int { return a.CreatedAt.Compare(b.CreatedAt) },
		"updated_at": func(a, b *data.Invoice) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
	}, func(x *data.Invoice) int64 { return x.ID })
	view := q.v.Get("view")
	withItems := view == "extended" || view == "items"
	writeList(s, w, r, items, pageRequisition, func(e *enc, x *data.Invoice) { renderInvoice(e, s.ds, p, x, withItems) })
}

func (s *Server) showInvoice(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, x := projectItem(s, w, r, c, (*data.Project).Invoice)
	if x == nil {
		return
	}
	s.writeOne(w, http.StatusOK, func(e *enc) { renderInvoice(e, s.ds, p, x, true) })
}

func (s *Server) listBudgetViews(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	writeList(s, w, r, p.BudgetViews, pageWhole, func(e *enc, v *data.BudgetView) { renderBudgetView(e, s.ds, p, v) })
}

func (s *Server) listBudgetRows(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, v := projectItem(s, w, r, c, (*data.Project).BudgetView)
	if v == nil {
		return
	}
	q := paramsOf(r)
	items := p.BudgetLines
	if cc, on, err := q.ids("cost_code_id"); err == nil && on {
		items = filterItems(items, func(x *data.BudgetLine) bool { return containsID(cc, x.CostCodeID) })
	}
	writeList(s, w, r, items, pageWhole, func(e *enc, bl *data.BudgetLine) { renderBudgetRow(e, p, v, bl) })
}

// logDates reads log_date or start_date+end_date; none means today (by the
// sandbox clock), as Procore.
func (s *Server) logDates(w http.ResponseWriter, r *http.Request) (time.Time, time.Time, bool) {
	q := r.URL.Query()
	parse := func(name, v string) (time.Time, bool) {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			badRequest(w, name+" must be a date (YYYY-MM-DD)")
			return t, false
		}
		return t, true
	}
	if v := q.Get("log_date"); v != "" {
		t, ok := parse("log_date", v)
		return t, t, ok
	}
	start, end := q.Get("start_date"), q.Get("end_date")
	if start == "" && end == "" {
		now := s.now().UTC()
		t := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		return t, t, true
	}
	if start == "" {
		start = end
	}
	if end == "" {
		end = start
	}
	a, ok := parse("start_date", start)
	if !ok {
		return a, a, false
	}
	b, ok := parse("end_date", end)
	return a, b, ok
}

func inDates(d, from, to time.Time) bool { return !d.Before(from) && !d.After(to) }

func (s *Server) listManpower(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	from, to, ok := s.logDates(w, r)
	if !ok {
		return
	}
	status := r.URL.Query().Get("filters[status]")
	items := filterItems(p.Manpower, func(m *data.ManpowerLog) bool {
		return inDates(m.Date, from, to) && (status == "" || status == "all" || status == m.Status)
	})
	writeList(s, w, r, items, pageWhole, func(e *enc, m *data.ManpowerLog) { renderManpower(e, s.ds, p, m) })
}

func (s *Server) listNotes(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	from, to, ok := s.logDates(w, r)
	if !ok {
		return
	}
	items := filterItems(p.Notes, func(n *data.NotesLog) bool { return inDates(n.Date, from, to) })
	writeList(s, w, r, items, pageWhole, func(e *enc, n *data.NotesLog) { renderNote(e, s.ds, n) })
}

func (s *Server) listObservations(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	q := paramsOf(r)
	items, ok := filterCommon(w, q, p.Observations, func(x *data.Observation) int64 { return x.ID }, func(x *data.Observation) time.Time { return x.UpdatedAt })
	if !ok {
		return
	}
	if st := q.list("filters[status]"); len(st) > 0 {
		var want []string
		for _, v := range st {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n >= len(data.ObservationStatuses) {
				badRequest(w, "filters[status] takes 0 (initiated), 1 (ready_for_review), 2 (not_accepted) or 3 (closed)")
				return
			}
			want = append(want, data.ObservationStatuses[n])
		}
		items = filterItems(items, func(x *data.Observation) bool { return containsFold(want, x.Status) })
	}
	sortItems(items, q, sorter[*data.Observation]{
		"number":     func(a, b *data.Observation) int { return a.Number - b.Number },
		"due_date":   func(a, b *data.Observation) int { return a.DueDate.Compare(b.DueDate) },
		"updated_at": func(a, b *data.Observation) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
	}, func(x *data.Observation) int64 { return x.ID })
	writeList(s, w, r, items, pageStandard, func(e *enc, x *data.Observation) { renderObservation(e, s.ds, c.company, x) })
}

func (s *Server) showObservation(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, x := projectItem(s, w, r, c, (*data.Project).Observation)
	if x == nil {
		return
	}
	s.writeOne(w, http.StatusOK, func(e *enc) { renderObservation(e, s.ds, c.company, x) })
}

func (s *Server) listPunchItems(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	q := paramsOf(r)
	items, ok := filterCommon(w, q, p.PunchItems, func(x *data.PunchItem) int64 { return x.ID }, func(x *data.PunchItem) time.Time { return x.UpdatedAt })
	if !ok {
		return
	}
	if st := q.list("filters[status]"); len(st) > 0 {
		items = filterItems(items, func(x *data.PunchItem) bool { return containsFold(st, x.Status) })
	}
	if pr := q.list("filters[priority]"); len(pr) > 0 {
		items = filterItems(items, func(x *data.PunchItem) bool { return containsFold(pr, x.Priority) })
	}
	sortItems(items, q, sorter[*data.PunchItem]{
		"position":   func(a, b *data.PunchItem) int { return a.Position - b.Position },
		"due_date":   func(a, b *data.PunchItem) int { return a.DueDate.Compare(b.DueDate) },
		"updated_at": func(a, b *data.PunchItem) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
	}, func(x *data.PunchItem) int64 { return x.ID })
	writeList(s, w, r, items, pageStandard, func(e *enc, x *data.PunchItem) { renderPunchItem(e, s.ds, x) })
}

func (s *Server) showPunchItem(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, x := projectItem(s, w, r, c, (*data.Project).PunchItem)
	if x == nil {
		return
	}
	s.writeOne(w, http.StatusOK, func(e *enc) { renderPunchItem(e, s.ds, x) })
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func intersects(a, b []int64) bool {
	for _, x := range a {
		if containsID(b, x) {
			return true
		}
	}
	return false
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

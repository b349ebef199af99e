// Package data generates the sandbox's simulated Procore: companies, people,
// vendors, projects and every project tool's items, from a seed alone.
//
// Generate is deterministic: the same Options give the same Dataset, down to
// every id, string, amount and timestamp (the base instant is derived from the
// seed, never from the clock). Items are compact Go structs; JSON is rendered
// per request by the sandbox server.
package data

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Options sizes a dataset. Zero means the documented default; a negative count
// means none.
type Options struct {
	// Seed drives every random choice and the base instant. Default 0 is a valid seed.
	Seed int64
	// Companies is the number of companies. Default 2.
	Companies int
	// ProjectsPerCompany. Default 3.
	ProjectsPerCompany int
	// ItemsPerProject is the default count of RFIs, submittals, observations and
	// punch items per project. Default 20.
	ItemsPerProject int
	// Per-type overrides of ItemsPerProject (zero: ItemsPerProject).
	RFIsPerProject         int
	SubmittalsPerProject   int
	ObservationsPerProject int
	PunchItemsPerProject   int
	// CommitmentsPerProject is the number of work order plus purchase order
	// contracts per project (about 2:1). Default max(2, ItemsPerProject/5).
	CommitmentsPerProject int
	// UsersPerCompany is the number of generated people per company, besides the
	// demo user and the service account. Default 20.
	UsersPerCompany int
	// VendorsPerCompany. Default 12.
	VendorsPerCompany int
	// CostCodesPerProject is the number of (child) cost codes per project; their
	// divisions are added too. Default 12.
	CostCodesPerProject int
	// BillingPeriods per project (monthly, the last one open). Default 6.
	BillingPeriods int
	// DailyLogDays is the number of days of daily logs per project, ending at the
	// base date. Default 14.
	DailyLogDays int
}

func pick(n, def int) int {
	switch {
	case n < 0:
		return 0
	case n == 0:
		return def
	}
	return n
}

func (o Options) withDefaults() Options {
	o.Companies = pick(o.Companies, 2)
	o.ProjectsPerCompany = pick(o.ProjectsPerCompany, 3)
	o.ItemsPerProject = pick(o.ItemsPerProject, 20)
	o.RFIsPerProject = pick(o.RFIsPerProject, o.ItemsPerProject)
	o.SubmittalsPerProject = pick(o.SubmittalsPerProject, o.ItemsPerProject)
	o.ObservationsPerProject = pick(o.ObservationsPerProject, o.ItemsPerProject)
	o.PunchItemsPerProject = pick(o.PunchItemsPerProject, o.ItemsPerProject)
	o.CommitmentsPerProject = pick(o.CommitmentsPerProject, max(2, o.ItemsPerProject/5))
	o.UsersPerCompany = pick(o.UsersPerCompany, 20)
	o.VendorsPerCompany = pick(o.VendorsPerCompany, 12)
	o.CostCodesPerProject = pick(o.CostCodesPerProject, 12)
	o.BillingPeriods = pick(o.BillingPeriods, 6)
	o.DailyLogDays = pick(o.DailyLogDays, 14)
	return o
}

// Demo identities present in every dataset.
const (
	DemoEmail    = "demo@procoregraph.dev"
	ServiceEmail = "sandbox-service-account@procoregraph.dev"
)

type gen struct {
	d   *Dataset
	r   *rand.Rand
	o   Options
	day time.Time // base date, midnight UTC
}

// Generate builds the dataset described by o.
func Generate(o Options) *Dataset {
	o = o.withDefaults()
	seed := uint64(o.Seed)
	g := &gen{
		r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		o: o,
	}
	// Base: a weekday noon within a year after 2025-01-06, fixed by the seed.
	base := time.Date(2025, 1, 6, 12, 0, 0, 0, time.UTC).AddDate(0, 0, 7*int(seed%52))
	g.d = &Dataset{Seed: o.Seed, Base: base}
	g.day = time.Date(base.Year(), base.Month(), base.Day(), 0, 0, 0, 0, time.UTC)

	d := g.d
	svc := &User{ID: d.NextID(KindUser), FirstName: "Sandbox", LastName: "Service Account", Email: ServiceEmail,
		JobTitle: "Developer Managed Service Account", IsActive: true, Admin: true, CreatedAt: base.AddDate(-1, 0, 0), UpdatedAt: base.AddDate(-1, 0, 0)}
	demo := &User{ID: d.NextID(KindUser), FirstName: "Dana", LastName: "Demo", Email: DemoEmail, JobTitle: "Project Manager",
		Phone: "+1 555 0100", IsActive: true, IsEmployee: true, CreatedAt: base.AddDate(-1, 0, 0), UpdatedAt: base.AddDate(0, -1, 0)}
	d.ServiceUserID, d.DemoUserID = svc.ID, demo.ID
	d.Users = append(d.Users, svc, demo)

	for ci := 0; ci < o.Companies; ci++ {
		g.company(ci)
	}
	g.cost()
	g.changeManagement(seed)
	primeContracts(d, seed)
	return d
}

func (g *gen) intn(n int) int {
	if n <= 0 {
		return 0
	}
	return g.r.IntN(n)
}

func choose[T any](g *gen, s []T) T { return s[g.intn(len(s))] }

// past returns a timestamp between minDays and maxDays before base, at a whole second.
func (g *gen) past(minDays, maxDays int) time.Time {
	secs := int64(minDays)*86400 + g.r.Int64N(int64(max(1, maxDays-minDays))*86400)
	return g.d.Base.Add(-time.Duration(secs) * time.Second)
}

// after returns a timestamp between t and base.
func (g *gen) after(t time.Time) time.Time {
	span := g.d.Base.Sub(t)
	if span <= time.Second {
		return t
	}
	return t.Add(time.Duration(g.r.Int64N(int64(span/time.Second))) * time.Second)
}

func dateOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func (g *gen) money(minDollars, maxDollars int64) Fixed {
	return Fixed((minDollars + g.r.Int64N(max(1, maxDollars-minDollars))) * 100)
}

func (g *gen) company(ci int) {
	d := g.d
	created := g.past(900, 1200)
	c := &Company{
		ID:        d.NextID(KindCompany),
		Name:      companyFirst[(ci+g.intn(3))%len(companyFirst)] + " " + choose(g, companySecond),
		IsActive:  true,
		CreatedAt: created,
		UpdatedAt: g.after(created),
	}
	if ci > 0 && c.Name == d.Companies[ci-1].Name {
		c.Name += fmt.Sprintf(" %d", ci+1)
	}
	c.LogoURL = "https://storage.procoregraph.dev/logos/" + fmt.Sprint(c.ID) + ".png"
	for i := 0; i < 3; i++ {
		c.Offices = append(c.Offices, Office{ID: d.NextID(KindOffice), Name: choose(g, cities).City + " Office"})
	}
	for _, s := range [][2]string{{"Draft", "Draft"}, {"Open", "Open"}, {"In Review", "Open"}, {"Closed", "Closed"}} {
		c.Statuses = append(c.Statuses, SubmittalStatus{ID: d.NextID(KindSubmittalStatus), Name: s[0], Status: s[1]})
	}
	for _, s := range [][2]string{{"Pending", "pending"}, {"Approved", "approved"}, {"Approved as Noted", "approved"}, {"Revise and Resubmit", "rejected"}, {"Rejected", "rejected"}, {"For Record Only", "for_record"}} {
		c.Responses = append(c.Responses, SubmittalResponse{ID: d.NextID(KindSubmittalResponse), Name: s[0], Considered: s[1]})
	}
	for _, s := range specSections {
		c.Specs = append(c.Specs, SpecSection{ID: d.NextID(KindSpecSection), Number: s[0], Description: s[1]})
	}
	for _, t := range [][2]string{{"Quality Deficiency", "Quality"}, {"Safety Hazard", "Safety"}, {"Commissioning Issue", "Commissioning"}, {"Warranty Claim", "Warranty"}, {"Work to Complete", "Work to Complete"}} {
		c.ObsTypes = append(c.ObsTypes, ObservationType{ID: d.NextID(KindObservationType), Name: t[0], Category: t[1]})
	}

	for i := 0; i < g.o.VendorsPerCompany; i++ {
		tv := tradeVendors[(i+ci)%len(tradeVendors)]
		city := choose(g, cities)
		name := vendorPrefix[(i*7+ci*3)%len(vendorPrefix)] + " " + tv.Suffix
		vc := g.past(400, 900)
		v := &Vendor{
			ID: d.NextID(KindVendor), CompanyID: c.ID, Name: name, Abbrev: strings.ToUpper(name[:3]),
			TradeName: tv.Trade, LegalName: name, Address: fmt.Sprintf("%d %s", 100+g.intn(9800), choose(g, streets)),
			City: city.City, StateCode: city.State, Zip: city.Zip, Phone: fmt.Sprintf("+1 555 %04d", g.intn(10000)),
			Email:    "office@" + strings.ToLower(strings.NewReplacer(" ", "", "&", "", ".", "").Replace(name)) + ".example",
			IsActive: g.intn(10) > 0, Prequalified: g.intn(3) > 0, CreatedAt: vc, UpdatedAt: g.after(vc),
		}
		c.Vendors = append(c.Vendors, v)
	}

	c.UserIDs = append(c.UserIDs, d.ServiceUserID, d.DemoUserID)
	for i := 0; i < g.o.UsersPerCompany; i++ {
		fn, ln := choose(g, firstNames), choose(g, lastNames)
		uc := g.past(300, 900)
		u := &User{
			ID: d.NextID(KindUser), FirstName: fn, LastName: ln, JobTitle: choose(g, jobTitles),
			Phone: fmt.Sprintf("+1 555 %04d", g.intn(10000)), IsActive: g.intn(15) > 0, CreatedAt: uc, UpdatedAt: g.after(uc),
		}
		if i%3 == 2 && len(c.Vendors) > 0 {
			v := c.Vendors[g.intn(len(c.Vendors))]
			u.VendorID = v.ID
			u.Email = fmt.Sprintf("%s.%s.%d@%s", strings.ToLower(fn), strings.ToLower(ln), i, strings.TrimPrefix(v.Email, "office@"))
		} else {
			u.IsEmployee = true
			u.Admin = i%5 == 0
			u.Email = fmt.Sprintf("%s.%s.%d@%s.example", strings.ToLower(fn), strings.ToLower(ln), i,
				strings.ToLower(strings.ReplaceAll(strings.Fields(c.Name)[0], " ", "")))
		}
		d.Users = append(d.Users, u)
		c.UserIDs = append(c.UserIDs, u.ID)
	}
	slices.Sort(c.UserIDs)
	d.Companies = append(d.Companies, c)

	for pi := 0; pi < g.o.ProjectsPerCompany; pi++ {
		g.project(c, pi)
	}
}

// companyPeople returns the generated (non-demo, non-service) people of c.
func (g *gen) companyPeople(c *Company) []int64 {
	var out []int64
	for _, id := range c.UserIDs {
		if id != g.d.ServiceUserID && id != g.d.DemoUserID {
			out = append(out, id)
		}
	}
	return out
}

func (g *gen) project(c *Company, pi int) {
	d := g.d
	city := choose(g, cities)
	kind := choose(g, projectKinds)
	created := g.past(420, 800)
	start := dateOf(created.AddDate(0, 0, 30+g.intn(60)))
	p := &Project{
		ID: d.NextID(KindProject), CompanyID: c.ID,
		Name:          choose(g, projectPlaces) + " " + kind.Name,
		ProjectNumber: fmt.Sprintf("%d-%03d", 2023+g.intn(3), 100+len(d.Projects)%900),
		Address:       fmt.Sprintf("%d %s", 100+g.intn(9800), choose(g, streets)),
		City:          city.City, StateCode: city.State, CountryCode: "US", Zip: city.Zip, County: city.County + " County",
		TimeZone: city.TZ, Latitude: city.Lat, Longitude: city.Lng,
		SquareFeet: int64(20_000 + g.intn(400_000)), StartDate: start,
		CompletionDate: start.AddDate(1, g.intn(18), 0),
		TotalValue:     g.money(5_000_000, 120_000_000),
		Active:         pi%7 != 6,
		Phone:          fmt.Sprintf("+1 555 %04d", g.intn(10000)),
		Stage:          choose(g, projectStages), StageID: 0, ProjectType: kind.Type,
		OfficeID:  c.Offices[g.intn(len(c.Offices))].ID,
		CreatedAt: created,
	}
	p.Description = fmt.Sprintf("%s of approximately %d sq ft in %s, %s.", kind.Name, p.SquareFeet, city.City, city.State)
	// From the position alone, no random draw (changeorders.go).
	p.ChangeOrderTiers = changeOrderTiers(len(d.Projects))
	p.StageID = int64(slices.Index(projectStages, p.Stage)) + 1
	switch g.intn(4) {
	case 0:
		p.Flag = "Green"
	case 1:
		p.Flag = "Yellow"
	case 2:
		p.Flag = "Red"
	}

	people := g.companyPeople(c)
	p.UserIDs = []int64{d.ServiceUserID, d.DemoUserID}
	for _, id := range people {
		if g.intn(3) < 2 {
			p.UserIDs = append(p.UserIDs, id)
		}
	}
	if len(p.UserIDs) < 4 {
		p.UserIDs = append(p.UserIDs, people...)
	}
	slices.Sort(p.UserIDs)
	p.UserIDs = slices.Compact(p.UserIDs)
	for _, v := range c.Vendors {
		if g.intn(3) < 2 {
			p.VendorIDs = append(p.VendorIDs, v.ID)
		}
	}
	if len(p.VendorIDs) == 0 && len(c.Vendors) > 0 {
		p.VendorIDs = append(p.VendorIDs, c.Vendors[0].ID)
	}
	// team: project people other than the service account.
	team := make([]int64, 0, len(p.UserIDs))
	for _, id := range p.UserIDs {
		if id != d.ServiceUserID {
			team = append(team, id)
		}
	}

	g.costCodes(p)
	g.rfis(p, team)
	g.submittals(c, p, team)
	g.periods(p)
	g.commitments(p, team)
	g.budget(p, team)
	g.dailyLogs(p, team)
	g.observations(c, p, team)
	g.punchItems(p, team)

	p.UpdatedAt = g.after(created)
	d.Projects = append(d.Projects, p)
}

func (g *gen) costCodes(p *Project) {
	d := g.d
	type child struct{ div, code, name, divName string }
	var all []child
	for _, dv := range costCatalog {
		for _, cc := range dv.Codes {
			all = append(all, child{dv.Div, cc[0], cc[1], dv.DivName})
		}
	}
	n := min(g.o.CostCodesPerProject, len(all))
	// A deterministic subset in catalog order.
	chosen := g.r.Perm(len(all))[:n]
	slices.Sort(chosen)
	divIDs := map[string]int64{}
	pos := 0
	ts := p.CreatedAt.Add(time.Hour)
	for _, idx := range chosen {
		ch := all[idx]
		if _, ok := divIDs[ch.div]; !ok {
			pos++
			div := &CostCode{ID: d.NextID(KindCostCode), Code: ch.div, FullCode: ch.div, Name: ch.divName, Position: pos, CreatedAt: ts, UpdatedAt: ts}
			divIDs[ch.div] = div.ID
			p.CostCodes = append(p.CostCodes, div)
		}
		pos++
		p.CostCodes = append(p.CostCodes, &CostCode{ID: d.NextID(KindCostCode), ParentID: divIDs[ch.div], Code: ch.code,
			FullCode: ch.div + "-" + ch.code, Name: ch.name, Position: pos, CreatedAt: ts, UpdatedAt: ts})
	}
}

// childCodes returns the non-division cost codes of p.
func childCodes(p *Project) []*CostCode {
	var out []*CostCode
	for _, cc := range p.CostCodes {
		if cc.ParentID != 0 {
			out = append(out, cc)
		}
	}
	return out
}

func (g *gen) someOf(ids []int64, lo, hi int) []int64 {
	if len(ids) == 0 {
		return nil
	}
	n := lo + g.intn(hi-lo+1)
	n = min(n, len(ids))
	perm := g.r.Perm(len(ids))[:n]
	out := make([]int64, n)
	for i, j := range perm {
		out[i] = ids[j]
	}
	slices.Sort(out)
	return out
}

var impactStatuses = []string{"yes_known", "yes_unknown", "no_impact", "tbd", "n_a"}

func (g *gen) impact(money bool) Impact {
	st := impactStatuses[g.intn(len(impactStatuses))]
	im := Impact{Status: st}
	if st == "yes_known" {
		im.HasValue = true
		if money {
			im.Value = g.money(500, 75_000)
		} else {
			im.Value = FixedFromInt(int64(1 + g.intn(20)))
		}
	}
	return im
}

func (g *gen) rfis(p *Project, team []int64) {
	d := g.d
	codes := childCodes(p)
	number := 0
	for i := 0; i < g.o.RFIsPerProject; i++ {
		created := g.past(5, 400)
		r := &RFI{
			ID: d.NextID(KindRFI), ProjectID: p.ID,
			Subject:     fmt.Sprintf("%s %s %s", choose(g, rfiVerbs), choose(g, rfiTopics), choose(g, rfiPlaces)),
			ManagerID:   team[g.intn(len(team))],
			CreatedByID: team[g.intn(len(team))],
			AssigneeIDs: g.someOf(team, 1, 3),
			CostImpact:  g.impact(true), ScheduleImpact: g.impact(false),
			Private:   g.intn(10) == 0,
			CreatedAt: created, InitiatedAt: created,
			DueDate:   dateOf(created.AddDate(0, 0, 7+g.intn(14))),
			Reference: "Sheet " + choose(g, sheets),
		}
		r.ReceivedFromID = r.CreatedByID
		if len(p.VendorIDs) > 0 {
			r.ResponsibleContractorID = p.VendorIDs[g.intn(len(p.VendorIDs))]
		}
		if len(codes) > 0 && g.intn(3) > 0 {
			r.CostCodeID = codes[g.intn(len(codes))].ID
		}
		q := &Question{ID: d.NextID(KindQuestion), CreatedByID: r.CreatedByID, Date: created,
			Body: fmt.Sprintf(choose(g, questionTemplates), choose(g, sheets), choose(g, rfiTopics), choose(g, rfiPlaces))}
		r.Questions = []*Question{q}
		roll := g.intn(10)
		switch {
		case roll == 0:
			r.Status, r.Draft = RFIDraft, true
			r.BallInCourtRole, r.BallInCourtIDs = RoleCreator, []int64{r.CreatedByID}
		case roll <= 3:
			r.Status, r.Accepted = RFIClosed, true
			number++
			r.Number = number
			g.answers(r, q, 1+g.intn(2), true)
			r.TimeResolved = g.after(q.Answers[len(q.Answers)-1].Date)
		default:
			r.Status = RFIOpen
			number++
			r.Number = number
			if g.intn(2) == 0 {
				g.answers(r, q, 1, false)
				r.BallInCourtRole, r.BallInCourtIDs = RoleManager, []int64{r.ManagerID}
			} else {
				r.BallInCourtRole, r.BallInCourtIDs = RoleAssignees, slices.Clone(r.AssigneeIDs)
			}
		}
		r.UpdatedAt = g.after(created)
		if !r.TimeResolved.IsZero() && r.UpdatedAt.Before(r.TimeResolved) {
			r.UpdatedAt = r.TimeResolved
		}
		if n := len(q.Answers); n > 0 && r.UpdatedAt.Before(q.Answers[n-1].Date) {
			r.UpdatedAt = q.Answers[n-1].Date
		}
		p.RFIs = append(p.RFIs, r)
	}
}

func (g *gen) answers(r *RFI, q *Question, n int, official bool) {
	t := q.Date
	for i := 0; i < n; i++ {
		t = t.Add(time.Duration(1+g.intn(72)) * time.Hour)
		if t.After(g.d.Base) {
			t = g.d.Base
		}
		by := r.AssigneeIDs[g.intn(len(r.AssigneeIDs))]
		body := choose(g, answerTemplates)
		if strings.Contains(body, "%d") {
			body = fmt.Sprintf(body, 1+g.intn(40))
		}
		q.Answers = append(q.Answers, &Answer{ID: g.d.NextID(KindAnswer), Body: body, Official: official && i == n-1, CreatedByID: by, Date: t})
	}
}

func (g *gen) submittals(c *Company, p *Project, team []int64) {
	d := g.d
	pending := c.Responses[0].ID
	for i := 0; i < g.o.SubmittalsPerProject; i++ {
		spec := c.Specs[g.intn(len(c.Specs))]
		created := g.past(5, 400)
		s := &Submittal{
			ID: d.NextID(KindSubmittal), ProjectID: p.ID,
			Number:        fmt.Sprint(i + 1),
			Title:         spec.Description + " - " + choose(g, submittalTypes),
			Type:          choose(g, submittalTypes),
			SpecSectionID: spec.ID, Description: "Submit " + strings.ToLower(spec.Description) + " for review per specification section " + spec.Number + ".",
			ManagerID:       team[g.intn(len(team))],
			CreatedByID:     team[g.intn(len(team))],
			ReceivedFromID:  team[g.intn(len(team))],
			DistributionIDs: g.someOf(team, 1, 3),
			IssueDate:       dateOf(created), SubmitBy: dateOf(created.AddDate(0, 0, 14)),
			DueDate:   dateOf(created.AddDate(0, 0, 21+g.intn(14))),
			CreatedAt: created,
		}
		if len(p.VendorIDs) > 0 {
			s.ResponsibleContractorID = p.VendorIDs[g.intn(len(p.VendorIDs))]
		}
		steps := 1 + g.intn(3)
		sent := dateOf(created.AddDate(0, 0, 1))
		for st := 1; st <= steps; st++ {
			for _, uid := range g.someOf(team, 1, 2) {
				s.Approvers = append(s.Approvers, &Approver{ID: d.NextID(KindApprover), UserID: uid, Step: st, ApproverType: "Approver",
					ResponseID: pending, ResponseRequired: true, DaysToRespond: 5 + g.intn(10), SentDate: sent, DueDate: sent.AddDate(0, 0, 7)})
			}
		}
		// Progress: how many steps are fully answered.
		roll := g.intn(10)
		var status string
		switch {
		case roll == 0:
			status = "Draft"
			for _, a := range s.Approvers {
				a.SentDate = time.Time{}
			}
		case roll <= 3:
			status = "Closed"
			for _, a := range s.Approvers {
				g.respond(c, a, s.CreatedAt)
			}
			s.DistributedAt = g.after(s.CreatedAt)
			s.ReceivedDate = dateOf(s.DistributedAt)
		default:
			status = "Open"
			if roll >= 8 {
				status = "In Review"
			}
			done := g.intn(steps)
			for _, a := range s.Approvers {
				if a.Step <= done {
					g.respond(c, a, s.CreatedAt)
				}
			}
		}
		for _, st := range c.Statuses {
			if st.Name == status {
				s.StatusID = st.ID
			}
		}
		s.BallInCourtIDs = WorkflowBallInCourt(c, s)
		s.UpdatedAt = g.after(created)
		for _, a := range s.Approvers {
			if !a.ReturnedDate.IsZero() && s.UpdatedAt.Before(a.ReturnedDate) {
				s.UpdatedAt = a.ReturnedDate
			}
		}
		p.Submittals = append(p.Submittals, s)
	}
}

func (g *gen) respond(c *Company, a *Approver, after time.Time) {
	a.ResponseID = c.Responses[1+g.intn(3)].ID // Approved, Approved as Noted, Revise and Resubmit
	a.ReturnedDate = dateOf(g.after(after))
	a.Comment = choose(g, []string{"No exceptions taken.", "Make corrections noted.", "See markups on sheet 3.", "Revise anchor spacing and resubmit."})
}

// WorkflowBallInCourt computes who holds a submittal: nobody when its status is
// closed or draft; otherwise the approvers of the first workflow step that still
// has a pending required response, or the submittal manager once every step has
// responded.
func WorkflowBallInCourt(c *Company, s *Submittal) []int64 {
	if st := c.Status(s.StatusID); st != nil && (st.Status == "Closed" || st.Status == "Draft") {
		return nil
	}
	pending := func(a *Approver) bool {
		r := c.Response(a.ResponseID)
		return a.ResponseRequired && (r == nil || r.Considered == "pending")
	}
	steps := 0
	for _, a := range s.Approvers {
		steps = max(steps, a.Step)
	}
	for st := 1; st <= steps; st++ {
		var ids []int64
		for _, a := range s.Approvers {
			if a.Step == st && pending(a) {
				ids = append(ids, a.UserID)
			}
		}
		if len(ids) > 0 {
			slices.Sort(ids)
			return slices.Compact(ids)
		}
	}
	if s.ManagerID != 0 {
		return []int64{s.ManagerID}
	}
	return nil
}

func (g *gen) periods(p *Project) {
	d := g.d
	n := g.o.BillingPeriods
	first := time.Date(g.day.Year(), g.day.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -(n - 1), 0)
	for i := 0; i < n; i++ {
		start := first.AddDate(0, i, 0)
		end := start.AddDate(0, 1, -1)
		status := "closed"
		if i == n-1 {
			status = "open"
		}
		p.BillingPeriods = append(p.BillingPeriods, &BillingPeriod{ID: d.NextID(KindBillingPeriod), Start: start, End: end, Due: end.AddDate(0, 0, -5), Position: i + 1, Status: status})
	}
}

func (g *gen) commitments(p *Project, team []int64) {
	d := g.d
	codes := childCodes(p)
	woN, poN := 0, 0
	for i := 0; i < g.o.CommitmentsPerProject; i++ {
		created := g.past(200, 420)
		c := &Commitment{ID: d.NextID(KindCommitment), ProjectID: p.ID, CreatedByID: team[g.intn(len(team))], CreatedAt: created,
			ContractDate: dateOf(created.AddDate(0, 0, 3))}
		if len(p.VendorIDs) > 0 {
			c.VendorID = p.VendorIDs[g.intn(len(p.VendorIDs))]
		}
		var trade string
		if v := d.Vendor(c.VendorID); v != nil {
			trade = v.TradeName
		} else {
			trade = "General"
		}
		if i%3 == 2 {
			poN++
			c.Kind, c.Number = PurchaseOrder, fmt.Sprintf("PO-%03d", poN)
			c.Title = trade + " materials purchase order"
			c.Status = []string{"Approved", "Approved", "Approved", "Draft", "Processing", "Submitted", "Partially Received", "Received", "Closed"}[g.intn(9)]
			c.DeliveryDate = dateOf(created.AddDate(0, 1, 0))
			c.ShipTo = p.Address + ", " + p.City + ", " + p.StateCode
			c.PaymentTerms = "Net 30"
		} else {
			woN++
			c.Kind, c.Number = WorkOrder, fmt.Sprintf("SC-%03d", woN)
			c.Title = trade + " subcontract"
			c.Status = []string{"Approved", "Approved", "Approved", "Approved", "Draft", "Out For Bid", "Out For Signature", "Complete", "Terminated"}[g.intn(9)]
		}
		c.Executed = c.Status == "Approved" || c.Status == "Complete" || c.Status == "Closed"
		c.RetainagePercent = []Fixed{500, 1000, 1000, 0}[g.intn(4)]
		c.Description = "Furnish and install all " + strings.ToLower(trade) + " work per contract documents."
		nl := 3 + g.intn(6)
		for j := 0; j < nl; j++ {
			amt := g.money(5_000, 400_000)
			li := &LineItem{ID: d.NextID(KindLineItem), Description: lineItemDescriptions[(j+i)%len(lineItemDescriptions)], Amount: amt,
				Quantity: FixedFromInt(1), UnitCost: amt, UOM: "ls", Position: j + 1, CreatedAt: created, UpdatedAt: created}
			if len(codes) > 0 {
				li.CostCodeID = codes[g.intn(len(codes))].ID
			}
			c.LineItems = append(c.LineItems, li)
		}
		c.UpdatedAt = g.after(created)
		p.Commitments = append(p.Commitments, c)

		// Change orders.
		for k := 0; k < g.intn(3); k++ {
			cc := g.after(created)
			co := &ChangeOrder{ID: d.NextID(KindChangeOrder), ProjectID: p.ID, ContractID: c.ID, Number: fmt.Sprintf("%s-CO-%d", c.Number, k+1),
				Title:  choose(g, []string{"Added scope per ASI", "Owner-requested upgrade", "Unforeseen site condition", "Credit for deleted work", "Schedule acceleration"}),
				Status: []string{"approved", "approved", "pending", "draft", "pricing", "rejected", "void"}[g.intn(7)], CreatedByID: c.CreatedByID,
				DueDate: dateOf(cc.AddDate(0, 0, 14)), CreatedAt: cc, UpdatedAt: g.after(cc)}
			co.Description = co.Title + " on " + c.Title + "."
			for m := 0; m < 1+g.intn(2); m++ {
				amt := g.money(-8_000, 60_000)
				co.Lines = append(co.Lines, ChangeOrderLine{ID: d.NextID(KindChangeOrderLine), Amount: amt, Description: choose(g, lineItemDescriptions)})
			}
			p.ChangeOrders = append(p.ChangeOrders, co)
		}
		if c.Invoiceable() {
			g.invoices(p, c)
		}
	}
	slices.SortFunc(p.ChangeOrders, func(a, b *ChangeOrder) int { return int(a.ID - b.ID) })
}

func (g *gen) invoices(p *Project, c *Commitment) {
	d := g.d
	closed := p.BillingPeriods[:max(0, len(p.BillingPeriods)-1)]
	if len(closed) == 0 {
		return
	}
	n := 1 + g.intn(min(3, len(closed)))
	billed := map[int64]Fixed{}
	for k := 0; k < n; k++ {
		per := closed[len(closed)-n+k]
		inv := &Invoice{ID: d.NextID(KindInvoice), ProjectID: p.ID, CommitmentID: c.ID, Number: k + 1,
			InvoiceNumber: fmt.Sprintf("INV-%s-%02d", strings.TrimPrefix(strings.TrimPrefix(c.Number, "SC-"), "PO-"), k+1),
			PeriodID:      per.ID, Start: per.Start, End: per.End, BillingDate: per.End, CreatedByID: c.CreatedByID}
		inv.CreatedAt = per.End.Add(time.Duration(8+g.intn(8)) * time.Hour)
		if inv.CreatedAt.After(d.Base) {
			inv.CreatedAt = d.Base
		}
		for _, li := range c.LineItems {
			remaining := li.Amount - billed[li.ID]
			work := Fixed(int64(li.Amount) * int64(10+g.intn(25)) / 100)
			work = min(work, remaining)
			var stored Fixed
			if g.intn(4) == 0 {
				stored = min(remaining-work, Fixed(int64(li.Amount)*int64(1+g.intn(8))/100))
			}
			billed[li.ID] += work
			inv.Items = append(inv.Items, InvoiceItem{ID: d.NextID(KindInvoiceItem), LineItemID: li.ID, WorkThisPeriod: work, MaterialsStored: stored,
				WorkRetainagePct: c.RetainagePercent, MaterialsRetainPct: c.RetainagePercent})
		}
		if k < n-1 {
			inv.Status = []string{"approved", "approved", "approved_as_noted"}[g.intn(3)]
		} else {
			inv.Status = InvoiceStatuses[g.intn(len(InvoiceStatuses))]
		}
		if inv.Status != "draft" {
			inv.SubmittedAt = inv.CreatedAt.Add(2 * time.Hour)
		}
		if (inv.Status == "approved" || inv.Status == "approved_as_noted") && k < n-1 {
			inv.PaymentDate = per.End.AddDate(0, 0, 30)
		}
		inv.UpdatedAt = g.after(inv.CreatedAt)
		p.Invoices = append(p.Invoices, inv)
	}
}

var budgetColumns = []string{"approved_cos", "revised_budget", "pending_budget_changes", "projected_budget", "committed_costs", "direct_costs", "pending_cost_changes", "projected_costs", "forecast_to_complete", "estimated_cost_at_completion", "projected_over_under"}

func (g *gen) budget(p *Project, team []int64) {
	d := g.d
	ts := p.CreatedAt.Add(24 * time.Hour)
	p.BudgetViews = append(p.BudgetViews,
		&BudgetView{ID: d.NextID(KindBudgetView), Name: "Procore Standard Budget", Description: "Original budget, changes, commitments and forecast.", Columns: budgetColumns, CreatedByID: team[0], CreatedAt: ts, UpdatedAt: ts},
		&BudgetView{ID: d.NextID(KindBudgetView), Name: "Owner Report", Description: "Budget versus committed costs for the owner's monthly report.", Columns: []string{"revised_budget", "committed_costs", "projected_over_under"}, CreatedByID: team[0], CreatedAt: ts, UpdatedAt: ts})
	for _, cc := range childCodes(p) {
		orig := g.money(20_000, 900_000)
		p.BudgetLines = append(p.BudgetLines, &BudgetLine{ID: d.NextID(KindBudgetLine), CostCodeID: cc.ID, Category: choose(g, budgetCategories),
			OriginalBudget: orig, Modifications: Fixed(int64(orig) * int64(g.intn(11)-5) / 100),
			DirectCosts: Fixed(int64(orig) * int64(g.intn(15)) / 100), PendingChanges: Fixed(int64(orig) * int64(g.intn(5)) / 100),
			ForecastToGo: Fixed(int64(orig) * int64(g.intn(60)) / 100)})
	}
}

func (g *gen) dailyLogs(p *Project, team []int64) {
	d := g.d
	for day := g.o.DailyLogDays - 1; day >= 0; day-- {
		date := g.day.AddDate(0, 0, -day)
		if wd := date.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		at := date.Add(17 * time.Hour)
		if at.After(d.Base) {
			at = d.Base
		}
		for k := 0; k < 2 && len(p.VendorIDs) > 0; k++ {
			p.Manpower = append(p.Manpower, &ManpowerLog{ID: d.NextID(KindManpowerLog), Date: date, NumWorkers: 2 + g.intn(18),
				NumHours: FixedFromInt(8), Notes: choose(g, manpowerNotes), Status: []string{"approved", "pending"}[g.intn(2)],
				VendorID: p.VendorIDs[g.intn(len(p.VendorIDs))], CreatedByID: team[g.intn(len(team))], CreatedAt: at, UpdatedAt: at})
		}
		p.Notes = append(p.Notes, &NotesLog{ID: d.NextID(KindNotesLog), Date: date, Comment: choose(g, noteComments), IsIssue: g.intn(5) == 0,
			CreatedByID: team[g.intn(len(team))], CreatedAt: at, UpdatedAt: at})
	}
}

func (g *gen) observations(c *Company, p *Project, team []int64) {
	d := g.d
	for i := 0; i < g.o.ObservationsPerProject; i++ {
		created := g.past(3, 300)
		t := c.ObsTypes[g.intn(len(c.ObsTypes))]
		o := &Observation{ID: d.NextID(KindObservation), ProjectID: p.ID, Number: i + 1, Name: choose(g, observationNames),
			Status: ObservationStatuses[g.intn(4)], Priority: []string{"Low", "Medium", "High", "Urgent"}[g.intn(4)], TypeID: t.ID,
			DueDate: dateOf(created.AddDate(0, 0, 7+g.intn(14))), AssigneeID: team[g.intn(len(team))], CreatedByID: team[g.intn(len(team))],
			TradeName: choose(g, tradeVendors).Trade, Location: choose(g, locations), CreatedAt: created}
		o.Description = o.Name + " observed at " + o.Location + "."
		o.UpdatedAt = g.after(created)
		p.Observations = append(p.Observations, o)
	}
}

func (g *gen) punchItems(p *Project, team []int64) {
	d := g.d
	for i := 0; i < g.o.PunchItemsPerProject; i++ {
		created := g.past(3, 200)
		pi := &PunchItem{ID: d.NextID(KindPunchItem), ProjectID: p.ID, Position: i + 1, Name: choose(g, punchNames),
			Priority: []string{"low", "medium", "high"}[g.intn(3)], DueDate: dateOf(created.AddDate(0, 0, 10+g.intn(20))),
			ManagerID: team[g.intn(len(team))], FinalApproverID: team[g.intn(len(team))], AssigneeIDs: g.someOf(team, 1, 2),
			Location: choose(g, locations), CreatedByID: team[g.intn(len(team))], CreatedAt: created}
		if len(p.VendorIDs) > 0 {
			pi.VendorID = p.VendorIDs[g.intn(len(p.VendorIDs))]
		}
		pi.Description = pi.Name + " in " + pi.Location + "."
		switch g.intn(5) {
		case 0, 1:
			pi.Status, pi.WorkflowStatus = "open", "work_required"
			pi.BallInCourtIDs = slices.Clone(pi.AssigneeIDs)
		case 2:
			pi.Status, pi.WorkflowStatus = "pending", "ready_for_review"
			pi.BallInCourtIDs = []int64{pi.ManagerID}
		case 3:
			pi.Status, pi.WorkflowStatus = "closed", "closed"
			pi.ClosedAt = g.after(created)
		default:
			pi.Status, pi.WorkflowStatus = "overdue", "work_required"
			pi.BallInCourtIDs = slices.Clone(pi.AssigneeIDs)
		}
		pi.UpdatedAt = g.after(created)
		if !pi.ClosedAt.IsZero() {
			pi.UpdatedAt = pi.ClosedAt
		}
		p.PunchItems = append(p.PunchItems, pi)
	}
}

package main

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// dashboard is the decoded answer of bench/queries/dashboard.graphql. Fields
// the schema makes nullable are pointers, so that null and "" differ.
type dashboard struct {
	Projects struct {
		TotalCount int `json:"totalCount"`
		PageInfo   struct {
			HasNextPage bool    `json:"hasNextPage"`
			EndCursor   *string `json:"endCursor"`
		} `json:"pageInfo"`
		Nodes []struct {
			ID            string `json:"id"`
			Name          string `json:"name"`
			ProjectNumber string `json:"projectNumber"`
			RFIs          struct {
				TotalCount int `json:"totalCount"`
				Nodes      []struct {
					ID          string     `json:"id"`
					Number      *string    `json:"number"`
					Subject     string     `json:"subject"`
					Status      string     `json:"status"`
					DueDate     *string    `json:"dueDate"`
					BallInCourt []dashUser `json:"ballInCourt"`
				} `json:"nodes"`
			} `json:"rfis"`
			Submittals struct {
				TotalCount int `json:"totalCount"`
				Nodes      []struct {
					ID          string  `json:"id"`
					Number      *string `json:"number"`
					Title       *string `json:"title"`
					Status      *struct{ ID, Name string }
					BallInCourt []dashUser `json:"ballInCourt"`
				} `json:"nodes"`
			} `json:"submittals"`
			Commitments struct {
				TotalCount int `json:"totalCount"`
				Nodes      []struct {
					ID         string  `json:"id"`
					Number     *string `json:"number"`
					Title      *string `json:"title"`
					Status     string  `json:"status"`
					Kind       string  `json:"kind"`
					GrandTotal string  `json:"grandTotal"`
					Vendor     *struct{ ID, Name string }
					Invoices   struct {
						TotalCount int `json:"totalCount"`
						Nodes      []struct {
							ID            string  `json:"id"`
							Number        int     `json:"number"`
							InvoiceNumber *string `json:"invoiceNumber"`
							Status        string  `json:"status"`
							Summary       struct {
								TotalRetainage    string `json:"totalRetainage"`
								CurrentPaymentDue string `json:"currentPaymentDue"`
							} `json:"summary"`
						} `json:"nodes"`
					} `json:"invoices"`
				} `json:"nodes"`
			} `json:"commitments"`
		} `json:"nodes"`
	} `json:"projects"`
}

// dashUser is a person as the dashboard selects one (submittals select no login).
type dashUser struct{ ID, Name, Login string }

func decodeDashboard(t *testing.T, r gqlResponse) dashboard {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("dashboard errors: %+v", r.Errors)
	}
	var d dashboard
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// enumOf spells a Procore status the way the schema's enums do:
// "Out For Bid" -> OUT_FOR_BID, "under_review" -> UNDER_REVIEW.
func enumOf(procore string) string { return strings.ToUpper(strings.ReplaceAll(procore, " ", "_")) }

// text is a nullable String field's value. Null and "" both mean "none":
// the gateway answers "" where Procore sends null (a draft RFI's number).
func text(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// dateOf is the expected value of a nullable Date field ("" for none).
func dateOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// mismatches collects the differences between the gateway's answer and the
// sandbox's data, failing the test with at most a screenful of them.
type mismatches struct {
	t *testing.T
	n int
}

func (m *mismatches) check(ok bool, format string, args ...any) {
	m.t.Helper()
	if ok {
		return
	}
	m.n++
	if m.n <= 30 {
		m.t.Errorf(format, args...)
	}
}

// money reports whether a Decimal field equals want exactly ("12.50" ==
// "12.5"; a value that is not a decimal is never equal).
func money(got string, want data.Fixed) bool {
	d, err := decimal.NewFromString(got)
	return err == nil && d.Equal(want.Decimal())
}

// assertDashboardMatches checks the gateway's dashboard against the sandbox's
// dataset (read with sb.ReadDataset, independently of the gateway's code),
// node list by node list: ids in the dataset's order, and every field the
// query selects that the dataset holds (names, numbers, statuses, due dates,
// ball in court, vendors, grand totals and the G702 money of every invoice,
// which the sandbox derives from its own rows).
func assertDashboardMatches(t *testing.T, sb *sandbox.Running, d dashboard) {
	t.Helper()
	m := &mismatches{t: t}
	defer func() {
		if m.n > 30 {
			t.Errorf("... %d mismatches in all", m.n)
		}
	}()
	sb.ReadDataset(func(ds *data.Dataset) {
		company := ds.Companies[0]
		var projects []*data.Project
		for _, p := range ds.Projects {
			if p.CompanyID == company.ID && p.Active {
				projects = append(projects, p)
			}
		}
		sort.Slice(projects, func(i, j int) bool { return projects[i].ID < projects[j].ID })
		if d.Projects.TotalCount != len(projects) || len(d.Projects.Nodes) != min(50, len(projects)) ||
			d.Projects.PageInfo.HasNextPage != (len(projects) > 50) {
			t.Fatalf("projects: totalCount %d, nodes %d, hasNextPage %v; sandbox has %d active", d.Projects.TotalCount,
				len(d.Projects.Nodes), d.Projects.PageInfo.HasNextPage, len(projects))
		}
		users := func(ids []int64) []dashUser {
			out := []dashUser{}
			for _, u := range ids {
				p := ds.User(u)
				out = append(out, dashUser{ID: id(u), Name: p.Name(), Login: p.Email})
			}
			return out
		}
		for i, pn := range d.Projects.Nodes {
			p := projects[i]
			m.check(pn.ID == id(p.ID) && pn.Name == p.Name && pn.ProjectNumber == p.ProjectNumber,
				"project %d: got %s %q %q, want %d %q %q", i, pn.ID, pn.Name, pn.ProjectNumber, p.ID, p.Name, p.ProjectNumber)

			// RFIs: the first 200 in id order (several Procore pages).
			m.check(pn.RFIs.TotalCount == len(p.RFIs) && len(pn.RFIs.Nodes) == min(200, len(p.RFIs)),
				"project %d rfis: total %d nodes %d, sandbox %d", p.ID, pn.RFIs.TotalCount, len(pn.RFIs.Nodes), len(p.RFIs))
			for j, rn := range pn.RFIs.Nodes[:min(len(pn.RFIs.Nodes), len(p.RFIs))] {
				r := p.RFIs[j]
				number := ""
				if r.Number != 0 {
					number = strconv.Itoa(r.Number)
				}
				m.check(rn.ID == id(r.ID) && text(rn.Number) == number && rn.Subject == r.Subject &&
					rn.Status == enumOf(r.Status) && text(rn.DueDate) == dateOf(r.DueDate),
					"project %d rfi %d: got %s #%q %q %s due %q, want %d #%q %q %s due %q", p.ID, j, rn.ID, text(rn.Number), rn.Subject,
					rn.Status, text(rn.DueDate), r.ID, number, r.Subject, r.Status, dateOf(r.DueDate))
				m.check(slices.Equal(rn.BallInCourt, users(r.BallInCourtIDs)),
					"rfi %d ball in court: got %+v, want %+v", r.ID, rn.BallInCourt, users(r.BallInCourtIDs))
			}

			m.check(pn.Submittals.TotalCount == len(p.Submittals) && len(pn.Submittals.Nodes) == min(200, len(p.Submittals)),
				"project %d submittals: total %d nodes %d, sandbox %d", p.ID, pn.Submittals.TotalCount, len(pn.Submittals.Nodes), len(p.Submittals))
			for j, sn := range pn.Submittals.Nodes[:min(len(pn.Submittals.Nodes), len(p.Submittals))] {
				s := p.Submittals[j]
				st := company.Status(s.StatusID)
				m.check(sn.ID == id(s.ID) && text(sn.Number) == s.Number && text(sn.Title) == s.Title &&
					st != nil && sn.Status != nil && sn.Status.ID == id(st.ID) && sn.Status.Name == st.Name,
					"project %d submittal %d: got %s #%q %q status %+v, want %d #%q %q status %+v", p.ID, j, sn.ID, text(sn.Number),
					text(sn.Title), sn.Status, s.ID, s.Number, s.Title, st)
				want := users(s.BallInCourtIDs)
				for k := range want {
					want[k].Login = "" // not selected for submittals
				}
				m.check(slices.Equal(sn.BallInCourt, want), "submittal %d ball in court: got %+v, want %+v", s.ID, sn.BallInCourt, want)
			}

			// Commitments: both kinds, merged in id order.
			m.check(pn.Commitments.TotalCount == len(p.Commitments) && len(pn.Commitments.Nodes) == min(100, len(p.Commitments)),
				"project %d commitments: total %d nodes %d, sandbox %d", p.ID, pn.Commitments.TotalCount, len(pn.Commitments.Nodes), len(p.Commitments))
			for j, cn := range pn.Commitments.Nodes[:min(len(pn.Commitments.Nodes), len(p.Commitments))] {
				c := p.Commitments[j]
				kind := map[string]string{data.WorkOrder: "SUBCONTRACT", data.PurchaseOrder: "PURCHASE_ORDER"}[c.Kind]
				m.check(cn.ID == id(c.ID) && text(cn.Number) == c.Number && text(cn.Title) == c.Title &&
					cn.Status == enumOf(c.Status) && cn.Kind == kind && money(cn.GrandTotal, c.GrandTotal()),
					"project %d commitment %d: got %s #%q %q %s %s grand total %s, want %d #%q %q %s %s grand total %s", p.ID, j, cn.ID,
					text(cn.Number), text(cn.Title), cn.Status, cn.Kind, cn.GrandTotal, c.ID, c.Number, c.Title, c.Status, c.Kind, c.GrandTotal())
				if v := ds.Vendor(c.VendorID); v == nil {
					m.check(cn.Vendor == nil, "commitment %d: vendor %+v, the sandbox has none", c.ID, cn.Vendor)
				} else {
					m.check(cn.Vendor != nil && cn.Vendor.ID == id(v.ID) && cn.Vendor.Name == v.Name,
						"commitment %d vendor: got %+v, want %d %q", c.ID, cn.Vendor, v.ID, v.Name)
				}
				invoices := p.CommitmentInvoices(c.ID)
				m.check(cn.Invoices.TotalCount == len(invoices) && len(cn.Invoices.Nodes) == min(100, len(invoices)),
					"commitment %d invoices: total %d nodes %d, sandbox %d", c.ID, cn.Invoices.TotalCount, len(cn.Invoices.Nodes), len(invoices))
				for k, in := range cn.Invoices.Nodes[:min(len(cn.Invoices.Nodes), len(invoices))] {
					inv := invoices[k]
					g702 := p.G702(inv)
					m.check(in.ID == id(inv.ID) && in.Number == inv.Number && text(in.InvoiceNumber) == inv.InvoiceNumber &&
						in.Status == enumOf(inv.Status) && money(in.Summary.TotalRetainage, g702.TotalRetainage) &&
						money(in.Summary.CurrentPaymentDue, g702.CurrentPaymentDue),
						"commitment %d invoice %d: got %s #%d %q %s retainage %s due %s, want %d #%d %q %s retainage %s due %s", c.ID, k,
						in.ID, in.Number, text(in.InvoiceNumber), in.Status, in.Summary.TotalRetainage, in.Summary.CurrentPaymentDue,
						inv.ID, inv.Number, inv.InvoiceNumber, inv.Status, g702.TotalRetainage, g702.CurrentPaymentDue)
				}
			}
		}
	})
}

func TestDashboardEqualsSandboxData(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 3, ItemsPerProject: 8, RFIsPerProject: 230}})
	g := startGateway(t, env)
	d := decodeDashboard(t, g.query(t, readQuery(t, "bench/queries/dashboard.graphql"), nil))
	assertDashboardMatches(t, sb, d)
	if n := len(d.Projects.Nodes[0].RFIs.Nodes); n != 200 {
		t.Fatalf("first: 200 RFIs of 230 returned %d", n)
	}
}

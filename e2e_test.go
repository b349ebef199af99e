package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// dashboard is the decoded answer of bench/queries/dashboard.graphql.
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
					ID          string `json:"id"`
					Number      string `json:"number"`
					Subject     string `json:"subject"`
					Status      string `json:"status"`
					DueDate     *string
					BallInCourt []struct{ ID, Name, Login string } `json:"ballInCourt"`
				} `json:"nodes"`
			} `json:"rfis"`
			Submittals struct {
				TotalCount int `json:"totalCount"`
				Nodes      []struct {
					ID     string `json:"id"`
					Number string `json:"number"`
					Title  string `json:"title"`
					Status *struct{ ID, Name string }
				} `json:"nodes"`
			} `json:"submittals"`
			Commitments struct {
				TotalCount int `json:"totalCount"`
				Nodes      []struct {
					ID         string `json:"id"`
					Number     string `json:"number"`
					Title      string `json:"title"`
					Status     string `json:"status"`
					Kind       string `json:"kind"`
					GrandTotal string `json:"grandTotal"`
					Vendor     *struct{ ID, Name string }
					Invoices   struct {
						TotalCount int `json:"totalCount"`
						Nodes      []struct {
							ID            string `json:"id"`
							Number        int    `json:"number"`
							InvoiceNumber string `json:"invoiceNumber"`
							Status        string `json:"status"`
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

// sandboxREST reads the sandbox's own REST API with a client-credentials
// token, independently of the gateway's adapter.
type sandboxREST struct {
	base, token string
	company     int64
}

func newSandboxREST(t *testing.T, sb *sandbox.Running, company int64) *sandboxREST {
	t.Helper()
	resp, err := http.PostForm(sb.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	return &sandboxREST{base: sb.URL, token: tok.AccessToken, company: company}
}

func (s *sandboxREST) get(t *testing.T, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Procore-Company-Id", strconv.FormatInt(s.company, 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// assertDashboardMatches checks the gateway's dashboard against the sandbox's
// dataset and its raw REST answers, value by value.
func assertDashboardMatches(t *testing.T, sb *sandbox.Running, d dashboard) {
	t.Helper()
	var projects []*data.Project
	var company int64
	sb.ReadDataset(func(ds *data.Dataset) {
		company = ds.Companies[0].ID
		for _, p := range ds.Projects {
			if p.CompanyID == company && p.Active {
				projects = append(projects, p)
			}
		}
	})
	sort.Slice(projects, func(i, j int) bool { return projects[i].ID < projects[j].ID })
	if d.Projects.TotalCount != len(projects) || len(d.Projects.Nodes) != min(50, len(projects)) {
		t.Fatalf("projects: totalCount %d, nodes %d; sandbox has %d active", d.Projects.TotalCount, len(d.Projects.Nodes), len(projects))
	}
	rest := newSandboxREST(t, sb, company)
	for i, pn := range d.Projects.Nodes {
		p := projects[i]
		if pn.ID != id(p.ID) || pn.Name != p.Name || pn.ProjectNumber != p.ProjectNumber {
			t.Errorf("project %d: got %s %q %q, want %d %q %q", i, pn.ID, pn.Name, pn.ProjectNumber, p.ID, p.Name, p.ProjectNumber)
		}
		// RFIs: count, ids in order, subjects and statuses, across several pages.
		if pn.RFIs.TotalCount != len(p.RFIs) || len(pn.RFIs.Nodes) != min(200, len(p.RFIs)) {
			t.Errorf("project %d rfis: total %d nodes %d, sandbox %d", p.ID, pn.RFIs.TotalCount, len(pn.RFIs.Nodes), len(p.RFIs))
		}
		for j, rn := range pn.RFIs.Nodes {
			r := p.RFIs[j]
			if rn.ID != id(r.ID) || rn.Subject != r.Subject || rn.Status != strings.ToUpper(r.Status) {
				t.Errorf("rfi %d/%d: got %s %q %s, want %d %q %s", p.ID, j, rn.ID, rn.Subject, rn.Status, r.ID, r.Subject, r.Status)
				break
			}
			var bic []string
			for _, b := range rn.BallInCourt {
				bic = append(bic, b.ID)
			}
			var want []string
			for _, b := range r.BallInCourtIDs {
				want = append(want, id(b))
			}
			if strings.Join(bic, ",") != strings.Join(want, ",") {
				t.Errorf("rfi %d ball in court: got %v want %v", r.ID, bic, want)
			}
		}
		if pn.Submittals.TotalCount != len(p.Submittals) {
			t.Errorf("project %d submittals: total %d, sandbox %d", p.ID, pn.Submittals.TotalCount, len(p.Submittals))
		}
		for j, sn := range pn.Submittals.Nodes {
			if s := p.Submittals[j]; sn.ID != id(s.ID) || sn.Title != s.Title || sn.Status == nil || sn.Status.ID != id(s.StatusID) {
				t.Errorf("submittal %d/%d mismatch: %+v vs %d %q", p.ID, j, sn, s.ID, s.Title)
				break
			}
		}
		// Commitments: both kinds, merged by id.
		if pn.Commitments.TotalCount != len(p.Commitments) {
			t.Errorf("project %d commitments: total %d, sandbox %d", p.ID, pn.Commitments.TotalCount, len(p.Commitments))
		}
		var reqs []struct {
			ID           int64 `json:"id"`
			CommitmentID int64 `json:"commitment_id"`
			Summary      struct {
				TotalRetainage    string `json:"total_retainage"`
				CurrentPaymentDue string `json:"current_payment_due"`
			} `json:"summary"`
		}
		rest.get(t, fmt.Sprintf("/rest/v1.1/requisitions?project_id=%d&per_page=100", p.ID), &reqs)
		byCommitment := map[string][]int{}
		for k, r := range reqs {
			byCommitment[id(r.CommitmentID)] = append(byCommitment[id(r.CommitmentID)], k)
		}
		for _, cn := range pn.Commitments.Nodes {
			want := byCommitment[cn.ID]
			if cn.Invoices.TotalCount != len(want) {
				t.Errorf("commitment %s invoices: %d, sandbox %d", cn.ID, cn.Invoices.TotalCount, len(want))
				continue
			}
			for k, in := range cn.Invoices.Nodes {
				r := reqs[want[k]]
				if in.ID != id(r.ID) || !decimalEqual(in.Summary.TotalRetainage, r.Summary.TotalRetainage) ||
					!decimalEqual(in.Summary.CurrentPaymentDue, r.Summary.CurrentPaymentDue) {
					t.Errorf("invoice %s: got %+v, sandbox %+v", in.ID, in, r)
				}
			}
			if c := p.Commitment(mustID(t, cn.ID)); c == nil || c.Title != cn.Title || c.Number != cn.Number {
				t.Errorf("commitment %s not in sandbox or differs", cn.ID)
			} else if (c.Kind == "WorkOrderContract") != (cn.Kind == "SUBCONTRACT") {
				t.Errorf("commitment %s kind %s, sandbox %s", cn.ID, cn.Kind, c.Kind)
			}
		}
	}
}

func mustID(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// decimalEqual compares decimal strings by value ("12.50" == "12.5").
func decimalEqual(a, b string) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && (a == b || x == y)
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

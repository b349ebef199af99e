package main

import (
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// Page sizes the Procore API allows (sandbox/ROUTES.md), which the formulas use.
const (
	maxPerPageRFIs         = 100
	maxPerPageSubmittals   = 100
	maxPerPageRequisitions = 100
	maxPerPageContracts    = 100
	maxPerPageProjects     = 300
)

// pages is how many list calls fetch the first `want` of n items at perPage
// (at least one: an empty list still costs a call).
func pages(n, want, perPage int) int {
	if want > 0 && n > want {
		n = want
	}
	if n == 0 {
		return 1
	}
	return (n + perPage - 1) / perPage
}

// dashboardShape counts what the dashboard query touches in the sandbox.
type dashboardShape struct {
	projects                       int
	rfis, submittals, wo, po, invs []int // per project
	invoicesPerCommitment          [][]int
}

func shapeOf(sb *sandbox.Running) dashboardShape {
	var s dashboardShape
	sb.ReadDataset(func(d *data.Dataset) {
		company := d.Companies[0].ID
		for _, p := range d.Projects {
			if p.CompanyID != company || !p.Active {
				continue
			}
			if s.projects == 50 {
				break
			}
			s.projects++
			var wo, po int
			var perC []int
			for _, c := range p.Commitments {
				if c.Kind == "WorkOrderContract" {
					wo++
				} else {
					po++
				}
				n := 0
				for _, inv := range p.Invoices {
					if inv.CommitmentID == c.ID {
						n++
					}
				}
				perC = append(perC, n)
			}
			s.rfis = append(s.rfis, len(p.RFIs))
			s.submittals = append(s.submittals, len(p.Submittals))
			s.wo = append(s.wo, wo)
			s.po = append(s.po, po)
			s.invs = append(s.invs, len(p.Invoices))
			s.invoicesPerCommitment = append(s.invoicesPerCommitment, perC)
		}
	})
	return s
}

// minimumCalls is the fewest Procore calls that answer the dashboard query:
// one projects page; per project the RFI and submittal pages for 200 items,
// one work order and one purchase order contract list (each ≤ 100 items), and
// the project's requisition pages, which answer the invoices of every
// commitment at once. Procore has no cross-project list for any of these.
func (s dashboardShape) minimumCalls() int {
	n := pages(s.projects, 50, maxPerPageProjects)
	for i := 0; i < s.projects; i++ {
		n += pages(s.rfis[i], 200, maxPerPageRFIs) + pages(s.submittals[i], 200, maxPerPageSubmittals) +
			pages(s.wo[i], 100, maxPerPageContracts) + pages(s.po[i], 100, maxPerPageContracts) +
			pages(s.invs[i], 0, maxPerPageRequisitions)
	}
	return n
}

// naiveCalls is the N+1 count without batching: the same lists, but one
// requisitions call per commitment instead of one per project.
func (s dashboardShape) naiveCalls() int {
	n := pages(s.projects, 50, maxPerPageProjects)
	for i := 0; i < s.projects; i++ {
		n += pages(s.rfis[i], 200, maxPerPageRFIs) + pages(s.submittals[i], 200, maxPerPageSubmittals) +
			pages(s.wo[i], 100, maxPerPageContracts) + pages(s.po[i], 100, maxPerPageContracts)
		for _, k := range s.invoicesPerCommitment[i] {
			n += pages(k, 0, maxPerPageRequisitions)
		}
	}
	return n
}

// TestDashboardUpstreamCalls proves batching and caching by exact counts from
// the sandbox's statistics: cold = the minimum the API allows, warm = 0, and
// the naive mode = the N+1 count.
func TestDashboardUpstreamCalls(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 6, ItemsPerProject: 10,
		RFIsPerProject: 150, CommitmentsPerProject: 6}, HourlyLimit: -1, SpikeLimit: -1})
	shape := shapeOf(sb)
	q := readQuery(t, "bench/queries/dashboard.graphql")
	if shape.naiveCalls() < shape.minimumCalls()+shape.projects {
		t.Fatalf("dataset too small to tell batching from N+1: min %d naive %d", shape.minimumCalls(), shape.naiveCalls())
	}

	t.Run("ColdEqualsMinimum", func(t *testing.T) {
		g := startGateway(t, copyEnv(env))
		sb.ResetStats()
		r := g.query(t, q, nil)
		st := sb.Stats() // before the assertions, which read the sandbox too
		assertDashboardMatches(t, sb, decodeDashboard(t, r))
		if got, want := int(st.Total), shape.minimumCalls(); got != want {
			t.Fatalf("cold dashboard made %d Procore calls, want the minimum %d (by route: %v)", got, want, st.ByRoute)
		}
		t.Run("WarmIsZero", func(t *testing.T) {
			sb.ResetStats()
			r := g.query(t, q, nil)
			st := sb.Stats() // before the assertions, which read the sandbox too
			assertDashboardMatches(t, sb, decodeDashboard(t, r))
			if got := st.Total; got != 0 {
				t.Fatalf("warm dashboard made %d Procore calls, want 0 (by route: %v)", got, st.ByRoute)
			}
			if x := r.Extensions.Procoregraph; x.ResponseCache != "hit" || x.UpstreamCalls != 0 {
				t.Fatalf("warm dashboard not answered by the response cache: %+v", x)
			}
		})
		t.Run("WarmFromValueCacheIsZero", func(t *testing.T) {
			// The same document with a comment has no stored answer: it is
			// executed, every value coming from the value cache.
			// (Cache-Control: no-cache would read Procore: TestCacheControlMaxAgeZeroReadsProcore.)
			sb.ResetStats()
			r := g.query(t, q+"\n# executed from the value cache", nil)
			st := sb.Stats() // before the assertions, which read the sandbox too
			assertDashboardMatches(t, sb, decodeDashboard(t, r))
			if got := st.Total; got != 0 {
				t.Fatalf("warm dashboard made %d Procore calls, want 0 (by route: %v)", got, st.ByRoute)
			}
			// Misses are not refused: the cache writes behind (cache/values.go
			// writeBehind), after the cold query's answer is sent, and a read
			// in between misses the store and takes the values from the
			// fetch that landed them, still without a Procore call.
			if x := r.Extensions.Procoregraph; x.ResponseCache != "miss" || x.CacheHits == 0 || x.UpstreamCalls != 0 {
				t.Fatalf("debug extensions: %+v", x)
			}
		})
	})
	t.Run("NaiveIsNPlusOne", func(t *testing.T) {
		g := startGateway(t, copyEnv(env), "-naive", "-no-cache")
		sb.ResetStats()
		r := g.query(t, q, nil)
		st := sb.Stats()
		assertDashboardMatches(t, sb, decodeDashboard(t, r))
		if got, want := int(st.Total), shape.naiveCalls(); got != want {
			t.Fatalf("naive dashboard made %d Procore calls, want N+1 = %d (by route: %v)", got, want, st.ByRoute)
		}
	})
}

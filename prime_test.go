package main

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/shopspring/decimal"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

const primeQuery = `{ projects(first: 25) { nodes { id primeContracts(first: 5) { totalCount nodes {
  id number title status originalValue approvedChangeOrders revisedValue retainagePercent pendingChangeOrders
  scheduleOfValues { id description costCode scheduledValue }
  paymentApplications { totalCount nodes { id number status periodStart periodEnd billingDate g702 {
    originalContractSum netChangeByChangeOrders contractSumToDate totalCompletedAndStoredToDate
    completedWorkRetainagePercent completedWorkRetainageAmount storedMaterialsRetainagePercent storedMaterialsRetainageAmount
    totalRetainage totalEarnedLessRetainage lessPreviousCertificates currentPaymentDue balanceToFinishIncludingRetainage } } } } } } } }`

type primeAnswer struct {
	Projects struct {
		Nodes []struct {
			ID             string `json:"id"`
			PrimeContracts struct {
				TotalCount int `json:"totalCount"`
				Nodes      []struct {
					ID                   string  `json:"id"`
					Number               string  `json:"number"`
					Title                string  `json:"title"`
					Status               string  `json:"status"`
					OriginalValue        string  `json:"originalValue"`
					ApprovedChangeOrders string  `json:"approvedChangeOrders"`
					RevisedValue         string  `json:"revisedValue"`
					RetainagePercent     *string `json:"retainagePercent"`
					PendingChangeOrders  *string `json:"pendingChangeOrders"`
					ScheduleOfValues     []struct {
						ID             string  `json:"id"`
						Description    string  `json:"description"`
						CostCode       *string `json:"costCode"`
						ScheduledValue string  `json:"scheduledValue"`
					} `json:"scheduleOfValues"`
					PaymentApplications struct {
						TotalCount int `json:"totalCount"`
						Nodes      []struct {
							ID          string            `json:"id"`
							Number      int               `json:"number"`
							Status      string            `json:"status"`
							PeriodStart string            `json:"periodStart"`
							PeriodEnd   string            `json:"periodEnd"`
							BillingDate string            `json:"billingDate"`
							G702        map[string]string `json:"g702"`
						} `json:"nodes"`
					} `json:"paymentApplications"`
				} `json:"nodes"`
			} `json:"primeContracts"`
		} `json:"nodes"`
	} `json:"projects"`
}

// primeExpectedG702 computes a payment application's AIA G702 from the
// sandbox's raw rows, independently of the sandbox's and the gateway's code:
// line 1 the contract's original value; 2 the approved change orders at the
// time; 3 = 1 + 2; 4 work completed + materials stored to date; 5a/5b those
// times their retainage percents (rounded half away from zero to cents);
// 5 = 5a + 5b; 6 = 4 - 5; 7 = line 6 of the previous application (0 for the
// first); 8 = 6 - 7; 9 = 3 - 6.
func primeExpectedG702(pc *data.PrimeContract, i int) map[string]decimal.Decimal {
	d := func(f data.Fixed) decimal.Decimal { return decimal.New(int64(f), -2) }
	pct := func(amount, percent data.Fixed) decimal.Decimal {
		return d(amount).Mul(d(percent)).Div(decimal.NewFromInt(100)).Round(2)
	}
	earned := func(j int) decimal.Decimal {
		a := pc.PaymentApplications[j]
		return d(a.WorkCompletedToDate).Add(d(a.StoredToDate)).
			Sub(pct(a.WorkCompletedToDate, a.WorkRetainagePercent).Add(pct(a.StoredToDate, a.StoredRetainagePct)))
	}
	a := pc.PaymentApplications[i]
	m := map[string]decimal.Decimal{}
	m["originalContractSum"] = d(pc.OriginalValue)
	m["netChangeByChangeOrders"] = d(a.NetChangeByCOs)
	m["contractSumToDate"] = m["originalContractSum"].Add(m["netChangeByChangeOrders"])
	m["totalCompletedAndStoredToDate"] = d(a.WorkCompletedToDate).Add(d(a.StoredToDate))
	m["completedWorkRetainagePercent"] = d(a.WorkRetainagePercent)
	m["completedWorkRetainageAmount"] = pct(a.WorkCompletedToDate, a.WorkRetainagePercent)
	m["storedMaterialsRetainagePercent"] = d(a.StoredRetainagePct)
	m["storedMaterialsRetainageAmount"] = pct(a.StoredToDate, a.StoredRetainagePct)
	m["totalRetainage"] = m["completedWorkRetainageAmount"].Add(m["storedMaterialsRetainageAmount"])
	m["totalEarnedLessRetainage"] = earned(i)
	m["lessPreviousCertificates"] = decimal.Zero
	if i > 0 {
		m["lessPreviousCertificates"] = earned(i - 1)
	}
	m["currentPaymentDue"] = m["totalEarnedLessRetainage"].Sub(m["lessPreviousCertificates"])
	m["balanceToFinishIncludingRetainage"] = m["contractSumToDate"].Sub(m["totalEarnedLessRetainage"])
	return m
}

var primeStatusWant = map[string]string{"Draft": "DRAFT", "Out For Bid": "OUT_FOR_BID", "Out For Signature": "OUT_FOR_SIGNATURE",
	"Approved": "APPROVED", "Complete": "COMPLETE", "Terminated": "TERMINATED"}

// TestPrimeContractsAcrossProjects reads every project's prime contracts,
// their schedules of values, pending change orders and payment applications
// in one query. Minimum Procore calls: 1 projects page (≤ 300 projects) + per
// project 1 prime contract list (≤ 100 contracts) + per prime contract 1
// payment application list (≤ 100 applications), 1 line item list (≤ 100
// lines) and 1 show (pending change orders, which the list lacks)
// = 1 + P + 3C, here with one contract a project 1 + 4P. Warm: 0. Every G702 figure is
// compared to the cent with primeExpectedG702.
func TestPrimeContractsAcrossProjects(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 20, ItemsPerProject: 2},
		HourlyLimit: -1, SpikeLimit: -1})
	contracts := map[string]*data.PrimeContract{}
	projects, nContracts, nApps := 0, 0, 0
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if p.CompanyID != d.Companies[0].ID || !p.Active {
				continue
			}
			projects++
			for _, pc := range p.PrimeContracts {
				contracts[strconv.FormatInt(pc.ID, 10)] = pc
				nContracts++
				nApps += len(pc.PaymentApplications)
			}
		}
	})
	if projects < 10 || nApps < projects {
		t.Fatalf("dataset too small: %d projects, %d payment applications", projects, nApps)
	}
	minimum := 1 + projects + 3*nContracts

	g := startGateway(t, copyEnv(env))
	check := func(t *testing.T, r gqlResponse) {
		t.Helper()
		if len(r.Errors) > 0 {
			t.Fatalf("errors: %s", r.Errors)
		}
		var out primeAnswer
		if err := json.Unmarshal(r.Data, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Projects.Nodes) != projects {
			t.Fatalf("%d projects, want %d", len(out.Projects.Nodes), projects)
		}
		seenContracts, seenApps := 0, 0
		for _, p := range out.Projects.Nodes {
			for _, c := range p.PrimeContracts.Nodes {
				seenContracts++
				pc := contracts[c.ID]
				if pc == nil || strconv.FormatInt(pc.ProjectID, 10) != p.ID {
					t.Fatalf("prime contract %s of project %s is not in the dataset", c.ID, p.ID)
				}
				orig, appr := decimal.New(int64(pc.OriginalValue), -2), decimal.New(int64(pc.ApprovedChangeOrders), -2)
				for name, pair := range map[string][2]string{
					"status":               {c.Status, primeStatusWant[pc.Status]},
					"number":               {c.Number, pc.Number},
					"originalValue":        {decimalString(t, c.OriginalValue), orig.StringFixed(2)},
					"approvedChangeOrders": {decimalString(t, c.ApprovedChangeOrders), appr.StringFixed(2)},
					"revisedValue":         {decimalString(t, c.RevisedValue), orig.Add(appr).StringFixed(2)},
					"retainagePercent":     {decimalString(t, *c.RetainagePercent), decimal.New(int64(pc.RetainagePercent), -2).StringFixed(2)},
					"pendingChangeOrders":  {decimalString(t, *c.PendingChangeOrders), decimal.New(int64(pc.PendingChangeOrders), -2).StringFixed(2)},
				} {
					if pair[0] != pair[1] {
						t.Errorf("contract %s %s = %q, want %q", c.ID, name, pair[0], pair[1])
					}
				}
				if len(c.ScheduleOfValues) != len(pc.Lines) {
					t.Fatalf("contract %s: %d schedule of values lines, want %d", c.ID, len(c.ScheduleOfValues), len(pc.Lines))
				}
				sum := decimal.Zero
				for i, l := range c.ScheduleOfValues {
					row := pc.Lines[i]
					v, _ := decimal.NewFromString(l.ScheduledValue)
					sum = sum.Add(v)
					if l.ID != strconv.FormatInt(row.ID, 10) || l.Description != row.Description || v.StringFixed(2) != decimal.New(int64(row.Amount), -2).StringFixed(2) {
						t.Errorf("line %d of contract %s: %+v, want row %+v", i, c.ID, l, row)
					}
					if (row.CostCodeID != 0) != (l.CostCode != nil) {
						t.Errorf("line %s cost code %v, row has cost code id %d", l.ID, l.CostCode, row.CostCodeID)
					}
				}
				// The schedule of values adds up to the original value.
				if sum.StringFixed(2) != orig.StringFixed(2) {
					t.Errorf("contract %s: schedule of values sums to %s, original value %s", c.ID, sum.StringFixed(2), orig.StringFixed(2))
				}
				apps := c.PaymentApplications.Nodes
				if len(apps) != len(pc.PaymentApplications) || c.PaymentApplications.TotalCount != len(apps) {
					t.Fatalf("contract %s: %d payment applications (total %d), want %d", c.ID, len(apps), c.PaymentApplications.TotalCount, len(pc.PaymentApplications))
				}
				for i, a := range apps {
					seenApps++
					row := pc.PaymentApplications[i]
					if a.ID != strconv.FormatInt(row.ID, 10) || a.Number != row.Number || a.PeriodEnd != row.PeriodEnd.Format("2006-01-02") ||
						a.BillingDate != row.BillingDate.Format("2006-01-02") {
						t.Errorf("application %d of contract %s: %+v, want row %+v", i, c.ID, a, row)
					}
					for name, want := range primeExpectedG702(pc, i) {
						if got := decimalString(t, a.G702[name]); got != want.StringFixed(2) {
							t.Errorf("application %s g702.%s = %s, want %s", a.ID, name, got, want.StringFixed(2))
						}
					}
				}
			}
		}
		if seenContracts != nContracts || seenApps != nApps {
			t.Fatalf("saw %d contracts and %d applications, want %d and %d", seenContracts, seenApps, nContracts, nApps)
		}
	}

	sb.ResetStats()
	r := g.query(t, primeQuery, nil)
	st := sb.Stats()
	check(t, r)
	if got := int(st.Total); got != minimum {
		t.Fatalf("cold: %d Procore calls, want 1 + P + 3C = 1 + %d + 3·%d = %d (by route: %v)", got, projects, nContracts, minimum, st.ByRoute)
	}
	t.Logf("cold: %d projects, %d prime contracts, %d payment applications: %d Procore calls", projects, nContracts, nApps, st.Total)
	t.Run("WarmIsZero", func(t *testing.T) {
		sb.ResetStats()
		r := g.query(t, primeQuery+"\n# executed from the value cache", nil)
		st := sb.Stats()
		check(t, r)
		if st.Total != 0 {
			t.Fatalf("warm: %d Procore calls, want 0 (by route: %v)", st.Total, st.ByRoute)
		}
	})
}

// decimalString normalizes a Decimal scalar to two places.
func decimalString(t *testing.T, s string) string {
	t.Helper()
	v, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatalf("not a decimal: %q", s)
	}
	return v.StringFixed(2)
}

// TestPrimeStatusDriftGivesUnknown injects statuses Procore does not publish
// into prime contracts and payment applications: both read as UNKNOWN, with
// no error.
func TestPrimeStatusDriftGivesUnknown(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 4, ItemsPerProject: 2},
		HourlyLimit: -1, SpikeLimit: -1})
	apps := 0
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if p.Active {
				for _, pc := range p.PrimeContracts {
					apps += len(pc.PaymentApplications)
				}
			}
		}
	})
	if apps == 0 {
		t.Fatal("no payment applications to drift")
	}
	sb.SetFaults(sandbox.Faults{Drift: sandbox.Drift{Rules: []sandbox.DriftRule{
		{Resource: "prime_contracts", Kind: sandbox.DriftUnknownEnum, Field: "status", Value: json.RawMessage(`"Suspended"`)},
		{Resource: "payment_applications", Kind: sandbox.DriftUnknownEnum, Field: "status", Value: json.RawMessage(`"on_hold"`)},
	}}})
	g := startGateway(t, copyEnv(env), "-no-cache")
	r := g.query(t, `{ projects(first: 10) { nodes { primeContracts(first: 5) { nodes { status paymentApplications { nodes { status } } } } } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %s", r.Errors)
	}
	var out struct {
		Projects struct {
			Nodes []struct {
				PrimeContracts struct {
					Nodes []struct {
						Status              string `json:"status"`
						PaymentApplications struct {
							Nodes []struct {
								Status string `json:"status"`
							} `json:"nodes"`
						} `json:"paymentApplications"`
					} `json:"nodes"`
				} `json:"primeContracts"`
			} `json:"nodes"`
		} `json:"projects"`
	}
	if err := json.Unmarshal(r.Data, &out); err != nil {
		t.Fatal(err)
	}
	contracts, seen := 0, 0
	for _, p := range out.Projects.Nodes {
		for _, c := range p.PrimeContracts.Nodes {
			contracts++
			if c.Status != "UNKNOWN" {
				t.Errorf("prime contract status %q, want UNKNOWN", c.Status)
			}
			for _, a := range c.PaymentApplications.Nodes {
				seen++
				if a.Status != "UNKNOWN" {
					t.Errorf("payment application status %q, want UNKNOWN", a.Status)
				}
			}
		}
	}
	if contracts == 0 || seen != apps {
		t.Fatalf("saw %d contracts and %d applications, want some and %d", contracts, seen, apps)
	}
}

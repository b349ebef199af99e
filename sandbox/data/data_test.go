package data

import (
	"reflect"
	"testing"
)

func TestGenerateIsDeterministic(t *testing.T) {
	o := Options{Seed: 42, Companies: 2, ProjectsPerCompany: 2, ItemsPerProject: 10}
	a, b := Generate(o), Generate(o)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two datasets from the same options differ")
	}
	o.Seed = 43
	if c := Generate(o); reflect.DeepEqual(a.Projects[0].RFIs, c.Projects[0].RFIs) {
		t.Fatal("another seed gave the same RFIs")
	}
}

func TestGenerateSizesAndOverrides(t *testing.T) {
	d := Generate(Options{Seed: 1, Companies: 3, ProjectsPerCompany: 2, ItemsPerProject: 7, RFIsPerProject: 250, PunchItemsPerProject: -1})
	if len(d.Companies) != 3 || len(d.Projects) != 6 {
		t.Fatalf("%d companies, %d projects", len(d.Companies), len(d.Projects))
	}
	for _, p := range d.Projects {
		if len(p.RFIs) != 250 || len(p.Submittals) != 7 || len(p.Observations) != 7 || len(p.PunchItems) != 0 {
			t.Fatalf("project sizes: %d RFIs, %d submittals, %d observations, %d punch items", len(p.RFIs), len(p.Submittals), len(p.Observations), len(p.PunchItems))
		}
		if !p.HasUser(d.DemoUserID) || !p.HasUser(d.ServiceUserID) {
			t.Fatal("demo user or service account missing from a project")
		}
	}
}

func TestIDsAreAbove32BitsAndUnique(t *testing.T) {
	d := Generate(Options{Seed: 2})
	seen := map[int64]bool{}
	check := func(id int64) {
		t.Helper()
		if id <= 1<<32 {
			t.Fatalf("id %d does not exceed 2^32", id)
		}
		if seen[id] {
			t.Fatalf("id %d used twice", id)
		}
		seen[id] = true
	}
	for _, c := range d.Companies {
		check(c.ID)
		for _, v := range c.Vendors {
			check(v.ID)
		}
	}
	for _, u := range d.Users {
		check(u.ID)
	}
	for _, p := range d.Projects {
		check(p.ID)
		for _, x := range p.RFIs {
			check(x.ID)
		}
		for _, x := range p.Commitments {
			check(x.ID)
			for _, li := range x.LineItems {
				check(li.ID)
			}
		}
		for _, x := range p.Invoices {
			check(x.ID)
		}
	}
}

func TestGeneratedInvoicesAreConsistent(t *testing.T) {
	d := Generate(Options{Seed: 3, Companies: 2, ProjectsPerCompany: 4, CommitmentsPerProject: 8})
	n := 0
	for _, p := range d.Projects {
		for _, inv := range p.Invoices {
			n++
			c := p.Commitment(inv.CommitmentID)
			if !c.Invoiceable() {
				t.Fatalf("invoice %d on a %s commitment", inv.ID, c.Status)
			}
			s := p.G702(inv)
			var completed, ret Fixed
			for _, row := range p.G703(inv) {
				completed += row.TotalCompletedAndStored
				ret += row.WorkRetainageFromPrevious + row.WorkRetainageRetained - row.WorkRetainageReleased + row.MaterialsRetainage
				if row.TotalCompletedAndStored > row.ScheduledValue {
					t.Fatalf("invoice %d bills %s on a %s line", inv.ID, row.TotalCompletedAndStored, row.ScheduledValue)
				}
			}
			var prevPaid Fixed
			for _, o := range p.CommitmentInvoices(c.ID) {
				if o.Number < inv.Number {
					prevPaid += p.G702(o).CurrentPaymentDue
				}
			}
			if s.TotalCompletedAndStoredToDate != completed || s.TotalRetainage != ret || s.TotalEarnedLessRetainage != completed-ret ||
				s.LessPreviousCertificates != prevPaid || s.CurrentPaymentDue != completed-ret-prevPaid ||
				s.BalanceToFinishInclRetainage != s.ContractSumToDate-(completed-ret) {
				t.Fatalf("invoice %d summary %+v inconsistent (completed %s retainage %s previous %s)", inv.ID, s, completed, ret, prevPaid)
			}
		}
	}
	if n == 0 {
		t.Fatal("no invoices generated")
	}
}

func TestFixed(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{{"1234.5", "1234.50", false}, {"-0.05", "-0.05", false}, {"10", "10.00", false}, {"1.005", "", true}, {"abc", "", true}} {
		f, err := ParseFixed(tc.in)
		if (err != nil) != tc.err || (!tc.err && f.String() != tc.want) {
			t.Errorf("ParseFixed(%q) = %s, %v", tc.in, f, err)
		}
	}
	if got := Fixed(333333).PercentOf(1000); got != 33333 { // 10% of 3333.33 = 333.333 → 333.33
		t.Errorf("PercentOf = %s", got)
	}
	if got := Fixed(1000005).PercentOf(500); got != 50000 { // 5% of 10000.05 = 500.0025 → 500.00
		t.Errorf("PercentOf = %s", got)
	}
	if got := Fixed(-15).PercentOf(5000); got != -8 { // -0.075 → -0.08 (half away from zero)
		t.Errorf("PercentOf negative = %d", got)
	}
}

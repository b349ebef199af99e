package sandbox_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestReadsTakeOnlyProcoresParameters: the list endpoints honour the filters
// Procore's contract gives them and ignore the others, as Procore does, so a
// client sending a filter an endpoint lacks gets the unfiltered list.
func TestReadsTakeOnlyProcoresParameters(t *testing.T) {
	// Every seventh project is inactive: eight give one.
	e := start(t, sandbox.Config{Seed: 21, Data: data.Options{Companies: 1, ProjectsPerCompany: 8, ItemsPerProject: 3}})
	co := e.ds().Companies[0]
	p := e.project()
	ids := func(r reply) []int64 {
		t.Helper()
		expectStatus(t, r, http.StatusOK)
		var items []struct{ ID int64 }
		r.json(t, &items)
		var out []int64
		for _, it := range items {
			out = append(out, it.ID)
		}
		return out
	}
	var active, inactive, all []int64
	for _, x := range e.ds().Projects {
		if x.CompanyID != co.ID {
			continue
		}
		all = append(all, x.ID)
		if x.Active {
			active = append(active, x.ID)
		} else {
			inactive = append(inactive, x.ID)
		}
	}
	if len(inactive) == 0 {
		t.Fatal("the dataset has no inactive project")
	}

	t.Run("ProjectsByStatusIsFiltersByStatus", func(t *testing.T) {
		list := fmt.Sprintf("/rest/v1.1/projects?company_id=%d", co.ID)
		for status, want := range map[string][]int64{"Active": active, "Inactive": inactive, "All": all} {
			if got := ids(e.get(list + "&filters[by_status]=" + status)); !slices.Equal(got, want) {
				t.Errorf("filters[by_status]=%s: %v, want %v", status, got, want)
			}
			// A bare by_status is no parameter of Procore's: the default, active projects.
			if got := ids(e.get(list + "&by_status=" + status)); !slices.Equal(got, active) {
				t.Errorf("by_status=%s: %v, want the active projects %v", status, got, active)
			}
		}
		got := ids(e.get(fmt.Sprintf("%s&filters[by_status]=All&filters[id][]=%d", list, inactive[0])))
		if !slices.Equal(got, inactive[:1]) {
			t.Errorf("an inactive project by id: %v", got)
		}
	})
	t.Run("CompanyUsersHaveNoIDFilterButAShowRoute", func(t *testing.T) {
		u := co.UserIDs[2]
		got := ids(e.get(fmt.Sprintf("/rest/v1.3/companies/%d/users?filters[id][]=%d", co.ID, u)))
		if len(got) != min(len(co.UserIDs), 100) {
			t.Errorf("filters[id][] on company users kept %d users: Procore has no such filter", len(got))
		}
		r := e.get(fmt.Sprintf("/rest/v1.3/companies/%d/users/%d", co.ID, u))
		expectStatus(t, r, http.StatusOK)
		var one struct{ ID int64 }
		r.json(t, &one)
		if one.ID != u {
			t.Errorf("show: %d, want %d", one.ID, u)
		}
		expectStatus(t, e.get(fmt.Sprintf("/rest/v1.3/companies/%d/users/1", co.ID)), http.StatusNotFound)
	})
	t.Run("ProjectUsersFilterByOneID", func(t *testing.T) {
		u := p.UserIDs[1]
		if got := ids(e.get(fmt.Sprintf("/rest/v1.0/projects/%d/users?filters[id]=%d", p.ID, u))); !slices.Equal(got, []int64{u}) {
			t.Errorf("filters[id]=%d: %v", u, got)
		}
		got := ids(e.get(fmt.Sprintf("/rest/v1.0/projects/%d/users?filters[id][]=%d&filters[id][]=%d", p.ID, u, p.UserIDs[2])))
		if len(got) != len(p.UserIDs) {
			t.Errorf("filters[id][] (not Procore's here) kept %d of %d users", len(got), len(p.UserIDs))
		}
	})
	t.Run("ProjectVendorsAndCostCodesHaveNoUpdatedAtFilter", func(t *testing.T) {
		future := e.ds().Base.AddDate(1, 0, 0).Format(time.RFC3339)
		window := "filters[updated_at]=" + future + "..." + future
		if got := ids(e.get(fmt.Sprintf("/rest/v1.1/projects/%d/vendors?%s", p.ID, window))); len(got) != len(p.VendorIDs) {
			t.Errorf("project vendors: %d of %d kept by a filter Procore does not have", len(got), len(p.VendorIDs))
		}
		if got := ids(e.get(fmt.Sprintf("/rest/v1.0/cost_codes?project_id=%d&per_page=100&%s", p.ID, window))); len(got) != min(len(p.CostCodes), 100) {
			t.Errorf("cost codes: %d of %d kept by a filter Procore does not have", len(got), len(p.CostCodes))
		}
		// Company vendors do have it.
		if got := ids(e.get(fmt.Sprintf("/rest/v1.0/vendors?company_id=%d&%s", co.ID, window))); len(got) != 0 {
			t.Errorf("company vendors updated in the future: %v", got)
		}
	})
}

package sandbox_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"procoregraph/sandbox"
)

// TestRecycleRFI: PATCH …/rfis/{id}/recycle (as Procore's "Recycle RFI",
// under the enforced contract) takes the RFI out of the list and the show,
// and the recycle bin lists it, within a filters[updated_at] window that
// starts before the recycling and not one that starts after it.
func TestRecycleRFI(t *testing.T) {
	e := start(t, sandbox.Config{Contract: sandbox.ContractEnforce})
	p := e.project()
	x := p.RFIs[0]
	base := fmt.Sprintf("/rest/v1.0/projects/%d/rfis", p.ID)
	before := time.Now().UTC().Add(-time.Minute)

	expectStatus(t, e.call("PATCH", fmt.Sprintf("%s/%d/recycle", base, x.ID), e.company(), nil), http.StatusOK)
	expectStatus(t, e.get(fmt.Sprintf("%s/%d", base, x.ID)), http.StatusNotFound)
	var listed []struct{ ID int64 }
	e.get(base+"?per_page=1000").json(t, &listed)
	for _, r := range listed {
		if r.ID == x.ID {
			t.Fatalf("recycled RFI %d still listed", x.ID)
		}
	}
	bin := func(from time.Time) []int64 {
		t.Helper()
		q := url.Values{"filters[updated_at]": {from.Format(time.RFC3339) + "..." + from.Add(time.Hour).Format(time.RFC3339)}}
		r := e.get(base + "/recycle_bin?" + q.Encode())
		expectStatus(t, r, http.StatusOK)
		var items []struct{ ID int64 }
		r.json(t, &items)
		var ids []int64
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		return ids
	}
	if got := bin(before); len(got) != 1 || got[0] != x.ID {
		t.Fatalf("recycle bin %v, want [%d]", got, x.ID)
	}
	if got := bin(time.Now().UTC().Add(time.Hour)); len(got) != 0 {
		t.Fatalf("recycle bin after the recycling %v, want none", got)
	}
	// Recycling again: the RFI is no longer there to recycle.
	expectStatus(t, e.call("PATCH", fmt.Sprintf("%s/%d/recycle", base, x.ID), e.company(), nil), http.StatusNotFound)
}

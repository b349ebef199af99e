package sandbox

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"procoregraph/sandbox/data"
)

// recycle sends x to p's recycle bin, as Procore's "Recycle RFI" does: it
// leaves the RFI lists and reads, its updated_at moves (so the recycle bin's
// filters[updated_at] finds it) and a "delete" webhook fires. The caller
// holds s.mu.
func (s *Server) recycle(p *data.Project, x *data.RFI, c *call) {
	p.RFIs = slices.DeleteFunc(p.RFIs, func(r *data.RFI) bool { return r == x })
	x.UpdatedAt = s.stamp(x.UpdatedAt)
	p.RecycledRFIs = append(p.RecycledRFIs, x)
	c.event(p.ID, resRFIs, x.ID, "delete")
}

// recycleRFI is PATCH /rest/v1.0/projects/{project_id}/rfis/{id}/recycle:
// admins and the RFI's manager may recycle it (403 for others).
func (s *Server) recycleRFI(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, x := s.rfiFor(w, r, c)
	if x == nil {
		return
	}
	if !c.admin && c.p.UserID != x.ManagerID {
		forbidden(w, "You do not have permission to recycle this RFI")
		return
	}
	s.recycle(p, x, c)
	s.writeOne(w, http.StatusOK, func(e *enc) { renderRFI(e, s.ds, p, x) })
}

// listRecycledRFIs is GET /rest/v1.0/projects/{project_id}/rfis/recycle_bin:
// the recycled RFIs the caller could see, with filters[updated_at] and
// standard paging, in id order.
func (s *Server) listRecycledRFIs(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	q := paramsOf(r)
	items, ok := filterOnly(w, q, p.RecycledRFIs, nil, func(x *data.RFI) time.Time { return x.UpdatedAt })
	if !ok {
		return
	}
	items = filterItems(items, func(x *data.RFI) bool { return s.canSeeRFI(c, x) })
	slices.SortFunc(items, func(a, b *data.RFI) int { return cmp.Compare(a.ID, b.ID) })
	writeList(s, w, r, items, pageStandard, func(e *enc, x *data.RFI) { renderRFI(e, s.ds, p, x) })
}

package data

import (
	"math/rand/v2"
	"time"
)

// Budget modifications and direct costs (issue 16, cost).
//
// They are generated after everything else, from a random stream of their
// own (seeded from the dataset seed with a constant of this file), with ids
// of kinds of their own: adding them changed no other generated value.
//
// They agree with the budget view rows the generator already drew:
//   - a budget line's modifications (BudgetLine.Modifications, the detail
//     rows' budget_modifications) are one or two budget modifications: a
//     positive share is a transfer to the line (to_budget_line_item_id), a
//     negative one a transfer from it (from_budget_line_item_id), the other
//     side empty (budget contingency outside the lines);
//   - a budget line's direct costs (BudgetLine.DirectCosts) are the grand
//     totals of its approved direct costs (one or two); some lines also carry
//     a draft, pending or revise-and-resubmit direct cost, which the budget
//     does not count.

// BudgetModification is a transfer of budget to and/or from a budget line
// item. FromLineID or ToLineID is 0 when that side is outside the lines.
type BudgetModification struct {
	ID             int64
	FromLineID     int64
	ToLineID       int64
	TransferAmount Fixed // always positive
	Notes          string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (m *BudgetModification) key() int64 { return m.ID }

// Net is the modification's effect on the project's budget: +amount when
// only the target is a line, −amount when only the source is, 0 between two
// lines.
func (m *BudgetModification) Net() Fixed {
	var n Fixed
	if m.ToLineID != 0 {
		n += m.TransferAmount
	}
	if m.FromLineID != 0 {
		n -= m.TransferAmount
	}
	return n
}

// DirectCost is a direct cost item (invoice, expense or payroll) charged to
// one budget line.
type DirectCost struct {
	ID            int64
	BudgetLineID  int64
	CostCodeID    int64
	Type          string // invoice | expense | payroll
	Status        string // draft | pending | revise_and_resubmit | approved
	Description   string
	InvoiceNumber string
	VendorID      int64
	Date          time.Time
	GrandTotal    Fixed
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (c *DirectCost) key() int64 { return c.ID }

// DirectCostStatuses are Procore's direct cost statuses.
var DirectCostStatuses = []string{"draft", "pending", "revise_and_resubmit", "approved"}

var directCostTypes = []string{"invoice", "expense", "payroll"}

var modificationNotes = []string{"Scope transfer from contingency", "Owner-approved allowance adjustment", "Value engineering savings", "Buyout savings returned to contingency"}

// BudgetModification returns the project's budget modification with id, or nil.
func (p *Project) BudgetModification(id int64) *BudgetModification {
	return find(p.BudgetModifications, id)
}

// DirectCost returns the project's direct cost with id, or nil.
func (p *Project) DirectCost(id int64) *DirectCost { return find(p.DirectCosts, id) }

// cost generates every project's budget modifications and direct costs.
func (g *gen) cost() {
	seed := uint64(g.o.Seed) ^ 0xc057c057c057c057
	cg := &gen{d: g.d, r: rand.New(rand.NewPCG(seed, seed^0x16)), o: g.o, day: g.day}
	for _, p := range g.d.Projects {
		cg.projectCost(p)
	}
}

// split divides total into n parts (n ≥ 1) summing exactly to total.
func (g *gen) split(total Fixed, n int) []Fixed {
	parts := make([]Fixed, n)
	rest := total
	for i := 0; i < n-1; i++ {
		parts[i] = Fixed(int64(total) * int64(30+g.intn(41)) / 100 / int64(n-1))
		rest -= parts[i]
	}
	parts[n-1] = rest
	return parts
}

func (g *gen) projectCost(p *Project) {
	d := g.d
	since := p.CreatedAt.Add(48 * time.Hour)
	if since.After(d.Base) {
		since = d.Base
	}
	for _, bl := range p.BudgetLines {
		if bl.Modifications != 0 {
			for _, amt := range g.split(bl.Modifications, 1+g.intn(2)) {
				m := &BudgetModification{ID: d.NextID(KindBudgetModification), Notes: choose(g, modificationNotes)}
				if amt >= 0 {
					m.ToLineID, m.TransferAmount = bl.ID, amt
				} else {
					m.FromLineID, m.TransferAmount = bl.ID, -amt
				}
				m.CreatedAt = g.after(since)
				m.UpdatedAt = g.after(m.CreatedAt)
				p.BudgetModifications = append(p.BudgetModifications, m)
			}
		}
		var dcs []Fixed
		if bl.DirectCosts != 0 {
			dcs = g.split(bl.DirectCosts, 1+g.intn(2))
		}
		for i, amt := range dcs {
			p.DirectCosts = append(p.DirectCosts, g.directCost(p, bl, "approved", amt, since, i))
		}
		if g.intn(3) == 0 {
			st := DirectCostStatuses[g.intn(3)]
			p.DirectCosts = append(p.DirectCosts, g.directCost(p, bl, st, g.money(500, 40_000), since, len(dcs)))
		}
	}
}

func (g *gen) directCost(p *Project, bl *BudgetLine, status string, amt Fixed, since time.Time, n int) *DirectCost {
	c := &DirectCost{ID: g.d.NextID(KindDirectCost), BudgetLineID: bl.ID, CostCodeID: bl.CostCodeID,
		Type: choose(g, directCostTypes), Status: status, GrandTotal: amt}
	c.Description = "Direct cost " + string(rune('A'+n)) + " — " + c.Type
	if c.Type == "invoice" {
		c.InvoiceNumber = "DC-" + itoaFixed(c.ID%100000)
	}
	if len(p.VendorIDs) > 0 && c.Type != "payroll" {
		c.VendorID = choose(g, p.VendorIDs)
	}
	c.CreatedAt = g.after(since)
	c.Date = time.Date(c.CreatedAt.Year(), c.CreatedAt.Month(), c.CreatedAt.Day(), 0, 0, 0, 0, time.UTC)
	c.UpdatedAt = g.after(c.CreatedAt)
	return c
}

func itoaFixed(n int64) string {
	b := []byte{}
	for i := 0; i < 5; i++ {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

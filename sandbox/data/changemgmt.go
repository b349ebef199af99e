package data

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Change management: change events, potential change orders (PCOs), change
// order requests (CORs), change order packages and prime change orders,
// generated per project according to Project.ChangeOrderTiers:
//
//   - every tier: change events, each with 1-3 line items (estimated cost
//     amounts), a status, a scope and sometimes an RFI of the project as
//     origin;
//   - 1 tier: prime change orders only (Procore's PCCO without PCOs), no
//     PCOs, CORs or packages;
//   - 2 tiers: one PCO per change event that is not void (its line items
//     copy the event's lines, each naming the change event line item it came
//     from), and prime change orders; no CORs or packages;
//   - 3 tiers: PCOs as on 2 tiers, grouped 1-2 per COR, CORs grouped 1-2 per
//     change order package; no prime change orders (Procore's
//     prime_change_orders list serves 1- and 2-tier projects only: on 3 tiers
//     the package is the executed change order).
//
// Everything here is drawn from a random stream of its own (changeManagement
// seeds it from the dataset seed), after every other generated value, with
// id kinds of its own: no value generated before it changed.

// ChangeMgmt is a project's change management items, each slice sorted by id.
type ChangeMgmt struct {
	Events            []*ChangeEvent
	PCOs              []*PotentialChangeOrder
	CORs              []*ChangeOrderRequest
	Packages          []*ChangeOrderPackage
	PrimeChangeOrders []*PrimeChangeOrder
}

// ChangeEvent is a Procore change event.
type ChangeEvent struct {
	ID     int64
	Number int
	Title  string
	// Description is set through the v1.1 update (the v1.0 create has no key for it).
	Description string
	Status      string // open|pending|closed|void
	Scope       string // tbd|in_scope|out_of_scope
	Type        string // tbd|allowance|contingency|owner_change|transfer
	RFIID       int64  // 0 = no RFI origin
	Lines       []ChangeEventLine
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ChangeEventLine is a change event line item.
type ChangeEventLine struct {
	ID          int64
	Description string
	CostCodeID  int64
	Amount      Fixed // estimated_cost_amount
}

// PotentialChangeOrder is a PCO; its lines name the change event lines
// they came from.
type PotentialChangeOrder struct {
	ID        int64
	Number    string
	Title     string
	Status    string
	CORID     int64 // 0 on 2-tier projects
	Lines     []PCOLine
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PCOLine is a PCO line item.
type PCOLine struct {
	ID                int64
	ChangeEventID     int64
	ChangeEventLineID int64
	CostCodeID        int64
	Description       string
	Amount            Fixed
}

// GrandTotal is the sum of the PCO's line amounts.
func (p *PotentialChangeOrder) GrandTotal() Fixed {
	var t Fixed
	for _, l := range p.Lines {
		t += l.Amount
	}
	return t
}

// ChangeOrderRequest is a COR (3-tier projects).
type ChangeOrderRequest struct {
	ID         int64
	Number     string
	Title      string
	Status     string
	PackageID  int64
	GrandTotal Fixed // sum of its PCOs' grand totals
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ChangeOrderPackage is a change order package (3-tier projects).
type ChangeOrderPackage struct {
	ID         int64
	Number     string
	Title      string
	Status     string
	GrandTotal Fixed // sum of its CORs' grand totals
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// PrimeChangeOrder is a prime contract change order (1- and 2-tier projects).
type PrimeChangeOrder struct {
	ID         int64
	Number     string
	Title      string
	Status     string
	PCOIDs     []int64 // 2-tier: the PCOs it executes
	GrandTotal Fixed   // 1-tier: drawn; 2-tier: sum of its PCOs
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

var (
	ceStatuses  = []string{"open", "open", "pending", "closed", "void"}
	ceScopes    = []string{"tbd", "in_scope", "out_of_scope"}
	ceTypes     = []string{"tbd", "allowance", "contingency", "owner_change", "transfer"}
	coStatuses  = []string{"draft", "pending", "approved", "approved", "rejected", "void"}
	changeTitle = []string{"Added scope", "Design revision", "Unforeseen condition", "Owner request", "Code compliance", "Value engineering"}
)

// changeManagement generates every project's change management items from a
// stream of its own.
func (g *gen) changeManagement(seed uint64) {
	cg := &gen{r: rand.New(rand.NewPCG(seed^0x43484e47, seed+0x6d676d74)), o: g.o, d: g.d, day: g.day}
	for _, p := range g.d.Projects {
		cg.changeMgmt(p)
	}
}

// cents returns an amount with cents between min and max dollars.
func (g *gen) cents(minDollars, maxDollars int64) Fixed {
	return Fixed(minDollars*100 + g.r.Int64N(max(1, (maxDollars-minDollars)*100)))
}

func (g *gen) changeMgmt(p *Project) {
	d := g.d
	cm := &p.ChangeMgmt
	n := 3 + g.intn(3)
	for i := 0; i < n; i++ {
		created := g.past(20, 200)
		ev := &ChangeEvent{ID: d.NextID(KindChangeEvent), Number: i + 1, Title: choose(g, changeTitle),
			Status: choose(g, ceStatuses), Scope: choose(g, ceScopes), Type: choose(g, ceTypes),
			CreatedAt: created, UpdatedAt: g.after(created)}
		if len(p.RFIs) > 0 && g.intn(2) == 0 {
			ev.RFIID = p.RFIs[g.intn(len(p.RFIs))].ID
		}
		for j, lines := 0, 1+g.intn(3); j < lines; j++ {
			l := ChangeEventLine{ID: d.NextID(KindChangeEventLine), Description: ev.Title + " line " + strconv.Itoa(j+1), Amount: g.cents(500, 40000)}
			if len(p.CostCodes) > 0 {
				l.CostCodeID = p.CostCodes[g.intn(len(p.CostCodes))].ID
			}
			ev.Lines = append(ev.Lines, l)
		}
		cm.Events = append(cm.Events, ev)
	}
	if p.ChangeOrderTiers >= 2 {
		for _, ev := range cm.Events {
			if ev.Status == "void" {
				continue
			}
			created := g.after(ev.CreatedAt)
			pco := &PotentialChangeOrder{ID: d.NextID(KindPCO), Number: strconv.Itoa(len(cm.PCOs) + 1), Title: ev.Title,
				Status: choose(g, coStatuses), CreatedAt: created, UpdatedAt: g.after(created)}
			for _, l := range ev.Lines {
				pco.Lines = append(pco.Lines, PCOLine{ID: d.NextID(KindPCOLine), ChangeEventID: ev.ID, ChangeEventLineID: l.ID,
					CostCodeID: l.CostCodeID, Description: l.Description, Amount: l.Amount})
			}
			cm.PCOs = append(cm.PCOs, pco)
		}
	}
	switch p.ChangeOrderTiers {
	case 1:
		for i, k := 0, 1+g.intn(3); i < k; i++ {
			created := g.past(5, 150)
			cm.PrimeChangeOrders = append(cm.PrimeChangeOrders, &PrimeChangeOrder{ID: d.NextID(KindPrimeChangeOrder),
				Number: strconv.Itoa(i + 1), Title: choose(g, changeTitle), Status: choose(g, coStatuses),
				GrandTotal: g.cents(1000, 90000), CreatedAt: created, UpdatedAt: g.after(created)})
		}
	case 2:
		for i := 0; i < len(cm.PCOs); {
			k := min(1+g.intn(2), len(cm.PCOs)-i)
			created := g.past(5, 150)
			pc := &PrimeChangeOrder{ID: d.NextID(KindPrimeChangeOrder), Number: strconv.Itoa(len(cm.PrimeChangeOrders) + 1),
				Title: cm.PCOs[i].Title, Status: choose(g, coStatuses), CreatedAt: created, UpdatedAt: g.after(created)}
			for _, pco := range cm.PCOs[i : i+k] {
				pc.PCOIDs = append(pc.PCOIDs, pco.ID)
				pc.GrandTotal += pco.GrandTotal()
			}
			cm.PrimeChangeOrders = append(cm.PrimeChangeOrders, pc)
			i += k
		}
	default:
		for i := 0; i < len(cm.PCOs); {
			k := min(1+g.intn(2), len(cm.PCOs)-i)
			created := g.past(5, 150)
			cor := &ChangeOrderRequest{ID: d.NextID(KindCOR), Number: strconv.Itoa(len(cm.CORs) + 1), Title: cm.PCOs[i].Title,
				Status: choose(g, coStatuses), CreatedAt: created, UpdatedAt: g.after(created)}
			for _, pco := range cm.PCOs[i : i+k] {
				pco.CORID = cor.ID
				cor.GrandTotal += pco.GrandTotal()
			}
			cm.CORs = append(cm.CORs, cor)
			i += k
		}
		for i := 0; i < len(cm.CORs); {
			k := min(1+g.intn(2), len(cm.CORs)-i)
			created := g.past(5, 150)
			pk := &ChangeOrderPackage{ID: d.NextID(KindCOPackage), Number: strconv.Itoa(len(cm.Packages) + 1), Title: cm.CORs[i].Title,
				Status: choose(g, coStatuses), CreatedAt: created, UpdatedAt: g.after(created)}
			for _, cor := range cm.CORs[i : i+k] {
				cor.PackageID = pk.ID
				pk.GrandTotal += cor.GrandTotal
			}
			cm.Packages = append(cm.Packages, pk)
			i += k
		}
	}
}

package data

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Prime contracts and owner payment applications.
//
// Every project gets one prime contract (Procore allows several; the
// generated data has one) with an original value, approved change orders and
// a retainage percent, and 0-4 payment applications (owner invoices) with
// the raw figures an AIA OwnerG702 is computed from: work completed and materials
// stored to date, the approved change orders at the time, and the two
// retainage percents. The sandbox renders the OwnerG702 from them (OwnerG702 below).
//
// They are drawn from a random stream of their own, seeded from the dataset
// seed, after everything else is generated: no other generated value
// changed when they were added.

// PrimeContract is a contract with the owner.
type PrimeContract struct {
	ID                   int64
	ProjectID            int64
	Number               string
	Title                string
	Status               string // Procore's: Draft, Out For Bid, Out For Signature, Approved, Complete, Terminated
	OriginalValue        Fixed  // grand_total
	ApprovedChangeOrders Fixed
	RetainagePercent     Fixed // hundredths of a percent: 10.00% = 1000
	CreatedAt, UpdatedAt time.Time
	PaymentApplications  []*PaymentApplication
	// PendingChangeOrders is the total of pending prime change orders.
	PendingChangeOrders Fixed
	// Lines are the schedule of values; their amounts sum to OriginalValue.
	Lines []*PrimeContractLine
}

// PrimeContractLine is a schedule of values line.
type PrimeContractLine struct {
	ID          int64
	Description string
	CostCodeID  int64 // 0: none
	Amount      Fixed
}

// PaymentApplication is an owner invoice: the raw figures of one period.
type PaymentApplication struct {
	ID                   int64
	Number               int
	Status               string // draft, under_review, revise_and_resubmit, approved
	InvoiceNumber        string
	PeriodStart          time.Time
	PeriodEnd            time.Time
	BillingDate          time.Time
	NetChangeByCOs       Fixed // approved prime change orders at the time
	WorkCompletedToDate  Fixed // G703 columns D+E summed
	StoredToDate         Fixed // G703 column F summed
	WorkRetainagePercent Fixed
	StoredRetainagePct   Fixed
	CreatedAt, UpdatedAt time.Time
}

// OwnerG702 are an owner payment application's AIA OwnerG702 figures.
type OwnerG702 struct {
	OriginalContractSum, NetChangeByChangeOrders, ContractSumToDate, TotalCompletedAndStoredToDate Fixed
	CompletedWorkRetainage, StoredMaterialsRetainage, TotalRetainage, TotalEarnedLessRetainage     Fixed
	LessPreviousCertificates, CurrentPaymentDue, BalanceToFinishIncludingRetainage                 Fixed
}

// OwnerG702 computes application i's OwnerG702 (AIA lines 1-9); i indexes
// c.PaymentApplications, which are in number order.
func (c *PrimeContract) OwnerG702(i int) OwnerG702 {
	a := c.PaymentApplications[i]
	var g OwnerG702
	g.OriginalContractSum = c.OriginalValue
	g.NetChangeByChangeOrders = a.NetChangeByCOs
	g.ContractSumToDate = g.OriginalContractSum + g.NetChangeByChangeOrders
	g.TotalCompletedAndStoredToDate = a.WorkCompletedToDate + a.StoredToDate
	g.CompletedWorkRetainage = a.WorkCompletedToDate.PercentOf(a.WorkRetainagePercent)
	g.StoredMaterialsRetainage = a.StoredToDate.PercentOf(a.StoredRetainagePct)
	g.TotalRetainage = g.CompletedWorkRetainage + g.StoredMaterialsRetainage
	g.TotalEarnedLessRetainage = g.TotalCompletedAndStoredToDate - g.TotalRetainage
	if i > 0 {
		g.LessPreviousCertificates = c.OwnerG702(i - 1).TotalEarnedLessRetainage
	}
	g.CurrentPaymentDue = g.TotalEarnedLessRetainage - g.LessPreviousCertificates
	g.BalanceToFinishIncludingRetainage = g.ContractSumToDate - g.TotalEarnedLessRetainage
	return g
}

var (
	primeStatuses = []string{"Draft", "Out For Signature", "Approved", "Approved", "Approved", "Complete"}
	payAppStatus  = []string{"draft", "under_review", "revise_and_resubmit", "approved"}
)

// primeContracts gives every project of d its prime contract.
func primeContracts(d *Dataset, seed uint64) {
	r := rand.New(rand.NewPCG(seed^0x5052494d45, seed+0x6f776e6572)) // "PRIME", "owner"
	money := func(lo, hi int64) Fixed { return Fixed((lo + r.Int64N(hi-lo)) * 100) }
	{
		for _, p := range d.Projects {
			created := p.CreatedAt.Add(time.Duration(r.IntN(240)) * time.Hour)
			pc := &PrimeContract{
				ID: d.NextID(KindPrimeContract), ProjectID: p.ID,
				Number:           "PC-" + p.ProjectNumber,
				Title:            "Owner contract, " + p.Name,
				Status:           primeStatuses[r.IntN(len(primeStatuses))],
				OriginalValue:    money(2_000_000, 9_000_000) + Fixed(r.IntN(100)),
				RetainagePercent: Fixed([]int64{500, 1000, 1000, 750}[r.IntN(4)]),
				CreatedAt:        created,
			}
			pc.UpdatedAt = created.Add(time.Duration(1+r.IntN(2000)) * time.Hour)
			n := r.IntN(5)
			start := time.Date(created.Year(), created.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0)
			var work, stored, cos Fixed
			for i := range n {
				cos += Fixed(r.Int64N(20_000_00)) - 2_000_00
				work += pc.OriginalValue.PercentOf(Fixed(500+r.IntN(1500))) + Fixed(r.IntN(100))
				stored = Fixed(r.Int64N(60_000_00))
				end := start.AddDate(0, 1, -1)
				st := "approved"
				if i == n-1 {
					st = payAppStatus[r.IntN(len(payAppStatus))]
				}
				a := &PaymentApplication{
					ID: d.NextID(KindPaymentApplication), Number: i + 1, Status: st,
					InvoiceNumber: "OI-" + strconv.Itoa(i+1),
					PeriodStart:   start, PeriodEnd: end, BillingDate: end.AddDate(0, 0, -5),
					NetChangeByCOs: cos, WorkCompletedToDate: work, StoredToDate: stored,
					WorkRetainagePercent: pc.RetainagePercent, StoredRetainagePct: pc.RetainagePercent,
					CreatedAt: end.Add(-72 * time.Hour),
				}
				a.UpdatedAt = a.CreatedAt.Add(time.Duration(1+r.IntN(300)) * time.Hour)
				if i == n-1 && r.IntN(2) == 0 {
					a.WorkRetainagePercent = pc.RetainagePercent / 2 // retainage reduced
				}
				pc.PaymentApplications = append(pc.PaymentApplications, a)
				start = start.AddDate(0, 1, 0)
			}
			pc.ApprovedChangeOrders = cos
			pc.PendingChangeOrders = Fixed(r.Int64N(50_000_00))
			// The schedule of values: 2-6 lines over the project's cost codes,
			// the last taking the remainder so they sum to the original value.
			nl, left := 2+r.IntN(5), pc.OriginalValue
			for k := range nl {
				amt := left
				if k < nl-1 {
					amt = left.PercentOf(Fixed(1000 + r.IntN(4000)))
				}
				left -= amt
				l := &PrimeContractLine{ID: d.NextID(KindPrimeContractLine), Description: "Scope " + strconv.Itoa(k+1), Amount: amt}
				if len(p.CostCodes) > 0 {
					l.CostCodeID = p.CostCodes[r.IntN(len(p.CostCodes))].ID
				}
				pc.Lines = append(pc.Lines, l)
			}
			for _, a := range pc.PaymentApplications {
				a.CreatedAt, a.UpdatedAt = notAfter(a.CreatedAt, d.Base), notAfter(a.UpdatedAt, d.Base)
			}
			pc.CreatedAt, pc.UpdatedAt = notAfter(pc.CreatedAt, d.Base), notAfter(pc.UpdatedAt, d.Base)
			p.PrimeContracts = append(p.PrimeContracts, pc)
		}
	}
}

// notAfter is t, or base when t is later (generated times never pass Base).
func notAfter(t, base time.Time) time.Time {
	if t.After(base) {
		return base
	}
	return t
}

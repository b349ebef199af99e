package data

import (
	"slices"
	"testing"
)

func TestEveryFifthGeneratedProjectUsesThreeTierChangeOrders(t *testing.T) {
	d := Generate(Options{Seed: 3, Companies: 2, ProjectsPerCompany: 5, ItemsPerProject: 1})
	var tiers []int
	for _, p := range d.Projects {
		tiers = append(tiers, p.ChangeOrderTiers)
		if p.ThreeTierChangeOrders() != (p.ChangeOrderTiers == 3) {
			t.Errorf("project %d: %d tiers, ThreeTierChangeOrders %v", p.ID, p.ChangeOrderTiers, p.ThreeTierChangeOrders())
		}
	}
	if want := []int{1, 2, 1, 2, 3, 2, 1, 2, 1, 3}; !slices.Equal(tiers, want) {
		t.Fatalf("tiers %v, want %v (from the position alone)", tiers, want)
	}
	// Independent of the seed: the position decides.
	other := Generate(Options{Seed: 99, Companies: 2, ProjectsPerCompany: 5, ItemsPerProject: 1})
	for i, p := range other.Projects {
		if p.ChangeOrderTiers != tiers[i] {
			t.Errorf("seed 99, project %d: %d tiers, want %d", i, p.ChangeOrderTiers, tiers[i])
		}
	}
	three := 0
	for _, p := range Generate(Options{}).Projects {
		if p.ThreeTierChangeOrders() {
			three++
		}
	}
	if three != 1 {
		t.Errorf("the default dataset has %d 3-tier projects, want 1", three)
	}
}

func TestWBSCodesMapToCostCodesAndBack(t *testing.T) {
	d := Generate(Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 1})
	p, other := d.Projects[0], d.Projects[1]
	for _, cc := range p.CostCodes {
		wbs := WBSCodeOf(cc.ID)
		if KindOf(wbs) != KindWBSCode {
			t.Fatalf("WBS code %d of cost code %d is of kind %d", wbs, cc.ID, KindOf(wbs))
		}
		if got := p.WBSCostCode(wbs); got != cc {
			t.Fatalf("WBS code %d maps back to %v, want cost code %d", wbs, got, cc.ID)
		}
		if other.WBSCostCode(wbs) != nil {
			t.Fatalf("another project knows WBS code %d", wbs)
		}
	}
	if WBSCodeOf(p.ID) != 0 || p.WBSCostCode(p.CostCodes[0].ID) != nil {
		t.Fatal("a non-cost-code id has a WBS code, or a cost code id passes for a WBS code")
	}
}

package data

// Change order configuration and the WBS codes of change order lines.
//
// Tiers. Procore projects choose how many tiers of change management they
// use (the Commitments/Prime Contracts "Number of Commitment Change Order
// Tiers" setting): 1 tier (a change order alone), 2 tiers (change order
// requests rolled into change order packages) or 3 tiers (potential change
// orders, then change order requests, then packages). Procore's commitment
// change order API (/rest/v1.0/projects/{project_id}/commitment_change_orders
// and its v2.0 line items) serves 1- and 2-tier projects only; 3-tier
// projects work through change order packages.
//
// The generator sets Project.ChangeOrderTiers from the project's position in
// the dataset alone (changeOrderTiers in generate.go: every fifth project,
// the 5th, 10th, 15th..., across companies, uses 3 tiers; of the others, the
// 1st, 3rd, ... use 1 tier and the 2nd, 4th, ... 2 tiers), so a default
// dataset (2 companies × 3 projects) has one 3-tier project, the second
// company's second project, and Companies: 1, ProjectsPerCompany: 5 makes the
// fifth project 3-tier. No random draw is involved: adding the setting
// changed no other generated value. The change orders generated on a 3-tier
// project stand for its packages' amounts (they still count in its
// commitments' change order totals), but the commitment change order routes
// refuse the project (see the sandbox's ROUTES.md).
//
// WBS codes. Procore's v2.0 change order line items require a wbs_code_id,
// the line's budget code (cost code × cost type). The sandbox's schedule of
// values lines all have the cost type "Commitment", so a project has one WBS
// code per cost code, with an id derived from the cost code's: WBSCodeOf and
// Project.WBSCostCode map between them.

// ThreeTierChangeOrders reports whether the project uses 3-tier change
// management, which Procore's commitment change order API does not serve.
func (p *Project) ThreeTierChangeOrders() bool { return p.ChangeOrderTiers >= 3 }

// WBSCodeOf returns the WBS code id of a cost code's "Commitment" cost type,
// 0 when costCodeID is not a cost code id.
func WBSCodeOf(costCodeID int64) int64 {
	if KindOf(costCodeID) != KindCostCode {
		return 0
	}
	return idBase(KindWBSCode) + (costCodeID - idBase(KindCostCode))
}

// WBSCostCode returns the project cost code behind WBS code id wbsID, or nil
// when the project has no such WBS code.
func (p *Project) WBSCostCode(wbsID int64) *CostCode {
	if KindOf(wbsID) != KindWBSCode {
		return nil
	}
	return p.CostCode(idBase(KindCostCode) + (wbsID - idBase(KindWBSCode)))
}

// Locked reports whether the change order's schedule of values is locked:
// Procore does not let an approved change order's amounts change (its status
// must move back first).
func (c *ChangeOrder) Locked() bool { return c.Status == "approved" }

// changeOrderTiers is the change order tier setting of the n-th generated
// project (0-based, across companies): 3 for every fifth project, else 1 for
// even positions and 2 for odd ones.
func changeOrderTiers(n int) int {
	switch {
	case n%5 == 4:
		return 3
	case n%2 == 0:
		return 1
	}
	return 2
}

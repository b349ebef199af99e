package events_test

import (
	"slices"
	"testing"

	"procoregraph/events"
)

// TestWebhookResourceNamesMapToItemKinds pins the webhook resource names the
// gateway follows, as Procore's published resource list spells them, and
// the item kinds each one carries (looked up in that order). Names the list
// does not have ("Prime Contract Change Orders", "Commitment Change Orders")
// and resources the gateway does not follow map to nothing.
func TestWebhookResourceNamesMapToItemKinds(t *testing.T) {
	for _, c := range []struct {
		name  string
		kinds []events.ItemKind
	}{
		{"RFIs", []events.ItemKind{events.ItemRFI}},
		{"Submittals", []events.ItemKind{events.ItemSubmittal}},
		{"Punch Items", []events.ItemKind{events.ItemPunchItem}},
		{"Work Order Contracts", []events.ItemKind{events.ItemCommitment}},
		{"Purchase Order Contracts", []events.ItemKind{events.ItemCommitment}},
		{"Requisitions", []events.ItemKind{events.ItemInvoice}},
		{"Subcontractor Invoices", []events.ItemKind{events.ItemInvoice}},
		{"Change Events", []events.ItemKind{events.ItemChangeEvent}},
		{"change events", []events.ItemKind{events.ItemChangeEvent}},
		{"Potential Change Orders", []events.ItemKind{events.ItemPotentialChangeOrder}},
		{"Change Order Packages", []events.ItemKind{events.ItemCommitmentChangeOrder, events.ItemPrimeChangeOrder, events.ItemChangeOrderPackage}},
		{"Payment Applications", []events.ItemKind{events.ItemPaymentApplication}},
		{"PAYMENT APPLICATIONS", []events.ItemKind{events.ItemPaymentApplication}},
		{"Prime Contract Change Orders", nil},
		{"Commitment Change Orders", nil},
		{"Change Order Requests", nil},
		{"Change Event Line Items", nil},
		{"Potential Change Order Line Items", nil},
		{"Prime Contracts", nil},
		{"Draw Requests", nil},
		{"RFI Replies", nil},
		{"", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, ok := events.ItemOfResource(c.name)
			if ok != (c.kinds != nil) {
				t.Fatalf("followed %v, want %v", ok, c.kinds != nil)
			}
			if ok && !slices.Equal(w.Kinds(), c.kinds) {
				t.Fatalf("kinds %v, want %v", w.Kinds(), c.kinds)
			}
		})
	}
	// Every change management kind has a resource that carries it.
	for _, k := range events.ChangeMgmtItemKinds {
		if !slices.ContainsFunc(events.WatchedItems, func(w events.WatchedItem) bool { return slices.Contains(w.Kinds(), k) }) {
			t.Errorf("no watched resource carries %s", k)
		}
	}
}

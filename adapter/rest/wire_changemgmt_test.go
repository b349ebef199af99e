package rest

import (
	"encoding/json"
	"testing"

	"procoregraph/adapter"
)

// TestChangeManagementUnknownEnumsAreUnknown: a status or scope Procore adds
// later decodes as UNKNOWN, never an error; known ones map exactly.
func TestChangeManagementUnknownEnumsAreUnknown(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     adapter.ChangeEventStatus
		scope      adapter.ChangeEventScope
	}{
		{"known values map", `{"id":1,"status":"open","event_scope":"out_of_scope"}`, adapter.ChangeEventOpen, adapter.ScopeOutOfScope},
		{"new values are UNKNOWN", `{"id":1,"status":"escalated","event_scope":"partly"}`, adapter.ChangeEventUnknown, adapter.ScopeUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w wireChangeEvent
			if err := json.Unmarshal([]byte(tc.body), &w); err != nil {
				t.Fatal(err)
			}
			ev := w.changeEvent(7)
			if ev.Status != tc.status || ev.Scope != tc.scope {
				t.Fatalf("status %s scope %s, want %s %s", ev.Status, ev.Scope, tc.status, tc.scope)
			}
		})
	}
	var w wireChangeOrderish
	if err := json.Unmarshal([]byte(`{"id":2,"status":"awaiting_owner","grand_total":"12.34"}`), &w); err != nil {
		t.Fatal(err)
	}
	if got := packagesOf(7, []wireChangeOrderish{w})[0]; got.Status != adapter.ChangeOrderUnknown || got.GrandTotal.String() != "12.34" {
		t.Fatalf("package %+v: want status UNKNOWN and grand total 12.34", got)
	}
}

package gate

import (
	"strings"
	"testing"
	"time"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/vocab"
)

func TestDecide(t *testing.T) {
	mon := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	open := Stage{App: "podinfo", Stage: "production", Open: true, Reason: `inside allow window "business-hours"`}
	closed := Stage{App: "podinfo", Stage: "production", Reason: `outside allow window "business-hours"`, Until: mon}
	frozen := Stage{App: "podinfo", Stage: "production", Reason: `inside deny window "year-end-freeze"`, Until: mon, Frozen: "year-end-freeze"}
	suspended := Stage{App: "podinfo", Stage: "production", Open: true, Suspended: []string{"Kustomization/flux-system/podinfo-production"}}
	other := Stage{App: "frontend", Stage: "production", Open: true}
	override := &vocab.Override{By: "ada", At: mon.Add(-time.Hour), Head: "abc"}
	tests := []struct {
		name  string
		facts Facts
		state forge.CommitState
		says  string
	}{
		{"not gated", Facts{}, forge.StateSuccess, "no promotion window applies"},
		{"open", Facts{Stages: []Stage{open, other}}, forge.StateSuccess, "open: podinfo/production, frontend/production"},
		{"closed", Facts{Stages: []Stage{other, closed}}, forge.StatePending, "podinfo/production closed until 2026-12-07T09:00:00Z"},
		{"frozen", Facts{Stages: []Stage{closed, frozen}}, forge.StateFailure, "frozen by deny window year-end-freeze until 2026-12-07T09:00:00Z"},
		{"suspended", Facts{Stages: []Stage{suspended}}, forge.StatePending, "Flux suspended for podinfo/production"},
		{"freeze outranks suspension", Facts{Stages: []Stage{suspended, frozen}}, forge.StateFailure, "frozen"},
		{"held", Facts{Stages: []Stage{open}, Held: true, HeldBy: "sre", HoldReason: "incident"}, forge.StatePending, "held by @sre: incident"},
		{"hold outranks an override", Facts{Stages: []Stage{frozen}, Held: true, HeldBy: "sre", HoldReason: "x", Override: override}, forge.StatePending, "held"},
		{"override outranks a freeze", Facts{Stages: []Stage{frozen}, Override: override}, forge.StateSuccess, "let through by @ada (/promote now)"},
		{"held and not gated", Facts{Held: true, HeldBy: "sre"}, forge.StateSuccess, "no promotion window applies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Decide(tt.facts)
			if v.State != tt.state || !strings.Contains(v.Description, tt.says) {
				t.Fatalf("Decide = %+v, want %s saying %q", v, tt.state, tt.says)
			}
		})
	}
}

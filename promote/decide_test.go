package promote

import (
	"testing"
	"time"

	"github.com/ensignbot/ensign/policy"
)

func TestDecide(t *testing.T) {
	next := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	open := policy.State{Open: true, Reason: "inside window business-hours"}
	closed := policy.State{Open: false, Reason: "outside allow windows", Next: next}
	never := policy.State{Open: false, Reason: "deny window freeze is active"}
	tests := []struct {
		name string
		f    Facts
		want Step
	}{
		{"auto, open", Facts{Trigger: Automatic, AutoMerge: true, Window: open}, Merge},
		{"auto, closed", Facts{Trigger: Automatic, AutoMerge: true, Window: closed}, Queue},
		{"auto, no auto-merge", Facts{Trigger: Automatic, Window: open}, Wait},
		{"auto, held", Facts{Trigger: Automatic, AutoMerge: true, Window: open, Held: true}, Wait},
		{"auto, rolled back", Facts{Trigger: Automatic, AutoMerge: true, Window: open, RolledBack: "abc1234"}, Wait},
		{"scheduler, queued, open", Facts{Trigger: Automatic, Window: open, Queued: true}, Merge},
		{"scheduler, queued, still closed", Facts{Trigger: Automatic, Window: closed, Queued: true}, Queue},
		{"scheduler, queued, held", Facts{Trigger: Automatic, Window: open, Queued: true, Held: true}, Wait},
		{"person, open, no auto-merge", Facts{Trigger: Person, Window: open}, Merge},
		{"person, rolled back, open", Facts{Trigger: Person, Window: open, RolledBack: "abc1234"}, Merge},
		{"person, closed", Facts{Trigger: Person, Window: closed}, Queue},
		{"person, held", Facts{Trigger: Person, Window: open, Held: true}, Wait},
		{"person now, closed", Facts{Trigger: PersonNow, Window: never}, Merge},
		{"person now, held", Facts{Trigger: PersonNow, Window: never, Held: true}, Wait},
		{"auto, open, Flux suspended", Facts{Trigger: Automatic, AutoMerge: true, Window: open, Suspended: []string{"Kustomization/flux-system/prod"}}, Queue},
		{"person now, Flux suspended", Facts{Trigger: PersonNow, Window: open, Suspended: []string{"Kustomization/flux-system/prod"}}, Queue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.f)
			if d.Step != tt.want {
				t.Fatalf("Decide(%+v) = %v (%s), want %v", tt.f, d.Step, d.Reason, tt.want)
			}
			if d.Reason == "" {
				t.Fatal("a decision without a reason")
			}
			if d.Step == Queue && tt.f.Window.Next != d.Until {
				t.Fatalf("queued until %v, want the window's next opening %v", d.Until, tt.f.Window.Next)
			}
		})
	}
}

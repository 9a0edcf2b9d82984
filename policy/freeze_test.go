package policy

import (
	"testing"
	"time"
)

// A freeze closes exactly the stages it covers for exactly [From, Until),
// on top of their windows, and names who froze and why.
func TestFreezeClosesItsStages(t *testing.T) {
	p := mustLoad(t, "f.yaml", minimal+`  - name: web
    stages:
      - name: production
        overlay: apps/web/production
        canary: {namespace: web}
freezes:
  - stage: production
    apps: [podinfo]
    from: 2026-12-03T10:00:00Z
    until: "2026-12-03T14:00:00Z"
    by: alice
    reason: incident 42
`)
	prod, staging, web := p.App("podinfo").Stage("production"), p.App("podinfo").Stage("staging"), p.App("web").Stage("production")
	at := func(h, m int) time.Time { return time.Date(2026, 12, 3, h, m, 0, 0, time.UTC) }
	for _, c := range []struct {
		name  string
		stage *Stage
		now   time.Time
		open  bool
		until time.Time
	}{
		{"before", prod, at(9, 59), true, at(10, 0)},
		{"at the start", prod, at(10, 0), false, at(14, 0)},
		{"during", prod, at(13, 59), false, at(14, 0)},
		{"at the end", prod, at(14, 0), true, time.Time{}},
		{"other stage", staging, at(12, 0), true, time.Time{}},
		{"other app", web, at(12, 0), true, time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := p.EvaluateStage(c.stage, c.now)
			if st.Open != c.open || !st.Until.Equal(c.until) {
				t.Fatalf("open %v until %v (%s), want open %v until %v", st.Open, st.Until, st.Reason, c.open, c.until)
			}
			w, frozen := p.ActiveDeny(c.stage, c.now)
			if frozen == c.open {
				t.Fatalf("ActiveDeny %v while open %v", frozen, c.open)
			}
			if frozen && (!w.IsFreeze() || w.Name != "emergency freeze by alice until 2026-12-03 14:00 UTC" || w.Description != "incident 42") {
				t.Fatalf("freeze window %+v", w)
			}
		})
	}
	if !p.Gated(prod) || p.Gated(staging) || p.Gated(web) {
		t.Error("Gated: only podinfo/production is gated")
	}
	if p.WindowsKey(prod) == p.WindowsKey(web) {
		t.Error("a frozen stage shares its windows key with an unfrozen one")
	}
	if got := p.RollbackState(prod, at(12, 0)); !got.Open {
		t.Errorf("a freeze blocks rollbacks although they may pass deny windows: %s", got.Reason)
	}
}

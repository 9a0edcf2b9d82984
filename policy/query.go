package policy

import (
	"slices"
	"strings"
	"time"
)

// App returns the named app, or nil.
func (p *Policy) App(name string) *App {
	for i := range p.Apps {
		if p.Apps[i].Name == name {
			return &p.Apps[i]
		}
	}
	return nil
}

// Stage returns the named stage, or nil.
func (a *App) Stage(name string) *Stage {
	for i := range a.Stages {
		if a.Stages[i].Name == name {
			return &a.Stages[i]
		}
	}
	return nil
}

// FindCanary returns the app and stage whose canary is ref; ok is false if
// no stage watches it.
func (p *Policy) FindCanary(ref CanaryRef) (app *App, stage *Stage, ok bool) {
	for i := range p.Apps {
		a := &p.Apps[i]
		for j := range a.Stages {
			if a.Stages[j].Canary == ref {
				return a, &a.Stages[j], true
			}
		}
	}
	return nil, nil, false
}

// Canaries returns every stage's canary, in file order.
func (p *Policy) Canaries() []CanaryRef {
	var out []CanaryRef
	for _, a := range p.Apps {
		for _, s := range a.Stages {
			out = append(out, s.Canary)
		}
	}
	return out
}

// Clusters returns the distinct cluster names the canaries name, sorted.
func (p *Policy) Clusters() []string {
	var out []string
	for _, c := range p.Canaries() {
		if !slices.Contains(out, c.Cluster) {
			out = append(out, c.Cluster)
		}
	}
	slices.Sort(out)
	return out
}

// NextStages returns the stages promoted from the named stage, in file
// order: where a version goes once this stage's canary succeeds.
func (a *App) NextStages(name string) []*Stage {
	var out []*Stage
	for i := range a.Stages {
		if a.Stages[i].From == name && name != "" {
			out = append(out, &a.Stages[i])
		}
	}
	return out
}

// Source returns the stage the named stage is promoted from, or nil for the
// entry stage (or an unknown name).
func (a *App) Source(name string) *Stage {
	s := a.Stage(name)
	if s == nil || s.From == "" {
		return nil
	}
	return a.Stage(s.From)
}

// IsFinal reports whether no stage is promoted from the named stage: a
// version that passes its canary goes nowhere further.
func (a *App) IsFinal(name string) bool { return len(a.NextStages(name)) == 0 }

// Window returns the named window.
func (p *Policy) Window(name string) (Window, bool) {
	for _, w := range p.Windows {
		if w.Name == name {
			return w, true
		}
	}
	return Window{}, false
}

// StageWindows returns the windows that gate merges into s, in the order the
// stage lists them, then the deny windows of the freezes that cover it.
func (p *Policy) StageWindows(s *Stage) []Window {
	out := make([]Window, 0, len(s.Windows))
	for _, n := range s.Windows {
		if w, ok := p.Window(n); ok {
			out = append(out, w)
		}
	}
	for _, f := range p.StageFreezes(s) {
		out = append(out, f.Window())
	}
	return out
}

// Gated reports whether anything in the policy gates merges into s: windows
// it lists or freezes that cover it, ended or not.
func (p *Policy) Gated(s *Stage) bool {
	return len(s.Windows) > 0 || len(p.StageFreezes(s)) > 0
}

// WindowsKey identifies the set of windows gating s (freezes included):
// stages with equal keys open and close together.
func (p *Policy) WindowsKey(s *Stage) string {
	ws := p.StageWindows(s)
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.Name
	}
	return strings.Join(names, "\x00")
}

// ActiveDeny returns the first deny window (a freeze's included) that
// holds s closed at now.
func (p *Policy) ActiveDeny(s *Stage, now time.Time) (Window, bool) {
	for _, w := range p.StageWindows(s) {
		if w.Type == Deny && w.ActiveAt(now) {
			return w, true
		}
	}
	return Window{}, false
}

// EvaluateStage is Evaluate for the windows of s.
func (p *Policy) EvaluateStage(s *Stage, now time.Time) State {
	return Evaluate(now, p.StageWindows(s))
}

// StageOpen reports whether s's promotion windows are open at now:
// EvaluateStage(s, now).Open, at a fraction of the cost (see OpenAt).
func (p *Policy) StageOpen(s *Stage, now time.Time) bool {
	return OpenAt(now, p.StageWindows(s))
}

// RollbackState says whether a revert may land in s at now. Allow windows
// gate promotions, not rollbacks, so only s's deny windows count, and only
// when Rollback.AllowInDenyWindow is false; otherwise the state is open.
func (p *Policy) RollbackState(s *Stage, now time.Time) State {
	if p.Rollback.AllowInDenyWindow {
		return State{Open: true, Reason: "rollbacks may pass deny windows"}
	}
	var denies []Window
	for _, w := range p.StageWindows(s) {
		if w.Type == Deny {
			denies = append(denies, w)
		}
	}
	return Evaluate(now, denies)
}

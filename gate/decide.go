package gate

import (
	"fmt"
	"strings"
	"time"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/vocab"
)

// Stage is what the gate knows of one gated stage a change touches.
type Stage struct {
	// App and Stage name it.
	App, Stage string
	// Open, Reason and Until are the stage's promotion window state now.
	Open   bool
	Reason string
	Until  time.Time
	// Frozen names the deny window that closes the stage now, if any;
	// Freeze says it is an emergency freeze, FrozenWhy is the freeze's
	// reason.
	Frozen, FrozenWhy string
	Freeze            bool
	// Suspended names the suspended Flux Kustomizations delivering it.
	Suspended []string
}

// Facts are what the gate decides on for one change.
type Facts struct {
	// Stages are the gated stages the change touches; none: not gated.
	Stages []Stage
	// Held is set while the change is on hold; HeldBy and HoldReason say
	// who put it there and why.
	Held               bool
	HeldBy, HoldReason string
	// Override is a person's /promote now for this very head, if any.
	Override *vocab.Override
}

// Verdict is the gate's answer: a commit status state and its line.
type Verdict struct {
	State       forge.CommitState
	Description string
}

// Decide says whether a change may land now. It is pure. In order: a
// change that touches no gated stage passes; a hold keeps it (a person
// said so); a person's /promote now lets it through; a deny window freezes
// it; a suspended Flux keeps it; a closed window keeps it until the window
// opens; otherwise it passes.
func Decide(f Facts) Verdict {
	switch {
	case len(f.Stages) == 0:
		return Verdict{forge.StateSuccess, "no promotion window applies to this change"}
	case f.Held:
		return Verdict{forge.StatePending, fmt.Sprintf("held by @%s: %s", f.HeldBy, f.HoldReason)}
	case f.Override != nil:
		return Verdict{forge.StateSuccess, fmt.Sprintf("let through by @%s (/promote now) at %s", f.Override.By, f.Override.At.UTC().Format(time.RFC3339))}
	}
	for _, s := range f.Stages {
		if s.Frozen != "" && s.Freeze {
			return Verdict{forge.StateFailure, fmt.Sprintf("%s/%s: %s (%s)", s.App, s.Stage, s.Frozen, s.FrozenWhy)}
		}
		if s.Frozen != "" {
			return Verdict{forge.StateFailure, fmt.Sprintf("%s/%s frozen by deny window %s%s", s.App, s.Stage, s.Frozen, until(s.Until))}
		}
	}
	for _, s := range f.Stages {
		if len(s.Suspended) > 0 {
			return Verdict{forge.StatePending, fmt.Sprintf("Flux suspended for %s/%s (%s)", s.App, s.Stage, strings.Join(s.Suspended, ", "))}
		}
	}
	for _, s := range f.Stages {
		if !s.Open {
			return Verdict{forge.StatePending, fmt.Sprintf("%s/%s closed%s (%s)", s.App, s.Stage, until(s.Until), s.Reason)}
		}
	}
	names := make([]string, len(f.Stages))
	for i, s := range f.Stages {
		names[i] = s.App + "/" + s.Stage
	}
	return Verdict{forge.StateSuccess, "open: " + strings.Join(names, ", ")}
}

func until(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " until " + t.UTC().Format(time.RFC3339)
}

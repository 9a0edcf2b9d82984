package promote

import (
	"fmt"
	"strings"
	"time"

	"github.com/ensignbot/ensign/policy"
)

// Trigger says who asks for a promotion to merge.
type Trigger int

const (
	// Automatic is a canary result or the scheduler.
	Automatic Trigger = iota
	// Person is a /promote comment or `ensign promote`.
	Person
	// PersonNow is /promote now: a person overriding a closed window.
	PersonNow
)

// Step is what to do with a promotion pull request.
type Step int

const (
	// Wait leaves the pull request for a person.
	Wait Step = iota
	// Queue labels the pull request to be merged when the window opens.
	Queue
	// Merge merges it now.
	Merge
)

// String returns "wait", "queue" or "merge".
func (a Step) String() string {
	return [...]string{"wait", "queue", "merge"}[a]
}

// Facts are what the merge decision depends on.
type Facts struct {
	Trigger Trigger
	// AutoMerge is the target stage's setting.
	AutoMerge bool
	// Window is the target stage's window state now.
	Window policy.State
	// Held is true while the pull request carries the hold label.
	Held bool
	// Suspended names the Flux Kustomizations of the target stage that are
	// suspended: nothing merges into the stage until Flux resumes.
	Suspended []string
	// Queued is true when the pull request already waits for a window
	// (a person or an auto-merging stage asked for it).
	Queued bool
	// RolledBack is set when this version was rolled back from the target
	// stage before.
	RolledBack string
}

// Decision is the outcome of Decide, with the reason to show people.
type Decision struct {
	Step   Step
	Reason string
	// Until is when a queued promotion will be merged (the window's next
	// opening); zero if unknown.
	Until time.Time
}

// Decide says whether a promotion merges now, waits for a window, or waits
// for a person. It is pure: everything it needs is in f.
func Decide(f Facts) Decision {
	if f.Held {
		return Decision{Step: Wait, Reason: "on hold; comment /unhold to release it"}
	}
	if len(f.Suspended) > 0 {
		return Decision{Step: Queue, Reason: "Flux suspended (" + strings.Join(f.Suspended, ", ") + "); ensign merges when it resumes"}
	}
	if f.Trigger == PersonNow {
		if f.Window.Open {
			return Decision{Step: Merge, Reason: "promoted by request; " + f.Window.Reason}
		}
		return Decision{Step: Merge, Reason: "promoted by request outside the promotion windows (" + f.Window.Reason + ")"}
	}
	if f.Trigger == Automatic && !f.Queued {
		if f.RolledBack != "" {
			return Decision{Step: Wait, Reason: fmt.Sprintf("this version was rolled back from this stage in %s; comment /promote to promote it anyway", f.RolledBack)}
		}
		if !f.AutoMerge {
			return Decision{Step: Wait, Reason: "auto-merge is off for this stage; comment /promote to merge"}
		}
	}
	if f.Window.Open {
		return Decision{Step: Merge, Reason: f.Window.Reason}
	}
	d := Decision{Step: Queue, Reason: f.Window.Reason, Until: f.Window.Next}
	if d.Until.IsZero() {
		d.Reason += "; no window opens within the next five years: ask an admin for /promote now"
	}
	return d
}

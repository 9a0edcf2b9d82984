package rollback

import (
	"fmt"

	"github.com/ensignbot/ensign/policy"
)

// Facts are what the automatic answer to a canary failure depends on,
// gathered from the cluster, Git and Gitea in the order of Decide's
// precedence (a fact Decide would not look at is left zero).
type Facts struct {
	// Failing is how many images the canary's target runs that its
	// primary does not.
	Failing int
	// Resumed is set when ensign's revert of this very failure is already
	// on the deploy branch (a restart after the push).
	Resumed bool
	// PinnedAtTip is how many failing images the stage's overlay pins at
	// the deploy branch's tip.
	PinnedAtTip int
	// RevertPRMerged is set when ensign's revert pull request for this
	// failure was merged.
	RevertPRMerged bool
	// Unreadable is set when the failing version came into the overlay
	// across a state of it that does not parse.
	Unreadable bool
	// IntroducerIsRevert is set when the commit that brought the failing
	// version is itself a revert.
	IntroducerIsRevert bool
	// OnFailure is the stage's setting (revert or report).
	OnFailure policy.FailureAction
	// Mode is the policy's rollback mode, and Window the stage's rollback
	// state now (a deny window may forbid pushing).
	Mode   policy.Mode
	Window policy.State
}

// Verdict is what to do about a failure.
type Verdict int

// The verdicts, in Decide's order of precedence.
const (
	// NothingToRevert: the target runs what the primary runs.
	NothingToRevert Verdict = iota
	// Resume: the revert is on the branch; finish the comment, reconcile
	// request and event.
	Resume
	// RevertPRMerged: ensign's revert pull request was merged; finish the
	// follow-ups.
	RevertPRMerged
	// NotInGit: the deploy branch no longer pins the failing version;
	// nothing is written.
	NotInGit
	// RefuseUnreadable: which commit to revert is unknown; a person must.
	RefuseUnreadable
	// RefuseRevertOfRevert: ensign never reverts a revert on its own.
	RefuseRevertOfRevert
	// ReportOnly: the stage reports failures instead of reverting them.
	ReportOnly
	// PushRevert: push the revert to the deploy branch.
	PushRevert
	// OpenRevertPR: open a revert pull request.
	OpenRevertPR
)

// Decision is a verdict and why, for people.
type Decision struct {
	Verdict Verdict
	Reason  string
}

// Decide says what to do about a canary failure. It is pure: everything it
// needs is in f.
func Decide(f Facts) Decision {
	switch {
	case f.Failing == 0:
		return Decision{NothingToRevert, "the canary's target runs the same images as its primary (what Flagger last promoted)"}
	case f.Resumed:
		return Decision{Resume, "reverted before; finishing the follow-ups"}
	case f.PinnedAtTip == 0 && f.RevertPRMerged:
		return Decision{RevertPRMerged, "the revert pull request was merged"}
	case f.PinnedAtTip == 0:
		return Decision{NotInGit, "the deploy branch no longer contains the failing version (it was reverted or replaced outside ensign); nothing written"}
	case f.Unreadable:
		return Decision{RefuseUnreadable, "the failing version came in across a state of the overlay that does not parse; a person must revert it"}
	case f.IntroducerIsRevert:
		return Decision{RefuseRevertOfRevert, "the failing version came in with a revert; ensign never reverts a revert automatically"}
	case f.OnFailure == policy.FailureReport:
		return Decision{ReportOnly, "the stage reports failures instead of reverting them (onFailure: report)"}
	}
	return Land(f.Mode, f.Window)
}

// Land says how a revert reaches the deploy branch: pushed in push mode
// while the stage's rollback window allows it, otherwise as a revert pull
// request (with the reason when the policy asked for a push).
func Land(mode policy.Mode, window policy.State) Decision {
	switch {
	case mode == policy.ModePush && window.Open:
		return Decision{PushRevert, ""}
	case mode == policy.ModePush:
		return Decision{OpenRevertPR, fmt.Sprintf("a revert pull request instead of a push: %s", window.Reason)}
	}
	return Decision{OpenRevertPR, ""}
}

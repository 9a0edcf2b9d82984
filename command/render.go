package command

import (
	"fmt"
	"strings"
	"time"

	"github.com/ensignbot/ensign/freeze"
	"github.com/ensignbot/ensign/gate"
	"github.com/ensignbot/ensign/promote"
	"github.com/ensignbot/ensign/rollback"
	"github.com/ensignbot/ensign/status"
	"github.com/ensignbot/ensign/vocab"
)

// renderPromotion is the answer to /promote and /promote now.
func renderPromotion(out promote.Outcome) string {
	switch out.Action {
	case promote.ActionMerged:
		return fmt.Sprintf("Merged the promotion of %s into %s: %s.", out.App, out.To, out.Reason)
	case promote.ActionQueued:
		if out.Until.IsZero() {
			return fmt.Sprintf("Queued: %s.", out.Reason)
		}
		return fmt.Sprintf("Queued: %s. ensign merges it when the next window opens, %s.", out.Reason, out.Until.Format(time.RFC3339))
	case promote.ActionWaiting:
		return fmt.Sprintf("Not merged: %s.", out.Reason)
	case promote.ActionRefused:
		return fmt.Sprintf("Not merged: %s.", out.Reason)
	case promote.ActionAlreadyMerged:
		return fmt.Sprintf("This promotion is already merged (%s).", shortSHA(out.Commit))
	case promote.ActionClosed:
		return "This promotion is closed; ensign does not reopen it."
	case promote.ActionNotPromotion:
		return "This pull request is not a promotion opened by ensign, so there is nothing to promote. " + vocab.Code("ensign promote --app APP --to STAGE") + " starts one."
	case promote.ActionStageGone:
		return fmt.Sprintf("The policy has no stage %s/%s any more; close this pull request.", out.App, out.To)
	}
	return fmt.Sprintf("%s: %s", out.Action, out.Reason)
}

// renderOverride is the answer to /promote now on a person's change to a
// gated stage.
func renderOverride(v gate.Verdict) string {
	return "This pull request's current head may merge now, outside the promotion windows: the " +
		vocab.Code(vocab.WindowContext) + " check says " + vocab.Code(string(v.State)) + " (" + v.Description + "). A new push needs a new " + vocab.Code("/promote now") + "."
}

// renderRollback is the answer to /rollback.
func renderRollback(out rollback.Outcome) string {
	switch out.Action {
	case rollback.ActionNotMerged:
		return "This pull request is not merged, so there is nothing to roll back; close it instead."
	case rollback.ActionNotPromotion:
		return vocab.Code("/rollback") + " works on ensign's promotion pull requests. For other changes use " +
			vocab.Code("ensign rollback --app APP --stage STAGE --commit SHA") + "."
	case rollback.ActionStageGone:
		return fmt.Sprintf("The policy has no stage %s/%s any more.", out.App, out.Stage)
	case rollback.ActionNoSuchCommit:
		return vocab.UpperFirst(out.Reason) + "."
	case rollback.ActionOutsideOverlay:
		return "Refused: " + out.Reason + ". " + vocab.Code("/rollback") + " reverts only changes to the stage's overlay; revert other changes with a pull request of your own."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Rollback of %s in %s: **%s**. %s.", shortSHA(out.Reverted), out.Stage, out.Action, out.Reason)
	for _, c := range out.Conflicts {
		fmt.Fprintf(&b, "\n- conflict in %s (%s)", vocab.Code(c.Path), c.Kind)
	}
	if len(out.Reconciled) > 0 {
		fmt.Fprintf(&b, "\n\nAsked Flux to reconcile %s.", strings.Join(out.Reconciled, ", "))
	}
	if out.StalePolicy != "" {
		fmt.Fprintf(&b, "\n\nNote: %s.", out.StalePolicy)
	}
	return b.String()
}

// renderStatus is the answer to /status: a table per app. Why a canary could
// not be read stays out of it (it names cluster addresses and
// configuration); the operator's CLI and log have it.
func renderStatus(rep status.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Status of %s at %s:\n", vocab.Code(rep.Repo), vocab.Code(shortSHA(rep.Commit)))
	if rep.PolicyInvalid != "" {
		b.WriteString("\n⚠️ The policy file on the deploy branch does not load; promotions wait until it is fixed. ")
		if rep.PolicyCommit != "" {
			b.WriteString("Rollbacks follow the last valid one, from " + vocab.Code(shortSHA(rep.PolicyCommit)) + ".")
		} else {
			b.WriteString("No earlier valid policy was found.")
		}
		b.WriteString("\n\n" + vocab.CodeBlock([]string{rep.PolicyInvalid}))
	}
	if rep.NoPolicy {
		b.WriteString("\nNo apps: this repository has no ensign policy.\n")
	}
	for _, a := range rep.Apps {
		fmt.Fprintf(&b, "\n**%s**\n\n| stage | in Git | canary | running | window | promotions |\n|---|---|---|---|---|---|\n", a.Name)
		for _, s := range a.Stages {
			window := "open"
			if !s.WindowOpen {
				window = "closed"
				if s.Frozen != "" {
					window = "frozen (" + s.Frozen + ")"
					if s.FrozenWhy != "" {
						window = "frozen (" + s.Frozen + ": " + s.FrozenWhy + ")"
					}
				}
				if !s.NextOpen.IsZero() {
					window += ", opens " + s.NextOpen.UTC().Format(time.RFC3339)
				}
			}
			if len(s.Suspended) > 0 {
				window += "; Flux suspended"
			}
			var prs []string
			for _, n := range s.Queued {
				prs = append(prs, fmt.Sprintf("#%d (queued)", n))
			}
			for _, n := range s.Open {
				prs = append(prs, fmt.Sprintf("#%d", n))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", s.Name, codes(s.Pinned), s.Phase, codes(s.Running), window, dash(strings.Join(prs, ", ")))
		}
		n := 0
		for _, s := range a.Stages {
			for _, e := range s.Excluded {
				fmt.Fprintf(&b, "\n- %s: tag `%s` is excluded from Flux's image automation (ImageRepository `%s`): %s; `/promote` of it lifts that", s.Name, e.Tag, e.Repository, e.Note)
				n++
			}
		}
		if n > 0 {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func codes(items []string) string {
	if len(items) == 0 {
		return "-"
	}
	quoted := make([]string, len(items))
	for i, it := range items {
		quoted[i] = vocab.Code(it)
	}
	return strings.Join(quoted, "<br>")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

// renderFreeze answers /freeze and /unfreeze.
func renderFreeze(o freeze.Outcome) string {
	var b strings.Builder
	switch o.Action {
	case freeze.ActionFrozen, freeze.ActionExtended:
		f := o.Freeze
		fmt.Fprintf(&b, "**Frozen**: %s until %s, because %s. ensign merges nothing into it until then, and its %s check fails on pull requests that change it; rollbacks land as in any deny window. Lift it early with %s.",
			f.Scope(), f.Until.UTC().Format("2006-01-02 15:04 UTC"), vocab.Code(f.Reason), vocab.Code(vocab.WindowContext), vocab.Code("/unfreeze"))
		if o.Action == freeze.ActionExtended {
			b.WriteString(" It replaces the freeze of the same apps it had.")
		}
	case freeze.ActionUnfrozen:
		b.WriteString("**Unfrozen**: " + o.Reason + ".")
	case freeze.ActionNotFrozen:
		b.WriteString(vocab.UpperFirst(o.Reason) + ". Nothing was done.")
	case freeze.ActionProposed:
		fmt.Fprintf(&b, "The deploy branch refused ensign's push, so the change waits in #%d: %s.", o.PR, o.Reason)
	default:
		b.WriteString(o.Reason)
	}
	if o.Commit != "" && o.Action != freeze.ActionProposed {
		fmt.Fprintf(&b, " (commit %s)", vocab.Code(o.Commit[:min(len(o.Commit), 10)]))
	}
	return b.String()
}

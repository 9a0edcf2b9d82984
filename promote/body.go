package promote

import (
	"fmt"
	"strings"
	"time"

	"github.com/ensignbot/ensign/vocab"
)

// Verification is what a Succeeded canary verified, as the pull request
// reports it.
type Verification struct {
	Cluster, Namespace, Canary string
	// Phase is the canary's phase, "Succeeded" for promotions.
	Phase string
	// At is when the canary reached its phase.
	At time.Time
	// Iterations, CanaryWeight and FailedChecks are the canary's analysis
	// counters when it finished; the real Flagger has reset them to 0 by
	// then, and Body leaves them out when all are 0.
	Iterations, CanaryWeight, FailedChecks int
	// Images are the verified image references.
	Images []string
	// Revision is the source overlay's Git commit Flux last applied; empty
	// when unknown. Kustomization names the Flux object it came from.
	Revision, Kustomization string
}

// Title returns the pull request title of a promotion.
func Title(m vocab.Promotion, changes []Change) string {
	if len(changes) == 1 && changes[0].New != "" {
		return fmt.Sprintf("Promote %s to %s: %s", m.App, m.To, shortRef(changes[0].New))
	}
	return fmt.Sprintf("Promote %s to %s (%d changes)", m.App, m.To, len(changes))
}

// Body renders the pull request body: what changes, what verified it, and
// how to drive it, ending with the hidden metadata marker.
func Body(m vocab.Promotion, overlay string, v Verification, changes []Change) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Promote %s from %s to %s\n\n", m.App, m.From, m.To)
	fmt.Fprintf(&b, "ensign promotes the version that **%s**'s canary verified into **%s** (`%s`).\n\n", m.From, m.To, overlay)
	b.WriteString("| change | before | after |\n|---|---|---|\n")
	for _, c := range changes {
		old := c.Old
		if old == "" {
			old = "_(none)_"
		} else {
			old = "`" + old + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` |\n", c.What, old, c.New)
	}
	b.WriteString("\n### Verification\n\n")
	fmt.Fprintf(&b, "- Canary `%s/%s` in cluster `%s`: **%s**", v.Namespace, v.Canary, v.Cluster, v.Phase)
	if !v.At.IsZero() {
		fmt.Fprintf(&b, " at %s", v.At.UTC().Format(time.RFC3339))
	}
	b.WriteString("\n")
	// The real Flagger resets these counters when an analysis finishes
	// (harness/CONTROLLERS.md), so a Succeeded canary shows zeros: say
	// nothing rather than "0 iterations".
	if v.Iterations != 0 || v.FailedChecks != 0 || v.CanaryWeight != 0 {
		fmt.Fprintf(&b, "- Analysis: %d iterations, %d failed checks, last canary weight %d%%\n", v.Iterations, v.FailedChecks, v.CanaryWeight)
	}
	fmt.Fprintf(&b, "- Verified images: %s\n", codeList(v.Images))
	if v.Revision != "" {
		fmt.Fprintf(&b, "- Source revision: `%s` (applied by Flux Kustomization `%s`)\n", v.Revision, v.Kustomization)
	} else {
		b.WriteString("- Source revision: unknown (no Flux Kustomization found for the source overlay); images were read from the running workload\n")
	}
	b.WriteString("\n<details><summary>Commands</summary>\n\n")
	b.WriteString("- `/promote`: merge now if the promotion window is open, otherwise queue for the next window\n")
	b.WriteString("- `/promote now`: merge now even outside the windows (admins)\n")
	b.WriteString("- `/hold [reason]`, `/unhold`: stop or release automatic merging\n")
	b.WriteString("- `/rollback [sha]`: after the merge, revert this promotion\n")
	b.WriteString("- `/status`: the app's stages, canaries, queued promotions and windows\n")
	b.WriteString("\n</details>\n\n")
	b.WriteString(m.Marker())
	b.WriteString("\n")
	return b.String()
}

func codeList(items []string) string {
	if len(items) == 0 {
		return "_(none)_"
	}
	return "`" + strings.Join(items, "`, `") + "`"
}

// shortRef drops the registry and path of an image reference for titles.
func shortRef(ref string) string {
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

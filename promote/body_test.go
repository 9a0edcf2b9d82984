package promote

import (
	"strings"
	"testing"
	"time"

	"github.com/ensignbot/ensign/vocab"
)

// TestBodyLeavesOutResetCounters: the real Flagger resets iterations, weight
// and failed checks when an analysis finishes, so a Succeeded canary's
// zeros say nothing and the body leaves them out; non-zero counters (a
// Flagger that kept them) are shown.
func TestBodyLeavesOutResetCounters(t *testing.T) {
	m := vocab.Promotion{App: "podinfo", From: "staging", To: "production"}
	changes := []Change{{What: "ghcr.io/stefanprodan/podinfo", Old: "6.5.0", New: "6.5.1"}}
	v := Verification{Cluster: "staging", Namespace: "podinfo", Canary: "podinfo", Phase: "Succeeded",
		At: time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC), Images: []string{"ghcr.io/stefanprodan/podinfo:6.5.1"}}
	if body := Body(m, "apps/podinfo/production", v, changes); strings.Contains(body, "Analysis:") {
		t.Errorf("body with reset counters has an Analysis line:\n%s", body)
	}
	v.Iterations, v.CanaryWeight = 5, 50
	if body := Body(m, "apps/podinfo/production", v, changes); !strings.Contains(body, "- Analysis: 5 iterations, 0 failed checks, last canary weight 50%") {
		t.Errorf("body with counters lacks them:\n%s", body)
	}
}

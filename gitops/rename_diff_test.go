package gitops

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// TestRevertRenameDifferentialVsGit compares ensign's revert with git
// revert (merge-ort) on histories full of renames. ENSIGN_RENAME_CASES sets
// the case count (default 200), ENSIGN_DIFF_SEED the seed,
// ENSIGN_DIFF_DUMP a directory to keep the disagreeing cases in. A case
// counts as a rename case when git's rename detection pairs paths on
// either side of the revert; outside those, every case must agree, and at
// least 99 % of the rename cases must.
func TestRevertRenameDifferentialVsGit(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test skipped in -short mode")
	}
	runRenameDiff(t, envInt("ENSIGN_RENAME_CASES", 200), 0)
}

// TestRevertRenameLimitVsGit runs rename cases with the rename limit set
// to 1 on both sides (git: merge.renameLimit=1), so that git's limit (no
// inexact detection when sources × destinations exceeds its square) is
// reached often. ENSIGN_LIMIT_CASES sets the case count (default 100).
func TestRevertRenameLimitVsGit(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test skipped in -short mode")
	}
	runRenameDiff(t, envInt("ENSIGN_LIMIT_CASES", 100), 1)
}

func runRenameDiff(t *testing.T, cases, limit int) {
	seed, rng, dump := diffSeed(t)
	r := newDiffRunner(t)
	r.renameLimit = limit
	var st diffStats
	r.each(cases, func(i int) (*history, int) { return genRenameCase(rng, fmt.Sprintf("case%d", i)) },
		func(i int, h *history, target int, c caseResult) {
			st.add(c.renamed, c.got == c.want, c.want)
			st.countKinds(c.gitOut)
			if c.got == c.want {
				return
			}
			p := keepCase(dump, fmt.Sprintf("rename-case-%d-seed-%d-limit-%d.fi", i, seed, limit), h)
			msg := fmt.Sprintf("case %d (rename case: %v): ensign %q, git %q (stream, target mark :%d, in %s)", i, c.renamed, c.got, c.want, target, p)
			if c.renamed {
				t.Log(msg)
			} else {
				t.Error(msg)
			}
		})
	r.logTime()
	t.Logf("seed %d, rename limit %d (0: default): %s", seed, limit, st)
	if st.renameCases > 0 && st.renameAgree*100 < st.renameCases*99 {
		t.Errorf("rename cases: %d of %d agree, below 99 %%", st.renameAgree, st.renameCases)
	}
}

// diffStats counts agreement for rename and other cases.
type diffStats struct {
	renameCases, renameAgree, otherCases, otherAgree int
	renameClean                                      int // rename cases git reverts cleanly
	conflicts, already, gitAborts                    int
	kinds                                            map[string]int
}

// countKinds tallies the CONFLICT messages git printed, to show which
// shapes the generator reached.
func (s *diffStats) countKinds(gitOut string) {
	if s.kinds == nil {
		s.kinds = map[string]int{}
	}
	if strings.Contains(gitOut, "exhaustive rename detection was skipped") {
		s.kinds["(rename limit reached)"]++
	}
	for _, line := range strings.Split(gitOut, "\n") {
		if rest, ok := strings.CutPrefix(line, "CONFLICT ("); ok {
			if k, _, ok := strings.Cut(rest, ")"); ok {
				s.kinds[k]++
			}
		}
	}
}

func (s *diffStats) add(renamed, agree bool, want string) {
	if renamed && strings.HasPrefix(want, "tree") {
		s.renameClean++
	}
	if renamed {
		s.renameCases++
		if agree {
			s.renameAgree++
		}
	} else {
		s.otherCases++
		if agree {
			s.otherAgree++
		}
	}
	switch {
	case strings.HasPrefix(want, "conflict"):
		s.conflicts++
	case want == "already reverted":
		s.already++
	case want == "git aborts":
		s.gitAborts++
	}
}

func (s diffStats) String() string {
	pct := func(a, n int) float64 {
		if n == 0 {
			return 100
		}
		return 100 * float64(a) / float64(n)
	}
	ks := make([]string, 0, len(s.kinds))
	for k, n := range s.kinds {
		ks = append(ks, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(ks)
	return fmt.Sprintf("rename cases %d/%d agree (%.2f %%, %d of them clean reverts), other cases %d/%d agree (%.2f %%); git: %d conflicts, %d already reverted, %d aborted (ensign: ErrGitCannotMerge); conflict messages: %s",
		s.renameAgree, s.renameCases, pct(s.renameAgree, s.renameCases), s.renameClean, s.otherAgree, s.otherCases, pct(s.otherAgree, s.otherCases), s.conflicts, s.already, s.gitAborts, strings.Join(ks, ", "))
}

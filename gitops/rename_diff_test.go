package gitops

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	cases := envInt("ENSIGN_RENAME_CASES", 200)
	seed := int64(envInt("ENSIGN_DIFF_SEED", 20260102))
	rng := rand.New(rand.NewSource(seed))
	dump := t.TempDir()
	if d := os.Getenv("ENSIGN_DIFF_DUMP"); d != "" {
		dump = d
	}
	dir := t.TempDir()
	runGit(t, dir, "init", "-q", "--template=", "-b", "main")
	var spent [4]time.Duration
	var st diffStats
	for i := 0; i < cases; i++ {
		h, target := genRenameCase(rng, fmt.Sprintf("case%d", i))
		got, want, err := runDifferentialCase(t, dir, h, target, &spent)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		renamed := gitSawRename(t, dir, h.branch, target)
		st.add(renamed, got == want, want)
		if got == want {
			continue
		}
		p := filepath.Join(dump, fmt.Sprintf("rename-case-%d-seed-%d.fi", i, seed))
		_ = os.WriteFile(p, h.stream.Bytes(), 0o644)
		msg := fmt.Sprintf("case %d (rename case: %v): ensign %q, git %q (stream, target mark :%d, in %s)", i, renamed, got, want, target, p)
		if renamed {
			t.Log(msg)
		} else {
			t.Error(msg)
		}
	}
	t.Logf("time: setup %v, ensign %v, git %v", spent[0], spent[1], spent[2])
	t.Logf("seed %d: %s", seed, st)
	if st.renameCases > 0 && st.renameAgree*100 < st.renameCases*99 {
		t.Errorf("rename cases: %d of %d agree, below 99 %%", st.renameAgree, st.renameCases)
	}
}

// diffStats counts agreement for rename and other cases.
type diffStats struct {
	renameCases, renameAgree, otherCases, otherAgree int
	conflicts, already                               int
}

func (s *diffStats) add(renamed, agree bool, want string) {
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
	}
}

func (s diffStats) String() string {
	pct := func(a, n int) float64 {
		if n == 0 {
			return 100
		}
		return 100 * float64(a) / float64(n)
	}
	return fmt.Sprintf("rename cases %d/%d agree (%.2f %%), other cases %d/%d agree (%.2f %%); git: %d conflicts, %d already reverted",
		s.renameAgree, s.renameCases, pct(s.renameAgree, s.renameCases), s.otherAgree, s.otherCases, pct(s.otherAgree, s.otherCases), s.conflicts, s.already)
}

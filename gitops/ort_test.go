package gitops

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// TestCountDirRename checks which directory renames one file rename
// counts, including git's handling of a rename into the top level.
func TestCountDirRename(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		removed  map[string]int
		want     string
	}{
		{"trailing directories agree", "a/b/c/d/e/foo.c", "a/b/some/thing/else/e/foo.c",
			map[string]int{"a/b/c/d/e": dirForSelf, "a/b/c/d": dirForSelf, "a/b/c": dirForSelf},
			"a/b/c/d/e→a/b/some/thing/else/e a/b/c/d→a/b/some/thing/else"},
		{"only the first step unless wanted for itself", "a/b/f", "x/b/f",
			map[string]int{"a/b": dirForAncestor, "a": dirForAncestor},
			"a/b→x/b"},
		{"into the top level", "sub/x/f", "x/f",
			map[string]int{"sub/x": dirForSelf, "sub": dirForSelf},
			"sub/x→x sub→"},
		{"old directory not removed", "a/f", "b/f", map[string]int{}, ""},
		{"not relevant stops after the first", "a/b/f", "c/b/f",
			map[string]int{"a/b": dirNotRelevant, "a": dirForSelf},
			"a/b→c/b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &renameDetector{setup: true, dirsRemoved: tc.removed, counts: map[string]*countMap{}}
			d.countDirRename(tc.old, tc.new)
			var got []string
			for old, c := range d.counts {
				for _, nw := range c.set.keys {
					got = append(got, fmt.Sprintf("%s→%s", old, nw))
				}
			}
			sort.Strings(got)
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("counts %q, want %q", g, tc.want)
			}
		})
	}
}

func TestReportPrefersUnmerged(t *testing.T) {
	m := &ortMerge{conflicts: []Conflict{
		{Path: "b", Kind: ConflictDirRenameInWay},
		{Path: "a", Kind: ConflictContent},
		{Path: "b", Kind: ConflictFileLocation},
		{Path: "a", Kind: ConflictModifyDelete},
	}}
	got := fmt.Sprint(m.report())
	if want := "[{a content} {b file location}]"; got != want {
		t.Errorf("report %s, want %s", got, want)
	}
}

func TestGitHashOrder(t *testing.T) {
	// Same bucket: newest first. "alpha" and "beta" fall in buckets 27 and
	// 23 of git's initial 64.
	if got := fmt.Sprint(gitHashOrder([]string{"alpha", "beta"})); got != "[beta alpha]" {
		t.Errorf("order %s", got)
	}
	// Growing past 51 keys rehashes into 256 buckets; every key survives.
	var keys []string
	for i := 0; i < 300; i++ {
		keys = append(keys, fmt.Sprintf("dir%d", i))
	}
	got := gitHashOrder(keys)
	seen := map[string]bool{}
	for _, k := range got {
		seen[k] = true
	}
	if len(got) != len(keys) || len(seen) != len(keys) {
		t.Fatalf("%d keys in, %d out (%d distinct)", len(keys), len(got), len(seen))
	}
	for i := 1; i < len(got); i++ {
		if gitStrhash(got[i-1])&1023 > gitStrhash(got[i])&1023 {
			t.Fatalf("not in bucket order of a 1024-bucket table at %d: %s, %s", i, got[i-1], got[i])
		}
	}
}

package textmerge

import (
	"strings"
	"testing"
)

type tableCase struct {
	name               string
	base, ours, theirs string
	// want is the clean result; ignored when conflicts > 0.
	want      string
	conflicts int
}

const kustomizeHead = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n"

func block(tag string) string { return "  - name: app\n    newTag: " + tag + "\n" }

func blocks(tags ...string) string {
	var b strings.Builder
	b.WriteString(kustomizeHead)
	for _, t := range tags {
		b.WriteString(block(t))
	}
	return b.String()
}

// tableCases hold the behaviour ensign's revert depends on. Every case is
// also checked against git in TestTableAgainstGit.
var tableCases = []tableCase{
	{
		name: "edits two lines apart merge",
		base: "a\nb\nc\nd\ne\n", ours: "a\nB\nc\nd\ne\n", theirs: "a\nb\nc\nD\ne\n",
		want: "a\nB\nc\nD\ne\n",
	},
	{
		name: "edits on adjacent lines conflict",
		base: "a\nb\nc\nd\n", ours: "a\nB\nc\nd\n", theirs: "a\nb\nC\nd\n",
		conflicts: 1,
	},
	{
		name: "different edits of the same line conflict",
		base: "a\nb\nc\n", ours: "a\nX\nc\n", theirs: "a\nY\nc\n",
		conflicts: 1,
	},
	{
		name: "identical edits on both sides are clean",
		base: "a\nb\nc\n", ours: "a\nX\nc\n", theirs: "a\nX\nc\n",
		want: "a\nX\nc\n",
	},
	{
		name: "identical edit plus separate edits",
		base: "1\n2\n3\n4\n5\n6\n7\n", ours: "one\n2\n3\nfour\n5\n6\n7\n", theirs: "1\n2\n3\nfour\n5\n6\nseven\n",
		want: "one\n2\n3\nfour\n5\n6\nseven\n",
	},
	{
		name: "overlapping edits that agree after refinement are clean",
		base: "a\nb\nc\nd\n", ours: "a\nB\nC\nd\n", theirs: "a\nB\nC\nd\n",
		want: "a\nB\nC\nd\n",
	},
	{
		name: "overlapping edits refined to the lines that differ",
		base: "a\nb\nc\nd\ne\n", ours: "a\nB\nC\nD\ne\n", theirs: "a\nB\nc\nX\ne\n",
		conflicts: 1,
	},
	{
		name: "different insertions at the same spot conflict",
		base: "a\nb\n", ours: "a\nX\nb\n", theirs: "a\nY\nb\n",
		conflicts: 1,
	},
	{
		name: "identical insertions at the same spot are clean",
		base: "a\nb\n", ours: "a\nX\nb\n", theirs: "a\nX\nb\n",
		want: "a\nX\nb\n",
	},
	{
		name: "insertion next to an edit conflicts",
		base: "a\nb\nc\n", ours: "a\nX\nb\nc\n", theirs: "a\nB\nc\n",
		conflicts: 1,
	},
	{
		name: "deletion touching an edit conflicts",
		base: "a\nb\nc\nd\n", ours: "a\nc\nd\n", theirs: "a\nb\nC\nd\n",
		conflicts: 1,
	},
	{
		name: "deletion away from an edit merges",
		base: "a\nb\nc\nd\ne\n", ours: "a\nc\nd\ne\n", theirs: "a\nb\nc\nd\nE\n",
		want: "a\nc\nd\nE\n",
	},
	{
		name: "two conflicts far apart count twice",
		base: "1\n2\n3\n4\n5\n6\n7\n8\n9\n", ours: "X\n2\n3\n4\n5\n6\n7\n8\nX\n", theirs: "Y\n2\n3\n4\n5\n6\n7\n8\nY\n",
		conflicts: 2,
	},
	{
		name: "conflicts three lines apart count once",
		base: "1\n2\n3\n4\n5\n", ours: "X\n2\n3\n4\nX\n", theirs: "Y\n2\n3\n4\nY\n",
		conflicts: 1,
	},
	{
		name: "missing final newline added by one side, edit elsewhere",
		base: "a\nb\nc\nd", ours: "a\nB\nc\nd", theirs: "a\nb\nc\nd\n",
		want: "a\nB\nc\nd\n",
	},
	{
		name: "final newline removed by one side, last line edited by the other",
		base: "a\nb\nc\n", ours: "a\nb\nc", theirs: "a\nb\nC\n",
		conflicts: 1,
	},
	{
		name: "both sides drop the final newline",
		base: "a\nb\nc\n", ours: "A\nb\nc", theirs: "a\nb\nc",
		conflicts: 0, want: "A\nb\nc",
	},
	{
		name: "CRLF and LF lines differ",
		base: "a\r\nb\r\nc\r\n", ours: "a\nb\r\nc\r\n", theirs: "a\r\nb\r\nc\r\nd\r\n",
		want: "a\nb\r\nc\r\nd\r\n",
	},
	{
		name: "CRLF versus LF edit of the same line conflicts",
		base: "a\r\nb\r\nc\r\n", ours: "a\r\nb\nc\r\n", theirs: "a\r\nB\r\nc\r\n",
		conflicts: 1,
	},
	{
		name: "empty base, different content conflicts",
		base: "", ours: "a\n", theirs: "b\n",
		conflicts: 1,
	},
	{
		name: "empty base, same content",
		base: "", ours: "a\nb\n", theirs: "a\nb\n",
		want: "a\nb\n",
	},
	{
		name: "one side empties the file, other edits",
		base: "a\nb\n", ours: "", theirs: "a\nB\n",
		conflicts: 1,
	},
	{
		name: "both empty the file",
		base: "a\nb\n", ours: "", theirs: "",
		want: "",
	},
	{
		name:   "revert of a tag bump with an unrelated bump",
		base:   blocks("v2", "v1", "v1"),
		ours:   blocks("v2", "v1", "v9"),
		theirs: blocks("v1", "v1", "v1"),
		want:   blocks("v1", "v1", "v9"),
	},
	{
		// The added duplicate block is ambiguous; git slides it to the
		// end of the run of identical blocks, where it touches the tag
		// change on the last block.
		name:      "duplicate block inserted at the top slides down into a conflict",
		base:      blocks("v1", "v1", "v1"),
		ours:      blocks("v1", "v1", "v1", "v1"),
		theirs:    blocks("v1", "v1", "v2"),
		conflicts: 1,
	},
	{
		name:   "duplicate block with the tag change on the first block merges",
		base:   blocks("v1", "v1", "v1"),
		ours:   blocks("v1", "v1", "v1", "v1"),
		theirs: blocks("v2", "v1", "v1"),
		want:   blocks("v2", "v1", "v1", "v1"),
	},
	{
		name:   "duplicate block inserted by both sides",
		base:   blocks("v1", "v1"),
		ours:   blocks("v1", "v1", "v1"),
		theirs: blocks("v1", "v1", "v1"),
		want:   blocks("v1", "v1", "v1"),
	},
	{
		name:      "different blocks appended by both sides",
		base:      blocks("v1", "v1"),
		ours:      blocks("v1", "v1", "v3"),
		theirs:    blocks("v1", "v1", "v4"),
		conflicts: 1,
	},
}

func TestMergeTable(t *testing.T) {
	for _, tc := range tableCases {
		t.Run(tc.name, func(t *testing.T) {
			got := Merge([]byte(tc.base), []byte(tc.ours), []byte(tc.theirs))
			if got.Conflicts != tc.conflicts {
				t.Fatalf("conflicts = %d, want %d (merged %q)", got.Conflicts, tc.conflicts, got.Merged)
			}
			if tc.conflicts == 0 && string(got.Merged) != tc.want {
				t.Fatalf("merged = %q, want %q", got.Merged, tc.want)
			}
		})
	}
}

// TestTableAgainstGit keeps the table honest: every expectation above is
// what git 2.39 does (merge-tree runs the same merge-ort code as revert).
func TestTableAgainstGit(t *testing.T) {
	g := newGitRunner(t)
	cases := make([]mergeCase, len(tableCases))
	for i, tc := range tableCases {
		cases[i] = mergeCase{base: []byte(tc.base), ours: []byte(tc.ours), theirs: []byte(tc.theirs)}
	}
	ort := g.mergeTree(t, cases)
	for i, tc := range tableCases {
		t.Run(tc.name, func(t *testing.T) {
			if ort[i].conflicts != tc.conflicts {
				t.Errorf("git merge-tree: conflicts = %d, table says %d", ort[i].conflicts, tc.conflicts)
			}
			if tc.conflicts == 0 && string(ort[i].merged) != tc.want {
				t.Errorf("git merge-tree: merged = %q, table says %q", ort[i].merged, tc.want)
			}
		})
	}
}

func TestMergeWithUnknownAlgorithmPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "unknown Algorithm 7") {
			t.Fatalf("recovered %v, want a panic naming the bad algorithm", r)
		}
	}()
	MergeWith([]byte("a\n"), []byte("b\n"), []byte("c\n"), Options{Algorithm: 7})
}

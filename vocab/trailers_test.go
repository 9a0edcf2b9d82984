package vocab

import (
	"slices"
	"testing"
)

func TestReverted(t *testing.T) {
	full := "0123456789abcdef0123456789abcdef01234567"
	other := "89abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name string
		msg  string
		want []string
	}{
		{"not a revert", "Promote podinfo to production\n\nEnsign-Promotion: podinfo/production\n", nil},
		{"git revert", "Revert \"x\"\n\nThis reverts commit " + full + ".\n", []string{full}},
		{"git revert of a merge", "Revert \"x\"\n\nThis reverts commit " + full + ", reversing\nchanges made to " + other + ".\n", []string{full}},
		{"ensign's trailer", "Revert \"x\"\n\nThis reverts commit " + full + ".\n\nEnsign-Reverts: " + full + "\n", []string{full}},
		{"trailer only", "Undo\n\nbody\n\nEnsign-Reverts: " + other + "\n", []string{other}},
		{"abbreviated by hand", "Revert x\n\nThis reverts commit 0123abc.\n", []string{"0123abc"}},
		{"upper case", "Revert x\n\nThis reverts commit 0123ABCDEF.\n", []string{"0123abcdef"}},
		{"too short", "Revert x\n\nThis reverts commit 0123ab.\n", nil},
		{"not hex", "Revert x\n\nThis reverts commit 0123abz4567.\n", nil},
		{"longer than an id", "This reverts commit " + full + "0\n", nil},
		{"in the title", "This reverts commit " + full, []string{full}},
		{"indented line", "x\n\n   This reverts commit " + full + ".\n", []string{full}},
		{"a trailer in the title is no trailer", "Ensign-Reverts: " + full, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Reverted(tt.msg)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Reverted = %v, want %v", got, tt.want)
			}
			if IsRevert(tt.msg) != (len(tt.want) > 0) {
				t.Fatalf("IsRevert disagrees with Reverted")
			}
		})
	}
}

func TestRevertsCommit(t *testing.T) {
	full := "0123456789abcdef0123456789abcdef01234567"
	if !RevertsCommit("x\n\nThis reverts commit 0123456.\n", full) {
		t.Fatal("an abbreviated id must match its commit")
	}
	if RevertsCommit("x\n\nThis reverts commit 1123456.\n", full) {
		t.Fatal("another id matched")
	}
	if !RevertsCommit("x\n\nEnsign-Reverts: "+full+"\n", "0123456789ABCDEF0123456789abcdef01234567") {
		t.Fatal("case must not matter")
	}
}

func FuzzReverted(f *testing.F) {
	f.Add("Revert \"x\"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.\n")
	f.Add("x\n\nEnsign-Reverts: 0123abc\n")
	f.Fuzz(func(t *testing.T, msg string) {
		for _, id := range Reverted(msg) {
			if !isHexID(id) {
				t.Fatalf("Reverted(%q) gave %q, not a 7-40 digit lowercase id", msg, id)
			}
			if !RevertsCommit(msg, id) {
				t.Fatalf("RevertsCommit disagrees with Reverted on %q", id)
			}
		}
	})
}

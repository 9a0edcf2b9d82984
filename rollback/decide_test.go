package rollback

import (
	"strings"
	"testing"

	"github.com/ensignbot/ensign/policy"
)

func TestDecide(t *testing.T) {
	open := policy.State{Open: true, Reason: "no windows apply"}
	frozen := policy.State{Open: false, Reason: `inside deny window "year-end-freeze"`}
	// revertable is a failure nothing stands in the way of reverting.
	revertable := Facts{Failing: 1, PinnedAtTip: 1, OnFailure: policy.FailureRevert, Mode: policy.ModePush, Window: open}
	with := func(change func(*Facts)) Facts {
		f := revertable
		change(&f)
		return f
	}
	tests := []struct {
		name   string
		facts  Facts
		want   Verdict
		reason string
	}{
		{"target runs the primary's version", Facts{}, NothingToRevert, "same images"},
		{"nothing failing outranks everything", with(func(f *Facts) { f.Failing = 0; f.Resumed = true }), NothingToRevert, ""},
		{"this failure's revert is on the branch", with(func(f *Facts) { f.Resumed = true }), Resume, "finishing"},
		{"resume outranks a moved branch", with(func(f *Facts) { f.Resumed = true; f.PinnedAtTip = 0 }), Resume, ""},
		{"revert pull request merged", with(func(f *Facts) { f.PinnedAtTip = 0; f.RevertPRMerged = true }), RevertPRMerged, "merged"},
		{"gone from Git some other way", with(func(f *Facts) { f.PinnedAtTip = 0 }), NotInGit, "nothing written"},
		{"came in across an unreadable state", with(func(f *Facts) { f.Unreadable = true }), RefuseUnreadable, "does not parse"},
		{"came in with a revert", with(func(f *Facts) { f.IntroducerIsRevert = true }), RefuseRevertOfRevert, "never reverts a revert"},
		{"refusal outranks report-only", with(func(f *Facts) { f.IntroducerIsRevert = true; f.OnFailure = policy.FailureReport }), RefuseRevertOfRevert, ""},
		{"stage only reports", with(func(f *Facts) { f.OnFailure = policy.FailureReport }), ReportOnly, "onFailure: report"},
		{"push mode, window open", revertable, PushRevert, ""},
		{"push mode in a deny window", with(func(f *Facts) { f.Window = frozen }), OpenRevertPR, "year-end-freeze"},
		{"pr mode", with(func(f *Facts) { f.Mode = policy.ModePR }), OpenRevertPR, ""},
		{"pr mode in a deny window", with(func(f *Facts) { f.Mode = policy.ModePR; f.Window = frozen }), OpenRevertPR, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.facts)
			if d.Verdict != tt.want {
				t.Fatalf("verdict %d, want %d (%+v)", d.Verdict, tt.want, d)
			}
			if !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("reason %q, want it to contain %q", d.Reason, tt.reason)
			}
		})
	}
}

package rollback

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ensignbot/ensign/gitops"
)

// TestRevertResultRefusesWhatGitopsDeclines: a revert gitops declines for
// good (a merge driver it does not run, a history git's own merge aborts
// on) is ActionRefused for a person to do: terminal, with no error to
// retry, and a reason that names what gitops declined. Only other errors
// come back as ActionError with the error, to be retried.
func TestRevertResultRefusesWhatGitopsDeclines(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantAction Action
		wantErr    bool
		wantReason string
	}{
		{"custom merge driver", fmt.Errorf("revert abc: merge: %w", &gitops.AttributeError{Path: "apps/a.yaml", Attribute: "merge", Value: "ours", Reason: "custom driver"}), ActionRefused, false, "apps/a.yaml"},
		{"git aborts", fmt.Errorf("revert abc: merge: %w: x", gitops.ErrGitCannotMerge), ActionRefused, false, "a person must revert it"},
		{"conflict", &gitops.ConflictError{Commit: "abc", Conflicts: []gitops.Conflict{{Path: "a", Kind: gitops.ConflictContent}}}, ActionConflict, false, "a person must resolve it"},
		{"already reverted", fmt.Errorf("revert abc: %w", gitops.ErrAlreadyReverted), ActionAlreadyReverted, false, "already undoes"},
		{"other error", errors.New("network"), ActionError, true, "not written"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := (&Service{}).revertResult(Outcome{Reverted: "0123456789abcdef"}, nil, tc.err, ActionReverted, "")
			if out.Action != tc.wantAction || (err != nil) != tc.wantErr {
				t.Fatalf("action %q err %v, want %q (error: %v)", out.Action, err, tc.wantAction, tc.wantErr)
			}
			if !strings.Contains(out.Reason, tc.wantReason) {
				t.Errorf("reason %q does not say %q", out.Reason, tc.wantReason)
			}
			if tc.wantAction == ActionRefused && (out.Action.Done() || !out.Action.Warning()) {
				t.Errorf("refused: Done %v, Warning %v; want a warning that is not done", out.Action.Done(), out.Action.Warning())
			}
		})
	}
}

package forge

import (
	"context"
	"fmt"
	"unicode/utf8"

	"code.gitea.io/sdk/gitea"
)

// CommitState is the state of a commit status.
type CommitState string

// Commit status states, as Gitea names them.
const (
	StatePending CommitState = "pending"
	StateSuccess CommitState = "success"
	StateFailure CommitState = "failure"
	StateError   CommitState = "error"
)

// CommitStatus is one status check on a commit, keyed by Context.
type CommitStatus struct {
	// Context names the check, e.g. "ensign/policy".
	Context string
	State   CommitState
	// Description is a short line shown next to the check; longer text is
	// cut to Gitea's limit.
	Description string
	// TargetURL, if set, is where the check's details are.
	TargetURL string
}

// maxStatusDescription is how much description Gitea keeps.
const maxStatusDescription = 255

// SetCommitStatus sets a status check on commit sha. Setting the same
// context again replaces what Gitea shows for it.
func (c *Client) SetCommitStatus(ctx context.Context, repo Repo, sha string, st CommitStatus) error {
	desc := st.Description
	if len(desc) > maxStatusDescription {
		desc = desc[:maxStatusDescription-3]
		for !utf8.ValidString(desc) {
			desc = desc[:len(desc)-1]
		}
		desc += "..."
	}
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		_, resp, err := api.CreateStatus(repo.Owner, repo.Name, sha, gitea.CreateStatusOption{
			State: gitea.StatusState(st.State), TargetURL: st.TargetURL, Description: desc, Context: st.Context,
		})
		return resp, err
	})
	if err != nil {
		return fmt.Errorf("set status %s on %s@%s: %w", st.Context, repo, sha, err)
	}
	return nil
}

package scenario

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/workspace"
)

// ForgeRepo names the sample repository for package forge.
func (e *Env) ForgeRepo() forge.Repo { return forge.Repo{Owner: e.Org, Name: e.Repo} }

// Forge returns a Gitea client acting as ensign's account.
func (e *Env) Forge() (*forge.Client, error) {
	return forge.New(forge.Config{URL: strings.TrimSuffix(e.Gitea.URL, "/"), Token: e.Bot.Token})
}

// Clusters returns ensign's view of the two stage clusters.
func (e *Env) Clusters() (*cluster.Set, error) {
	var cs []*cluster.Client
	for _, name := range []string{e.Staging.Cluster, e.Production.Cluster} {
		c, err := cluster.FromConfig(name, e.Kube.Config)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cluster.NewSet(cs...), nil
}

// Workspace opens a fresh Git cache of the sample repository in dir, as a
// newly started ensign would. client, if not nil, carries ensign's Git HTTP
// traffic (tests use it to interleave a person's push).
func (e *Env) Workspace(ctx context.Context, dir string, client *http.Client) (*workspace.Workspace, error) {
	g, err := gitops.Open(ctx, gitops.Options{
		Dir: dir, URL: e.Gitea.URL + e.Org + "/" + e.Repo + ".git", Token: e.Bot.Token, HTTPClient: client,
	})
	if err != nil {
		return nil, err
	}
	return &workspace.Workspace{Repo: e.ForgeRepo(), Git: g, Branch: "main", PolicyFile: ".ensign.yaml"}, nil
}

// MergedChange is a change a person brought in through a merged pull request.
type MergedChange struct {
	PR       int64
	MergeSHA string
}

// PromoteByHand is a person promoting a version into a stage's overlay:
// a branch, a pull request, a merge commit on main.
func (e *Env) PromoteByHand(ctx context.Context, s Stage, tag string) (MergedChange, error) {
	branch := fmt.Sprintf("promote-%s-%s-%d", s.Name, tag, time.Now().UnixNano())
	merged, err := e.mergeByHand(ctx, branch, "Promote podinfo "+tag+" to "+s.Name, map[string]string{
		s.Overlay + "/kustomization.yaml": overlayYAML(s, tag),
	}, 30*time.Second)
	if err != nil {
		return MergedChange{}, err
	}
	return MergedChange{PR: merged.Index, MergeSHA: *merged.MergedCommitID}, nil
}

// mergeByHand is a person bringing files into main through a pull request:
// a commit titled title on a new branch, a pull request with that title,
// and its merge (a merge commit) within the given time. It returns the
// merged pull request.
func (e *Env) mergeByHand(ctx context.Context, branch, title string, files map[string]string, within time.Duration) (*gitea.PullRequest, error) {
	if _, err := e.CommitOnBranch(ctx, e.Dev, branch, title, files); err != nil {
		return nil, err
	}
	c, err := e.Gitea.Client(ctx, e.Dev.Token)
	if err != nil {
		return nil, err
	}
	pr, _, err := c.CreatePullRequest(e.Org, e.Repo, gitea.CreatePullRequestOption{Head: branch, Base: "main", Title: title})
	if err != nil {
		return nil, fmt.Errorf("open pull request: %w", err)
	}
	var merged *gitea.PullRequest
	err = Wait(ctx, within, "the merge of "+title, func() (bool, error) {
		p, _, err := c.GetPullRequest(e.Org, e.Repo, pr.Index)
		if err != nil || p.HasMerged {
			merged = p
			return err == nil, err
		}
		_, _, err = c.MergePullRequest(e.Org, e.Repo, pr.Index, gitea.MergePullRequestOption{Style: gitea.MergeStyleMerge})
		return false, err
	})
	if err != nil {
		return nil, err
	}
	return merged, nil
}

// CommitOnBranch is Commit on a new branch made from main.
func (e *Env) CommitOnBranch(ctx context.Context, user harness.GiteaUser, branch, msg string, files map[string]string) (string, error) {
	c, err := e.Gitea.Client(ctx, user.Token)
	if err != nil {
		return "", err
	}
	if _, _, err := c.CreateBranch(e.Org, e.Repo, gitea.CreateBranchOption{BranchName: branch, OldBranchName: "main"}); err != nil {
		return "", fmt.Errorf("create branch %s: %w", branch, err)
	}
	return e.commit(ctx, user, branch, msg, files)
}

// OverlayFile returns the kustomization a stage's overlay has when it pins
// tag, exactly as the scenario writes it.
func (e *Env) OverlayFile(s Stage, tag string) string { return overlayYAML(s, tag) }

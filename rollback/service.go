package rollback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ensignbot/ensign/canary"
	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/workspace"
)

// Forge is the part of the Gitea client rollbacks use; *forge.Client
// implements it.
type Forge interface {
	EnsurePullRequest(ctx context.Context, repo forge.Repo, want forge.NewPullRequest) (forge.PullRequest, bool, error)
	GetPullRequest(ctx context.Context, repo forge.Repo, number int64) (forge.PullRequest, error)
	ListClosedPullRequests(ctx context.Context, repo forge.Repo, label string, limit int) ([]forge.PullRequest, error)
	PullRequestForCommit(ctx context.Context, repo forge.Repo, sha string) (forge.PullRequest, bool, error)
	AddLabel(ctx context.Context, repo forge.Repo, number int64, want forge.Label) (bool, error)
	UpsertComment(ctx context.Context, repo forge.Repo, number int64, marker, text string) (forge.Comment, bool, error)
	EnsureIssue(ctx context.Context, repo forge.Repo, marker, title, body string) (int64, error)
}

// Clusters reads failed canaries and acts on their clusters; *cluster.Set
// implements it.
type Clusters interface {
	TargetImages(ctx context.Context, cluster string, c *flaggerv1.Canary) ([]canary.Container, error)
	PrimaryImages(ctx context.Context, cluster string, c *flaggerv1.Canary) ([]canary.Container, error)
	WarningEvents(ctx context.Context, cluster string, c *flaggerv1.Canary, limit int) ([]canary.Event, error)
	RecordEvent(ctx context.Context, cluster string, c *flaggerv1.Canary, n canary.Note, now time.Time) error
	RequestReconcile(ctx context.Context, stage *policy.Stage, now time.Time) ([]flux.Ref, error)
	Kustomizations(ctx context.Context, stage *policy.Stage) ([]flux.Kustomization, error)
}

// Config wires a Service.
type Config struct {
	Workspace *workspace.Workspace
	Forge     Forge
	Clusters  Clusters
	// Bot is ensign's own Gitea login.
	Bot string
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// History bounds how many commits of a stage's overlay are searched
	// for the commit that introduced a version (default 200).
	History int
}

// Service answers failed canaries in one repository.
type Service struct {
	ws       *workspace.Workspace
	forge    Forge
	clusters Clusters
	bot      string
	now      func() time.Time
	log      *slog.Logger
	history  int
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Workspace == nil || cfg.Forge == nil || cfg.Clusters == nil || cfg.Bot == "" {
		return nil, errors.New("rollback: workspace, forge, clusters and bot are required")
	}
	s := &Service{ws: cfg.Workspace, forge: cfg.Forge, clusters: cfg.Clusters, bot: cfg.Bot, now: cfg.Now, log: cfg.Logger, history: cfg.History}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.history <= 0 {
		s.history = 200
	}
	s.log = s.log.With("repo", cfg.Workspace.Repo.String())
	return s, nil
}

// Outcome reports what a rollback did, for logs, replies and `-o json`.
type Outcome struct {
	App   string `json:"app"`
	Stage string `json:"stage"`
	// Action is one of: reverted (pushed), revert-pr (opened), already-reverted,
	// not-in-git, nothing-to-revert, conflict, reported, refused.
	Action string `json:"action"`
	Reason string `json:"reason"`
	// Failing lists the image references that failed.
	Failing []string `json:"failing,omitempty"`
	// Reverted is the commit reverted (or that would have been).
	Reverted string `json:"reverted,omitempty"`
	// Commit is the revert commit, on the deploy branch or the revert PR's branch.
	Commit string `json:"commit,omitempty"`
	// PR is the revert pull request in pr mode.
	PR int64 `json:"pr,omitempty"`
	// OriginalPR is the pull request that introduced the reverted commit.
	OriginalPR int64             `json:"originalPR,omitempty"`
	Conflicts  []gitops.Conflict `json:"conflicts,omitempty"`
	// Reconciled lists the Flux objects asked to reconcile.
	Reconciled []string `json:"reconciled,omitempty"`
}

// failure is one failed analysis of one canary.
type failure struct {
	cluster string
	canary  *flaggerv1.Canary
	// id is "<cluster>/<namespace>/<name>@<RFC 3339 transition time>".
	id string
	at time.Time
}

func newFailure(cluster string, c *flaggerv1.Canary) failure {
	at := c.Status.LastTransitionTime.Time.UTC().Truncate(time.Second)
	return failure{cluster: cluster, canary: c, at: at,
		id: fmt.Sprintf("%s/%s/%s@%s", cluster, c.Namespace, c.Name, at.Format(time.RFC3339))}
}

// Failed handles a canary that reached Failed.
func (s *Service) Failed(ctx context.Context, cluster string, c *flaggerv1.Canary) (Outcome, error) {
	snap, done, err := s.ws.Begin(ctx, true) // a broken release must not wait behind promotions
	defer done()
	if err != nil {
		return Outcome{}, err
	}
	if snap.Policy == nil {
		return Outcome{}, nil
	}
	app, stage, ok := snap.Policy.FindCanary(policy.CanaryRef{Cluster: cluster, Namespace: c.Namespace, Name: c.Name})
	if !ok {
		return Outcome{}, nil
	}
	f := newFailure(cluster, c)
	out, err := s.failed(ctx, snap, app, stage, f)
	if out.Action == "" {
		return out, err
	}
	s.log.Info("rollback", "app", app.Name, "stage", stage.Name, "failure", f.id, "action", out.Action, "reverted", out.Reverted, "commit", out.Commit, "reason", out.Reason)
	if eventErr := s.event(ctx, f, out); eventErr != nil {
		err = errors.Join(err, eventErr)
	}
	if err != nil {
		// Everything written so far is found again next time; the rest is retried.
		return out, fmt.Errorf("rollback of %s/%s (%s) is not finished: %w", app.Name, stage.Name, out.Action, err)
	}
	return out, nil
}

func (s *Service) failed(ctx context.Context, snap workspace.Snapshot, app *policy.App, stage *policy.Stage, f failure) (Outcome, error) {
	out := Outcome{App: app.Name, Stage: stage.Name}
	failing, err := s.failingImages(ctx, f)
	if err != nil {
		return out, err
	}
	for _, r := range failing {
		out.Failing = append(out.Failing, r.String())
	}
	if len(failing) == 0 {
		out.Action, out.Reason = "nothing-to-revert", "the canary's target runs the same images as its primary (what Flagger last promoted)"
		return out, nil
	}

	// Resume a rollback of this very failure that already landed.
	done, err := s.findFailureRevert(ctx, stage, f.id)
	if err != nil {
		return out, err
	}
	if done != nil {
		out.Action, out.Commit = "reverted", done.Hash.String()
		if r := gitops.TrailerValues(done.Message, gitops.TrailerReverts); len(r) > 0 {
			out.Reverted = r[0]
		}
		out.Reason = "reverted before; finishing the follow-ups"
		return s.followUp(ctx, snap.Policy, app, stage, f, out)
	}

	tipTree, err := s.ws.Git.Snapshot(snap.Tip)
	if err != nil {
		return out, err
	}
	atTip, err := pinned(tipTree, stage.Overlay, failing)
	if err != nil {
		return out, fmt.Errorf("read %s at %s: %w", stage.Overlay, short(snap.Tip.String()), err)
	}
	if len(atTip) == 0 {
		// Maybe ensign's own revert PR for this failure was merged.
		if pr, ok, err := s.mergedRevertPR(ctx, snap.Policy, f); err == nil && ok {
			out.Action, out.PR = "already-reverted", pr.Number
			out.Reason = fmt.Sprintf("the revert pull request #%d was merged", pr.Number)
			return s.followUp(ctx, snap.Policy, app, stage, f, out)
		}
		out.Action = "not-in-git"
		out.Reason = fmt.Sprintf("%s at %s no longer contains the failing version (it was reverted or replaced outside ensign); nothing written", stage.Overlay, short(snap.Tip.String()))
		return out, nil
	}

	intro, err := s.introducedBy(ctx, stage, failing)
	var unreadable *UnreadableError
	if errors.As(err, &unreadable) {
		out.Action, out.Reason = "refused", err.Error()+"; a person must revert it"
		return out, s.commentOriginal(ctx, unreadable.Commit, &out, f)
	}
	if err != nil {
		return out, err
	}
	out.Reverted = intro.Hash.String()
	if isRevert(intro) {
		out.Action = "refused"
		out.Reason = fmt.Sprintf("the failing version came in with %s, itself a revert; ensign never reverts a revert automatically", short(out.Reverted))
		return out, s.commentOriginal(ctx, intro, &out, f)
	}
	if stage.OnFailure == policy.FailureReport {
		out.Action, out.Reason = "reported", fmt.Sprintf("stage %s reports failures instead of reverting them (onFailure: report)", stage.Name)
		return out, s.commentOriginal(ctx, intro, &out, f)
	}
	trailers := []gitops.Trailer{
		{Key: workspace.TrailerRollback, Value: app.Name + "/" + stage.Name},
		{Key: workspace.TrailerFailure, Value: f.id},
	}
	for _, r := range out.Failing {
		trailers = append(trailers, gitops.Trailer{Key: workspace.TrailerImage, Value: r})
	}
	out, err = s.revert(ctx, snap.Policy, app, stage, intro, trailers, f.at, f.id, out)
	if err != nil {
		return out, err
	}
	switch out.Action {
	case "conflict", "already-reverted":
		return out, s.commentOriginal(ctx, intro, &out, f)
	}
	return s.followUp(ctx, snap.Policy, app, stage, f, out)
}

// failingImages returns the images the canary's target runs and its
// primary does not.
func (s *Service) failingImages(ctx context.Context, f failure) ([]imageref.Ref, error) {
	target, err := s.clusters.TargetImages(ctx, f.cluster, f.canary)
	if err != nil {
		return nil, err
	}
	primary, err := s.clusters.PrimaryImages(ctx, f.cluster, f.canary)
	if err != nil {
		return nil, err
	}
	promoted := map[string]bool{}
	for _, c := range primary {
		promoted[c.Image] = true
	}
	var out []imageref.Ref
	seen := map[string]bool{}
	for _, c := range target {
		if promoted[c.Image] || seen[c.Image] {
			continue
		}
		seen[c.Image] = true
		r, err := imageref.Parse(c.Image)
		if err != nil {
			return nil, fmt.Errorf("container %s of canary %s/%s: %w", c.Name, f.canary.Namespace, f.canary.Name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// findFailureRevert looks for ensign's revert of this failure on the deploy branch.
func (s *Service) findFailureRevert(ctx context.Context, stage *policy.Stage, id string) (*gitops.CommitInfo, error) {
	var found *gitops.CommitInfo
	err := s.ws.Git.Log(ctx, s.ws.Branch, gitops.LogOptions{Path: stage.Overlay, Max: s.history}, func(c *gitops.CommitInfo) error {
		for _, v := range gitops.TrailerValues(c.Message, workspace.TrailerFailure) {
			if v == id {
				found = c
				return gitops.ErrStopWalk
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look for an earlier revert of %s: %w", id, err)
	}
	return found, nil
}

// ErrNoIntroducer means the commit that brought the failing version into
// the overlay is not within the searched history.
var ErrNoIntroducer = errors.New("commit that introduced the failing version not found")

// introducedBy finds the newest first-parent commit that made the overlay
// pin one of the failing images its first parent did not pin.
func (s *Service) introducedBy(ctx context.Context, stage *policy.Stage, failing []imageref.Ref) (*gitops.CommitInfo, error) {
	// Collect the candidates first: reading trees of parents may need
	// history a shallow cache lacks, which cannot be fetched inside a walk.
	var candidates []*gitops.CommitInfo
	err := s.ws.Git.Log(ctx, s.ws.Branch, gitops.LogOptions{Path: stage.Overlay, Max: s.history}, func(c *gitops.CommitInfo) error {
		candidates = append(candidates, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find the commit that introduced the failing version: %w", err)
	}
	// A state of the overlay that does not parse (a typo fixed in the next
	// commit) is skipped: what a readable state pins is compared with the
	// nearest older readable state. Only when a failing image appears across
	// an unreadable state is the introducing change unknown.
	var across *gitops.CommitInfo // unreadable state a pinned image may have come in with
	var pending map[string]bool   // images pinned just after it
	for _, c := range candidates {
		now, err := s.pinnedAt(ctx, c.Hash, stage, failing)
		if errors.Is(err, errUnreadable) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for ref := range pending {
			if !now[ref] {
				return nil, &UnreadableError{Commit: across, Overlay: stage.Overlay, Image: ref}
			}
		}
		pending = nil
		var before map[string]bool
		if len(c.Parents) > 0 {
			before, err = s.pinnedAt(ctx, c.Parents[0], stage, failing)
			if errors.Is(err, errUnreadable) {
				if across, err = s.ws.Git.Commit(c.Parents[0]); err != nil {
					return nil, err
				}
				pending = now
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		for ref := range now {
			if !before[ref] {
				return c, nil
			}
		}
	}
	if len(pending) > 0 {
		refs := slices.Sorted(maps.Keys(pending))
		return nil, &UnreadableError{Commit: across, Overlay: stage.Overlay, Image: refs[0]}
	}
	return nil, fmt.Errorf("%w in the last %d commits changing %s", ErrNoIntroducer, s.history, stage.Overlay)
}

// errUnreadable marks an overlay state that does not parse.
var errUnreadable = errors.New("the overlay does not parse")

// UnreadableError means the failing version came in across a state of the
// overlay that does not parse, so the commit to revert is unknown.
type UnreadableError struct {
	// Commit is the unreadable state.
	Commit  *gitops.CommitInfo
	Overlay string
	Image   string
}

func (e *UnreadableError) Error() string {
	return fmt.Sprintf("%s came into %s next to %s, where the overlay does not parse; ensign cannot tell which commit to revert", e.Image, e.Overlay, short(e.Commit.Hash.String()))
}

// pinnedAt is pinned for the overlay at a commit, fetching the commit if a
// shallow cache lacks it; errUnreadable if the overlay does not parse there.
func (s *Service) pinnedAt(ctx context.Context, commit plumbing.Hash, stage *policy.Stage, refs []imageref.Ref) (map[string]bool, error) {
	if err := s.ws.Git.FetchCommit(ctx, commit, 1); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", short(commit.String()), err)
	}
	tree, err := s.ws.Git.Snapshot(commit)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", stage.Overlay, short(commit.String()), err)
	}
	got, err := pinned(tree, stage.Overlay, refs)
	if err != nil {
		s.log.Warn("skipping an unreadable state of the overlay", "overlay", stage.Overlay, "commit", short(commit.String()), "err", err)
		return nil, fmt.Errorf("%w: %s at %s: %w", errUnreadable, stage.Overlay, short(commit.String()), err)
	}
	return got, nil
}

// isRevert reports whether a commit is itself a revert (ensign's or git's).
func isRevert(c *gitops.CommitInfo) bool {
	if len(gitops.TrailerValues(c.Message, gitops.TrailerReverts)) > 0 {
		return true
	}
	return revertLine.MatchString(c.Message)
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

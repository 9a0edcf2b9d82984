package rollback

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/imageguard"
	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/internal/logctx"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
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
	FindComment(ctx context.Context, repo forge.Repo, number int64, marker string) (forge.Comment, bool, error)
	EnsureIssue(ctx context.Context, repo forge.Repo, marker, title, body string) (int64, error)
}

// Clusters reads failed canaries and acts on their clusters; *cluster.Set
// implements it.
type Clusters interface {
	TargetImages(ctx context.Context, cluster string, c *flaggerv1.Canary) ([]cluster.Container, error)
	PrimaryImages(ctx context.Context, cluster string, c *flaggerv1.Canary) ([]cluster.Container, error)
	WarningEvents(ctx context.Context, cluster string, c *flaggerv1.Canary, limit int) ([]cluster.Event, error)
	RecordEvent(ctx context.Context, cluster string, c *flaggerv1.Canary, n cluster.Note, now time.Time) error
	RequestReconcile(ctx context.Context, stage *policy.Stage, now time.Time) ([]flux.Ref, error)
	Suspended(ctx context.Context, stage *policy.Stage) ([]flux.Ref, error)
	ImageRepositoryOf(ctx context.Context, cluster, namespace, name string) (cluster.ImageRepository, error)
	SetImageExclusions(ctx context.Context, r cluster.ImageRepository) error
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
	// FollowUps bounds how many rollbacks at once comment, ask Flux to
	// reconcile and record their events (default 8): a burst of failures
	// must not crowd the next batch's fetch and push out of Gitea.
	FollowUps int
	// History bounds how many commits changing a stage's overlay are
	// searched for the commit that introduced a version, and how many of
	// the branch's newest commits for ensign's earlier reverts (default 200).
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
	batch    batcher
	// followUps holds a slot per rollback finishing its follow-ups.
	followUps chan struct{}
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
	if cfg.FollowUps <= 0 {
		cfg.FollowUps = 8
	}
	s.followUps = make(chan struct{}, cfg.FollowUps)
	s.log = s.log.With("repo", cfg.Workspace.Repo.String())
	return s, nil
}

// Action is what a rollback did or found; Outcome.Action.
type Action string

// What a rollback can come to.
const (
	// ActionReverted: the revert is on the deploy branch (pushed).
	ActionReverted Action = "reverted"
	// ActionRevertPR: a revert pull request is open.
	ActionRevertPR Action = "revert-pr"
	// ActionAlreadyReverted: the deploy branch already undoes the commit.
	ActionAlreadyReverted Action = "already-reverted"
	// ActionNotInGit: the deploy branch no longer pins the failing version.
	ActionNotInGit Action = "not-in-git"
	// ActionNothingToRevert: the canary's target runs what its primary runs.
	ActionNothingToRevert Action = "nothing-to-revert"
	// ActionConflict: the revert conflicts; a person must resolve it.
	ActionConflict Action = "conflict"
	// ActionReported: the stage only reports failures.
	ActionReported Action = "reported"
	// ActionRefused: ensign will not revert this on its own.
	ActionRefused Action = "refused"
	// ActionError: something failed before the revert was written.
	ActionError Action = "error"
	// ActionNotMerged: /rollback on a pull request that is not merged.
	ActionNotMerged Action = "not-merged"
	// ActionNotPromotion: /rollback on a pull request that is not ensign's
	// merged promotion.
	ActionNotPromotion Action = "not-a-promotion"
	// ActionStageGone: the policy no longer has the promotion's stage.
	ActionStageGone Action = "stage-gone"
	// ActionNoSuchCommit: the commit asked for is not on the deploy branch
	// (within the searched history).
	ActionNoSuchCommit Action = "no-such-commit"
	// ActionOutsideOverlay: the commit changes more than the stage's
	// overlay, or nothing in it.
	ActionOutsideOverlay Action = "outside-overlay"
)

// Done reports whether Git now undoes the change (or nothing was to undo).
func (a Action) Done() bool {
	return a == ActionReverted || a == ActionRevertPR || a == ActionAlreadyReverted || a == ActionNothingToRevert
}

// Warning reports whether the action needs a person's attention.
func (a Action) Warning() bool {
	return a == ActionConflict || a == ActionRefused || a == ActionError || a == ActionNotInGit
}

// Outcome reports what a rollback did, for logs, replies and `-o json`.
type Outcome struct {
	App    string `json:"app"`
	Stage  string `json:"stage"`
	Action Action `json:"action"`
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
	// StalePolicy, when set, says the policy file on the deploy branch does
	// not load and the rollback followed the last valid one.
	StalePolicy string `json:"stalePolicy,omitempty"`
	// Suspended names the stage's suspended Flux Kustomizations: Git says
	// what should run, but Flux applies it only once they resume.
	Suspended []string `json:"suspended,omitempty"`
	// Excluded are the failed tags the revert excludes from Flux's image
	// automation in the repository; ClusterExcluded those ensign excluded
	// in the cluster (the ImagePolicy is not in the repository);
	// ExclusionSkipped says why a marked image was not excluded.
	Excluded         []imageguard.Exclusion `json:"excluded,omitempty"`
	ClusterExcluded  []imageguard.Exclusion `json:"clusterExcluded,omitempty"`
	ExclusionSkipped []string               `json:"exclusionSkipped,omitempty"`
}

// failure is one failed analysis of one canary.
type failure struct {
	cluster string
	canary  *flaggerv1.Canary
	// id is "<cluster>/<namespace>/<name>@<RFC 3339 transition time>".
	id string
	at time.Time
}

// canaryKey is the failed canary's cluster/namespace/name.
func (f failure) canaryKey() string {
	return f.cluster + "/" + f.canary.Namespace + "/" + f.canary.Name
}

// eventKey names the failure for the canary's events: the canary and its
// failing images, which stay the same while Flagger keeps rewriting the
// Failed status (a new lastTransitionTime every interval).
func (f failure) eventKey(failing []string) string {
	h := sha256.Sum256([]byte(f.canaryKey() + "\x00" + strings.Join(failing, "\x00")))
	return hex.EncodeToString(h[:6])
}

func newFailure(clusterName string, c *flaggerv1.Canary) failure {
	at := c.Status.LastTransitionTime.Time.UTC().Truncate(time.Second)
	return failure{cluster: clusterName, canary: c, at: at,
		id: fmt.Sprintf("%s/%s/%s@%s", clusterName, c.Namespace, c.Name, at.Format(time.RFC3339))}
}

// Failed handles a canary that reached Failed. A policy file that does not
// load does not stop it: Git must say what runs, so it follows the last
// valid policy and says so.
//
// Failures of one repository that arrive together are decided and written
// together: one fetch, and one push carrying each failure's own revert
// commit (see batch.go). The comment, the reconcile request and the event
// follow after the repository's lock is released, so a burst of failures
// waits for Git and not for Gitea's API.
func (s *Service) Failed(ctx context.Context, clusterName string, c *flaggerv1.Canary) (Outcome, error) {
	f := newFailure(clusterName, c)
	failing, err := s.failingImages(ctx, f) // the cluster's side, read before queueing for the lock
	if err != nil {
		return Outcome{}, err
	}
	st, err := s.submit(ctx, &job{f: f, failing: failing})
	if err != nil {
		return Outcome{}, err
	}
	out, err := st.out, st.err
	if out.Action == "" {
		return out, err
	}
	if err == nil {
		out, err = s.finishBounded(ctx, st, f)
	}
	s.logger(ctx).Info("rollback", "app", out.App, "stage", out.Stage, "action", out.Action, "reverted", out.Reverted, "commit", out.Commit, "reason", out.Reason)
	if eventErr := s.event(ctx, f, out); eventErr != nil {
		err = errors.Join(err, eventErr)
	}
	if err != nil {
		// Everything written so far is found again next time; the rest is retried.
		return out, fmt.Errorf("rollback of %s/%s (%s) is not finished: %w", out.App, out.Stage, out.Action, err)
	}
	return out, nil
}

// then is what is left of a rollback once the repository's lock is released.
type then int

const (
	// thenNothing: the outcome is final.
	thenNothing then = iota
	// thenFollowUp: Git undoes the failure; ask Flux to reconcile and
	// comment on the pull request that introduced it.
	thenFollowUp
	// thenComment: comment on the pull request of step.intro (a conflict,
	// a refusal, a report).
	thenComment
	// thenResume: ensign's revert of this failure was written by an earlier
	// handling (a restart, a resync, an API-server reconnect): as
	// thenFollowUp, but the comment is written only if it is missing.
	thenResume
)

// step is what the locked part of one rollback decided and wrote.
type step struct {
	out   Outcome
	err   error
	stage *policy.Stage
	then  then
	// intro is the commit whose pull request is commented on (thenComment).
	intro *gitops.CommitInfo
	// req is the revert to push to the deploy branch (PushRevert), written
	// with the batch's other reverts.
	req *gitops.RevertRequest
}

// finishBounded is finish, with at most cap(s.followUps) at once.
func (s *Service) finishBounded(ctx context.Context, st step, f failure) (Outcome, error) {
	if st.then == thenNothing {
		return st.out, nil
	}
	select {
	case s.followUps <- struct{}{}:
		defer func() { <-s.followUps }()
	case <-ctx.Done():
		return st.out, fmt.Errorf("wait to finish the rollback: %w", ctx.Err())
	}
	return s.finish(ctx, st, f)
}

// finish does what a step left for after the lock.
func (s *Service) finish(ctx context.Context, st step, f failure) (Outcome, error) {
	switch st.then {
	case thenFollowUp:
		return s.followUp(ctx, st.stage, f, st.out, false)
	case thenResume:
		return s.followUp(ctx, st.stage, f, st.out, true)
	case thenComment:
		out := st.out
		return out, s.commentOriginal(ctx, st.intro, &out, f, false)
	}
	return st.out, nil
}

// plan decides one failure against the snapshot of the deploy branch and
// writes what does not go to the deploy branch itself (a revert pull
// request); a revert to push comes back in step.req.
func (s *Service) plan(ctx context.Context, snap workspace.Snapshot, idx *recent, f failure, failing []imageref.Ref) step {
	if snap.Policy == nil {
		if snap.Invalid != nil {
			return step{err: fmt.Errorf("roll back canary %s/%s: no valid policy to follow: %w", f.canary.Namespace, f.canary.Name, snap.Invalid)}
		}
		return step{}
	}
	app, stage, ok := snap.Policy.FindCanary(policy.CanaryRef{Cluster: f.cluster, Namespace: f.canary.Namespace, Name: f.canary.Name})
	if !ok {
		return step{}
	}
	st := s.decide(ctx, snap, idx, app, stage, f, failing)
	st.stage = stage
	if snap.Invalid != nil {
		st.out.StalePolicy = fmt.Sprintf("the policy at %s does not load; followed the last valid one (%s)", short(snap.Tip.String()), short(snap.PolicyCommit.String()))
	}
	return st
}

// decide gathers the facts about one failure and decides.
func (s *Service) decide(ctx context.Context, snap workspace.Snapshot, idx *recent, app *policy.App, stage *policy.Stage, f failure, failing []imageref.Ref) step {
	st := step{out: Outcome{App: app.Name, Stage: stage.Name}}
	out := &st.out
	g, err := s.gather(ctx, snap, idx, stage, f, failing)
	for _, r := range g.failing {
		out.Failing = append(out.Failing, r.String())
	}
	if g.intro != nil {
		out.Reverted = g.intro.Hash.String()
	}
	if err != nil {
		st.err = err
		return st
	}
	d := Decide(g.facts)
	out.Reason = d.Reason
	switch d.Verdict {
	case NothingToRevert:
		out.Action = ActionNothingToRevert
		return st
	case Resume:
		out.Action, out.Commit = ActionReverted, g.resumed.Hash.String()
		if r := vocab.Reverted(g.resumed.Message); len(r) > 0 {
			out.Reverted = r[0]
		}
		st.then = thenResume
		return st
	case RevertPRMerged:
		out.Action, out.PR = ActionAlreadyReverted, g.revertPR.Number
		out.Reason = fmt.Sprintf("the revert pull request #%d was merged", g.revertPR.Number)
		st.then = thenFollowUp
		return st
	case NotInGit:
		out.Action = ActionNotInGit
		out.Reason = fmt.Sprintf("%s at %s no longer contains the failing version (it was reverted or replaced outside ensign); nothing written", stage.Overlay, short(snap.Tip.String()))
		return st
	case RefuseUnreadable:
		out.Action, out.Reason = ActionRefused, g.unreadable.Error()+"; a person must revert it"
		st.then, st.intro = thenComment, g.unreadable.Commit
		return st
	case RefuseRevertOfRevert:
		out.Action = ActionRefused
		out.Reason = fmt.Sprintf("the failing version came in with %s, itself a revert; ensign never reverts a revert automatically", short(out.Reverted))
		st.then, st.intro = thenComment, g.intro
		return st
	case ReportOnly:
		out.Action, out.Reason = ActionReported, fmt.Sprintf("stage %s reports failures instead of reverting them (onFailure: report)", stage.Name)
		st.then, st.intro = thenComment, g.intro
		return st
	}
	trailers := []gitops.Trailer{
		{Key: vocab.TrailerRollback, Value: app.Name + "/" + stage.Name},
		{Key: vocab.TrailerFailure, Value: f.id},
	}
	for _, r := range out.Failing {
		trailers = append(trailers, gitops.Trailer{Key: vocab.TrailerImage, Value: r})
	}
	st.intro = g.intro
	if d.Verdict == PushRevert {
		req := revertRequest(snap.Policy, g.intro, trailers, f.at)
		req.Also = guardEdit(stage, out.Failing, f.id)
		st.req = &req
		return st
	}
	st.out, st.err = s.revert(ctx, snap.Policy, app, stage, g.intro, trailers, f.at, f.id, d, st.out)
	st.then = afterRevert(st.out.Action)
	return st
}

// afterRevert is what follows a revert that was written (or not).
func afterRevert(a Action) then {
	switch a {
	case ActionConflict, ActionAlreadyReverted, ActionRefused:
		return thenComment
	case ActionReverted, ActionRevertPR:
		return thenFollowUp
	}
	return thenNothing
}

// gathered is what gather found: the facts, and the objects behind them.
type gathered struct {
	facts      Facts
	failing    []imageref.Ref
	resumed    *gitops.CommitInfo
	revertPR   forge.PullRequest
	intro      *gitops.CommitInfo
	unreadable *UnreadableError
}

// gather looks up the facts about a failure in Decide's order, stopping at
// the first one that decides.
func (s *Service) gather(ctx context.Context, snap workspace.Snapshot, idx *recent, stage *policy.Stage, f failure, failing []imageref.Ref) (gathered, error) {
	g := gathered{failing: failing}
	var err error
	if g.facts.Failing = len(g.failing); g.facts.Failing == 0 {
		return g, nil
	}
	if g.resumed = idx.failure(f.id); g.resumed != nil {
		g.facts.Resumed = true
		return g, nil
	}
	tipTree, err := s.ws.Git.Snapshot(snap.Tip)
	if err != nil {
		return g, err
	}
	atTip, err := pinned(tipTree, stage.Overlay, g.failing)
	if err != nil {
		return g, fmt.Errorf("read %s at %s: %w", stage.Overlay, short(snap.Tip.String()), err)
	}
	if g.facts.PinnedAtTip = len(atTip); g.facts.PinnedAtTip == 0 {
		// Maybe ensign reverted this failure under an earlier failure id.
		if g.resumed = idx.canary(f, g.failing); g.resumed != nil {
			g.facts.Resumed = true
			return g, nil
		}
		pr, ok, err := s.mergedRevertPR(ctx, snap.Policy, f, g.failing)
		if err != nil {
			return g, fmt.Errorf("look for a merged revert pull request of %s: %w", f.id, err)
		}
		g.revertPR, g.facts.RevertPRMerged = pr, ok
		return g, nil
	}
	g.intro, err = s.introducedBy(ctx, stage, g.failing, idx.overlays[stage.Overlay])
	if errors.As(err, &g.unreadable) {
		g.facts.Unreadable = true
		return g, nil
	}
	if err != nil {
		return g, err
	}
	g.facts.IntroducerIsRevert = vocab.IsRevert(g.intro.Message)
	g.facts.OnFailure = stage.OnFailure
	g.facts.Mode = snap.Policy.Rollback.Mode
	g.facts.Window = snap.Policy.RollbackState(stage, s.now())
	return g, nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// logger is the logger of the event being handled (carried in ctx by the
// router or the command dispatcher), or the service's own.
func (s *Service) logger(ctx context.Context) *slog.Logger { return logctx.From(ctx, s.log) }

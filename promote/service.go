package promote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/imageguard"
	"github.com/ensignbot/ensign/internal/logctx"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/workspace"
)

// Forge is the part of the Gitea client promotions use; *forge.Client
// implements it.
type Forge interface {
	UpdatePullRequest(ctx context.Context, repo forge.Repo, number int64, title, body string, labels ...forge.Label) error
	GetPullRequest(ctx context.Context, repo forge.Repo, number int64) (forge.PullRequest, error)
	ListOpenPullRequests(ctx context.Context, repo forge.Repo, label string) ([]forge.PullRequest, error)
	ListClosedPullRequests(ctx context.Context, repo forge.Repo, label string, limit int) ([]forge.PullRequest, error)
	ClosePullRequest(ctx context.Context, repo forge.Repo, number int64, text string) error
	AddLabel(ctx context.Context, repo forge.Repo, number int64, want forge.Label) (bool, error)
	RemoveLabel(ctx context.Context, repo forge.Repo, number int64, name string) (bool, error)
	SetStatusSection(ctx context.Context, repo forge.Repo, number int64, section, text string) error
	UpsertComment(ctx context.Context, repo forge.Repo, number int64, marker, text string) (forge.Comment, bool, error)
	Merge(ctx context.Context, repo forge.Repo, number int64, opt forge.MergeOptions) error
}

// Clusters reads what canaries verified; *cluster.Set implements it.
type Clusters interface {
	PrimaryImages(ctx context.Context, clusterName string, c *flaggerv1.Canary) ([]cluster.Container, error)
	TargetImages(ctx context.Context, clusterName string, c *flaggerv1.Canary) ([]cluster.Container, error)
	AppliedRevision(ctx context.Context, stage *policy.Stage) (commit, kustomization string, err error)
	RecordEvent(ctx context.Context, clusterName string, c *flaggerv1.Canary, n cluster.Note, now time.Time) error
	Canary(ctx context.Context, ref policy.CanaryRef) (*flaggerv1.Canary, error)
	Suspended(ctx context.Context, stage *policy.Stage) ([]flux.Ref, error)
	// ImageRepositoryOf and SetImageExclusions lift ensign's exclusions of
	// a promoted tag from an image automation in the cluster.
	ImageRepositoryOf(ctx context.Context, cluster, namespace, name string) (cluster.ImageRepository, error)
	SetImageExclusions(ctx context.Context, r cluster.ImageRepository) error
}

// Service promotes verified versions in one repository.
type Service struct {
	ws       *workspace.Workspace
	forge    Forge
	clusters Clusters
	bot      string
	now      func() time.Time
	log      *slog.Logger
}

// Config wires a Service.
type Config struct {
	Workspace *workspace.Workspace
	Forge     Forge
	Clusters  Clusters
	// Bot is ensign's own Gitea login: only pull requests it opened are
	// treated as promotions.
	Bot string
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Workspace == nil || cfg.Forge == nil || cfg.Clusters == nil || cfg.Bot == "" {
		return nil, errors.New("promote: workspace, forge, clusters and bot are required")
	}
	s := &Service{ws: cfg.Workspace, forge: cfg.Forge, clusters: cfg.Clusters, bot: cfg.Bot, now: cfg.Now, log: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("repo", cfg.Workspace.Repo.String())
	return s, nil
}

// Action is what a promotion did or found; Outcome.Action.
type Action string

// What a promotion can come to.
const (
	// ActionMerged: ensign merged the promotion pull request.
	ActionMerged Action = "merged"
	// ActionQueued: the pull request waits for the stage's next window.
	ActionQueued Action = "queued"
	// ActionWaiting: the pull request waits for a person (auto-merge off,
	// on hold, or a version rolled back before).
	ActionWaiting Action = "waiting"
	// ActionPushed: the promotion was committed straight to the deploy
	// branch (mode: push).
	ActionPushed Action = "pushed"
	// ActionAlreadyPromoted: the target already runs the version.
	ActionAlreadyPromoted Action = "already-promoted"
	// ActionClosedByPerson: a person closed this promotion without merging
	// it; ensign does not open it again.
	ActionClosedByPerson Action = "closed-by-person"
	// ActionRefused: the pull request was altered after ensign opened it;
	// ensign does not merge it.
	ActionRefused Action = "refused"
	// ActionAlreadyMerged: the pull request a person asked about is merged.
	ActionAlreadyMerged Action = "already-merged"
	// ActionClosed: the pull request a person asked about is closed.
	ActionClosed Action = "closed"
	// ActionNotPromotion: the pull request is not a promotion ensign opened.
	ActionNotPromotion Action = "not-a-promotion"
	// ActionStageGone: the policy no longer has the promotion's stage.
	ActionStageGone Action = "stage-gone"
)

// Done reports whether the promotion landed or has nothing left to land.
func (a Action) Done() bool {
	return a == ActionMerged || a == ActionPushed || a == ActionAlreadyPromoted || a == ActionAlreadyMerged
}

// Outcome reports what a promotion did, for logs, replies and `-o json`.
type Outcome struct {
	App    string    `json:"app"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	ID     string    `json:"id,omitempty"`
	PR     int64     `json:"pr,omitempty"`
	URL    string    `json:"url,omitempty"`
	Commit string    `json:"commit,omitempty"`
	Action Action    `json:"action"`
	Reason string    `json:"reason,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	// Replaced is a head someone else pushed to the promotion's branch,
	// which ensign replaced by its own commit before deciding.
	Replaced string `json:"replaced,omitempty"`
	// Images are the verified image references the promotion carries.
	Images []string `json:"images,omitempty"`
	// Changes lists what the promotion changes in the target overlay.
	Changes []Change `json:"changes,omitempty"`
	// ClusterLifted are ensign's image-automation exclusions of the
	// promoted tags removed in the cluster once the promotion landed;
	// LiftSkipped says why one was not.
	ClusterLifted []imageguard.Exclusion `json:"clusterLifted,omitempty"`
	LiftSkipped   []string               `json:"liftSkipped,omitempty"`
}

// Succeeded handles a canary that reached Succeeded: it promotes the version
// the canary verified into every stage that follows the canary's stage. A
// canary no policy mentions is ignored.
func (s *Service) Succeeded(ctx context.Context, clusterName string, c *flaggerv1.Canary) ([]Outcome, error) {
	ref := policy.CanaryRef{Cluster: clusterName, Namespace: c.Namespace, Name: c.Name}
	// Which app is it? The branch as last fetched says, unless the canary
	// is new to the policy.
	snap, err := s.ws.Peek(ctx)
	if err != nil {
		return nil, err
	}
	if app, _, _ := canaryOf(snap, ref); app != nil {
		return s.succeeded(ctx, app.Name, ref, c)
	}
	if snap, err = s.ws.Sync(ctx); err != nil {
		return nil, err
	}
	app, _, err := canaryOf(snap, ref)
	if app == nil {
		return nil, err
	}
	return s.succeeded(ctx, app.Name, ref, c)
}

// succeeded promotes what canary c verified under the promotion lock of
// app, whose canary the policy on the deploy branch says it is.
func (s *Service) succeeded(ctx context.Context, appName string, ref policy.CanaryRef, c *flaggerv1.Canary) ([]Outcome, error) {
	snap, done, err := s.ws.BeginPromotion(ctx, appName)
	defer done()
	if err != nil {
		return nil, err
	}
	app, stage, err := canaryOf(snap, ref)
	if app == nil {
		return nil, err
	}
	clusterName := ref.Cluster
	next := app.NextStages(stage.Name)
	if len(next) == 0 {
		return nil, nil // the last stage: nothing to promote into
	}
	v, err := s.verify(ctx, clusterName, c, stage)
	if err != nil {
		return nil, err
	}
	var outs []Outcome
	var errs []error
	for _, to := range next {
		out, err := s.promote(ctx, snap, app, stage, to, v, Automatic, "")
		if err != nil {
			errs = append(errs, fmt.Errorf("promote %s to %s: %w", app.Name, to.Name, err))
			continue
		}
		outs = append(outs, out)
		s.logger(ctx).Info("promotion", "app", app.Name, "from", stage.Name, "to", to.Name, "action", out.Action, "pr", out.PR, "reason", out.Reason)
		s.note(ctx, clusterName, c, out)
	}
	return outs, errors.Join(errs...)
}

// canaryOf finds the app and stage whose canary ref is; a nil app with a
// nil error means the policy does not mention the canary (or is gone).
func canaryOf(snap workspace.Snapshot, ref policy.CanaryRef) (*policy.App, *policy.Stage, error) {
	if snap.Invalid != nil {
		return nil, nil, fmt.Errorf("promote what canary %s/%s verified: %w", ref.Namespace, ref.Name, snap.Invalid)
	}
	if snap.Policy == nil {
		return nil, nil, nil // the policy file is gone: nothing is promoted here
	}
	app, stage, ok := snap.Policy.FindCanary(ref)
	if !ok {
		return nil, nil, nil
	}
	return app, stage, nil
}

// verify reads what the source stage's canary verified.
func (s *Service) verify(ctx context.Context, clusterName string, c *flaggerv1.Canary, stage *policy.Stage) (Verification, error) {
	v := Verification{
		Cluster: clusterName, Namespace: c.Namespace, Canary: c.Name, Phase: string(c.Status.Phase),
		At: c.Status.LastTransitionTime.Time, Iterations: c.Status.Iterations,
		CanaryWeight: c.Status.CanaryWeight, FailedChecks: c.Status.FailedChecks,
	}
	containers, err := s.clusters.PrimaryImages(ctx, clusterName, c)
	if err != nil {
		return v, fmt.Errorf("read the version canary %s/%s verified: %w", c.Namespace, c.Name, err)
	}
	seen := map[string]bool{}
	for _, ct := range containers {
		if !seen[ct.Image] {
			seen[ct.Image] = true
			v.Images = append(v.Images, ct.Image)
		}
	}
	v.Revision, v.Kustomization, err = s.clusters.AppliedRevision(ctx, stage)
	if err != nil {
		// Images from the workload are still exact; only copy strategies
		// need the revision, and they refuse without it.
		s.logger(ctx).Warn("cannot read the Flux revision of the source stage", "stage", stage.Name, "err", err)
	}
	return v, nil
}

// note records the outcome on the source canary, once per promotion and action.
func (s *Service) note(ctx context.Context, clusterName string, c *flaggerv1.Canary, out Outcome) {
	msg := fmt.Sprintf("%s to %s: %s", out.Action, out.To, out.Reason)
	if out.PR != 0 {
		msg = fmt.Sprintf("promotion #%d to %s %s: %s", out.PR, out.To, out.Action, out.Reason)
	}
	n := cluster.Note{Type: corev1.EventTypeNormal, Reason: "Promotion", Message: msg, Key: "promote-" + out.ID + "-" + string(out.Action)}
	if err := s.clusters.RecordEvent(ctx, clusterName, c, n, s.now()); err != nil {
		s.logger(ctx).Warn("record promotion event", "err", err)
	}
}

// logger is the logger of the event being handled (carried in ctx by the
// router or the command dispatcher), or the service's own.
func (s *Service) logger(ctx context.Context) *slog.Logger { return logctx.From(ctx, s.log) }

package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/internal/logctx"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
	"github.com/ensignbot/ensign/workspace"
)

// Forge is the part of the Gitea client the gate uses; *forge.Client
// implements it.
type Forge interface {
	GetPullRequest(ctx context.Context, repo forge.Repo, number int64) (forge.PullRequest, error)
	ListOpenPullRequests(ctx context.Context, repo forge.Repo, label string) ([]forge.PullRequest, error)
	PullRequestFiles(ctx context.Context, repo forge.Repo, number int64) ([]string, error)
	FindComment(ctx context.Context, repo forge.Repo, number int64, marker string) (forge.Comment, bool, error)
	SetCommitStatus(ctx context.Context, repo forge.Repo, sha string, st forge.CommitStatus) error
	SetStatusSection(ctx context.Context, repo forge.Repo, number int64, section, text string) error
}

// Clusters says whether Flux is suspended for a stage and what a canary's
// workloads run; *cluster.Set implements it.
type Clusters interface {
	Suspended(ctx context.Context, stage *policy.Stage) ([]flux.Ref, error)
	TargetImages(ctx context.Context, clusterName string, c *flaggerv1.Canary) ([]cluster.Container, error)
	PrimaryImages(ctx context.Context, clusterName string, c *flaggerv1.Canary) ([]cluster.Container, error)
	Canary(ctx context.Context, ref policy.CanaryRef) (*flaggerv1.Canary, error)
}

// Config wires a Service.
type Config struct {
	Workspace *workspace.Workspace
	Forge     Forge
	Clusters  Clusters
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service keeps the window gate's commit status on one repository's open
// pull requests.
type Service struct {
	ws       *workspace.Workspace
	forge    Forge
	clusters Clusters
	now      func() time.Time
	log      *slog.Logger

	mu      sync.Mutex
	written map[string]Verdict // head -> the status last written on it
	// files remembers the paths each open pull request changes, so that a
	// sweep after every push to the deploy branch does not ask Gitea to
	// diff every open pull request again.
	files map[diffKey][]string
}

// diffKey names the change a pull request makes: the diff from its merge
// base to its head. A push to the head changes the key. A push to the base
// branch moves the merge base only when the branch took in part of the
// head's history; until Gitea records the new one (its next conflict
// check), the gate keeps the older file list, which holds every file the
// newer one does unless a file was changed and changed back on the way.
type diffKey struct{ head, base string }

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Workspace == nil || cfg.Forge == nil || cfg.Clusters == nil {
		return nil, errors.New("gate: workspace, forge and clusters are required")
	}
	s := &Service{ws: cfg.Workspace, forge: cfg.Forge, clusters: cfg.Clusters, now: cfg.Now, log: cfg.Logger, written: map[string]Verdict{}, files: map[diffKey][]string{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// RefreshAll brings the status of every open pull request into the deploy
// branch up to date (a window opened or closed, the policy or Flux
// changed). It goes on after one pull request fails and returns every error.
func (s *Service) RefreshAll(ctx context.Context) error {
	pol, err := s.policy(ctx)
	if err != nil || pol == nil {
		return err
	}
	prs, err := s.forge.ListOpenPullRequests(ctx, s.ws.Repo, "")
	if err != nil {
		return fmt.Errorf("gate of %s: %w", s.ws.Repo, err)
	}
	var errs []error
	heads := map[string]bool{}
	for _, pr := range prs {
		if pr.BaseBranch != s.ws.Branch {
			continue
		}
		heads[pr.HeadSHA] = true
		if _, err := s.refresh(ctx, pol, pr); err != nil {
			errs = append(errs, err)
		}
	}
	// Forget the heads no open pull request has any more, so the memory
	// of written statuses and changed files stays as large as the open
	// pull requests.
	s.mu.Lock()
	maps.DeleteFunc(s.written, func(head string, _ Verdict) bool { return !heads[head] })
	maps.DeleteFunc(s.files, func(k diffKey, _ []string) bool { return !heads[k.head] })
	s.mu.Unlock()
	return errors.Join(errs...)
}

// Refresh brings one pull request's status up to date (it was opened or
// pushed to, held or released) and returns the verdict.
func (s *Service) Refresh(ctx context.Context, number int64) (Verdict, error) {
	pol, err := s.policy(ctx)
	if err != nil || pol == nil {
		return Verdict{}, err
	}
	pr, err := s.forge.GetPullRequest(ctx, s.ws.Repo, number)
	if err != nil {
		return Verdict{}, err
	}
	if !pr.Open() || pr.BaseBranch != s.ws.Branch {
		return Verdict{}, nil
	}
	return s.refresh(ctx, pol, pr)
}

// policy is the policy in force (the last valid one behind an invalid tip:
// the windows it names still hold), or nil when the repository has none.
func (s *Service) policy(ctx context.Context) (*policy.Policy, error) {
	snap, err := s.ws.Sync(ctx)
	if err != nil {
		return nil, err
	}
	return snap.Policy, nil
}

// refresh decides on one open pull request and writes its status if it
// changed.
func (s *Service) refresh(ctx context.Context, pol *policy.Policy, pr forge.PullRequest) (Verdict, error) {
	f, err := s.facts(ctx, pol, pr)
	if err != nil {
		return Verdict{}, fmt.Errorf("gate of %s#%d: %w", s.ws.Repo, pr.Number, err)
	}
	v := Decide(f)
	s.mu.Lock()
	same := s.written[pr.HeadSHA] == v
	s.mu.Unlock()
	if same {
		return v, nil
	}
	err = s.forge.SetCommitStatus(ctx, s.ws.Repo, pr.HeadSHA, forge.CommitStatus{
		Context: vocab.WindowContext, State: v.State, Description: v.Description, TargetURL: pr.URL,
	})
	if err != nil {
		return v, err
	}
	s.mu.Lock()
	s.written[pr.HeadSHA] = v
	s.mu.Unlock()
	logctx.From(ctx, s.log).Info("window gate", "repo", s.ws.Repo.String(), "pr", pr.Number, "state", v.State, "description", v.Description)
	return v, nil
}

// facts gathers what Decide needs about a pull request.
func (s *Service) facts(ctx context.Context, pol *policy.Policy, pr forge.PullRequest) (Facts, error) {
	var f Facts
	files, err := s.changed(ctx, pr)
	if err != nil {
		return f, err
	}
	for _, st := range touched(pol, files) {
		if g, gated := s.stage(ctx, pol, st.app, st.stage); gated {
			f.Stages = append(f.Stages, g)
		}
	}
	if len(f.Stages) == 0 {
		return f, nil
	}
	c, found, err := s.forge.FindComment(ctx, s.ws.Repo, pr.Number, vocab.StatusMarker)
	if err != nil {
		return f, err
	}
	if pr.HasLabel(pol.Labels.Hold) {
		f.Held, f.HeldBy, f.HoldReason = true, "someone", "see the pull request"
		if by, reason, ok := vocab.ParseHold(vocab.Section(c.Body, vocab.SectionHold)); found && ok {
			f.HeldBy, f.HoldReason = by, reason
		}
	}
	if o, ok := vocab.ParseOverride(vocab.Section(c.Body, vocab.SectionOverride)); found && ok && o.Head == pr.HeadSHA {
		f.Override = &o
	}
	return f, nil
}

// changed returns the paths pull request pr changes, from memory when the
// same head and merge base were seen before.
func (s *Service) changed(ctx context.Context, pr forge.PullRequest) ([]string, error) {
	key := diffKey{pr.HeadSHA, pr.MergeBase}
	s.mu.Lock()
	files, ok := s.files[key]
	s.mu.Unlock()
	if ok {
		return files, nil
	}
	files, err := s.forge.PullRequestFiles(ctx, s.ws.Repo, pr.Number)
	if err != nil {
		return nil, err
	}
	if pr.HeadSHA != "" && pr.MergeBase != "" {
		s.mu.Lock()
		s.files[key] = files
		s.mu.Unlock()
	}
	return files, nil
}

// Stage returns the gate's view of one stage now, and whether it is gated
// (it has windows, or Flux is suspended for it).
func (s *Service) stage(ctx context.Context, pol *policy.Policy, app *policy.App, st *policy.Stage) (Stage, bool) {
	now := s.now()
	state := pol.EvaluateStage(st, now)
	g := Stage{App: app.Name, Stage: st.Name, Open: state.Open, Reason: state.Reason, Until: state.Until}
	if w, ok := pol.ActiveDeny(st, now); ok && !state.Open {
		g.Frozen, g.Freeze, g.FrozenWhy = w.Name, w.IsFreeze(), w.Description
	}
	refs, err := s.clusters.Suspended(ctx, st)
	if err != nil {
		// A cluster that cannot be read does not hold changes back; the
		// stage's windows still do.
		logctx.From(ctx, s.log).Warn("cannot tell whether Flux is suspended", "app", app.Name, "stage", st.Name, "err", err)
	}
	for _, r := range refs {
		g.Suspended = append(g.Suspended, r.String())
	}
	return g, pol.Gated(st) || len(g.Suspended) > 0
}

// touchedStage is a stage whose overlay a change touches.
type touchedStage struct {
	app   *policy.App
	stage *policy.Stage
}

// touched returns the stages whose overlays contain any of files, in
// policy order.
func touched(pol *policy.Policy, files []string) []touchedStage {
	var out []touchedStage
	for ai := range pol.Apps {
		a := &pol.Apps[ai]
		for si := range a.Stages {
			st := &a.Stages[si]
			dir := strings.TrimSuffix(st.Overlay, "/") + "/"
			if slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(f, dir) }) {
				out = append(out, touchedStage{a, st})
			}
		}
	}
	return out
}

// ErrUnknownCanary means a gate request names a canary no policy names.
var ErrUnknownCanary = errors.New("unknown canary")

// ErrNotGated means /promote now was asked on a pull request that changes
// no gated stage: there is nothing to let through.
var ErrNotGated = errors.New("the pull request changes no stage with windows")

// Override lets pull request number's current head through the gate, for a
// person's /promote now (the caller checked their permission): it records
// who and when in the status comment and sets the status to success.
func (s *Service) Override(ctx context.Context, number int64, person string) (Verdict, error) {
	pol, err := s.policy(ctx)
	if err != nil {
		return Verdict{}, err
	}
	if pol == nil {
		return Verdict{}, ErrNotGated
	}
	pr, err := s.forge.GetPullRequest(ctx, s.ws.Repo, number)
	if err != nil {
		return Verdict{}, err
	}
	f, err := s.facts(ctx, pol, pr)
	if err != nil {
		return Verdict{}, err
	}
	if len(f.Stages) == 0 {
		return Verdict{}, ErrNotGated
	}
	text := vocab.OverrideText(vocab.Override{By: person, At: s.now(), Head: pr.HeadSHA})
	if err := s.forge.SetStatusSection(ctx, s.ws.Repo, number, vocab.SectionOverride, text); err != nil {
		return Verdict{}, err
	}
	return s.refresh(ctx, pol, pr)
}

// Allow answers Flagger's confirm-rollout and confirm-promotion gate for a
// canary of this repository: a rollout or promotion in a gated stage goes
// ahead only while the stage is open, not frozen and not suspended; one
// that brings back the version the primary runs (a rollback's revert)
// always goes ahead. The reason is for Flagger's event and ensign's log.
func (s *Service) Allow(ctx context.Context, ref policy.CanaryRef) (bool, string, error) {
	pol, err := s.policy(ctx)
	if err != nil {
		return false, "", err
	}
	if pol == nil {
		return false, "", fmt.Errorf("%w: %s has no policy", ErrUnknownCanary, s.ws.Repo)
	}
	app, st, ok := pol.FindCanary(ref)
	if !ok {
		return false, "", fmt.Errorf("%w: no stage of %s's policy names %s", ErrUnknownCanary, s.ws.Repo, ref)
	}
	c, err := s.clusters.Canary(ctx, ref)
	if err != nil {
		return false, "", err
	}
	clusterName := ref.Cluster
	target, err := s.clusters.TargetImages(ctx, clusterName, c)
	if err != nil {
		return false, "", err
	}
	primary, err := s.clusters.PrimaryImages(ctx, clusterName, c)
	if err != nil {
		return false, "", err
	}
	if sameImages(target, primary) {
		return true, "the rollout brings back what the primary runs (a rollback): windows never hold it", nil
	}
	g, gated := s.stage(ctx, pol, app, st)
	var f Facts
	if gated {
		f.Stages = []Stage{g}
	}
	v := Decide(f)
	return v.State == forge.StateSuccess, v.Description, nil
}

// sameImages reports whether two workloads run the same set of images.
func sameImages(a, b []cluster.Container) bool {
	set := func(cs []cluster.Container) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Image)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(set(a), set(b))
}

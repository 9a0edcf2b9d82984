package promote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/go-git/go-git/v5/plumbing"
	corev1 "k8s.io/api/core/v1"

	"github.com/ensignbot/ensign/canary"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/workspace"
)

// Forge is the part of the Gitea client promotions use; *forge.Client
// implements it.
type Forge interface {
	EnsurePullRequest(ctx context.Context, repo forge.Repo, want forge.NewPullRequest) (forge.PullRequest, bool, error)
	GetPullRequest(ctx context.Context, repo forge.Repo, number int64) (forge.PullRequest, error)
	ListOpenPullRequests(ctx context.Context, repo forge.Repo, label string) ([]forge.PullRequest, error)
	ListClosedPullRequests(ctx context.Context, repo forge.Repo, label string, limit int) ([]forge.PullRequest, error)
	UpdatePullRequest(ctx context.Context, repo forge.Repo, number int64, title, body string) error
	ClosePullRequest(ctx context.Context, repo forge.Repo, number int64, text string) error
	AddLabel(ctx context.Context, repo forge.Repo, number int64, want forge.Label) (bool, error)
	RemoveLabel(ctx context.Context, repo forge.Repo, number int64, name string) (bool, error)
	SetStatusSection(ctx context.Context, repo forge.Repo, number int64, section, text string) error
	UpsertComment(ctx context.Context, repo forge.Repo, number int64, marker, text string) (forge.Comment, bool, error)
	Merge(ctx context.Context, repo forge.Repo, number int64, opt forge.MergeOptions) error
}

// Clusters reads what canaries verified; *cluster.Set implements it.
type Clusters interface {
	PrimaryImages(ctx context.Context, cluster string, c *flaggerv1.Canary) ([]canary.Container, error)
	AppliedRevision(ctx context.Context, stage *policy.Stage) (commit, kustomization string, err error)
	RecordEvent(ctx context.Context, cluster string, c *flaggerv1.Canary, n canary.Note, now time.Time) error
	Canary(ctx context.Context, ref policy.CanaryRef) (*flaggerv1.Canary, error)
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

// Outcome reports what a promotion did, for logs, replies and `-o json`.
type Outcome struct {
	App    string    `json:"app"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	ID     string    `json:"id,omitempty"`
	PR     int64     `json:"pr,omitempty"`
	URL    string    `json:"url,omitempty"`
	Commit string    `json:"commit,omitempty"`
	Action string    `json:"action"` // merged, queued, waiting, pushed, already-promoted, closed-by-person
	Reason string    `json:"reason,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	// Replaced is a head someone else pushed to the promotion's branch,
	// which ensign replaced by its own commit before deciding.
	Replaced string `json:"replaced,omitempty"`
	// Changes lists what the promotion changes in the target overlay.
	Changes []Change `json:"changes,omitempty"`
}

// Succeeded handles a canary that reached Succeeded: it promotes the version
// the canary verified into every stage that follows the canary's stage. A
// canary no policy mentions is ignored.
func (s *Service) Succeeded(ctx context.Context, cluster string, c *flaggerv1.Canary) ([]Outcome, error) {
	snap, done, err := s.ws.Begin(ctx, false)
	defer done()
	if err != nil {
		return nil, err
	}
	if snap.Policy == nil {
		return nil, nil
	}
	app, stage, ok := snap.Policy.FindCanary(policy.CanaryRef{Cluster: cluster, Namespace: c.Namespace, Name: c.Name})
	if !ok {
		return nil, nil
	}
	next := app.NextStages(stage.Name)
	if len(next) == 0 {
		return nil, nil // the last stage: nothing to promote into
	}
	v, err := s.verify(ctx, cluster, c, stage)
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
		s.log.Info("promotion", "app", app.Name, "from", stage.Name, "to", to.Name, "action", out.Action, "pr", out.PR, "reason", out.Reason)
		s.note(ctx, cluster, c, out)
	}
	return outs, errors.Join(errs...)
}

// verify reads what the source stage's canary verified.
func (s *Service) verify(ctx context.Context, cluster string, c *flaggerv1.Canary, stage *policy.Stage) (Verification, error) {
	v := Verification{
		Cluster: cluster, Namespace: c.Namespace, Canary: c.Name, Phase: string(c.Status.Phase),
		At: c.Status.LastTransitionTime.Time, Iterations: c.Status.Iterations,
		CanaryWeight: c.Status.CanaryWeight, FailedChecks: c.Status.FailedChecks,
	}
	containers, err := s.clusters.PrimaryImages(ctx, cluster, c)
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
		s.log.Warn("cannot read the Flux revision of the source stage", "stage", stage.Name, "err", err)
	}
	return v, nil
}

// promote makes one promotion from a verified source stage into stage to.
func (s *Service) promote(ctx context.Context, snap workspace.Snapshot, app *policy.App, from, to *policy.Stage, v Verification, trig Trigger, person string) (Outcome, error) {
	out := Outcome{App: app.Name, From: from.Name, To: to.Name}
	refs, err := verifiedRefs(v.Images, to.Promotion.Images)
	if err != nil {
		return out, err
	}
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	meta := NewMeta(app.Name, from.Name, to.Name, names, v.Revision, v.Cluster+"/"+v.Namespace+"/"+v.Canary)
	out.ID = meta.ID
	pol := snap.Policy
	branch := promotionBranch(pol, app.Name, to.Name, meta.ID)
	p, err := s.plan(ctx, from, to, refs, v.Revision, snap.Tip)
	if err != nil {
		return out, err
	}

	var changes []Change
	edit := func(ed *gitops.TreeEditor) error {
		var err error
		changes, err = p.apply(treeView{ed})
		return err
	}
	commit := promotionCommit(pol, meta, v.At, person)

	// The promotion may already be open (a restart, a resync).
	open, err := s.openPromotions(ctx, pol, app.Name, to.Name)
	if err != nil {
		return out, err
	}
	var pr forge.PullRequest
	for _, o := range open {
		if o.meta.ID == meta.ID {
			pr = o.pr
		}
	}
	rolledBack, err := s.rolledBack(ctx, to, names)
	if err != nil {
		return out, err
	}

	if pr.Number == 0 {
		// A person closed this very promotion: respect that.
		closed, err := s.forge.ListClosedPullRequests(ctx, s.ws.Repo, pol.Labels.Promotion, 50)
		if err != nil {
			return out, err
		}
		for _, c := range closed {
			if c.HeadBranch == branch && !c.Merged && c.Author == s.bot {
				out.PR, out.URL, out.Action = c.Number, c.URL, "closed-by-person"
				out.Reason = fmt.Sprintf("promotion #%d of this version was closed without merging; not opening it again", c.Number)
				return out, nil
			}
		}
		// Dry run on the deploy branch: is there anything to promote?
		if err := s.buildOnly(snap.Tip, edit); errors.Is(err, gitops.ErrNothingToCommit) {
			out.Action, out.Reason = "already-promoted", to.Name+" already runs this version"
			s.closeSuperseded(ctx, open, "", "Closed by ensign: "+to.Name+" already runs the version this promotion proposed.")
			return out, nil
		} else if err != nil {
			return out, err
		}
		// A direct push when the stage asks for it and nothing stands in the way.
		if to.Mode == policy.ModePush && rolledBack == "" {
			if st := pol.EvaluateStage(to, s.now()); st.Open {
				res, err := s.ws.Git.Update(ctx, gitops.Target{Branch: s.ws.Branch}, commit, edit)
				if errors.Is(err, gitops.ErrNothingToCommit) {
					out.Action, out.Reason = "already-promoted", to.Name+" already runs this version"
					return out, nil
				}
				if err != nil {
					return out, err
				}
				out.Action, out.Commit, out.Changes, out.Reason = "pushed", res.Commit.String(), changes, st.Reason
				s.closeSuperseded(ctx, open, "", fmt.Sprintf("Closed by ensign: superseded by commit %s, pushed to %s.", short(res.Commit.String()), s.ws.Branch))
				return out, nil
			}
		}
		res, err := s.ws.Git.Update(ctx, gitops.Target{Branch: branch, Base: s.ws.Branch, Mode: gitops.ForceBranch}, commit, edit)
		if err != nil {
			return out, err
		}
		pr, _, err = s.forge.EnsurePullRequest(ctx, s.ws.Repo, forge.NewPullRequest{
			Head: branch, Base: s.ws.Branch, Title: Title(meta, changes), Body: Body(meta, to.Overlay, v, changes),
		})
		if err != nil {
			return out, err
		}
		if pr.HeadSHA == "" {
			pr.HeadSHA = res.Commit.String()
		}
		out.Changes = changes
	}
	out.PR, out.URL = pr.Number, pr.URL
	if _, err := s.forge.AddLabel(ctx, s.ws.Repo, pr.Number, forge.Label{Name: pol.Labels.Promotion, Color: "#1d76db", Description: "A promotion opened by ensign"}); err != nil {
		return out, err
	}
	s.closeSuperseded(ctx, open, meta.ID, fmt.Sprintf("Closed by ensign: superseded by #%d, which promotes a newer verified version.", pr.Number))
	return s.settle(ctx, pol, app, to, pr, meta, Facts{Trigger: trig, AutoMerge: to.AutoMerge, RolledBack: rolledBack}, person, s.now(), out)
}

// promotionCommit is the commit of promotion m: its message and trailers.
// at is when the version was verified; person, if any, asked for it.
func promotionCommit(pol *policy.Policy, m Meta, at time.Time, person string) gitops.CommitMeta {
	trailers := []gitops.Trailer{
		{Key: gitops.TrailerPromotion, Value: m.App + "/" + m.To},
		{Key: TrailerPromotionID, Value: m.ID},
		{Key: TrailerSource, Value: m.From + "@" + orUnknown(m.Revision)},
		{Key: TrailerVerifiedBy, Value: m.Canary},
	}
	for _, n := range m.Images {
		trailers = append(trailers, gitops.Trailer{Key: workspace.TrailerImage, Value: n})
	}
	if person != "" {
		trailers = append(trailers, gitops.Trailer{Key: workspace.TrailerRequestedBy, Value: person})
	}
	return gitops.CommitMeta{
		Message:  fmt.Sprintf("Promote %s to %s\n\nVerified by canary %s in %s.", m.App, m.To, m.Canary, m.From),
		Trailers: trailers,
		Author:   gitops.Identity{Name: pol.Identity.Name, Email: pol.Identity.Email},
		When:     commitTime(at),
	}
}

// settle decides what happens to an open promotion pull request and does it.
func (s *Service) settle(ctx context.Context, pol *policy.Policy, app *policy.App, to *policy.Stage, pr forge.PullRequest, m Meta, f Facts, person string, now time.Time, out Outcome) (Outcome, error) {
	pr, replaced, err := s.ownHead(ctx, pol, app, to, pr, m)
	switch {
	case errors.Is(err, ErrAlteredPR):
		return s.refuse(ctx, pr, err, out)
	case err != nil:
		return out, err
	}
	out.Replaced = replaced
	f.Window = pol.EvaluateStage(to, now)
	f.Held = pr.HasLabel(pol.Labels.Hold)
	f.Queued = f.Queued || pr.HasLabel(pol.Labels.Queued)
	d := Decide(f)
	out.Reason, out.Until = d.Reason, d.Until
	switch d.Action {
	case Merge:
		// The branch is kept: Gitea handles a deletion asynchronously and would close
		// a new pull request of a re-promotion that recreates the same branch.
		opt := forge.MergeOptions{Style: forge.MergeStyle(to.MergeStyle), HeadSHA: pr.HeadSHA}
		opt.Title = pr.Title + fmt.Sprintf(" (#%d)", pr.Number)
		var tr []gitops.Trailer
		tr = append(tr, gitops.Trailer{Key: gitops.TrailerPromotion, Value: out.App + "/" + out.To}, gitops.Trailer{Key: TrailerPromotionID, Value: out.ID})
		if person != "" {
			tr = append(tr, gitops.Trailer{Key: workspace.TrailerRequestedBy, Value: person})
		}
		if f.Trigger == PersonNow && !f.Window.Open {
			tr = append(tr, gitops.Trailer{Key: TrailerOverride, Value: person + " merged outside the promotion windows (" + f.Window.Reason + ")"})
		}
		opt.Message = gitops.AppendTrailers(fmt.Sprintf("Merge promotion #%d into %s.", pr.Number, to.Name), tr...)
		if err := s.forge.Merge(ctx, s.ws.Repo, pr.Number, opt); err != nil && !errors.Is(err, forge.ErrAlreadyMerged) {
			return out, err
		}
		out.Action = "merged"
		if _, err := s.forge.RemoveLabel(ctx, s.ws.Repo, pr.Number, pol.Labels.Queued); err != nil {
			s.log.Warn("remove queued label after merge", "pr", pr.Number, "err", err)
		}
		text := "Merged: " + d.Reason + "."
		if f.Trigger == PersonNow && !f.Window.Open {
			text = fmt.Sprintf("Merged by request of @%s outside the promotion windows (%s).", person, f.Window.Reason)
		}
		if err := s.forge.SetStatusSection(ctx, s.ws.Repo, pr.Number, "promotion", text); err != nil {
			s.log.Warn("update status comment", "pr", pr.Number, "err", err)
		}
	case Queue:
		if _, err := s.forge.AddLabel(ctx, s.ws.Repo, pr.Number, forge.Label{Name: pol.Labels.Queued, Color: "#fbca04", Description: "Waiting for a promotion window"}); err != nil {
			return out, err
		}
		out.Action = "queued"
		text := "Queued: " + d.Reason + "."
		if !d.Until.IsZero() {
			text = fmt.Sprintf("Queued: %s. ensign merges it when the next window opens, %s.", d.Reason, d.Until.Format(time.RFC3339))
		}
		if err := s.forge.SetStatusSection(ctx, s.ws.Repo, pr.Number, "promotion", text); err != nil {
			return out, err
		}
	default:
		out.Action = "waiting"
		if err := s.forge.SetStatusSection(ctx, s.ws.Repo, pr.Number, "promotion", "Not merging automatically: "+d.Reason+"."); err != nil {
			return out, err
		}
	}
	return out, nil
}

// openPromotion is an open promotion pull request with its metadata.
type openPromotion struct {
	pr   forge.PullRequest
	meta Meta
}

// openPromotions lists ensign's open promotion pull requests into app/to.
func (s *Service) openPromotions(ctx context.Context, pol *policy.Policy, app, to string) ([]openPromotion, error) {
	prs, err := s.forge.ListOpenPullRequests(ctx, s.ws.Repo, pol.Labels.Promotion)
	if err != nil {
		return nil, err
	}
	var out []openPromotion
	for _, pr := range prs {
		if pr.Author != s.bot {
			continue
		}
		m, err := ParseMarker(pr.Body)
		if err != nil || m.App != app || m.To != to {
			continue
		}
		out = append(out, openPromotion{pr, m})
	}
	return out, nil
}

// closeSuperseded closes the open promotions other than keep.
func (s *Service) closeSuperseded(ctx context.Context, open []openPromotion, keep string, text string) {
	for _, o := range open {
		if o.meta.ID == keep {
			continue
		}
		if err := s.forge.ClosePullRequest(ctx, s.ws.Repo, o.pr.Number, text); err != nil {
			s.log.Warn("close superseded promotion", "pr", o.pr.Number, "err", err)
		}
	}
}

// rolledBack returns the commit that rolled back exactly these images from
// stage to, or "" if none did (within the recent history of its overlay).
func (s *Service) rolledBack(ctx context.Context, to *policy.Stage, images []string) (string, error) {
	if len(images) == 0 {
		return "", nil
	}
	var found string
	err := s.ws.Git.Log(ctx, s.ws.Branch, gitops.LogOptions{Path: to.Overlay, Max: 200}, func(c *gitops.CommitInfo) error {
		if len(gitops.TrailerValues(c.Message, workspace.TrailerRollback)) == 0 {
			return nil
		}
		reverted := map[string]bool{}
		for _, im := range gitops.TrailerValues(c.Message, workspace.TrailerImage) {
			reverted[im] = true
		}
		for _, im := range images {
			if !reverted[im] {
				return nil
			}
		}
		found = c.Hash.String()
		return gitops.ErrStopWalk
	})
	if err != nil {
		return "", fmt.Errorf("look for earlier rollbacks of %s: %w", to.Overlay, err)
	}
	return short(found), nil
}

// buildOnly runs edit against a commit's tree without writing anything, to
// learn whether a promotion would change the target: ErrNothingToCommit if
// it would not.
func (s *Service) buildOnly(tip plumbing.Hash, edit func(*gitops.TreeEditor) error) error {
	ed, err := s.ws.Git.Snapshot(tip)
	if err != nil {
		return err
	}
	before, err := ed.Write()
	if err != nil {
		return err
	}
	if err := edit(ed); err != nil {
		return err
	}
	after, err := ed.Write()
	if err != nil {
		return err
	}
	if before == after {
		return gitops.ErrNothingToCommit
	}
	return nil
}

// snapshotAt reads the repository at a revision, fetching it if the cache
// lacks it.
func (s *Service) snapshotAt(ctx context.Context, rev string) (treeView, error) {
	h := plumbing.NewHash(rev)
	if h.IsZero() || len(rev) != 40 {
		return treeView{}, fmt.Errorf("not a full commit id: %q", rev)
	}
	if err := s.ws.Git.FetchCommit(ctx, h, 1); err != nil {
		return treeView{}, err
	}
	ed, err := s.ws.Git.Snapshot(h)
	if err != nil {
		return treeView{}, err
	}
	return treeView{ed}, nil
}

// note records the outcome on the source canary, once per promotion and action.
func (s *Service) note(ctx context.Context, cluster string, c *flaggerv1.Canary, out Outcome) {
	msg := fmt.Sprintf("%s to %s: %s", out.Action, out.To, out.Reason)
	if out.PR != 0 {
		msg = fmt.Sprintf("promotion #%d to %s %s: %s", out.PR, out.To, out.Action, out.Reason)
	}
	n := canary.Note{Type: corev1.EventTypeNormal, Reason: "Promotion", Message: msg, Key: "promote-" + out.ID + "-" + out.Action}
	if err := s.clusters.RecordEvent(ctx, cluster, c, n, s.now()); err != nil {
		s.log.Warn("record promotion event", "err", err)
	}
}

// verifiedRefs parses the verified images, keeping those the stage promotes.
func verifiedRefs(images, only []string) ([]imageref.Ref, error) {
	var out []imageref.Ref
	for _, im := range images {
		r, err := imageref.Parse(im)
		if err != nil {
			return nil, err
		}
		if len(only) > 0 && !contains(only, r.Name) {
			continue
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the workload runs %s, the stage promotes %s", ErrNothingMatched, strings.Join(images, ", "), strings.Join(only, ", "))
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// commitTime makes promotion commits reproducible: the same verification
// gives the same commit on the same base, so a retried force-push is a no-op.
func commitTime(at time.Time) time.Time {
	if at.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return at.UTC().Truncate(time.Second)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

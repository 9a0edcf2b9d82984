package status

import (
	"context"
	"fmt"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/imageguard"
	"github.com/ensignbot/ensign/overlay"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
	"github.com/ensignbot/ensign/workspace"
)

// Forge is the part of the Gitea client the report reads.
type Forge interface {
	GetPullRequest(ctx context.Context, repo forge.Repo, number int64) (forge.PullRequest, error)
	ListOpenPullRequests(ctx context.Context, repo forge.Repo, label string) ([]forge.PullRequest, error)
}

// Clusters reads canaries; *cluster.Set implements it.
type Clusters interface {
	Canary(ctx context.Context, ref policy.CanaryRef) (*flaggerv1.Canary, error)
	PrimaryImages(ctx context.Context, cluster string, c *flaggerv1.Canary) ([]cluster.Container, error)
	Suspended(ctx context.Context, stage *policy.Stage) ([]flux.Ref, error)
	ImageRepositoryOf(ctx context.Context, cluster, namespace, name string) (cluster.ImageRepository, error)
}

// Reporter builds status reports for one repository.
type Reporter struct {
	Workspace *workspace.Workspace
	Forge     Forge
	Clusters  Clusters
	// Bot is ensign's Gitea login (only its pull requests are promotions).
	Bot string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Report is the state of a repository's apps.
type Report struct {
	Repo   string    `json:"repo"`
	Commit string    `json:"commit"`
	At     time.Time `json:"at"`
	// NoPolicy is set when the repository has no policy file: ensign
	// manages nothing there.
	NoPolicy bool `json:"noPolicy,omitempty"`
	// PolicyInvalid, when set, says why the policy file at Commit does not
	// load; the report then follows the last valid one, from PolicyCommit.
	PolicyInvalid string      `json:"policyInvalid,omitempty"`
	PolicyCommit  string      `json:"policyCommit,omitempty"`
	Apps          []AppReport `json:"apps"`
}

// AppReport is one app's pipeline.
type AppReport struct {
	Name   string        `json:"name"`
	Stages []StageReport `json:"stages"`
}

// StageReport is one stage.
type StageReport struct {
	Name    string `json:"name"`
	From    string `json:"from,omitempty"`
	Overlay string `json:"overlay"`
	// Pinned are the images the overlay's kustomization pins in Git.
	Pinned []string `json:"pinned,omitempty"`
	Canary string   `json:"canary"`
	// Phase is the canary's phase, or "unreachable" when it could not be
	// read; Unreachable then says why. That detail names cluster addresses
	// and configuration, so it is for the operator's CLI and log, never for
	// a pull request comment.
	Phase       string `json:"phase"`
	Unreachable string `json:"unreachable,omitempty"`
	// Running are the images the canary's primary runs.
	Running []string `json:"running,omitempty"`
	// WindowOpen and Window describe the stage's promotion window now;
	// NextOpen is when it next opens.
	WindowOpen bool      `json:"windowOpen"`
	Window     string    `json:"window"`
	NextOpen   time.Time `json:"nextOpen,omitzero"`
	// Frozen names the deny window that closes the stage now, if any;
	// for an emergency freeze FrozenWhy is its reason.
	Frozen    string `json:"frozen,omitempty"`
	FrozenWhy string `json:"frozenWhy,omitempty"`
	// Suspended names the stage's suspended Flux Kustomizations: Flux
	// applies nothing to it, and ensign merges nothing into it, until they
	// resume.
	Suspended []string `json:"suspended,omitempty"`
	// Queued are the promotion pull requests waiting for a window.
	Queued []int64 `json:"queued,omitempty"`
	// Open are the other open promotion pull requests into the stage.
	Open []int64 `json:"open,omitempty"`
	// Excluded are the tags ensign keeps from Flux's image automation for
	// this stage (after rollbacks), in the repository or the cluster; a
	// person's /promote of the version lifts each.
	Excluded []imageguard.Exclusion `json:"excluded,omitempty"`
}

// Build reads the current state. app limits it to one app ("" means all).
func (r *Reporter) Build(ctx context.Context, app string) (Report, error) {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	snap, err := r.Workspace.Sync(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Repo: r.Workspace.Repo.String(), Commit: snap.Tip.String(), At: now}
	if snap.Invalid != nil {
		rep.PolicyInvalid = snap.Invalid.Error()
		if !snap.PolicyCommit.IsZero() {
			rep.PolicyCommit = snap.PolicyCommit.String()
		}
	}
	if snap.Policy == nil {
		rep.NoPolicy = snap.Invalid == nil
		return rep, nil
	}
	pol := snap.Policy
	tree, err := r.Workspace.Git.Snapshot(snap.Tip)
	if err != nil {
		return rep, err
	}
	prs, err := r.Forge.ListOpenPullRequests(ctx, r.Workspace.Repo, pol.Labels.Promotion)
	if err != nil {
		return rep, err
	}
	for _, a := range pol.Apps {
		if app != "" && a.Name != app {
			continue
		}
		ar := AppReport{Name: a.Name}
		for i := range a.Stages {
			st := &a.Stages[i]
			sr := StageReport{Name: st.Name, From: st.From, Overlay: st.Overlay, Canary: st.Canary.String()}
			sr.Pinned = pinnedImages(tree, st.Overlay)
			sr.Excluded = r.exclusions(ctx, tree, st)
			sr.Phase, sr.Running, sr.Unreachable = r.canaryState(ctx, st.Canary)
			w := pol.EvaluateStage(st, now)
			sr.WindowOpen, sr.Window = w.Open, w.Reason
			if !w.Open {
				sr.NextOpen = w.Next
				if win, ok := pol.ActiveDeny(st, now); ok {
					sr.Frozen, sr.FrozenWhy = win.Name, win.Description
				}
			}
			if refs, err := r.Clusters.Suspended(ctx, st); err == nil {
				for _, ref := range refs {
					sr.Suspended = append(sr.Suspended, ref.String())
				}
			}
			for _, pr := range prs {
				m, err := vocab.ParsePromotion(pr.Body)
				if pr.Author != r.Bot || err != nil || m.App != a.Name || m.To != st.Name {
					continue
				}
				if pr.HasLabel(pol.Labels.Queued) {
					sr.Queued = append(sr.Queued, pr.Number)
				} else {
					sr.Open = append(sr.Open, pr.Number)
				}
			}
			ar.Stages = append(ar.Stages, sr)
		}
		rep.Apps = append(rep.Apps, ar)
	}
	if app != "" && len(rep.Apps) == 0 {
		return rep, fmt.Errorf("no app %q in %s", app, r.Workspace.Repo)
	}
	return rep, nil
}

func (r *Reporter) canaryState(ctx context.Context, ref policy.CanaryRef) (phase string, images []string, unreachable string) {
	c, err := r.Clusters.Canary(ctx, ref)
	if err != nil {
		return "unreachable", nil, err.Error()
	}
	phase = string(c.Status.Phase)
	if phase == "" {
		phase = "Unknown"
	}
	cs, err := r.Clusters.PrimaryImages(ctx, ref.Cluster, c)
	if err != nil {
		return phase, nil, ""
	}
	for _, ct := range cs {
		images = append(images, ct.Image)
	}
	return phase, images, ""
}

// exclusions lists ensign's image-automation exclusions for the stage: in
// the repository's manifests, and in its cluster for policies the
// repository does not hold. A report shows what it can read.
func (r *Reporter) exclusions(ctx context.Context, tree imageguard.Reader, st *policy.Stage) []imageguard.Exclusion {
	in, remote, err := imageguard.InForce(tree, st.Overlay)
	if err != nil {
		return nil
	}
	if len(remote) > 0 {
		more, _ := imageguard.InForceInCluster(ctx, r.Clusters, st.Canary.Cluster, remote)
		in = append(in, more...)
	}
	return in
}

func pinnedImages(tree overlay.Reader, dir string) []string {
	f, err := overlay.FindKustomization(tree, dir)
	if err != nil {
		return nil
	}
	imgs, err := f.Images()
	if err != nil {
		return nil
	}
	var out []string
	for _, im := range imgs {
		out = append(out, im.Ref())
	}
	return out
}

// ForPR reports what /status on pull request number shows: the app of an
// open promotion ensign opened, or every app.
func (r *Reporter) ForPR(ctx context.Context, number int64) (Report, error) {
	app := ""
	pr, err := r.Forge.GetPullRequest(ctx, r.Workspace.Repo, number)
	if err != nil {
		return Report{}, err
	}
	if pr.Author == r.Bot {
		if m, err := vocab.ParsePromotion(pr.Body); err == nil {
			app = m.App
		}
	}
	rep, err := r.Build(ctx, app)
	if err != nil && app != "" && rep.Commit != "" && len(rep.Apps) == 0 {
		// The promotion's app left the policy: show every app instead.
		return r.Build(ctx, "")
	}
	return rep, err
}

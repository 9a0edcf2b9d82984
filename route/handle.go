package route

import (
	"context"
	"errors"
	"fmt"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ensignbot/ensign/canary"
	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/freeze"
	"github.com/ensignbot/ensign/gate"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/internal/logctx"
	"github.com/ensignbot/ensign/overlay"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/promote"
	"github.com/ensignbot/ensign/rollback"
	"github.com/ensignbot/ensign/status"
	"github.com/ensignbot/ensign/workspace"
)

// HandleCanary hands a canary in a final phase to the service of the one
// repository whose policy names it; canaries no policy names are ignored.
// It is the watcher's canary.Handler. A terminal error is recorded as a
// Warning event on the canary and returned wrapping canary.ErrPermanent, so
// the watcher drops it; any other error is returned for a retry.
func (r *Router) HandleCanary(ctx context.Context, clusterName string, c *flaggerv1.Canary) error {
	ref := policy.CanaryRef{Cluster: clusterName, Namespace: c.Namespace, Name: c.Name}
	owner, ok := r.Owner(ref)
	if !ok {
		return nil
	}
	repo := r.repos[owner]
	phase := c.Status.Phase
	at := c.Status.LastTransitionTime.Time.UTC().Truncate(time.Second)
	log := r.log.With("repo", owner.String(), "canary", ref.String(), "phase", string(phase))
	if phase == flaggerv1.CanaryPhaseFailed {
		log = log.With("failure", ref.String()+"@"+at.Format(time.RFC3339))
	}
	ctx = logctx.With(ctx, log)
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ActionTimeout)
	defer cancel()
	start := time.Now()
	o := Observation{Result: c.Status.LastTransitionTime.Time}
	var kind string
	var err error
	switch phase {
	case flaggerv1.CanaryPhaseSucceeded:
		kind = "promote"
		var outs []promote.Outcome
		outs, err = repo.Promote.Succeeded(ctx, clusterName, c)
		for _, out := range outs {
			o.Promotions = append(o.Promotions, out.Action)
		}
	case flaggerv1.CanaryPhaseFailed:
		kind = "rollback"
		var out rollback.Outcome
		out, err = repo.Rollback.Failed(ctx, clusterName, c)
		o.Rollback = out.Action
	default:
		return nil
	}
	if r.cfg.Observe != nil {
		o.Kind, o.Took, o.Err = kind, time.Since(start), err
		r.cfg.Observe(o)
	}
	if err == nil || !Terminal(err) {
		return err
	}
	n := cluster.Note{
		Type: corev1.EventTypeWarning, Reason: "EnsignCannotAct",
		Message: fmt.Sprintf("ensign cannot %s this %s result, and retrying will not help: %v", kind, phase, err),
		Key:     "cannot-" + kind + "-" + at.Format("20060102t150405"),
	}
	if eventErr := r.cfg.Events.RecordEvent(ctx, clusterName, c, n, r.cfg.Now()); eventErr != nil {
		log.Warn("record why ensign cannot act", "err", eventErr)
	}
	return fmt.Errorf("%w: %w", err, canary.ErrPermanent)
}

// Policy returns the policy of a managed repository as the services see it,
// read from its Git cache: nil when it has no policy file, an error wrapping
// workspace.ErrInvalidPolicy when the file at the deploy branch's tip does
// not load.
func (r *Router) Policy(ctx context.Context, name forge.Repo) (*policy.Policy, error) {
	repo, ok := r.lookup(name)
	if !ok {
		return nil, fmt.Errorf("%s is not in ENSIGN_REPOS", name)
	}
	snap, err := repo.Workspace.Sync(ctx)
	if err != nil {
		return nil, err
	}
	if snap.Invalid != nil {
		return nil, snap.Invalid
	}
	return snap.Policy, nil
}

// PromotePR runs /promote on a pull request of repo.
func (r *Router) PromotePR(ctx context.Context, name forge.Repo, req promote.PRRequest) (promote.Outcome, error) {
	repo, ok := r.lookup(name)
	if !ok {
		return promote.Outcome{}, fmt.Errorf("%s is not in ENSIGN_REPOS", name)
	}
	return repo.Promote.PromotePR(ctx, req)
}

// RollbackPR runs /rollback on a pull request of repo.
func (r *Router) RollbackPR(ctx context.Context, name forge.Repo, req rollback.PRRequest) (rollback.Outcome, error) {
	repo, ok := r.lookup(name)
	if !ok {
		return rollback.Outcome{}, fmt.Errorf("%s is not in ENSIGN_REPOS", name)
	}
	return repo.Rollback.RollbackPR(ctx, req)
}

// StatusPR builds what /status on a pull request of repo shows.
func (r *Router) StatusPR(ctx context.Context, name forge.Repo, number int64) (status.Report, error) {
	repo, ok := r.lookup(name)
	if !ok {
		return status.Report{}, fmt.Errorf("%s is not in ENSIGN_REPOS", name)
	}
	return repo.Status.ForPR(ctx, number)
}

// Terminal reports whether retrying cannot fix err: the policy or the
// overlays are wrong, the canary names what ensign cannot read, or Gitea or
// the API server refused in a way that does not change by asking again.
// Everything else (timeouts, network errors, 5xx, conflicts, lost races) is
// worth a retry.
func Terminal(err error) bool {
	for _, target := range terminalErrors {
		if errors.Is(err, target) {
			return true
		}
	}
	var se *forge.StatusError
	if errors.As(err, &se) {
		return !forge.Transient(err)
	}
	return cluster.Refused(err)
}

// terminalErrors are the sentinels of configuration and data problems.
var terminalErrors = []error{
	workspace.ErrInvalidPolicy, freeze.ErrBadRequest,
	promote.ErrNothingMatched, promote.ErrUnverifiedRevision, promote.ErrNoPolicy,
	rollback.ErrNoIntroducer, rollback.ErrNoPolicy,
	cluster.ErrUnknownCluster, cluster.ErrUnsupportedTarget, cluster.ErrUndecodable,
	overlay.ErrParse, overlay.ErrNotFound, overlay.ErrAmbiguous, overlay.ErrType, overlay.ErrUnsupported, overlay.ErrInvalid, overlay.ErrSymlink,
	imageref.ErrInvalid,
	gitops.ErrRootCommit, gitops.ErrBadMainline,
}

// Allow answers Flagger's gate for a canary, in the repository whose policy
// names it; gate.ErrUnknownCanary when none does.
func (r *Router) Allow(ctx context.Context, ref policy.CanaryRef) (bool, string, error) {
	owner, ok := r.Owner(ref)
	if !ok {
		return false, "", fmt.Errorf("%w: no policy of ENSIGN_REPOS names %s", gate.ErrUnknownCanary, ref)
	}
	return r.repos[owner].Gate.Allow(ctx, ref)
}

// RefreshGates brings the window gate's status of every open pull request
// of repo (every managed repository when repo is zero) up to date.
func (r *Router) RefreshGates(ctx context.Context, repo forge.Repo) error {
	var errs []error
	for _, name := range r.order {
		if repo != (forge.Repo{}) && name != repo {
			continue
		}
		if err := r.repos[name].Gate.RefreshAll(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// GateRefresh brings one pull request's window gate status up to date.
func (r *Router) GateRefresh(ctx context.Context, name forge.Repo, number int64) (gate.Verdict, error) {
	repo, ok := r.lookup(name)
	if !ok {
		return gate.Verdict{}, fmt.Errorf("%s is not in ENSIGN_REPOS", name)
	}
	return repo.Gate.Refresh(ctx, number)
}

// GateOverride lets a pull request's head through the window gate, for a
// person's /promote now.
func (r *Router) GateOverride(ctx context.Context, name forge.Repo, number int64, person string) (gate.Verdict, error) {
	repo, ok := r.lookup(name)
	if !ok {
		return gate.Verdict{}, fmt.Errorf("%s is not in ENSIGN_REPOS", name)
	}
	return repo.Gate.Override(ctx, number, person)
}

// Freeze runs /freeze for repo.
func (r *Router) Freeze(ctx context.Context, name forge.Repo, req freeze.Request) (freeze.Outcome, error) {
	repo, ok := r.lookup(name)
	if !ok || repo.Freeze == nil {
		return freeze.Outcome{}, fmt.Errorf("%s is not in ENSIGN_REPOS", name)
	}
	return repo.Freeze.Freeze(ctx, req)
}

// Unfreeze runs /unfreeze for repo.
func (r *Router) Unfreeze(ctx context.Context, name forge.Repo, req freeze.Request) (freeze.Outcome, error) {
	repo, ok := r.lookup(name)
	if !ok || repo.Freeze == nil {
		return freeze.Outcome{}, fmt.Errorf("%s is not in ENSIGN_REPOS", name)
	}
	return repo.Freeze.Unfreeze(ctx, req)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
)

// The story on the real controllers (options.real): Flux applies Git,
// Flagger analyses what Flux applied; the demo only pushes CI's release, asks
// Flux to fetch after a push (as Gitea's push webhook to Flux's receiver
// would) and answers Flagger's rollout webhook: pass in staging, fail in
// production.

// realLead is the least window lead on the real controllers: the staging
// analysis alone takes about a minute (Flagger runs a step every 10 s).
const realLead = 150 * time.Second

// analysisTimeout bounds one real Flagger analysis.
const analysisTimeout = 3 * time.Minute

func (d *demo) realSteps() []step {
	return []step{
		{"Start a real Gitea, a Kubernetes API server with its controllers, Flux and Flagger", d.startRealServers},
		{"Build ensign", d.build},
		{"Seed the sample GitOps repository; Flux applies it and Flagger initializes the canaries", d.seed},
		{"Start ensign", d.startEnsign},
		{"CI releases podinfo 6.5.1 to staging; Flux applies it", d.realRelease},
		{"Flagger analyses 6.5.1 in staging; the gate passes it", d.realStagingSucceeds},
		{"ensign opens a promotion pull request; the window is closed, so it is queued", d.queued},
		{"A person asks ensign with a comment: /status", d.askStatus},
		{"The production window opens; ensign merges the promotion", d.windowOpensAndMerges},
		{"Flux applies 6.5.1 to production; Flagger's analysis fails and it rolls back", d.realProductionFails},
		{"ensign reverts the promotion on main", d.reverted},
		{"ensign reports the rollback and asks Flux to reconcile now", d.followUps},
		{"Flux applies the revert; the cluster settles", d.realSettles},
		{"Where to look", d.summary},
	}
}

func (d *demo) startRealServers(ctx context.Context) error {
	if err := d.startServers(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, serversTimeout)
	defer cancel()
	var err error
	if d.workloads, err = harness.StartWorkloads(ctx, d.kube, harness.WorkloadOptions{}); err != nil {
		return err
	}
	d.n.say("kube-controller-manager and kube-scheduler %s, kwok %s with node %v: Deployments get ReplicaSets and ready Pods, no container runtime.", harness.KubernetesVersion, harness.KwokVersion, d.workloads.Nodes)
	if d.flagger, err = harness.StartFlagger(ctx, d.kube, harness.FlaggerOptions{}); err != nil {
		return err
	}
	d.n.say("Flagger %s, -mesh-provider=kubernetes (blue/green without a mesh).", harness.FlaggerVersion)
	if d.flux, err = harness.StartFlux(ctx, d.kube, harness.FluxOptions{}); err != nil {
		return err
	}
	d.n.say("Flux source-controller and kustomize-controller %s.", harness.FluxVersion)
	if d.gate, err = scenario.StartGate(); err != nil {
		return err
	}
	d.n.say("The canaries' rollout webhook is the demo, at %s/gate: it passes staging's analyses and fails production's.", d.gate.URL)
	return nil
}

// stopControllers stops what startRealServers started, before the API server.
func (d *demo) stopControllers() error {
	var errs []error
	if d.flux != nil {
		errs = append(errs, d.flux.Stop())
	}
	if d.flagger != nil {
		errs = append(errs, d.flagger.Stop())
	}
	if d.workloads != nil {
		errs = append(errs, d.workloads.Stop())
	}
	if d.gate != nil {
		errs = append(errs, d.gate.Close())
	}
	return errors.Join(errs...)
}

func (d *demo) realRelease(ctx context.Context) error {
	sha, err := d.env.ReleaseToStaging(ctx, releaseTag)
	if err != nil {
		return err
	}
	d.n.say("%s pushed %s \"Release podinfo %s to staging\" to main.", d.env.CI.Name, short(sha), releaseTag)
	if err := d.env.Reconcile(ctx); err != nil {
		return err
	}
	d.n.waiting(reactionTimeout, "Flux to fetch and apply main@%s", short(sha))
	if err := d.env.WaitApplied(ctx, d.env.Staging, sha, reactionTimeout); err != nil {
		return err
	}
	img, err := d.env.Image(ctx, d.env.Staging, "podinfo")
	if err != nil {
		return err
	}
	d.n.say("kustomize-controller applied main@%s: deployment %s/podinfo runs %s.", short(sha), d.env.Staging.Namespace, img)
	d.n.look("commit", d.env.RepoURL()+"/commit/"+sha)
	return nil
}

func (d *demo) realStagingSucceeds(ctx context.Context) error {
	d.n.waiting(analysisTimeout, "Flagger's analysis of %s in staging", releaseTag)
	if err := d.env.WaitPhase(ctx, d.env.Staging, flaggerv1.CanaryPhaseSucceeded, analysisTimeout); err != nil {
		return err
	}
	if err := d.flaggerSaid(ctx, d.env.Staging, 8, "Promotion completed"); err != nil {
		return err
	}
	img, err := d.env.Image(ctx, d.env.Staging, "podinfo-primary")
	if err != nil {
		return err
	}
	d.n.say("Canary %s/podinfo is Succeeded; Flagger copied the target to the primary, which now runs %s.", d.env.Staging.Namespace, img)
	d.n.say("ensign watches canaries: a Succeeded staging canary means this exact version may go to production.")
	return nil
}

func (d *demo) realProductionFails(ctx context.Context) error {
	if err := d.env.Reconcile(ctx); err != nil {
		return err
	}
	d.n.waiting(reactionTimeout, "Flux to fetch and apply main@%s", short(d.mergeSHA))
	if err := d.env.WaitApplied(ctx, d.env.Production, d.mergeSHA, reactionTimeout); err != nil {
		return err
	}
	d.n.say("kustomize-controller applied main@%s to %s.", short(d.mergeSHA), d.env.Production.Namespace)
	d.n.waiting(analysisTimeout, "Flagger's analysis of %s in production (the gate fails it)", releaseTag)
	if err := d.env.WaitPhase(ctx, d.env.Production, flaggerv1.CanaryPhaseFailed, analysisTimeout); err != nil {
		return err
	}
	if err := d.flaggerSaid(ctx, d.env.Production, 4, ""); err != nil {
		return err
	}
	primary, err := d.env.Image(ctx, d.env.Production, "podinfo-primary")
	if err != nil {
		return err
	}
	d.n.say("Flagger rolled back: the primary still runs %s, the target (scaled to zero) still says %s, and so does Git.", primary, releaseTag)
	d.n.say("Without ensign, Flux would re-apply %s at its next interval, and Git would stay wrong until a person reverts it.", releaseTag)
	return nil
}

func (d *demo) realSettles(ctx context.Context) error {
	d.n.waiting(reactionTimeout, "Flux to apply the revert %s (ensign asked it to)", short(d.revertSHA))
	if err := d.env.WaitApplied(ctx, d.env.Production, d.revertSHA, reactionTimeout); err != nil {
		return err
	}
	err := d.waitFor(ctx, reactionTimeout, "Flagger to take the reverted target as the promoted version", func(ctx context.Context) (bool, error) {
		c, err := d.env.Canary(ctx, d.env.Production)
		if err != nil {
			return false, err
		}
		if c.Status.Phase != flaggerv1.CanaryPhaseFailed {
			return false, giveUp{fmt.Errorf("the production canary went %s after the revert; want it to stay Failed", c.Status.Phase)}
		}
		return c.Status.LastAppliedSpec == c.Status.LastPromotedSpec, nil
	})
	if err != nil {
		return err
	}
	for _, name := range []string{"podinfo", "podinfo-primary"} {
		img, err := d.env.Image(ctx, d.env.Production, name)
		if err != nil {
			return err
		}
		if img != scenario.Image+":"+startTag {
			return fmt.Errorf("deployment %s/%s runs %s after the revert, want %s", d.env.Production.Namespace, name, img, startTag)
		}
	}
	d.n.say("kustomize-controller applied main@%s: target and primary both run %s again.", short(d.revertSHA), startTag)
	d.n.say("Flagger saw the target return to the promoted version and started no new analysis; the canary stays Failed until the next version.")
	d.n.say("Git, Flux and the cluster agree again, and ensign does nothing more.")
	return nil
}

// flaggerSaid narrates the last n events the real Flagger recorded on a
// stage's canary, once one of them contains until (Flagger records an event
// a moment after it writes the phase it tells of); "" narrates at once.
func (d *demo) flaggerSaid(ctx context.Context, s scenario.Stage, n int, until string) error {
	var evs []corev1.Event
	err := scenario.Wait(ctx, 15*time.Second, fmt.Sprintf("Flagger's event %q on %s/podinfo", until, s.Namespace), func() (bool, error) {
		var err error
		if evs, err = d.env.CanaryEventsFrom(ctx, s, "flagger"); err != nil {
			return false, err
		}
		return until == "" || slices.ContainsFunc(evs, func(ev corev1.Event) bool { return strings.Contains(ev.Message, until) }), nil
	})
	if err != nil {
		return err
	}
	if len(evs) > n {
		evs = evs[len(evs)-n:]
	}
	d.n.say("Flagger's events on canary %s/podinfo:", s.Namespace)
	for _, ev := range evs {
		d.n.quote(fmt.Sprintf("%s %s: %s", ev.Type, ev.Reason, ev.Message), 1)
	}
	return nil
}

package harness

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

const podinfoImage = "ghcr.io/stefanprodan/podinfo"

// TestFlaggerBlueGreenOnFlux runs the real Flagger (-mesh-provider=kubernetes)
// on a Deployment and Canary that the real Flux applies from the harness
// Gitea, with a rollout webhook served by the test deciding each analysis:
// a new tag with the webhook answering 200 is promoted (Succeeded), one with
// 500 is rolled back (Failed), a Git revert to the promoted tag after the
// failure starts no analysis, and a newer tag after that is analysed again.
// The timeline it logs is the source of harness/CONTROLLERS.md.
func TestFlaggerBlueGreenOnFlux(t *testing.T) {
	g := Gitea(t)
	k, _ := Workloads(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	kc := kubernetes.NewForConfigOrDie(k.Config)
	fc := flaggerclient.NewForConfigOrDie(k.Config)
	dyn := dynamic.NewForConfigOrDie(k.Config)
	ns := newNamespace(ctx, t, kc, "flagger-")
	_, fl := Flagger(t, ns)
	_, fx := Flux(t, ns)
	logOnFailure(t, fl.Process, fx.Source, fx.Kustomize)

	tl := &timeline{start: time.Now()}
	defer func() { t.Logf("timeline of namespace %s:\n%s", ns, tl) }()
	tl.watch(ctx, t, kc, fc, ns)
	hook := newGateHook(tl)
	defer hook.Close()

	org := UniqueName("flagger-org-")
	if err := g.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	cloneURL, err := g.CreateRepo(ctx, org, "gitops")
	if err != nil {
		t.Fatal(err)
	}
	overlay := "apps/podinfo/overlays/prod/kustomization.yaml"
	sha := gitPush(ctx, t, g, cloneURL, map[string]string{
		"apps/podinfo/base/kustomization.yaml": "resources:\n  - deployment.yaml\n  - canary.yaml\n",
		"apps/podinfo/base/deployment.yaml":    podinfoDeploymentYAML,
		"apps/podinfo/base/canary.yaml":        fmt.Sprintf(podinfoCanaryYAML, hook.URL, hook.URL),
		overlay:                                podinfoOverlay(ns, "6.0.0"),
	}, "Add podinfo 6.0.0")
	if _, err := kc.CoreV1().Secrets(ns).Create(ctx, FluxGitSecret(ns, "gitea-token", g.AdminUser, g.AdminToken), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createFluxObject(ctx, t, dyn, gitRepositoryGVR, "GitRepository", ns, "gitops", map[string]any{
		"url": cloneURL, "interval": "10m", "ref": map[string]any{"branch": "main"},
		"secretRef": map[string]any{"name": "gitea-token"},
	})
	createFluxObject(ctx, t, dyn, kustomizationGVR, "Kustomization", ns, "podinfo", map[string]any{
		"interval": "10m", "path": "./apps/podinfo/overlays/prod", "prune": true,
		"sourceRef": map[string]any{"kind": "GitRepository", "name": "gitops"},
	})
	tl.mark("Flux objects created for %s (6.0.0)", sha[:8])
	waitApplied(ctx, t, dyn, ns, "podinfo", sha, "")
	tl.mark("Flux applied %s", sha[:8])

	waitPhase(ctx, t, fc, ns, flaggerv1.CanaryPhaseInitialized)
	tl.mark("Canary Initialized")
	waitDeploymentReady(ctx, t, kc, ns, "podinfo-primary", podinfoImage+":6.0.0", 1)
	wantImages(ctx, t, kc, ns, "6.0.0", 0, "6.0.0")
	for _, svc := range []string{"podinfo", "podinfo-primary", "podinfo-canary"} {
		if _, err := kc.CoreV1().Services(ns).Get(ctx, svc, metav1.GetOptions{}); err != nil {
			t.Fatalf("service %s after Initialized: %v", svc, err)
		}
	}

	// Success: a new tag, the gate answers 200.
	release := func(tag string) {
		t.Helper()
		sha := gitPush(ctx, t, g, cloneURL, map[string]string{overlay: podinfoOverlay(ns, tag)}, "podinfo "+tag)
		requestReconcile(ctx, t, dyn, gitRepositoryGVR, ns, "gitops")
		tl.mark("pushed %s (%s), reconcile requested on the GitRepository", tag, sha[:8])
		waitApplied(ctx, t, dyn, ns, "podinfo", sha, "")
		tl.mark("Flux applied %s (%s)", tag, sha[:8])
	}
	release("6.0.1")
	waitPhase(ctx, t, fc, ns, flaggerv1.CanaryPhaseSucceeded)
	tl.mark("Canary Succeeded")
	wantImages(ctx, t, kc, ns, "6.0.1", 0, "6.0.1")
	wantPhasesSince(t, tl, 0, flaggerv1.CanaryPhaseProgressing, flaggerv1.CanaryPhasePromoting,
		flaggerv1.CanaryPhaseFinalising, flaggerv1.CanaryPhaseSucceeded)

	// Flux re-applies the same revision: Flagger must not start over.
	before := len(tl.statuses())
	token := requestReconcile(ctx, t, dyn, kustomizationGVR, ns, "podinfo")
	waitApplied(ctx, t, dyn, ns, "podinfo", headOf(ctx, t, dyn, ns), token)
	tl.mark("Flux re-applied the same revision (Succeeded)")

	// Failure: a new tag, the gate answers 500; Flagger rolls back.
	hook.status.Store(http.StatusInternalServerError)
	release("6.0.2")
	waitPhase(ctx, t, fc, ns, flaggerv1.CanaryPhaseFailed)
	tl.mark("Canary Failed")
	wantPhasesSince(t, tl, before, flaggerv1.CanaryPhaseProgressing, flaggerv1.CanaryPhaseFailed)
	// The target keeps the failed version, scaled to zero; the primary keeps
	// the last promoted one.
	wantImages(ctx, t, kc, ns, "6.0.2", 0, "6.0.1")
	waitDeploymentReady(ctx, t, kc, ns, "podinfo-primary", podinfoImage+":6.0.1", 1)

	// While Failed, Flux re-applies the same revision.
	failed := currentCanary(ctx, t, fc, ns)
	token = requestReconcile(ctx, t, dyn, kustomizationGVR, ns, "podinfo")
	waitApplied(ctx, t, dyn, ns, "podinfo", headOf(ctx, t, dyn, ns), token)
	tl.mark("Flux re-applied the same revision (Failed); lastTransitionTime was %s", failed.Status.LastTransitionTime.Format("15:04:05"))

	// The revert: Git goes back to the promoted tag. Flagger records the
	// target's new spec (lastAppliedSpec becomes lastPromotedSpec) and stays
	// Failed: no new analysis.
	before = len(tl.statuses())
	release("6.0.1")
	eventually(ctx, t, "Flagger syncs lastAppliedSpec to the reverted target", func(ctx context.Context) (bool, error) {
		c, err := fc.FlaggerV1beta1().Canaries(ns).Get(ctx, "podinfo", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return c.Status.LastAppliedSpec == c.Status.LastPromotedSpec, nil
	})
	tl.mark("Flagger saw the revert (lastAppliedSpec == lastPromotedSpec)")
	// While Failed, Flagger rewrites the status every interval (see
	// CONTROLLERS.md): one more write shows that it ran once more since, and
	// did not start an analysis.
	n := len(tl.statuses())
	eventually(ctx, t, "one more Canary status write", func(context.Context) (bool, error) { return len(tl.statuses()) > n, nil })
	wantOnlyPhase(t, tl, before, flaggerv1.CanaryPhaseFailed)
	wantImages(ctx, t, kc, ns, "6.0.1", 0, "6.0.1")
	tl.mark("after the revert: still Failed, target and primary on 6.0.1")

	// A newer version after the failure is analysed again.
	hook.status.Store(http.StatusOK)
	before = len(tl.statuses())
	release("6.0.3")
	waitPhase(ctx, t, fc, ns, flaggerv1.CanaryPhaseSucceeded)
	tl.mark("Canary Succeeded with 6.0.3")
	wantPhasesSince(t, tl, before, flaggerv1.CanaryPhaseProgressing, flaggerv1.CanaryPhaseSucceeded)
	wantImages(ctx, t, kc, ns, "6.0.3", 0, "6.0.3")
	events, err := kc.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Canary"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d Canary events, %d gate calls", len(events.Items), hook.calls.Load())
	_, w := Workloads(t)
	for _, p := range []*Process{w.ControllerManager, w.Scheduler, w.Kwok, fl.Process, fx.Source, fx.Kustomize} {
		t.Logf("%s: ready %v after start, RSS %d MiB", p.Name, p.Ready.Sub(p.Started).Round(time.Millisecond), p.RSS()>>20)
	}
}

const podinfoDeploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
        - name: podinfod
          image: ghcr.io/stefanprodan/podinfo:6.0.0
          ports:
            - name: http
              containerPort: 9898
`

// podinfoCanaryYAML takes the webhook server's URL twice. interval 5s asks
// for less than Flagger's floor of 10 s, to show the floor.
const podinfoCanaryYAML = `apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  progressDeadlineSeconds: 60
  service:
    port: 9898
  analysis:
    interval: 5s
    threshold: 1
    iterations: 1
    webhooks:
      - name: gate
        type: rollout
        url: %s/gate
        timeout: 5s
      - name: events
        type: event
        url: %s/events
`

func podinfoOverlay(ns, tag string) string {
	return fmt.Sprintf("namespace: %s\nresources:\n  - ../../base\nimages:\n  - name: %s\n    newTag: %s\n", ns, podinfoImage, tag)
}

func currentCanary(ctx context.Context, t *testing.T, fc flaggerclient.Interface, ns string) *flaggerv1.Canary {
	t.Helper()
	c, err := fc.FlaggerV1beta1().Canaries(ns).Get(ctx, "podinfo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitPhase(ctx context.Context, t *testing.T, fc flaggerclient.Interface, ns string, phase flaggerv1.CanaryPhase) {
	t.Helper()
	eventually(ctx, t, "Canary phase "+string(phase), func(ctx context.Context) (bool, error) {
		c, err := fc.FlaggerV1beta1().Canaries(ns).Get(ctx, "podinfo", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return c.Status.Phase == phase, nil
	})
}

// wantPhasesSince checks that the Canary statuses recorded since index from
// went through phases in this order (others may come in between). The
// timeline hears of a status through a watch, which may trail the Get that
// waitPhase saw it with, so it gives the timeline 10 s to catch up.
func wantPhasesSince(t *testing.T, tl *timeline, from int, phases ...flaggerv1.CanaryPhase) {
	t.Helper()
	var seen []flaggerv1.CanaryPhase
	deadline := time.Now().Add(10 * time.Second)
	for {
		seen = seen[:0]
		for _, s := range tl.statuses()[from:] {
			if len(seen) == 0 || seen[len(seen)-1] != s.Phase {
				seen = append(seen, s.Phase)
			}
		}
		i := 0
		for _, p := range seen {
			if i < len(phases) && p == phases[i] {
				i++
			}
		}
		if i == len(phases) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Canary phases seen %v, want %v in this order", seen, phases)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantOnlyPhase checks that every Canary status recorded since index from
// has phase.
func wantOnlyPhase(t *testing.T, tl *timeline, from int, phase flaggerv1.CanaryPhase) {
	t.Helper()
	for _, s := range tl.statuses()[from:] {
		if s.Phase != phase {
			t.Fatalf("Canary went to phase %s, want it to stay %s", s.Phase, phase)
		}
	}
}

// wantImages checks the target's tag and replicas and the primary's tag.
func wantImages(ctx context.Context, t *testing.T, kc kubernetes.Interface, ns, target string, targetReplicas int32, primary string) {
	t.Helper()
	for name, tag := range map[string]string{"podinfo": target, "podinfo-primary": primary} {
		d, err := kc.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Spec.Template.Spec.Containers[0].Image; got != podinfoImage+":"+tag {
			t.Fatalf("deployment %s runs %s, want tag %s", name, got, tag)
		}
		if name == "podinfo" && (d.Spec.Replicas == nil || *d.Spec.Replicas != targetReplicas) {
			t.Fatalf("deployment podinfo replicas %v, want %d", d.Spec.Replicas, targetReplicas)
		}
	}
}

// headOf returns the commit the namespace's GitRepository last fetched.
func headOf(ctx context.Context, t *testing.T, dyn dynamic.Interface, ns string) string {
	t.Helper()
	u := getFlux(ctx, t, dyn, gitRepositoryGVR, ns, "gitops")
	rev, _, _ := unstructured.NestedString(u.Object, "status", "artifact", "revision")
	const prefix = "main@sha1:"
	if len(rev) <= len(prefix) {
		t.Fatalf("GitRepository artifact revision %q", rev)
	}
	return rev[len(prefix):]
}

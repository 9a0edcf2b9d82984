package scenario

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/harness"
)

// Image is the sample app's image repository.
const Image = "ghcr.io/stefanprodan/podinfo"

// Stage is one stage of the sample app.
type Stage struct {
	Name      string
	Cluster   string // the cluster name in the policy
	Namespace string
	Overlay   string
}

// Options shape the sample repository.
type Options struct {
	// Prefix makes names unique on shared servers ("" is fine for the demo).
	Prefix string
	// Windows is the policy's windows: YAML list items, indented for the
	// `windows:` key. Empty means one business-hours allow window.
	Windows string
	// ProductionWindows lists the window names production uses.
	ProductionWindows []string
	// RollbackMode is "push" (default) or "pr".
	RollbackMode string
	// StartTag is the version both overlays pin at first.
	StartTag string
	// Gate, when set, sets the story up for the real Flux and Flagger (see
	// harness.Flux and harness.Flagger): the Deployment and the Canary are in
	// Git, the Canary's rollout webhook is Gate, and Flux applies them. Setup
	// then creates only namespaces and Flux objects and waits until Flagger
	// has initialized both canaries. Without it the scenario plays Flux and
	// Flagger: the workloads and canaries are created directly and the
	// actors below write what those controllers would.
	Gate *Gate
}

// Env is the sample GitOps setup on real servers.
type Env struct {
	Gitea *harness.GiteaServer
	Kube  *harness.KubeServer
	Org   string
	Repo  string
	// Bot is ensign's account; CI pushes new versions to staging; Dev is a
	// developer with write access; Reader may only read.
	Bot, CI, Dev, Reader harness.GiteaUser
	Staging, Production  Stage
	// FluxNamespace holds the Flux objects.
	FluxNamespace string

	kube    kubernetes.Interface
	dyn     dynamic.Interface
	flagger flaggerclient.Interface
}

// Setup creates users, the repository with its overlays and policy, and the
// cluster objects (namespaces, target and primary deployments, canaries,
// Flux GitRepository and Kustomizations).
func Setup(ctx context.Context, g *harness.GiteaServer, k *harness.KubeServer, opts Options) (*Env, error) {
	if opts.StartTag == "" {
		opts.StartTag = "6.5.0"
	}
	if opts.RollbackMode == "" {
		opts.RollbackMode = "push"
	}
	if opts.Windows == "" {
		opts.Windows = `  - name: business-hours
    type: allow
    schedule: "0 9 * * 1-5"
    duration: 8h
    timezone: Europe/Amsterdam
    description: Weekdays 09:00-17:00 in Amsterdam
`
		opts.ProductionWindows = []string{"business-hours"}
	}
	p := opts.Prefix
	e := &Env{
		Gitea: g, Kube: k, Org: p + "acme", Repo: "gitops", FluxNamespace: fluxNamespace(p),
		Staging:    Stage{Name: "staging", Cluster: "staging", Namespace: stageNamespace(p, "staging"), Overlay: "apps/podinfo/overlays/staging"},
		Production: Stage{Name: "production", Cluster: "production", Namespace: stageNamespace(p, "production"), Overlay: "apps/podinfo/overlays/production"},
		kube:       kubernetes.NewForConfigOrDie(k.Config),
		dyn:        dynamic.NewForConfigOrDie(k.Config),
		flagger:    flaggerclient.NewForConfigOrDie(k.Config),
	}
	err := e.setupGitea(ctx, opts)
	if err != nil {
		return nil, err
	}
	if opts.Gate != nil {
		err = e.setupRealCluster(ctx)
	} else {
		err = e.setupCluster(ctx, opts)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// fluxNamespace and stageNamespace name the namespaces of the setup with
// prefix.
func fluxNamespace(prefix string) string { return prefix + "flux-system" }

func stageNamespace(prefix, stage string) string { return prefix + "podinfo-" + stage }

func (e *Env) setupGitea(ctx context.Context, opts Options) error {
	g := e.Gitea
	if err := g.CreateOrg(ctx, e.Org); err != nil {
		return err
	}
	if _, err := g.CreateRepo(ctx, e.Org, e.Repo); err != nil {
		return err
	}
	users := []struct {
		u    *harness.GiteaUser
		name string
		perm string
	}{
		{&e.Bot, "ensign", "admin"}, {&e.CI, "ci", "write"}, {&e.Dev, "dev", "write"}, {&e.Reader, "reader", "read"},
	}
	for _, x := range users {
		u, err := g.CreateUser(ctx, opts.Prefix+x.name)
		if err != nil {
			return err
		}
		*x.u = u
		if err := g.AddCollaborator(ctx, e.Org, e.Repo, u.Name, x.perm); err != nil {
			return err
		}
	}
	files := map[string]string{
		".ensign.yaml":                               e.policy(opts),
		"apps/podinfo/base/kustomization.yaml":       "resources:\n  - deployment.yaml\n",
		"apps/podinfo/base/deployment.yaml":          deploymentYAML,
		e.Staging.Overlay + "/kustomization.yaml":    overlayYAML(e.Staging, opts.StartTag),
		e.Production.Overlay + "/kustomization.yaml": overlayYAML(e.Production, opts.StartTag),
	}
	if opts.Gate != nil {
		maps.Copy(files, realFiles(opts.Gate))
	}
	_, err := e.Commit(ctx, e.Dev, "Add podinfo with staging and production overlays", files)
	return err
}

func (e *Env) policy(opts Options) string {
	return fmt.Sprintf(`apiVersion: ensign.dev/v1alpha1
identity:
  name: ensign
  email: ensign@example.com
windows:
%sapps:
  - name: podinfo
    stages:
      - name: staging
        overlay: %s
        canary: {cluster: staging, namespace: %s, name: podinfo}
        flux:
          kustomization: {namespace: %s, name: podinfo-staging}
          gitRepository: {namespace: %s, name: gitops}
      - name: production
        from: staging
        overlay: %s
        canary: {cluster: production, namespace: %s, name: podinfo}
        autoMerge: true
        windows: [%s]
        flux:
          kustomization: {namespace: %s, name: podinfo-production}
          gitRepository: {namespace: %s, name: gitops}
rollback:
  mode: %s
`, opts.Windows, e.Staging.Overlay, e.Staging.Namespace, e.FluxNamespace, e.FluxNamespace,
		e.Production.Overlay, e.Production.Namespace, strings.Join(opts.ProductionWindows, ", "),
		e.FluxNamespace, e.FluxNamespace, opts.RollbackMode)
}

const deploymentYAML = `apiVersion: apps/v1
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
`

func overlayYAML(s Stage, tag string) string {
	return fmt.Sprintf(`# %s overlay of podinfo
namespace: %s
resources:
  - ../../base
images:
  - name: %s
    newTag: %s # the version running in %s
`, s.Name, s.Namespace, Image, tag, s.Name)
}

// Stages returns both stages.
func (e *Env) Stages() []Stage { return []Stage{e.Staging, e.Production} }

func (e *Env) createNamespaces(ctx context.Context) error {
	for _, ns := range []string{e.FluxNamespace, e.Staging.Namespace, e.Production.Namespace} {
		_, err := e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	return nil
}

func (e *Env) setupCluster(ctx context.Context, opts Options) error {
	if err := e.createNamespaces(ctx); err != nil {
		return err
	}
	if err := e.createFluxObjects(ctx, ""); err != nil {
		return err
	}
	img := Image + ":" + opts.StartTag
	for _, s := range e.Stages() {
		for _, name := range []string{"podinfo", "podinfo-primary"} {
			if err := e.createDeployment(ctx, s.Namespace, name, img); err != nil {
				return err
			}
		}
		c := &flaggerv1.Canary{
			ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: s.Namespace},
			Spec: flaggerv1.CanarySpec{
				TargetRef: flaggerv1.LocalObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "podinfo"},
				Service:   flaggerv1.CanaryService{Port: 9898},
				Analysis:  &flaggerv1.CanaryAnalysis{Interval: "1m", Threshold: 5, MaxWeight: 50, StepWeight: 10},
			},
		}
		if _, err := e.flagger.FlaggerV1beta1().Canaries(s.Namespace).Create(ctx, c, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create canary in %s: %w", s.Namespace, err)
		}
		if err := e.SetPhase(ctx, s, flaggerv1.CanaryPhaseInitialized, 0); err != nil {
			return err
		}
	}
	return nil
}

// createFluxObjects creates the GitRepository "gitops" on main (reading
// Gitea with the Secret secret, if set) and one Kustomization per stage.
func (e *Env) createFluxObjects(ctx context.Context, secret string) error {
	spec := map[string]any{
		"url": e.Gitea.URL + e.Org + "/" + e.Repo + ".git", "interval": "10m", "ref": map[string]any{"branch": "main"},
	}
	if secret != "" {
		spec["secretRef"] = map[string]any{"name": secret}
	}
	if err := e.createFlux(ctx, "GitRepository", "gitops", spec); err != nil {
		return err
	}
	for _, s := range e.Stages() {
		if err := e.createFlux(ctx, "Kustomization", "podinfo-"+s.Name, map[string]any{
			"path": "./" + s.Overlay, "interval": "10m", "prune": true,
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "gitops"},
		}); err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) createFlux(ctx context.Context, kind, name string, spec map[string]any) error {
	gvr, apiVersion := flux.KustomizationGVR, "kustomize.toolkit.fluxcd.io/v1"
	if kind == "GitRepository" {
		gvr, apiVersion = flux.GitRepositoryGVR, "source.toolkit.fluxcd.io/v1"
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "spec": spec,
		"metadata": map[string]any{"name": name, "namespace": e.FluxNamespace}}}
	if _, err := e.dyn.Resource(gvr).Namespace(e.FluxNamespace).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create %s %s: %w", kind, name, err)
	}
	return nil
}

func (e *Env) createDeployment(ctx context.Context, ns, name, image string) error {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "podinfod", Image: image}}},
			},
		},
	}
	if _, err := e.kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create deployment %s/%s: %w", ns, name, err)
	}
	return nil
}

// Kubeconfigs returns ENSIGN_KUBECONFIGS for the two stage clusters (both
// are the one harness API server, told apart by namespace).
func (e *Env) Kubeconfigs() string {
	return "staging=" + e.Kube.Kubeconfig + ",production=" + e.Kube.Kubeconfig
}

// Wait polls cond every 50ms until it is true or d passes.
func Wait(ctx context.Context, d time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

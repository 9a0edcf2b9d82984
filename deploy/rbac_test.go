package deploy

import (
	"context"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ensignbot/ensign/canary"
	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/policy"
)

const rbacNS = "rbac-check"

// TestServiceAccountCanDoWhatEnsignDoes runs ensign's own cluster calls
// (packages canary, cluster, flux) with the deployed ServiceAccount's token:
// each must be allowed by the ClusterRole. Calls ensign never makes must be
// forbidden, so the role stays least-privilege.
func TestServiceAccountCanDoWhatEnsignDoes(t *testing.T) {
	k := harness.Kube(t)
	applyAll(t, k)
	seedWorkloads(t, k.Config)
	sa := serviceAccountConfig(t, k.Config)
	cl, err := cluster.FromConfig("production", sa)
	if err != nil {
		t.Fatal(err)
	}
	set := cluster.NewSet(cl)
	ctx := context.Background()
	ref := policy.CanaryRef{Cluster: "production", Namespace: rbacNS, Name: "podinfo"}

	t.Run("watch canaries", func(t *testing.T) {
		// The informer quietly falls back to relisting when a watch is
		// forbidden, so the watch itself is checked first.
		wi, err := cl.Dynamic.Resource(cluster.CanaryGVR).Namespace(rbacNS).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("watch canaries: %v", err)
		}
		wi.Stop()
		watchAsServiceAccount(t, k.Config, cl.Dynamic)
	})
	t.Run("read canaries and their workloads", func(t *testing.T) {
		c, err := set.Canary(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		for _, read := range []func(context.Context, string, *flaggerv1.Canary) ([]cluster.Container, error){set.TargetImages, set.PrimaryImages} {
			imgs, err := read(ctx, "production", c)
			if err != nil || len(imgs) != 1 {
				t.Fatalf("images of the deployment: %v %v", imgs, err)
			}
		}
		ds, err := set.Canary(ctx, policy.CanaryRef{Cluster: "production", Namespace: rbacNS, Name: "agent"})
		if err != nil {
			t.Fatal(err)
		}
		if imgs, err := set.TargetImages(ctx, "production", ds); err != nil || len(imgs) != 1 {
			t.Fatalf("images of the daemonset: %v %v", imgs, err)
		}
	})
	t.Run("events", func(t *testing.T) {
		c, err := set.Canary(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if evs, err := set.WarningEvents(ctx, "production", c, 5); err != nil || len(evs) != 1 {
			t.Fatalf("warning events: %v %v", evs, err)
		}
		if err := set.RecordEvent(ctx, "production", c, cluster.Note{Type: corev1.EventTypeNormal, Reason: "Check", Message: "rbac check", Key: "rbac-check"}, time.Now()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("flux", func(t *testing.T) {
		byPath := &policy.Stage{Name: "production", Overlay: "apps/podinfo/production", Canary: ref}
		if ks, err := set.Kustomizations(ctx, byPath); err != nil || len(ks) != 1 {
			t.Fatalf("kustomizations by path (list in all namespaces): %v %v", ks, err)
		}
		named := *byPath
		named.Flux = &policy.Flux{
			Kustomization: policy.ObjectRef{Namespace: rbacNS, Name: "podinfo"},
			GitRepository: policy.ObjectRef{Namespace: rbacNS, Name: "gitops"},
		}
		for _, s := range []*policy.Stage{&named, byPath} {
			if _, _, err := set.AppliedRevision(ctx, s); err != nil {
				t.Fatal(err)
			}
			refs, err := set.RequestReconcile(ctx, s, time.Now())
			if err != nil || len(refs) != 2 {
				t.Fatalf("request reconcile: %v %v", refs, err)
			}
		}
	})
	t.Run("image automation", func(t *testing.T) {
		repo, err := set.ImageRepositoryOf(ctx, "production", rbacNS, "podinfo")
		if err != nil {
			t.Fatal(err)
		}
		repo.Exclusions, repo.Notes = []string{`^.*\.sig$`, `^6\.5\.1$`}, map[string]string{`^6\.5\.1$`: "rbac check"}
		if err := set.SetImageExclusions(ctx, repo); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("nothing more", func(t *testing.T) {
		kc := kubernetes.NewForConfigOrDie(sa)
		forbidden := map[string]error{}
		_, forbidden["update a deployment"] = kc.AppsV1().Deployments(rbacNS).Update(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: rbacNS}}, metav1.UpdateOptions{})
		_, forbidden["read secrets"] = kc.CoreV1().Secrets(rbacNS).List(ctx, metav1.ListOptions{})
		forbidden["delete a canary"] = cl.Dynamic.Resource(cluster.CanaryGVR).Namespace(rbacNS).Delete(ctx, "podinfo", metav1.DeleteOptions{})
		_, forbidden["update a canary's status"] = cl.Dynamic.Resource(cluster.CanaryGVR).Namespace(rbacNS).UpdateStatus(ctx, canaryObject("podinfo"), metav1.UpdateOptions{})
		_, forbidden["read a git repository"] = cl.Dynamic.Resource(flux.GitRepositoryGVR).Namespace(rbacNS).Get(ctx, "gitops", metav1.GetOptions{})
		forbidden["delete events"] = kc.CoreV1().Events(rbacNS).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		for what, err := range forbidden {
			if !apierrors.IsForbidden(err) {
				t.Errorf("the ServiceAccount may %s (err %v); the ClusterRole grants more than ensign uses", what, err)
			}
		}
	})
}

// serviceAccountConfig returns a client configuration that authenticates
// with a fresh token of the deployed ServiceAccount.
func serviceAccountConfig(t *testing.T, admin *rest.Config) *rest.Config {
	t.Helper()
	kc := kubernetes.NewForConfigOrDie(admin)
	exp := int64(600)
	tok, err := kc.CoreV1().ServiceAccounts("ensign").CreateToken(context.Background(), "ensign",
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token of ServiceAccount ensign/ensign: %v", err)
	}
	return &rest.Config{Host: admin.Host, BearerToken: tok.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData}}
}

// seedWorkloads creates, as the admin, what a cluster with Flagger and Flux
// holds: a canary on a Deployment, one on a DaemonSet, Flagger's warning
// event, and a Flux Kustomization with its GitRepository.
func seedWorkloads(t *testing.T, admin *rest.Config) {
	t.Helper()
	ctx := context.Background()
	kc := kubernetes.NewForConfigOrDie(admin)
	dyn := dynamic.NewForConfigOrDie(admin)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: rbacNS}}, metav1.CreateOptions{}))
	tmpl := func(app string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: app, Image: "example.com/" + app + ":1.0.0"}}},
		}
	}
	sel := func(app string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
	}
	for _, name := range []string{"podinfo", "podinfo-primary"} {
		must(kc.AppsV1().Deployments(rbacNS).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{Selector: sel(name), Template: tmpl(name)}}, metav1.CreateOptions{}))
	}
	must(kc.AppsV1().DaemonSets(rbacNS).Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: sel("agent"), Template: tmpl("agent")}}, metav1.CreateOptions{}))
	fc := flaggerclient.NewForConfigOrDie(admin)
	for name, kind := range map[string]string{"podinfo": "Deployment", "agent": "DaemonSet"} {
		c, err := fc.FlaggerV1beta1().Canaries(rbacNS).Create(ctx, &flaggerv1.Canary{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: flaggerv1.CanarySpec{
				TargetRef: flaggerv1.LocalObjectReference{APIVersion: "apps/v1", Kind: kind, Name: name},
				Service:   flaggerv1.CanaryService{Port: 9898},
				Analysis:  &flaggerv1.CanaryAnalysis{Interval: "1m", Threshold: 5, MaxWeight: 50, StepWeight: 10},
			},
		}, metav1.CreateOptions{})
		must(c, err)
		c.Status.Phase = flaggerv1.CanaryPhaseSucceeded
		must(fc.FlaggerV1beta1().Canaries(rbacNS).UpdateStatus(ctx, c, metav1.UpdateOptions{}))
	}
	must(kc.CoreV1().Events(rbacNS).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "podinfo.warning"},
		InvolvedObject: corev1.ObjectReference{APIVersion: "flagger.app/v1beta1", Kind: "Canary", Namespace: rbacNS, Name: "podinfo"},
		Type:           corev1.EventTypeWarning, Reason: "Synced", Message: "Halt advancement", Source: corev1.EventSource{Component: "flagger"},
		LastTimestamp: metav1.Now(),
	}, metav1.CreateOptions{}))
	for _, o := range []struct {
		gvr  schema.GroupVersionResource
		kind string
		name string
		spec map[string]any
	}{
		{flux.GitRepositoryGVR, "GitRepository", "gitops", map[string]any{"url": "https://gitea.example.com/platform/gitops.git", "interval": "10m"}},
		{flux.KustomizationGVR, "Kustomization", "podinfo", map[string]any{"path": "./apps/podinfo/production", "interval": "10m", "prune": true,
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "gitops"}}},
		{cluster.ImageRepositoryGVR, "ImageRepository", "podinfo", map[string]any{"image": "ghcr.io/stefanprodan/podinfo", "interval": "5m"}},
		{cluster.ImagePolicyGVR, "ImagePolicy", "podinfo", map[string]any{"imageRepositoryRef": map[string]any{"name": "podinfo"},
			"policy": map[string]any{"semver": map[string]any{"range": "6.x"}}}},
	} {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": o.gvr.GroupVersion().String(), "kind": o.kind,
			"metadata": map[string]any{"name": o.name, "namespace": rbacNS}, "spec": o.spec,
		}}
		must(dyn.Resource(o.gvr).Namespace(rbacNS).Create(ctx, u, metav1.CreateOptions{}))
	}
}

func canaryObject(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
		"metadata": map[string]any{"name": name, "namespace": rbacNS},
	}}
}

// watchAsServiceAccount runs ensign's canary watcher with the
// ServiceAccount's client: the initial list must deliver the Succeeded
// canary, and the watch a later change to Failed.
func watchAsServiceAccount(t *testing.T, admin *rest.Config, saDyn dynamic.Interface) {
	seen := make(chan flaggerv1.CanaryPhase, 10)
	h := phases{seen}
	w := canary.NewWatcher([]canary.Cluster{{Name: "production", Client: saDyn, Namespaces: []string{rbacNS}}}, h, canary.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	expect := func(want flaggerv1.CanaryPhase) {
		t.Helper()
		select {
		case got := <-seen:
			if got != want {
				t.Fatalf("the watcher delivered %s, want %s", got, want)
			}
		case <-ctx.Done():
			t.Fatalf("the watcher delivered no %s canary (can the ServiceAccount list and watch canaries?)", want)
		}
	}
	expect(flaggerv1.CanaryPhaseSucceeded)
	fc := flaggerclient.NewForConfigOrDie(admin)
	c, err := fc.FlaggerV1beta1().Canaries(rbacNS).Get(ctx, "podinfo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Status.Phase = flaggerv1.CanaryPhaseFailed
	if _, err := fc.FlaggerV1beta1().Canaries(rbacNS).UpdateStatus(ctx, c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(flaggerv1.CanaryPhaseFailed)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watcher: %v", err)
	}
}

// phases is a canary.Handler that passes on the phase of podinfo's canary.
type phases struct{ seen chan<- flaggerv1.CanaryPhase }

func (p phases) HandleCanary(_ context.Context, _ string, c *flaggerv1.Canary) error {
	if c.Name == "podinfo" {
		p.seen <- c.Status.Phase
	}
	return nil
}

package flux

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ensignbot/ensign/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{
		"./apps/x/": "apps/x", "apps/x": "apps/x", "/apps/x": "apps/x", "": "", "./": "", "apps//x/./y/..": "apps/x",
	} {
		if got := CleanPath(in); got != want {
			t.Errorf("CleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKustomizationCommit(t *testing.T) {
	for rev, want := range map[string]string{
		"main@sha1:0a1b2c": "0a1b2c", "main/0a1b2c": "0a1b2c", "": "", "refs/heads/main@sha256:ff": "ff",
	} {
		if got := (Kustomization{LastAppliedRevision: rev}).Commit(); got != want {
			t.Errorf("Commit(%q) = %q, want %q", rev, got, want)
		}
	}
}

func TestReconcileAndLookupOnRealAPIServer(t *testing.T) {
	k := harness.Kube(t)
	ctx := context.Background()
	kc := kubernetes.NewForConfigOrDie(k.Config)
	dyn := dynamic.NewForConfigOrDie(k.Config)
	ns := harness.UniqueName("flux-")
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mk := func(gvrKind, name string, spec map[string]any) {
		u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
		u.SetNamespace(ns)
		u.SetName(name)
		gvr := KustomizationGVR
		u.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
		if gvrKind == "GitRepository" {
			gvr = GitRepositoryGVR
			u.SetAPIVersion("source.toolkit.fluxcd.io/v1")
		}
		u.SetKind(gvrKind)
		created, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if gvrKind == "Kustomization" {
			_ = unstructured.SetNestedField(created.Object, "main@sha1:abc123", "status", "lastAppliedRevision")
			if _, err := dyn.Resource(gvr).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("GitRepository", "gitops", map[string]any{"url": "http://127.0.0.1/acme/gitops.git", "interval": "10m"})
	mk("Kustomization", "podinfo-production", map[string]any{
		"path": "./apps/podinfo/overlays/production", "interval": "10m", "prune": true,
		"sourceRef": map[string]any{"kind": "GitRepository", "name": "gitops"},
	})
	mk("Kustomization", "podinfo-staging", map[string]any{
		"path": "./apps/podinfo/overlays/staging", "interval": "10m", "prune": true,
		"sourceRef": map[string]any{"kind": "GitRepository", "name": "gitops"},
	})

	found, err := Kustomizations(ctx, dyn, "apps/podinfo/overlays/production/")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Ref.Name != "podinfo-production" || found[0].Commit() != "abc123" ||
		found[0].Source != (Ref{Kind: "GitRepository", Namespace: ns, Name: "gitops"}) {
		t.Fatalf("Kustomizations(production) = %+v", found)
	}

	now := time.Date(2026, 11, 26, 12, 0, 0, 123, time.UTC)
	for _, ref := range []Ref{found[0].Ref, found[0].Source} {
		if err := RequestReconcile(ctx, dyn, ref, now); err != nil {
			t.Fatal(err)
		}
		gvr, _ := ref.gvr()
		u, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := u.GetAnnotations()[RequestedAtAnnotation]; got != now.Format(time.RFC3339Nano) {
			t.Fatalf("%s annotation = %q, want %q", ref, got, now.Format(time.RFC3339Nano))
		}
	}
	if err := RequestReconcile(ctx, dyn, Ref{Kind: "Kustomization", Namespace: ns, Name: "missing"}, now); err == nil {
		t.Fatal("reconcile of a missing object: want an error")
	}
	if err := RequestReconcile(ctx, dyn, Ref{Kind: "HelmRelease", Namespace: ns, Name: "x"}, now); err == nil {
		t.Fatal("reconcile of an unsupported kind: want an error")
	}
}

package cluster

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/policy"
)

// TestSweepAnswersAsSuspendedFromOneListing: a sweep answers every stage
// as Set.Suspended does (by overlay path, by the Kustomization the policy
// names, an error for a named one that does not exist), from one listing
// of the cluster: a Kustomization suspended after that listing is seen by
// Set.Suspended and by a new sweep, not by the old one.
func TestSweepAnswersAsSuspendedFromOneListing(t *testing.T) {
	k := harness.Kube(t)
	ctx := context.Background()
	kc := kubernetes.NewForConfigOrDie(k.Config)
	dyn := dynamic.NewForConfigOrDie(k.Config)
	ns := harness.UniqueName("sweep-")
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kustomization := func(name, path string, suspend bool) {
		t.Helper()
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
			"kind":       "Kustomization",
			"metadata":   map[string]any{"name": name, "namespace": ns},
			"spec": map[string]any{
				"interval": "10m", "path": path, "prune": true, "suspend": suspend,
				"sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system"},
			},
		}}
		if _, err := dyn.Resource(flux.KustomizationGVR).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Paths unique to this test: other tests' Kustomizations share the API server.
	dir := "./" + ns + "/"
	kustomization("a-production", dir+"a/production", true)
	kustomization("a-staging", dir+"a/staging", false)
	kustomization("b-production", dir+"b/production", false)

	cl, err := FromConfig("default", k.Config)
	if err != nil {
		t.Fatal(err)
	}
	set := NewSet(cl)
	stage := func(path string, named string) *policy.Stage {
		st := &policy.Stage{Overlay: strings.TrimPrefix(dir, "./") + path, Canary: policy.CanaryRef{Cluster: "default", Namespace: ns, Name: "x"}}
		if named != "" {
			st.Flux = &policy.Flux{Kustomization: policy.ObjectRef{Namespace: ns, Name: named}}
		}
		return st
	}
	stages := map[string]*policy.Stage{
		"a/production by path": stage("a/production", ""),
		"a/staging by path":    stage("a/staging", ""),
		"b/production by path": stage("b/production", ""),
		"c (no Kustomization)": stage("c/production", ""),
		"a/production by name": stage("elsewhere", "a-production"),
		"b/production by name": stage("elsewhere", "b-production"),
	}
	same := func(sweep *Sweep) {
		t.Helper()
		for name, st := range stages {
			want, err := set.Suspended(ctx, st)
			if err != nil {
				t.Fatalf("%s: Set.Suspended: %v", name, err)
			}
			got, err := sweep.Suspended(ctx, st)
			if err != nil {
				t.Fatalf("%s: Sweep.Suspended: %v", name, err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: sweep says suspended %v, the cluster says %v", name, got, want)
			}
		}
	}
	old := set.Sweep()
	same(old)
	if refs, _ := old.Suspended(ctx, stages["a/production by path"]); len(refs) != 1 || refs[0].Name != "a-production" {
		t.Fatalf("the suspended Kustomization is not reported: %v", refs)
	}
	missing := stage("elsewhere", "gone")
	if _, err := old.Suspended(ctx, missing); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("a named Kustomization that does not exist: err %v, want not found", err)
	}

	patch := []byte(`{"spec":{"suspend":true}}`)
	if _, err := dyn.Resource(flux.KustomizationGVR).Namespace(ns).Patch(ctx, "b-production", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	// The old sweep listed before the change: it answers from that listing
	// (and so lists once), for the path and for the name alike.
	for _, name := range []string{"b/production by path", "b/production by name"} {
		if refs, _ := old.Suspended(ctx, stages[name]); len(refs) != 0 {
			t.Fatalf("%s: the old sweep listed again: %v", name, refs)
		}
	}
	same(set.Sweep())
}

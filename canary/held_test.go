package canary

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	"github.com/ensignbot/ensign/cluster"
)

// flaggedCanary is a canary as Flux applies it and Flagger leaves it after a
// successful analysis: Flux's labels, server-side apply's managed fields,
// Flagger's conditions and spec hashes.
func flaggedCanary(ns, name, rv string) *unstructured.Unstructured {
	at := "2026-12-05T03:00:00Z"
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
		"metadata": map[string]any{
			"namespace": ns, "name": name, "resourceVersion": rv, "generation": int64(3),
			"uid":               "5b1e0c8a-3f0e-4d2b-9a57-" + fmt.Sprintf("%012d", len(ns)+len(name)),
			"creationTimestamp": "2026-12-01T09:00:00Z",
			"labels": map[string]any{
				"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
			},
			"managedFields": []any{map[string]any{
				"manager": "kustomize-controller", "operation": "Apply", "apiVersion": "flagger.app/v1beta1",
				"time": at, "fieldsType": "FieldsV1",
				"fieldsV1": map[string]any{"f:spec": map[string]any{"f:targetRef": map[string]any{}}},
			}},
		},
		"spec": map[string]any{
			"provider":  "kubernetes",
			"targetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
			"service":   map[string]any{"port": int64(80)},
			"analysis":  map[string]any{"interval": "1m", "threshold": int64(5), "iterations": int64(10)},
		},
		"status": map[string]any{
			"phase": "Succeeded", "lastTransitionTime": at,
			"canaryWeight": int64(0), "failedChecks": int64(0), "iterations": int64(0),
			"lastAppliedSpec": "5f8fd4f546", "lastPromotedSpec": "5f8fd4f546",
			"trackedConfigs": map[string]any{},
			"conditions": []any{map[string]any{
				"type": "Promoted", "status": "True", "reason": "Succeeded",
				"message":        "Canary analysis completed successfully, promotion finished.",
				"lastUpdateTime": at, "lastTransitionTime": at,
			}},
		},
	}}
}

// TestCachedKeepsWhatHandlersRead: a canary goes through the cache and comes
// out with every field the handlers read, filed under its key and version.
func TestCachedKeepsWhatHandlersRead(t *testing.T) {
	w := &Watcher{}
	u := flaggedCanary("shop-production", "cart", "4711")
	u.Object["status"].(map[string]any)["phase"] = "Failed"
	u.Object["status"].(map[string]any)["failedChecks"] = int64(2)
	u.Object["status"].(map[string]any)["iterations"] = int64(4)
	u.Object["status"].(map[string]any)["canaryWeight"] = int64(30)
	obj, err := w.transform(nil)(u)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := obj.(*cached)
	if !ok {
		t.Fatalf("transform made %T, want *cached", obj)
	}
	got := c.canary()
	want, err := cluster.Decode(u)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ name, got, want string }{
		{"namespace", got.Namespace, want.Namespace},
		{"name", got.Name, want.Name},
		{"resourceVersion", got.ResourceVersion, want.ResourceVersion},
		{"uid", string(got.UID), string(want.UID)},
		{"targetRef", fmt.Sprint(got.Spec.TargetRef), fmt.Sprint(want.Spec.TargetRef)},
		{"phase", string(got.Status.Phase), "Failed"},
		{"lastTransitionTime", got.Status.LastTransitionTime.UTC().Format(time.RFC3339), "2026-12-05T03:00:00Z"},
		{"counters", fmt.Sprint(got.Status.FailedChecks, got.Status.Iterations, got.Status.CanaryWeight), "2 4 30"},
	} {
		if f.got != f.want {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
	if got.Spec.Analysis != nil || len(got.Labels) != 0 || len(got.Status.Conditions) != 0 {
		t.Errorf("the cache kept more than handlers read: %+v", got)
	}
	wantFiled(t, obj, "shop-production/cart", "4711")
	if d := c.DeepCopyObject().(*cached); *d != *c || d == c {
		t.Fatalf("DeepCopyObject = %+v, want an equal copy", d)
	}
}

// BenchmarkCanaryHeld measures what a cache holds for 10,000 canaries of its
// own namespaces (as in the 100x100 row of the scale benchmark), as Flux and
// Flagger leave them (flaggedCanary): as cached, and side by side as the
// metadata and status ensign kept before (managed fields dropped). B/canary
// is the live heap after a GC, the cache's own entries included.
func BenchmarkCanaryHeld(b *testing.B) {
	w := &Watcher{}
	for _, c := range []struct {
		name string
		obj  func(u *unstructured.Unstructured) any
	}{
		{"cached", func(u *unstructured.Unstructured) any { o, _ := w.toCanary(u); return o }},
		{"metadata+status", func(u *unstructured.Unstructured) any {
			c, _ := cluster.Decode(u)
			c.ManagedFields = nil
			return &flaggerv1.Canary{ObjectMeta: c.ObjectMeta, Spec: flaggerv1.CanarySpec{TargetRef: c.Spec.TargetRef}, Status: c.Status}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			const n = 10000
			var held uint64
			for b.Loop() {
				before := liveHeap()
				idx := cache.NewIndexer(cache.DeletionHandlingMetaNamespaceKeyFunc, cache.Indexers{})
				for i := range n {
					u := flaggedCanary(fmt.Sprintf("team-%03d-production", i/100), fmt.Sprintf("app-%d", i%100), fmt.Sprint(1000000+i))
					if err := idx.Add(c.obj(u)); err != nil {
						b.Fatal(err)
					}
				}
				held = liveHeap() - before
				runtime.KeepAlive(idx)
			}
			b.ReportMetric(float64(held)/n, "B/canary")
		})
	}
}

var _ metav1.ObjectMetaAccessor = (*cached)(nil)

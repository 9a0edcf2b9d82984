package canary

import (
	"fmt"
	"runtime"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// TestForeignCanaryKeepsItsKey: the informer files a foreign canary under
// its namespace/name and sees its resource version, as for a full object.
func TestForeignCanaryKeepsItsKey(t *testing.T) {
	w := &Watcher{}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "flagger.app", Version: "v1beta1", Kind: "Canary"})
	u.SetNamespace("elsewhere")
	u.SetName("api")
	u.SetResourceVersion("42")
	obj, err := w.transform(map[string]bool{"mine": true})(u)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := obj.(*foreign); !ok {
		t.Fatalf("a canary outside the scope became %T, want *foreign", obj)
	}
	wantFiled(t, obj, "elsewhere/api", "42")
	if c := obj.(*foreign).DeepCopyObject().(*foreign); *c != *obj.(*foreign) || c == obj {
		t.Fatalf("DeepCopyObject = %+v, want an equal copy", c)
	}
}

// wantFiled checks that the informer files obj under key and reads rv as
// its resource version, as it does for a full object.
func wantFiled(t *testing.T, obj any, key, rv string) {
	t.Helper()
	got, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil || got != key {
		t.Fatalf("key %q, %v; want %s", got, err, key)
	}
	m, err := meta.Accessor(obj) // as the informer reads it
	if err != nil || m.GetResourceVersion() != rv {
		t.Fatalf("resource version %v, %v; want %s", m, err, rv)
	}
}

// BenchmarkForeignHeld measures what a cluster-wide cache holds for 20,000
// canaries outside its namespaces (as in the 1x1000 row of the scale
// benchmark: 22,200 canaries seen, 2,000 its own): as foreign, and side by
// side as the metav1.PartialObjectMetadata ensign kept before. B/held is
// the live heap after a GC, cache included.
func BenchmarkForeignHeld(b *testing.B) {
	for _, c := range []struct {
		name string
		obj  func(ns, name, rv string) any
	}{
		{"foreign", func(ns, name, rv string) any { return &foreign{key: ns + "/" + name, resourceVersion: rv} }},
		{"PartialObjectMetadata", func(ns, name, rv string) any {
			return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv}}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var held uint64
			for b.Loop() {
				before := liveHeap()
				idx := cache.NewIndexer(cache.DeletionHandlingMetaNamespaceKeyFunc, cache.Indexers{})
				for i := range 20000 {
					ns := fmt.Sprintf("team-%03d-production", i/50)
					if err := idx.Add(c.obj(ns, fmt.Sprintf("app-%d", i%50), fmt.Sprint(1000000+i))); err != nil {
						b.Fatal(err)
					}
				}
				held = liveHeap() - before
				runtime.KeepAlive(idx)
			}
			b.ReportMetric(float64(held)/20000, "B/canary")
		})
	}
}

// liveHeap is the heap in use after a full GC.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

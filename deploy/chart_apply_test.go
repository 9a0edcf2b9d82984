package deploy

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/ensignbot/ensign/harness"
)

var serviceMonitorCRD sync.Once

// installServiceMonitorCRD installs testdata/servicemonitor-crd.yaml once
// per API server and waits until the API serves ServiceMonitors.
func installServiceMonitorCRD(t *testing.T, a *applier) {
	t.Helper()
	var err error
	serviceMonitorCRD.Do(func() {
		var data []byte
		if data, err = os.ReadFile("testdata/servicemonitor-crd.yaml"); err != nil {
			return
		}
		for _, o := range decodeAll(t, data) {
			if err = a.apply(context.Background(), o, false); err != nil {
				return
			}
		}
	})
	if err != nil {
		t.Fatalf("install the ServiceMonitor CRD: %v", err)
	}
	gk := schema.GroupKind{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		a.mapper.Reset()
		if _, err := a.mapper.RESTMapping(gk, "v1"); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("the API server does not serve ServiceMonitors: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// restrictedNamespace creates a namespace that enforces the restricted Pod
// Security level, as namespace.yaml does.
func restrictedNamespace(t *testing.T, k *harness.KubeServer, name string) {
	t.Helper()
	kc := kubernetes.NewForConfigOrDie(k.Config)
	_, err := kc.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"},
	}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// applyRendering applies every object of a rendering for real.
func applyRendering(t *testing.T, a *applier, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if err := a.apply(context.Background(), o, false); err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// TestChartApplies applies the chart rendered with each value set to the real
// API server, with strict server-side field validation, in a namespace that
// enforces the restricted Pod Security level: every object must be accepted
// without a single warning. ServiceMonitors are checked against a minimal
// CRD (testdata/servicemonitor-crd.yaml) that knows only the fields the
// chart uses.
func TestChartApplies(t *testing.T) {
	k := harness.Kube(t)
	a := newApplier(t, k.Config)
	installServiceMonitorCRD(t, a)
	for _, name := range chartCases {
		t.Run(name, func(t *testing.T) {
			ns := "chart-" + name
			restrictedNamespace(t, k, ns)
			objs := decodeAll(t, mustRender(t, "ensign-"+name, ns, []string{caseValues(name)}))
			before := len(a.warnings.all())
			applyRendering(t, a, objs)
			if w := a.warnings.all()[before:]; len(w) > 0 {
				t.Fatalf("the API server warned while applying the chart:\n%s", strings.Join(w, "\n"))
			}
			kinds := map[string]bool{}
			for _, o := range objs {
				kinds[o.GetKind()] = true
			}
			for _, want := range []string{"Deployment", "ServiceAccount", "ClusterRole", "Role", "ConfigMap", "Service", "PodDisruptionBudget"} {
				if !kinds[want] {
					t.Errorf("the rendering has no %s", want)
				}
			}
		})
	}
	t.Run("the ServiceMonitor schema bites", func(t *testing.T) {
		var sm *unstructured.Unstructured
		for _, o := range decodeAll(t, mustRender(t, "ensign-existing-secret", "chart-existing-secret", []string{caseValues("existing-secret")})) {
			if o.GetKind() == "ServiceMonitor" {
				sm = o
			}
		}
		if sm == nil {
			t.Fatal("the existing-secret rendering has no ServiceMonitor")
		}
		endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		endpoints[0].(map[string]any)["scrapeTimout"] = "10s"
		_ = unstructured.SetNestedSlice(sm.Object, endpoints, "spec", "endpoints")
		if err := a.apply(context.Background(), sm, true); err == nil || !strings.Contains(err.Error(), "scrapeTimout") {
			t.Fatalf("a misspelt ServiceMonitor field was not refused: %v", err)
		}
	})
}

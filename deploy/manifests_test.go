package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/ensignbot/ensign/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// kustomization is what the tests read of kustomization.yaml.
type kustomization struct {
	Namespace string   `yaml:"namespace"`
	Resources []string `yaml:"resources"`
	Images    []struct {
		Name   string `yaml:"name"`
		NewTag string `yaml:"newTag"`
	} `yaml:"images"`
}

// manifest is one object of one file.
type manifest struct {
	file string
	obj  *unstructured.Unstructured
}

func readKustomization(t *testing.T) kustomization {
	t.Helper()
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	return k
}

// loadManifests decodes every object of every file the kustomization lists,
// in its order.
func loadManifests(t *testing.T) []manifest {
	t.Helper()
	var out []manifest
	for _, file := range readKustomization(t).Resources {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("kustomization.yaml lists %s: %v", file, err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var m map[string]any
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if m == nil {
				continue
			}
			out = append(out, manifest{file: file, obj: &unstructured.Unstructured{Object: m}})
		}
	}
	return out
}

// TestKustomizationListsEveryManifest: kustomize builds only what the
// kustomization lists, so a file left out would silently not be deployed.
func TestKustomizationListsEveryManifest(t *testing.T) {
	k := readKustomization(t)
	files, _ := filepath.Glob("*.yaml")
	var manifests []string
	for _, f := range files {
		if f != "kustomization.yaml" && !strings.HasSuffix(f, ".values.yaml") {
			manifests = append(manifests, f)
		}
	}
	listed := slices.Clone(k.Resources)
	sort.Strings(listed)
	if !slices.Equal(listed, manifests) {
		t.Fatalf("kustomization.yaml lists %v; the directory has %v", listed, manifests)
	}
	for _, m := range loadManifests(t) {
		if ns := m.obj.GetNamespace(); ns != "" && ns != k.Namespace {
			t.Errorf("%s: %s %s is in namespace %q; the kustomization puts everything in %q", m.file, m.obj.GetKind(), m.obj.GetName(), ns, k.Namespace)
		}
	}
}

// applier applies manifests with server-side apply and strict field
// validation, so an unknown or misspelt field is an error, not a warning.
type applier struct {
	dyn      dynamic.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	warnings *warningRecorder
}

func newApplier(t *testing.T, cfg *rest.Config) *applier {
	t.Helper()
	rec := &warningRecorder{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rec
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), warnings: rec}
}

func (a *applier) apply(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) error {
	gvk := obj.GroupVersionKind()
	mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: "ensign-deploy-test", Force: &force, FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	ri := a.dyn.Resource(mapping.Resource)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if ns := obj.GetNamespace(); ns != "" {
		_, err = ri.Namespace(ns).Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts)
	} else {
		_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts)
	}
	return err
}

// applyAll applies every manifest for real, in the kustomization's order.
func applyAll(t *testing.T, k *harness.KubeServer) *applier {
	t.Helper()
	a := newApplier(t, k.Config)
	for _, m := range loadManifests(t) {
		if err := a.apply(context.Background(), m.obj, false); err != nil {
			t.Fatalf("%s: apply %s %s: %v", m.file, m.obj.GetKind(), m.obj.GetName(), err)
		}
	}
	return a
}

// TestManifestsApply applies every manifest to the real API server. The
// namespace enforces the restricted Pod Security level, which warns about a
// Deployment whose pods it would reject; there must be no warning at all.
func TestManifestsApply(t *testing.T) {
	a := applyAll(t, harness.Kube(t))
	if w := a.warnings.all(); len(w) > 0 {
		t.Fatalf("the API server warned while applying the manifests:\n%s", strings.Join(w, "\n"))
	}
	// The check bites: a misspelt field and a root container are refused.
	deployment := findManifest(t, "Deployment", "ensign")
	typo := deployment.DeepCopy()
	containers, _, _ := unstructured.NestedSlice(typo.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	c["readinesProbe"] = c["readinessProbe"]
	_ = unstructured.SetNestedSlice(typo.Object, containers, "spec", "template", "spec", "containers")
	if err := a.apply(context.Background(), typo, true); err == nil || !strings.Contains(err.Error(), "readinesProbe") {
		t.Fatalf("a misspelt field was not refused: %v", err)
	}
	root := deployment.DeepCopy()
	_ = unstructured.SetNestedField(root.Object, false, "spec", "template", "spec", "securityContext", "runAsNonRoot")
	before := len(a.warnings.all())
	if err := a.apply(context.Background(), root, true); err != nil {
		t.Fatal(err)
	}
	if len(a.warnings.all()) == before {
		t.Fatal("a Deployment with runAsNonRoot: false drew no Pod Security warning; the no-warning check above proves nothing")
	}
}

func findManifest(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, m := range loadManifests(t) {
		if m.obj.GetKind() == kind && m.obj.GetName() == name {
			return m.obj
		}
	}
	t.Fatalf("no %s %s in the manifests", kind, name)
	return nil
}

// fromManifest converts a manifest into a typed object.
func fromManifest(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// warningRecorder keeps the API server's warnings.
type warningRecorder struct {
	mu   sync.Mutex
	list []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warningRecorder) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.list)
}

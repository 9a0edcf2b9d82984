package flux

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// RequestedAtAnnotation is the annotation Flux controllers watch for
// on-demand reconciliation.
const RequestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

// Resources ensign touches.
var (
	KustomizationGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	GitRepositoryGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
)

// Ref names a Flux object.
type Ref struct {
	Kind      string `json:"kind"` // "Kustomization" or "GitRepository"
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// String renders the ref as Kind/namespace/name.
func (r Ref) String() string { return r.Kind + "/" + r.Namespace + "/" + r.Name }

func (r Ref) gvr() (schema.GroupVersionResource, error) {
	switch r.Kind {
	case "Kustomization":
		return KustomizationGVR, nil
	case "GitRepository":
		return GitRepositoryGVR, nil
	}
	return schema.GroupVersionResource{}, fmt.Errorf("flux object %s: unsupported kind %q", r, r.Kind)
}

// RequestReconcile asks Flux to reconcile the object now by setting its
// requestedAt annotation to now (RFC 3339 with nanoseconds, as the flux CLI
// writes it).
func RequestReconcile(ctx context.Context, c dynamic.Interface, ref Ref, now time.Time) error {
	gvr, err := ref.gvr()
	if err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{RequestedAtAnnotation: now.Format(time.RFC3339Nano)}},
	})
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := c.Resource(gvr).Namespace(ref.Namespace).Patch(ctx, ref.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("request reconcile of %s: %w", ref, err)
	}
	return nil
}

// Kustomization is what ensign reads of a Flux Kustomization.
type Kustomization struct {
	Ref Ref `json:"ref"`
	// Path is spec.path, cleaned ("./apps/x" becomes "apps/x").
	Path string `json:"path"`
	// Source is the spec.sourceRef, with the namespace defaulted.
	Source Ref `json:"source"`
	// LastAppliedRevision is status.lastAppliedRevision, e.g. "main@sha1:0a1b...".
	LastAppliedRevision string `json:"lastAppliedRevision,omitempty"`
	// Suspended is spec.suspend: Flux applies nothing from Git while it is
	// set (`flux suspend kustomization`).
	Suspended bool `json:"suspended,omitempty"`
}

// Commit returns the Git commit of LastAppliedRevision, or "" if it names none.
func (k Kustomization) Commit() string {
	rev := k.LastAppliedRevision
	if i := strings.LastIndex(rev, ":"); i >= 0 {
		return rev[i+1:]
	}
	if i := strings.LastIndex(rev, "/"); i >= 0 { // Flux v1 "main/<sha>"
		return rev[i+1:]
	}
	return ""
}

// Kustomizations lists the Kustomizations in all namespaces whose spec.path
// is the overlay path (compared after cleaning).
func Kustomizations(ctx context.Context, c dynamic.Interface, overlay string) ([]Kustomization, error) {
	all, err := ListKustomizations(ctx, c)
	if err != nil {
		return nil, err
	}
	return Delivering(all, overlay), nil
}

// ListKustomizations lists the Kustomizations in all namespaces.
func ListKustomizations(ctx context.Context, c dynamic.Interface) ([]Kustomization, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	list, err := c.Resource(KustomizationGVR).Namespace(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list flux kustomizations: %w", err)
	}
	out := make([]Kustomization, len(list.Items))
	for i := range list.Items {
		out[i] = FromUnstructured(&list.Items[i])
	}
	return out, nil
}

// Delivering returns the Kustomizations of ks whose spec.path is the
// overlay path (compared after cleaning).
func Delivering(ks []Kustomization, overlay string) []Kustomization {
	want := CleanPath(overlay)
	var out []Kustomization
	for _, k := range ks {
		if k.Path == want {
			out = append(out, k)
		}
	}
	return out
}

// GetKustomization reads one Kustomization.
func GetKustomization(ctx context.Context, c dynamic.Interface, namespace, name string) (Kustomization, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	u, err := c.Resource(KustomizationGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return Kustomization{}, fmt.Errorf("read flux kustomization %s/%s: %w", namespace, name, err)
	}
	return FromUnstructured(u), nil
}

// FromUnstructured reads the fields ensign uses from a Kustomization object.
func FromUnstructured(u *unstructured.Unstructured) Kustomization {
	k := Kustomization{Ref: Ref{Kind: "Kustomization", Namespace: u.GetNamespace(), Name: u.GetName()}}
	p, _, _ := unstructured.NestedString(u.Object, "spec", "path")
	k.Path = CleanPath(p)
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "kind")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "name")
	ns, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "namespace")
	if ns == "" {
		ns = u.GetNamespace()
	}
	if name != "" {
		k.Source = Ref{Kind: kind, Namespace: ns, Name: name}
	}
	k.LastAppliedRevision, _, _ = unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	k.Suspended, _, _ = unstructured.NestedBool(u.Object, "spec", "suspend")
	return k
}

// CleanPath normalises a repository-relative path as Flux and the policy
// write it: "./apps/x/", "apps/x" and "/apps/x" are the same overlay.
func CleanPath(p string) string {
	p = path.Clean("/" + strings.TrimSpace(p))
	return strings.TrimPrefix(p, "/")
}

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// The resources of Flux's image-reflector-controller (API v1).
var (
	ImagePolicyGVR     = schema.GroupVersionResource{Group: "image.toolkit.fluxcd.io", Version: "v1", Resource: "imagepolicies"}
	ImageRepositoryGVR = schema.GroupVersionResource{Group: "image.toolkit.fluxcd.io", Version: "v1", Resource: "imagerepositories"}
)

// ExclusionNotesAnnotation holds, on an ImageRepository, a JSON object
// from each exclusionList entry ensign added to why it did: a cluster
// object has no comments to mark them with.
const ExclusionNotesAnnotation = "ensign.dev/image-exclusions"

// ImageRepository is the part of a Flux ImageRepository ensign reads and
// writes: its image and exclusion list, and ensign's notes on the entries.
type ImageRepository struct {
	Cluster, Namespace, Name string
	// Image is spec.image.
	Image string
	// Exclusions is spec.exclusionList; HasList is false when the field is
	// absent (Flux then uses the CRD's default).
	Exclusions []string
	HasList    bool
	// Notes are ensign's notes by entry (ExclusionNotesAnnotation).
	Notes map[string]string
	// ResourceVersion is the version read: SetImageExclusions writes only
	// over exactly that version.
	ResourceVersion string
}

// ImageRepositoryOf reads the ImageRepository that the ImagePolicy
// namespace/name in cluster scans (spec.imageRepositoryRef).
func (s *Set) ImageRepositoryOf(ctx context.Context, cluster, namespace, name string) (ImageRepository, error) {
	c, err := s.Client(cluster)
	if err != nil {
		return ImageRepository{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	p, err := c.Dynamic.Resource(ImagePolicyGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ImageRepository{}, fmt.Errorf("read ImagePolicy %s/%s in %s: %w", namespace, name, cluster, err)
	}
	refName, _, _ := unstructured.NestedString(p.Object, "spec", "imageRepositoryRef", "name")
	refNS, _, _ := unstructured.NestedString(p.Object, "spec", "imageRepositoryRef", "namespace")
	if refNS == "" {
		refNS = namespace
	}
	u, err := c.Dynamic.Resource(ImageRepositoryGVR).Namespace(refNS).Get(ctx, refName, metav1.GetOptions{})
	if err != nil {
		return ImageRepository{}, fmt.Errorf("read ImageRepository %s/%s in %s: %w", refNS, refName, cluster, err)
	}
	r := ImageRepository{Cluster: cluster, Namespace: refNS, Name: refName, ResourceVersion: u.GetResourceVersion()}
	r.Image, _, _ = unstructured.NestedString(u.Object, "spec", "image")
	r.Exclusions, r.HasList, _ = unstructured.NestedStringSlice(u.Object, "spec", "exclusionList")
	if a := u.GetAnnotations()[ExclusionNotesAnnotation]; a != "" {
		_ = json.Unmarshal([]byte(a), &r.Notes) // a broken note is no note
	}
	return r, nil
}

// SetImageExclusions writes r's Exclusions and Notes over the version of
// the ImageRepository that was read; a conflict (someone wrote it since)
// is an error for the caller to read again and retry.
func (s *Set) SetImageExclusions(ctx context.Context, r ImageRepository) error {
	c, err := s.Client(r.Cluster)
	if err != nil {
		return err
	}
	var notes any // null removes the annotation
	if len(r.Notes) > 0 {
		b, err := json.Marshal(r.Notes)
		if err != nil {
			return err
		}
		notes = string(b)
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": r.ResourceVersion, "annotations": map[string]any{ExclusionNotesAnnotation: notes}},
		"spec":     map[string]any{"exclusionList": r.Exclusions},
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := c.Dynamic.Resource(ImageRepositoryGVR).Namespace(r.Namespace).Patch(ctx, r.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "ensign"}); err != nil {
		return fmt.Errorf("patch ImageRepository %s/%s in %s: %w", r.Namespace, r.Name, r.Cluster, err)
	}
	return nil
}

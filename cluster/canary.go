package cluster

import (
	"errors"
	"fmt"
	"math"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// CanaryGVR is Flagger's Canary resource.
var CanaryGVR = schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}

// ErrUndecodable marks a canary whose object did not convert to Flagger's
// typed struct even after its status counters were normalised.
var ErrUndecodable = errors.New("canary does not match Flagger's v1beta1 types")

// statusCounters are the integer fields of a Canary's status. Flagger's CRD
// declares some of them as "number", so the API server accepts 1.5 where
// Flagger's Go type (and ensign's) has an int.
var statusCounters = []string{"failedChecks", "canaryWeight", "iterations"}

// Decode converts a Canary read from the API server into Flagger's typed
// struct. A non-integer status counter is truncated rather than failing the
// conversion, so that an odd number never hides a canary's phase. When the
// object still does not convert, Decode returns a canary with the object's
// identity, phase and transition time only (what ensign's decisions need),
// and an error wrapping ErrUndecodable that says why.
func Decode(u *unstructured.Unstructured) (*flaggerv1.Canary, error) {
	c := &flaggerv1.Canary{}
	err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, c)
	if err == nil {
		return c, nil
	}
	if status, ok := u.Object["status"].(map[string]any); ok {
		fixed := u.DeepCopy()
		st := fixed.Object["status"].(map[string]any)
		for _, k := range statusCounters {
			if f, ok := status[k].(float64); ok && f != math.Trunc(f) {
				st[k] = int64(math.Trunc(f))
			}
		}
		c = &flaggerv1.Canary{}
		if ferr := runtime.DefaultUnstructuredConverter.FromUnstructured(fixed.Object, c); ferr == nil {
			return c, nil
		}
	}
	c = &flaggerv1.Canary{ObjectMeta: metav1.ObjectMeta{
		Name: u.GetName(), Namespace: u.GetNamespace(), UID: u.GetUID(),
		ResourceVersion: u.GetResourceVersion(), Generation: u.GetGeneration(),
	}}
	if phase, _, _ := unstructured.NestedString(u.Object, "status", "phase"); phase != "" {
		c.Status.Phase = flaggerv1.CanaryPhase(phase)
	}
	if at, _, _ := unstructured.NestedString(u.Object, "status", "lastTransitionTime"); at != "" {
		var t metav1.Time
		if t.UnmarshalQueryParameter(at) == nil {
			c.Status.LastTransitionTime = t
		}
	}
	return c, fmt.Errorf("decode canary %s/%s: %w: %w", u.GetNamespace(), u.GetName(), ErrUndecodable, err)
}

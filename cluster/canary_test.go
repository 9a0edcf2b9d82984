package cluster

import (
	"errors"
	"testing"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestDecode(t *testing.T) {
	obj := func(status map[string]any, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
			"metadata": map[string]any{"name": "podinfo", "namespace": "prod"},
			"spec":     spec,
			"status":   status,
		}}
	}
	failed := map[string]any{"phase": "Failed", "lastTransitionTime": "2026-12-03T10:00:00Z"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k, v := range failed {
			m[k] = v
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name         string
		u            *unstructured.Unstructured
		failedChecks int
		undecodable  bool
	}{
		{"integer counters", obj(with("failedChecks", int64(3)), nil), 3, false},
		{"integral float", obj(with("failedChecks", float64(2)), nil), 2, false},
		{"fractional failedChecks (the CRD says number)", obj(with("failedChecks", 1.5), nil), 1, false},
		{"fractional canaryWeight", obj(with("canaryWeight", 12.5), nil), 0, false},
		{"a spec ensign cannot read", obj(failed, map[string]any{"analysis": "not an object"}), 0, true},
		{"a status counter of the wrong type", obj(with("failedChecks", "many"), nil), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Decode(tt.u)
			if tt.undecodable != errors.Is(err, ErrUndecodable) {
				t.Fatalf("err = %v, want undecodable=%v", err, tt.undecodable)
			}
			if c == nil || c.Name != "podinfo" || c.Namespace != "prod" {
				t.Fatalf("canary %+v lost its identity", c)
			}
			if c.Status.Phase != flaggerv1.CanaryPhaseFailed || c.Status.LastTransitionTime.Time.IsZero() {
				t.Fatalf("phase %q at %v: the phase and its time must survive", c.Status.Phase, c.Status.LastTransitionTime)
			}
			if !tt.undecodable && c.Status.FailedChecks != tt.failedChecks {
				t.Fatalf("failedChecks = %d, want %d", c.Status.FailedChecks, tt.failedChecks)
			}
		})
	}
}

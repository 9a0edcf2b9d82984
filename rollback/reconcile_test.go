package rollback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/policy"
)

// reconcileOnly is a Clusters whose RequestReconcile answers err; nothing
// else is called by reconcile.
type reconcileOnly struct {
	Clusters
	err error
}

func (c reconcileOnly) RequestReconcile(context.Context, *policy.Stage, time.Time) ([]flux.Ref, error) {
	return nil, c.err
}

// A stage no Flux Kustomization delivers has nothing to reconcile: the
// rollback is finished (and says so), not retried forever; any other
// reconcile error is retried.
func TestReconcileWithoutKustomization(t *testing.T) {
	stage := &policy.Stage{Name: "production"}
	for _, tc := range []struct {
		name    string
		err     error
		wantErr bool
		reason  string
	}{
		{"none delivers the overlay", fmt.Errorf("%w: apps/x/production in cluster production", cluster.ErrNoKustomization), false, "no Flux Kustomization to ask"},
		{"the API server failed", errors.New("connection refused"), true, "could not ask Flux to reconcile"},
		{"asked", nil, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Service{clusters: reconcileOnly{err: tc.err}, now: time.Now}
			out := Outcome{Reason: "reverted"}
			err := s.reconcile(context.Background(), stage, &out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("reconcile: %v, want error %v", err, tc.wantErr)
			}
			if tc.reason != "" && !strings.Contains(out.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", out.Reason, tc.reason)
			}
		})
	}
}

package route

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ensignbot/ensign/canary"
	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/promote"
	"github.com/ensignbot/ensign/rollback"
	"github.com/ensignbot/ensign/workspace"
)

// policyNaming returns a policy whose one app's stages use the given canaries
// (namespace/name, in cluster "prod").
func policyNaming(t *testing.T, app string, canaries ...string) *policy.Policy {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: ensign.dev/v1alpha1\napps:\n  - name: %s\n    stages:\n", app)
	for i, c := range canaries {
		ns, name, _ := strings.Cut(c, "/")
		fmt.Fprintf(&b, "      - name: s%d\n        overlay: apps/%s/s%d\n        canary: {cluster: prod, namespace: %s, name: %s}\n", i, app, i, ns, name)
	}
	p, err := policy.Load(".ensign.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeServices records what the router handed it and answers err.
type fakeServices struct {
	name  string
	calls *[]string
	err   error
}

func (f fakeServices) Succeeded(_ context.Context, clusterName string, c *flaggerv1.Canary) ([]promote.Outcome, error) {
	*f.calls = append(*f.calls, f.name+" promote "+clusterName+"/"+c.Namespace+"/"+c.Name)
	return nil, f.err
}

func (f fakeServices) PromotePR(context.Context, promote.PRRequest) (promote.Outcome, error) {
	return promote.Outcome{}, nil
}

func (f fakeServices) Failed(_ context.Context, clusterName string, c *flaggerv1.Canary) (rollback.Outcome, error) {
	*f.calls = append(*f.calls, f.name+" rollback "+clusterName+"/"+c.Namespace+"/"+c.Name)
	return rollback.Outcome{}, f.err
}

func (f fakeServices) RollbackPR(context.Context, rollback.PRRequest) (rollback.Outcome, error) {
	return rollback.Outcome{}, nil
}

// events records the notes the router writes.
type events struct{ notes []cluster.Note }

func (e *events) RecordEvent(_ context.Context, _ string, _ *flaggerv1.Canary, n cluster.Note, _ time.Time) error {
	e.notes = append(e.notes, n)
	return nil
}

// rig builds a router over repositories a and b, each with the policy given
// and services answering the error given.
func rig(t *testing.T, polA, polB *policy.Policy, errA, errB error) (*Router, *[]string, *events) {
	t.Helper()
	var calls []string
	ev := &events{}
	repo := func(name string, err error) *Repo {
		f := fakeServices{name: name, calls: &calls, err: err}
		return &Repo{Workspace: &workspace.Workspace{Repo: forge.Repo{Owner: "acme", Name: name}}, Promote: f, Rollback: f}
	}
	r, err := New(Config{Repos: []*Repo{repo("a", errA), repo("b", errB)}, Events: ev, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r.states[forge.Repo{Owner: "acme", Name: "a"}] = policyState{pol: polA}
	r.states[forge.Repo{Owner: "acme", Name: "b"}] = policyState{pol: polB}
	r.reindex()
	return r, &calls, ev
}

func canaryIn(ns, name string, phase flaggerv1.CanaryPhase) *flaggerv1.Canary {
	c := &flaggerv1.Canary{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	c.Status.Phase = phase
	c.Status.LastTransitionTime = metav1.NewTime(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	return c
}

func TestIndexOwnsEachCanaryOnce(t *testing.T) {
	r, _, _ := rig(t,
		policyNaming(t, "web", "web/web-staging", "web/web", "shared/both"),
		policyNaming(t, "api", "api/api", "shared/both"), nil, nil)
	for ref, want := range map[string]string{"web/web": "a", "api/api": "b", "shared/both": "a"} {
		ns, name, _ := strings.Cut(ref, "/")
		owner, ok := r.Owner(policy.CanaryRef{Cluster: "prod", Namespace: ns, Name: name})
		if !ok || owner.Name != want {
			t.Fatalf("owner of %s = %v %v, want %s (the first repository wins a canary both name)", ref, owner, ok, want)
		}
	}
	if _, ok := r.Owner(policy.CanaryRef{Cluster: "staging", Namespace: "web", Name: "web"}); ok {
		t.Fatal("a canary in another cluster has an owner")
	}
	if got := r.Watched(); !slices.Equal(got["prod"], []string{"api", "shared", "web"}) || len(got) != 1 {
		t.Fatalf("Watched() = %v", got)
	}
	// A repository whose policy changes gives up its canaries.
	r.states[forge.Repo{Owner: "acme", Name: "a"}] = policyState{}
	r.reindex()
	if owner, ok := r.Owner(policy.CanaryRef{Cluster: "prod", Namespace: "shared", Name: "both"}); !ok || owner.Name != "b" {
		t.Fatalf("after a's policy went away, shared/both belongs to %v %v, want b", owner, ok)
	}
}

func TestHandleCanaryCallsOnlyTheOwner(t *testing.T) {
	r, calls, _ := rig(t, policyNaming(t, "web", "web/web"), policyNaming(t, "api", "api/api"), nil, nil)
	ctx := context.Background()
	for _, c := range []*flaggerv1.Canary{
		canaryIn("api", "api", flaggerv1.CanaryPhaseFailed),
		canaryIn("web", "web", flaggerv1.CanaryPhaseSucceeded),
		canaryIn("other", "x", flaggerv1.CanaryPhaseFailed),      // no policy names it
		canaryIn("web", "web", flaggerv1.CanaryPhaseProgressing), // not a result
	} {
		if err := r.HandleCanary(ctx, "prod", c); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"b rollback prod/api/api", "a promote prod/web/web"}
	if !slices.Equal(*calls, want) {
		t.Fatalf("calls %v, want %v", *calls, want)
	}
}

// One repository's broken policy never decides what happens to another
// repository's failure (it used to: the errors were joined and the joined
// error counted as permanent).
func TestErrorsStayWithTheirRepository(t *testing.T) {
	invalid := fmt.Errorf("roll back: %w in acme/a at 0123abc: apps[0]: unknown field", workspace.ErrInvalidPolicy)
	transient := &forge.StatusError{Code: http.StatusBadGateway}
	r, _, ev := rig(t, policyNaming(t, "web", "web/web"), policyNaming(t, "api", "api/api"), invalid, transient)
	ctx := context.Background()

	err := r.HandleCanary(ctx, "prod", canaryIn("api", "api", flaggerv1.CanaryPhaseFailed))
	if err == nil || errors.Is(err, canary.ErrPermanent) || !errors.Is(err, transient) {
		t.Fatalf("b's 502: %v, want it returned for a retry", err)
	}
	if len(ev.notes) != 0 {
		t.Fatalf("a transient error recorded %v", ev.notes)
	}
	err = r.HandleCanary(ctx, "prod", canaryIn("web", "web", flaggerv1.CanaryPhaseFailed))
	if !errors.Is(err, canary.ErrPermanent) || !errors.Is(err, workspace.ErrInvalidPolicy) {
		t.Fatalf("a's invalid policy: %v, want permanent", err)
	}
	if len(ev.notes) != 1 || ev.notes[0].Type != "Warning" || !strings.Contains(ev.notes[0].Message, "unknown field") {
		t.Fatalf("events %+v, want one Warning saying why", ev.notes)
	}
}

func TestTerminal(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"invalid policy", fmt.Errorf("x: %w", workspace.ErrInvalidPolicy), true},
		{"nothing to promote", fmt.Errorf("x: %w", promote.ErrNothingMatched), true},
		{"unverified revision", promote.ErrUnverifiedRevision, true},
		{"no introducing commit", fmt.Errorf("x: %w", rollback.ErrNoIntroducer), true},
		{"unknown cluster", cluster.ErrUnknownCluster, true},
		{"gitea 404", &forge.StatusError{Code: 404}, true},
		{"gitea 403", fmt.Errorf("x: %w", &forge.StatusError{Code: 403}), true},
		{"gitea 422", &forge.StatusError{Code: 422}, true},
		{"gitea 429", &forge.StatusError{Code: 429}, false},
		{"gitea 502", &forge.StatusError{Code: 502}, false},
		{"deployment missing", fmt.Errorf("read: %w", apierrors.NewNotFound(gr, "podinfo")), true},
		{"api server overloaded", apierrors.NewTooManyRequests("busy", 1), false},
		{"timeout", context.DeadlineExceeded, false},
		{"lost a push race", errors.New("push kept losing the race"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Terminal(tt.err); got != tt.want {
				t.Fatalf("Terminal(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

package cluster

import (
	"context"
	"fmt"

	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/policy"
)

// Sweep answers Suspended for many stages from one listing of each
// cluster's Kustomizations, made the first time a stage of that cluster
// asks. A loop over every stage of every policy (thousands at 100
// repositories) would otherwise list a cluster's Kustomizations once per
// stage. A Sweep is for one pass: it does not see changes made after its
// listing.
type Sweep struct {
	set   *Set
	lists map[string]sweepList
}

type sweepList struct {
	ks  []flux.Kustomization
	err error
}

// Sweep starts a pass over many stages.
func (s *Set) Sweep() *Sweep {
	return &Sweep{set: s, lists: map[string]sweepList{}}
}

// Suspended is Set.Suspended, answered from the sweep's listing of the
// stage's cluster. When that listing failed (a role that may read only
// the Kustomizations the policy names, say), it asks the cluster for the
// stage alone, as Set.Suspended does.
func (w *Sweep) Suspended(ctx context.Context, stage *policy.Stage) ([]flux.Ref, error) {
	name := stage.Canary.Cluster
	l, ok := w.lists[name]
	if !ok {
		cl, err := w.set.Client(name)
		if err != nil {
			return nil, err
		}
		l.ks, l.err = flux.ListKustomizations(ctx, cl.Dynamic)
		if ctx.Err() == nil {
			w.lists[name] = l // a cancelled listing says nothing of the cluster
		}
	}
	if l.err != nil {
		return w.set.Suspended(ctx, stage)
	}
	if !named(stage) {
		return suspendedOf(flux.Delivering(l.ks, stage.Overlay)), nil
	}
	ref := stage.Flux.Kustomization
	for _, k := range l.ks {
		if k.Ref.Namespace == ref.Namespace && k.Ref.Name == ref.Name {
			return suspendedOf([]flux.Kustomization{withSource(stage, k)}), nil
		}
	}
	return nil, fmt.Errorf("read flux kustomization %s/%s: not found in cluster %s", ref.Namespace, ref.Name, name)
}

// suspendedOf returns the refs of the suspended Kustomizations of ks.
func suspendedOf(ks []flux.Kustomization) []flux.Ref {
	var out []flux.Ref
	for _, k := range ks {
		if k.Suspended {
			out = append(out, k.Ref)
		}
	}
	return out
}

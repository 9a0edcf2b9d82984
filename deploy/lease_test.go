package deploy

import (
	"context"
	"log/slog"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/leader"
)

// tokenConfig returns a client configuration that authenticates with a
// fresh token of ServiceAccount namespace/name.
func tokenConfig(t *testing.T, admin *rest.Config, namespace, name string) *rest.Config {
	t.Helper()
	exp := int64(600)
	tok, err := kubernetes.NewForConfigOrDie(admin).CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token of ServiceAccount %s/%s: %v", namespace, name, err)
	}
	return &rest.Config{Host: admin.Host, BearerToken: tok.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData}}
}

// elect runs ensign's leader election on the Lease namespace/id as identity
// with the given client configuration until ctx ends, releasing the Lease
// then. It returns a channel closed once this identity leads, and one
// closed once it stopped.
func elect(ctx context.Context, t *testing.T, cfg *rest.Config, namespace, id, identity string) (<-chan struct{}, <-chan struct{}) {
	t.Helper()
	leading, done := make(chan struct{}), make(chan struct{})
	e, err := leader.New(leader.Config{
		Kube: cfg, Namespace: namespace, Name: id, Identity: identity,
		// Short, so that renewals happen within the test.
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 250 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(done)
		_ = e.Run(ctx, func(ctx context.Context) { close(leading); <-ctx.Done() })
	}()
	return leading, done
}

// TestServiceAccountHoldsItsLease runs ensign's leader election under the chart's ServiceAccount: it creates its Lease,
// renews it and releases it, and the chart's Role allows nothing more on
// Leases. Calls ensign never makes stay forbidden.
func TestServiceAccountHoldsItsLease(t *testing.T) {
	k := harness.Kube(t)
	const ns, release = "chart-lease", "lease"
	restrictedNamespace(t, k, ns)
	a := newApplier(t, k.Config)
	applyRendering(t, a, decodeAll(t, mustRender(t, release, ns, []string{caseValues("defaults")})))
	saCfg := tokenConfig(t, k.Config, ns, release+"-ensign")
	sa := kubernetes.NewForConfigOrDie(saCfg)
	admin := kubernetes.NewForConfigOrDie(k.Config)
	const id = "ensign" // leaderElection.id's default
	ctx := context.Background()
	lease := func() *coordinationv1.Lease {
		t.Helper()
		l, err := admin.CoordinationV1().Leases(ns).Get(ctx, id, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the Lease: %v", err)
		}
		return l
	}
	holder := func(l *coordinationv1.Lease) string {
		if l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}

	t.Run("create, renew and release", func(t *testing.T) {
		ectx, cancel := context.WithCancel(ctx)
		leading, done := elect(ectx, t, saCfg, ns, id, "ensign-pod-a")
		select {
		case <-leading:
		case <-time.After(30 * time.Second):
			cancel()
			t.Fatal("the ServiceAccount did not become leader: can it get and create its Lease?")
		}
		first := lease()
		if holder(first) != "ensign-pod-a" {
			t.Fatalf("Lease holder %q, want ensign-pod-a", holder(first))
		}
		deadline := time.Now().Add(15 * time.Second)
		for lease().Spec.RenewTime.Equal(first.Spec.RenewTime) {
			if time.Now().After(deadline) {
				cancel()
				t.Fatal("the leader did not renew its Lease: can it update it?")
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		<-done
		if h := holder(lease()); h != "" {
			t.Fatalf("after the leader stopped, the Lease is held by %q: the release (an update) did not happen", h)
		}
	})

	t.Run("a second replica takes over", func(t *testing.T) {
		ectx, cancel := context.WithCancel(ctx)
		defer cancel()
		leading, done := elect(ectx, t, saCfg, ns, id, "ensign-pod-b")
		select {
		case <-leading:
		case <-time.After(30 * time.Second):
			t.Fatal("a second identity did not take over the released Lease")
		}
		if h := holder(lease()); h != "ensign-pod-b" {
			t.Fatalf("Lease holder %q, want ensign-pod-b", h)
		}
		cancel()
		<-done
	})

	t.Run("nothing more", func(t *testing.T) {
		other := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "someone-else", Namespace: ns}}
		if _, err := admin.CoordinationV1().Leases(ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		leases := sa.CoordinationV1().Leases(ns)
		forbidden := map[string]error{}
		_, forbidden["read another Lease"] = leases.Get(ctx, "someone-else", metav1.GetOptions{})
		_, forbidden["update another Lease"] = leases.Update(ctx, other, metav1.UpdateOptions{})
		forbidden["delete its Lease"] = leases.Delete(ctx, id, metav1.DeleteOptions{})
		_, forbidden["list Leases"] = leases.List(ctx, metav1.ListOptions{})
		_, forbidden["create a Lease in another namespace"] = sa.CoordinationV1().Leases("default").Create(ctx,
			&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: id}}, metav1.CreateOptions{})
		_, forbidden["read Secrets"] = sa.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		forbidden["delete a Deployment"] = sa.AppsV1().Deployments(ns).Delete(ctx, release+"-ensign", metav1.DeleteOptions{})
		_, forbidden["create a Deployment"] = sa.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
		for what, err := range forbidden {
			if !apierrors.IsForbidden(err) {
				t.Errorf("the ServiceAccount may %s (err %v); the chart's RBAC grants more than ensign uses", what, err)
			}
		}
	})
}

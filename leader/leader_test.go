package leader

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/ensignbot/ensign/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// lease is a namespace and elector settings short enough for a test.
func lease(t *testing.T) (*rest.Config, kubernetes.Interface, string) {
	t.Helper()
	k := harness.Kube(t)
	kc := kubernetes.NewForConfigOrDie(k.Config)
	ns := harness.UniqueName("lease-")
	if _, err := kc.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return k.Config, kc, ns
}

func elector(t *testing.T, cfg *rest.Config, ns, id, addr string) *Elector {
	t.Helper()
	e, err := New(Config{
		Kube: cfg, Namespace: ns, Name: "ensign", Identity: id, Address: addr,
		LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 500 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// acting counts replicas acting at once and remembers the most seen.
type acting struct {
	now, most atomic.Int32
	order     []string
	mu        sync.Mutex
}

func (a *acting) lead(name string) func(ctx context.Context) {
	return a.leadFor(name, 300*time.Millisecond) // stopping takes a moment; nobody may start meanwhile
}

func (a *acting) leadFor(name string, stopping time.Duration) func(ctx context.Context) {
	return func(ctx context.Context) {
		if n := a.now.Add(1); n > a.most.Load() {
			a.most.Store(n)
		}
		a.mu.Lock()
		a.order = append(a.order, name)
		a.mu.Unlock()
		<-ctx.Done()
		time.Sleep(stopping)
		a.now.Add(-1)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two replicas: one acts; when it shuts down, the other takes over at once
// (the Lease is released, not left to expire) and never while the first
// still acts.
func TestOneActsAndHandsOverOnShutdown(t *testing.T) {
	cfg, _, ns := lease(t)
	a, b := elector(t, cfg, ns, "a", "10.0.0.1:8080"), elector(t, cfg, ns, "b", "10.0.0.2:8080")
	var act acting
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { doneA <- a.Run(ctxA, act.lead("a")) }()
	waitFor(t, "a to lead", a.Leading)
	go func() { doneB <- b.Run(ctxB, act.lead("b")) }()
	waitFor(t, "b to see a lead", func() bool { return b.LeaderAddress() == "10.0.0.1:8080" })
	if b.Leading() {
		t.Fatal("b leads while a holds the Lease")
	}
	stopA()
	start := time.Now()
	if err := <-doneA; err != nil {
		t.Fatalf("a's Run after shutdown: %v", err)
	}
	waitFor(t, "b to take over", b.Leading)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("b took over %v after a shut down; want well under the lease duration (released, not expired)", took)
	}
	if act.most.Load() != 1 {
		t.Fatalf("%d replicas acted at once", act.most.Load())
	}
	if b.LeaderAddress() != "10.0.0.2:8080" {
		t.Fatalf("leader address %q, want b's", b.LeaderAddress())
	}
	stopB()
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
}

// A leader whose Lease is taken from it (another writer, a partition that
// outlasted the renew deadline) stops acting and reports ErrLost.
func TestLostLeaseStopsTheWork(t *testing.T) {
	cfg, kc, ns := lease(t)
	a := elector(t, cfg, ns, "a", "")
	var act acting
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background(), act.lead("a")) }()
	waitFor(t, "a to lead", a.Leading)
	ctx := context.Background()
	steal := func() {
		l, err := kc.CoordinationV1().Leases(ns).Get(ctx, "ensign", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		thief := "thief"
		l.Spec.HolderIdentity = &thief
		now := metav1.NewMicroTime(time.Now())
		l.Spec.RenewTime = &now
		if _, err := kc.CoordinationV1().Leases(ns).Update(ctx, l, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	go func() { // keep the thief's claim fresh, as a real other holder would
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				steal()
			}
		}
	}()
	defer close(stop)
	select {
	case err := <-done:
		if !errors.Is(err, ErrLost) {
			t.Fatalf("Run = %v, want ErrLost", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a never noticed its Lease was taken")
	}
	if act.now.Load() != 0 || a.Leading() {
		t.Fatal("a still acts after losing its Lease")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no identity":     {Namespace: "ns", Name: "ensign"},
		"no durations":    {Namespace: "ns", Name: "ensign", Identity: "a"},
		"@ in identity":   {Namespace: "ns", Name: "ensign", Identity: "a@b"},
		"renew >= lease":  {Namespace: "ns", Name: "ensign", Identity: "a", LeaseDuration: time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond},
		"retry too large": {Namespace: "ns", Name: "ensign", Identity: "a", LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 9 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Kube = &rest.Config{Host: "http://127.0.0.1:1"}
			if _, err := New(cfg); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// A replica of an earlier ensign (client-go's leader election on the same
// Lease) and a replica of this one never act at once during a rolling
// upgrade: ensign stands by while client-go's elector holds the Lease, takes
// it once that one releases it, and client-go's then stands by in turn.
func TestRespectsClientGoElection(t *testing.T) {
	cfg, kc, ns := lease(t)
	var act acting
	clientGo := func(ctx context.Context, id string) (*leaderelection.LeaderElector, <-chan struct{}) {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: &resourcelock.LeaseLock{
				LeaseMeta:  metav1.ObjectMeta{Namespace: ns, Name: "ensign"},
				Client:     kc.CoordinationV1(),
				LockConfig: resourcelock.ResourceLockConfig{Identity: id},
			},
			LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 500 * time.Millisecond,
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				// client-go releases the Lease without waiting for this
				// callback (the earlier ensign waited for its work itself),
				// so this work stops the moment its context ends.
				OnStartedLeading: act.leadFor(id, 0),
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); le.Run(ctx) }()
		return le, done
	}

	oldCtx, stopOld := context.WithCancel(context.Background())
	old, oldDone := clientGo(oldCtx, "old@10.0.0.1:8080")
	waitFor(t, "client-go's elector to lead", old.IsLeader)
	b := elector(t, cfg, ns, "b", "10.0.0.2:8080")
	ctxB, stopB := context.WithCancel(context.Background())
	doneB := make(chan error, 1)
	go func() { doneB <- b.Run(ctxB, act.lead("b")) }()
	waitFor(t, "b to see the old replica lead", func() bool { return b.LeaderAddress() == "10.0.0.1:8080" })
	time.Sleep(6 * time.Second) // longer than the lease duration: the old replica renews, b must keep standing by
	if b.Leading() {
		t.Fatal("b leads while client-go's elector holds and renews the Lease")
	}
	stopOld()
	<-oldDone
	waitFor(t, "b to take over the released Lease", b.Leading)

	newCtx, stopNew := context.WithCancel(context.Background())
	defer stopNew()
	next, nextDone := clientGo(newCtx, "next@10.0.0.3:8080")
	time.Sleep(6 * time.Second)
	if next.IsLeader() {
		t.Fatal("client-go's elector leads while b holds and renews the Lease")
	}
	stopB()
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "client-go's elector to take over from b", next.IsLeader)
	stopNew()
	<-nextDone
	if act.most.Load() != 1 {
		t.Fatalf("%d replicas acted at once", act.most.Load())
	}
	if got := strings.Join(act.order, ","); got != "old@10.0.0.1:8080,b,next@10.0.0.3:8080" {
		t.Fatalf("acted in order %s", got)
	}
}

// A holder that stopped without releasing (a crashed pod) keeps the Lease
// for its lease duration from when the standby saw its last renewal; then
// the standby takes it.
func TestTakesOverAnAbandonedLease(t *testing.T) {
	cfg, kc, ns := lease(t)
	holder, secs := "crashed@10.0.0.9:8080", int32(4)
	now := metav1.NewMicroTime(time.Now())
	if _, err := kc.CoordinationV1().Leases(ns).Create(context.Background(), &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ensign"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs,
			AcquireTime: &now, RenewTime: &now},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := elector(t, cfg, ns, "b", "10.0.0.2:8080")
	var act acting
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, act.lead("b")) }()
	waitFor(t, "b to see the crashed holder", func() bool { return b.LeaderAddress() == "10.0.0.9:8080" })
	seen := time.Now()
	waitFor(t, "b to take over", b.Leading)
	if waited := time.Since(seen); waited < 3*time.Second {
		// b first saw the record at or after seen; it must wait the
		// record's 4 s from its own first sight (less the 1 s it may have
		// seen it before seen was taken).
		t.Fatalf("b took the Lease %v after seeing it held: before the holder's lease duration ran out", waited)
	}
	l, err := kc.CoordinationV1().Leases(ns).Get(context.Background(), "ensign", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *l.Spec.HolderIdentity != "b@10.0.0.2:8080" || l.Spec.LeaseTransitions == nil || *l.Spec.LeaseTransitions != 1 {
		t.Fatalf("Lease after the take-over: holder %q, transitions %v", *l.Spec.HolderIdentity, l.Spec.LeaseTransitions)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

package canary

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ensignbot/ensign/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

type seen struct {
	mu     sync.Mutex
	phases map[string][]flaggerv1.CanaryPhase
	ch     chan string
}

func newSeen() *seen {
	return &seen{phases: map[string][]flaggerv1.CanaryPhase{}, ch: make(chan string, 64)}
}

func (s *seen) record(cluster string, c *flaggerv1.Canary) {
	k := cluster + "/" + c.Namespace + "/" + c.Name
	s.mu.Lock()
	s.phases[k] = append(s.phases[k], c.Status.Phase)
	s.mu.Unlock()
	s.ch <- k + "=" + string(c.Status.Phase)
}

func (s *seen) waitFor(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case got := <-s.ch:
			if got == want {
				return
			}
		case <-timeout:
			t.Fatalf("handler never saw %s", want)
		}
	}
}

func newNamespace(t *testing.T, kc kubernetes.Interface) string {
	t.Helper()
	ns := harness.UniqueName("canary-")
	_, err := kc.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func createCanary(t *testing.T, fc flaggerclient.Interface, ns, name string, phase flaggerv1.CanaryPhase) *flaggerv1.Canary {
	t.Helper()
	ctx := context.Background()
	c, err := fc.FlaggerV1beta1().Canaries(ns).Create(ctx, &flaggerv1.Canary{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: flaggerv1.CanarySpec{
			TargetRef: flaggerv1.LocalObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			Service:   flaggerv1.CanaryService{Port: 9898},
			Analysis:  &flaggerv1.CanaryAnalysis{Interval: "1m", Threshold: 5, MaxWeight: 50, StepWeight: 10},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if phase != "" {
		c = setPhase(t, fc, c, phase)
	}
	return c
}

func setPhase(t *testing.T, fc flaggerclient.Interface, c *flaggerv1.Canary, phase flaggerv1.CanaryPhase) *flaggerv1.Canary {
	t.Helper()
	c = c.DeepCopy()
	c.Status.Phase = phase
	c.Status.LastTransitionTime = metav1.Now()
	out, err := fc.FlaggerV1beta1().Canaries(c.Namespace).UpdateStatus(context.Background(), c, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status of %s to %s: %v", c.Name, phase, err)
	}
	return out
}

// TestWatcherDeliversPhaseChangesAndPastResults runs with one watched
// namespace (an informer per namespace) and with more than
// namespaceInformerLimit (one cluster-wide informer, filtered).
func TestWatcherDeliversPhaseChangesAndPastResults(t *testing.T) {
	for _, extra := range []int{0, namespaceInformerLimit} {
		t.Run(fmt.Sprintf("%d more namespaces", extra), func(t *testing.T) { testWatcher(t, extra) })
	}
}

func testWatcher(t *testing.T, extra int) {
	k := harness.Kube(t)
	kc := kubernetes.NewForConfigOrDie(k.Config)
	fc := flaggerclient.NewForConfigOrDie(k.Config)
	dyn := dynamic.NewForConfigOrDie(k.Config)
	watched, other := newNamespace(t, kc), newNamespace(t, kc)

	// A result that happened while ensign was down.
	createCanary(t, fc, watched, "before", flaggerv1.CanaryPhaseSucceeded)
	// Not a final phase: nothing to do at start-up.
	idle := createCanary(t, fc, watched, "idle", flaggerv1.CanaryPhaseProgressing)
	// Outside the watched namespaces.
	outside := createCanary(t, fc, other, "outside", flaggerv1.CanaryPhaseProgressing)

	s := newSeen()
	namespaces := []string{watched}
	for i := range extra {
		namespaces = append(namespaces, fmt.Sprintf("%s-other-%d", watched, i))
	}
	w := NewWatcher([]Cluster{{Name: "prod", Client: dyn, Namespaces: namespaces}},
		handlerFunc(func(ctx context.Context, cluster string, c *flaggerv1.Canary) error {
			s.record(cluster, c)
			return nil
		}), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	s.waitFor(t, "prod/"+watched+"/before=Succeeded")
	setPhase(t, fc, outside, flaggerv1.CanaryPhaseFailed)
	setPhase(t, fc, idle, flaggerv1.CanaryPhaseFailed)
	s.waitFor(t, "prod/"+watched+"/idle=Failed")

	c, ok := w.Get(Key{"prod", watched, "idle"})
	if !ok || c.Status.Phase != flaggerv1.CanaryPhaseFailed {
		t.Fatalf("Get(idle) = %v, %v; want the cached Failed canary", c, ok)
	}
	if c.Spec.TargetRef.Name != "idle" || c.Spec.Analysis != nil || c.Spec.Service.Port != 0 {
		t.Fatalf("cached spec %+v, want the target reference only", c.Spec)
	}
	if _, ok := w.Get(Key{"prod", other, "outside"}); ok {
		t.Fatal("Get found a canary outside the watched namespaces")
	}
	if n := w.Len(); n != 2 {
		t.Fatalf("Len = %d, want the 2 canaries of the watched namespace", n)
	}
	if extra > 0 {
		// The cluster-wide informer caches the canary outside its
		// namespaces as its identity only.
		obj, ok, err := w.indexes["prod"][0].GetByKey(other + "/outside")
		if err != nil || !ok {
			t.Fatalf("cluster-wide cache lacks %s/outside: %v", other, err)
		}
		if m, ok := obj.(*foreign); !ok || m.resourceVersion == "" || m.key != other+"/outside" {
			t.Fatalf("canary outside the scope cached as %T %+v, want its name and resource version only", obj, obj)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got := s.phases["prod/"+other+"/outside"]; len(got) != 0 {
		t.Fatalf("handler saw a canary outside the watched namespaces: %v", got)
	}
	if got := s.phases["prod/"+watched+"/idle"]; len(got) != 1 {
		t.Fatalf("idle canary handled %v; want exactly its Failed phase once", got)
	}
	if len(s.phases["prod/"+watched+"/before"]) != 1 {
		t.Fatalf("canary finished before start handled %v times, want once", s.phases["prod/"+watched+"/before"])
	}
}

func TestWatcherRetriesFailedHandling(t *testing.T) {
	k := harness.Kube(t)
	kc := kubernetes.NewForConfigOrDie(k.Config)
	fc := flaggerclient.NewForConfigOrDie(k.Config)
	dyn := dynamic.NewForConfigOrDie(k.Config)
	ns := newNamespace(t, kc)
	c := createCanary(t, fc, ns, "flaky", "")

	var mu sync.Mutex
	calls := 0
	s := newSeen()
	w := NewWatcher([]Cluster{{Name: "staging", Client: dyn, Namespaces: []string{ns}}},
		handlerFunc(func(ctx context.Context, cluster string, c *flaggerv1.Canary) error {
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			if n < 3 {
				return errors.New("gitea is down")
			}
			s.record(cluster, c)
			return nil
		}), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	setPhase(t, fc, c, flaggerv1.CanaryPhaseFailed)
	s.waitFor(t, "staging/"+ns+"/flaky=Failed")
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 {
		t.Fatalf("handler called %d times, want 2 failures then 1 success", calls)
	}
}

// handlerFunc adapts a function to Handler.
type handlerFunc func(ctx context.Context, cluster string, c *flaggerv1.Canary) error

func (f handlerFunc) HandleCanary(ctx context.Context, cluster string, c *flaggerv1.Canary) error {
	return f(ctx, cluster, c)
}

package canary

import (
	"context"
	"os"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ensignbot/ensign/harness"
)

// After the API server and etcd are stopped and started again, the watch
// comes back on its own: a canary that fails the moment the server is
// back is handled (the fault suite's kube-restart case measures how soon
// on the real binary; here the bound is generous, for loaded machines).
func TestWatcherComesBackAfterAPIServerRestart(t *testing.T) {
	if os.Getenv(harness.E2EEnv) == "" || testing.Short() {
		t.Skipf("restarts an API server of its own; set %s=1", harness.E2EEnv)
	}
	ctx := context.Background()
	k, err := harness.StartKube(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Stop() })
	kc := kubernetes.NewForConfigOrDie(k.Config)
	fc := flaggerclient.NewForConfigOrDie(k.Config)
	ns := newNamespace(t, kc)
	early := createCanary(t, fc, ns, "early", flaggerv1.CanaryPhaseProgressing)
	late := createCanary(t, fc, ns, "late", flaggerv1.CanaryPhaseProgressing)

	s := newSeen()
	w := NewWatcher([]Cluster{{Name: "prod", Client: dynamic.NewForConfigOrDie(k.Config), Namespaces: []string{ns}}},
		handlerFunc(func(ctx context.Context, cluster string, c *flaggerv1.Canary) error {
			s.record(cluster, c)
			return nil
		}), Options{})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	deadline := time.Now().Add(time.Minute)
	for !w.Synced() {
		if time.Now().After(deadline) {
			t.Fatal("watcher never synced")
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := k.StopServers(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the watch breaks; the informer keeps trying
	if err := k.StartServers(ctx); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	setPhase(t, fc, early, flaggerv1.CanaryPhaseFailed)
	s.waitFor(t, "prod/"+ns+"/early=Failed")
	t.Logf("a canary that failed when the API server was back was handled %v later", time.Since(back).Round(time.Millisecond))
	setPhase(t, fc, late, flaggerv1.CanaryPhaseFailed)
	s.waitFor(t, "prod/"+ns+"/late=Failed")
}

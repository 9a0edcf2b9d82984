package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// E2EEnv is the environment variable that makes a missing harness binary a
// test failure instead of a skip. CI sets it.
const E2EEnv = "ENSIGN_E2E"

// ControllersEnv is the environment variable that turns on the tests that
// run the real kube-controller-manager, kube-scheduler, kwok, Flagger and
// Flux (Workloads, Flagger and Flux skip without it), and makes build.sh all
// build them. Their first build takes about 12 minutes on 2 idle cores (40
// on a busy 2-core machine), which would put a cold CI run over its budget,
// so they are opt-in.
const ControllersEnv = "ENSIGN_CONTROLLERS"

// needControllers skips t unless ControllersEnv is set.
func needControllers(t testing.TB) {
	t.Helper()
	if os.Getenv(ControllersEnv) == "" {
		t.Skipf("real-controller test skipped: set %s=1 to build (harness/build/build.sh) and run kube-controller-manager, kube-scheduler, kwok, Flagger and Flux", ControllersEnv)
	}
}

var shared struct {
	mu        sync.Mutex
	gitea     *GiteaServer
	kube      *KubeServer
	workloads *WorkloadServer
	flagger   *FlaggerServer
	flux      *FluxServer
	// errors are remembered so that one failed start does not repeat per test
	giteaErr, kubeErr, workloadsErr, flaggerErr, fluxErr error
}

// Main runs a test binary's tests and stops the shared servers afterwards.
// Use it from TestMain: os.Exit(harness.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if err := StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "harness: stop:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// StopShared stops the shared servers and controllers that Gitea, Kube,
// Workloads, Flagger and Flux started: the controllers first, then the API
// server and etcd, then Gitea.
func StopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	var errs []error
	if shared.flagger != nil {
		errs = append(errs, shared.flagger.Stop())
		shared.flagger = nil
	}
	if shared.flux != nil {
		errs = append(errs, shared.flux.Stop())
		shared.flux = nil
	}
	if shared.workloads != nil {
		errs = append(errs, shared.workloads.Stop())
		shared.workloads = nil
	}
	if shared.kube != nil {
		errs = append(errs, shared.kube.Stop())
		shared.kube = nil
	}
	if shared.gitea != nil {
		errs = append(errs, shared.gitea.Stop())
		shared.gitea = nil
	}
	return errors.Join(errs...)
}

// Gitea returns the test binary's shared Gitea, starting it on first use.
// Tests must not assume an empty server: create uniquely named users, orgs
// and repositories (UniqueName helps).
func Gitea(t testing.TB) *GiteaServer {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.gitea == nil && shared.giteaErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		start := time.Now()
		shared.gitea, shared.giteaErr = StartGitea(ctx, GiteaOptions{})
		if shared.giteaErr == nil {
			t.Logf("harness: gitea %s started at %s in %v", GiteaVersion, shared.gitea.URL, time.Since(start).Round(time.Millisecond))
		}
	}
	unavailable(t, "gitea", shared.giteaErr)
	return shared.gitea
}

// Kube returns the test binary's shared kube-apiserver + etcd, starting them
// on first use. Tests must use their own namespaces.
func Kube(t testing.TB) *KubeServer {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	return kubeLocked(t)
}

func kubeLocked(t testing.TB) *KubeServer {
	t.Helper()
	if shared.kube == nil && shared.kubeErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		start := time.Now()
		shared.kube, shared.kubeErr = StartKube(ctx)
		if shared.kubeErr == nil {
			t.Logf("harness: kube-apiserver %s + etcd %s started in %v", KubernetesVersion, EtcdVersion, time.Since(start).Round(time.Millisecond))
		}
	}
	unavailable(t, "kube-apiserver", shared.kubeErr)
	return shared.kube
}

// Workloads returns the test binary's shared kube-controller-manager,
// kube-scheduler and kwok (one fake Node) on the shared API server, starting
// them (and the API server) on first use. With them, Deployments get
// ReplicaSets and running, ready Pods. Without ControllersEnv it skips t.
func Workloads(t testing.TB) (*KubeServer, *WorkloadServer) {
	t.Helper()
	needControllers(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	k := kubeLocked(t)
	workloadsLocked(t, k)
	return k, shared.workloads
}

func workloadsLocked(t testing.TB, k *KubeServer) {
	t.Helper()
	if shared.workloads == nil && shared.workloadsErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		start := time.Now()
		shared.workloads, shared.workloadsErr = StartWorkloads(ctx, k, WorkloadOptions{})
		if shared.workloadsErr == nil {
			t.Logf("harness: kube-controller-manager and kube-scheduler %s, kwok %s with node %v started in %v",
				KubernetesVersion, KwokVersion, shared.workloads.Nodes, time.Since(start).Round(time.Millisecond))
		}
	}
	unavailable(t, "kube-controller-manager, kube-scheduler and kwok", shared.workloadsErr)
}

// Flagger returns the test binary's shared Flagger (-mesh-provider=kubernetes,
// all namespaces), starting it, the workloads and the API server on first
// use. Tests must use their own namespaces. Without ControllersEnv it skips t.
func Flagger(t testing.TB) (*KubeServer, *FlaggerServer) {
	t.Helper()
	needControllers(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	k := kubeLocked(t)
	workloadsLocked(t, k)
	if shared.flagger == nil && shared.flaggerErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		start := time.Now()
		shared.flagger, shared.flaggerErr = StartFlagger(ctx, k, FlaggerOptions{})
		if shared.flaggerErr == nil {
			t.Logf("harness: flagger %s started in %v", FlaggerVersion, time.Since(start).Round(time.Millisecond))
		}
	}
	unavailable(t, "flagger", shared.flaggerErr)
	return k, shared.flagger
}

// Flux returns the test binary's shared Flux source-controller and
// kustomize-controller, starting them and the API server on first use.
// They watch all namespaces; tests must use their own. Without ControllersEnv
// it skips t.
func Flux(t testing.TB) (*KubeServer, *FluxServer) {
	t.Helper()
	needControllers(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	k := kubeLocked(t)
	if shared.flux == nil && shared.fluxErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		start := time.Now()
		shared.flux, shared.fluxErr = StartFlux(ctx, k)
		if shared.fluxErr == nil {
			t.Logf("harness: flux source-controller and kustomize-controller %s started in %v", FluxVersion, time.Since(start).Round(time.Millisecond))
		}
	}
	unavailable(t, "flux", shared.fluxErr)
	return k, shared.flux
}

// unavailable skips or fails t when a server could not be started.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrNoBinaries) && os.Getenv(E2EEnv) == "":
		t.Skipf("integration test skipped: %v; build them with harness/build/build.sh, or set %s=1 to make this a failure", err, E2EEnv)
	default:
		t.Fatalf("harness: %s unavailable: %v", what, err)
	}
}

var uniqueCounter struct {
	sync.Mutex
	n int
}

// UniqueName returns prefix followed by a number unique within this test
// binary, for naming users, orgs, repos and namespaces on shared servers.
func UniqueName(prefix string) string {
	uniqueCounter.Lock()
	defer uniqueCounter.Unlock()
	uniqueCounter.n++
	return fmt.Sprintf("%s%d", prefix, uniqueCounter.n)
}

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
// on a busy 2-core machine). `make test` and `make demo` set it to 1 unless
// it is already set; empty opts out.
const ControllersEnv = "ENSIGN_CONTROLLERS"

// NeedControllers skips t unless ControllersEnv is set, for tests that start
// the real controllers themselves (Workloads, Flagger and Flux call it).
func NeedControllers(t testing.TB) {
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
	// errors are remembered so that one failed start does not repeat per test
	giteaErr, kubeErr, workloadsErr error
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

// StopShared stops the shared servers and controllers that Gitea, Kube and
// Workloads started: the controllers first, then the API server and etcd,
// then Gitea.
func StopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	return errors.Join(
		stopShared(&shared.workloads),
		stopShared(&shared.kube),
		stopShared(&shared.gitea),
	)
}

// stopShared stops the shared server *srv, if it was started, and forgets
// it.
func stopShared[S any, P interface {
	*S
	Stop() error
}](srv **S) error {
	if *srv == nil {
		return nil
	}
	err := P(*srv).Stop()
	*srv = nil
	return err
}

// startShared starts a shared server with start (given 2 minutes) unless it
// runs or failed to start before, logs "harness: <started(srv)> in <time>",
// and skips or fails t when it is unavailable (what names it then). The
// caller holds shared.mu.
func startShared[S any](t testing.TB, what string, srv **S, errp *error, start func(context.Context) (*S, error), started func(*S) string) *S {
	t.Helper()
	if *srv == nil && *errp == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		t0 := time.Now()
		*srv, *errp = start(ctx)
		if *errp == nil {
			t.Logf("harness: %s in %v", started(*srv), time.Since(t0).Round(time.Millisecond))
		}
	}
	unavailable(t, what, *errp)
	return *srv
}

// Gitea returns the test binary's shared Gitea, starting it on first use.
// Tests must not assume an empty server: create uniquely named users, orgs
// and repositories (UniqueName helps).
func Gitea(t testing.TB) *GiteaServer {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	return startShared(t, "gitea", &shared.gitea, &shared.giteaErr,
		func(ctx context.Context) (*GiteaServer, error) { return StartGitea(ctx, GiteaOptions{}) },
		func(g *GiteaServer) string { return fmt.Sprintf("gitea %s started at %s", GiteaVersion, g.URL) })
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
	return startShared(t, "kube-apiserver", &shared.kube, &shared.kubeErr, StartKube,
		func(*KubeServer) string {
			return fmt.Sprintf("kube-apiserver %s + etcd %s started", KubernetesVersion, EtcdVersion)
		})
}

// Workloads returns the test binary's shared kube-controller-manager,
// kube-scheduler and kwok (one fake Node) on the shared API server, starting
// them (and the API server) on first use. With them, Deployments get
// ReplicaSets and running, ready Pods. Without ControllersEnv it skips t.
func Workloads(t testing.TB) (*KubeServer, *WorkloadServer) {
	t.Helper()
	NeedControllers(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	k := kubeLocked(t)
	return k, workloadsLocked(t, k)
}

func workloadsLocked(t testing.TB, k *KubeServer) *WorkloadServer {
	t.Helper()
	return startShared(t, "kube-controller-manager, kube-scheduler and kwok", &shared.workloads, &shared.workloadsErr,
		func(ctx context.Context) (*WorkloadServer, error) { return StartWorkloads(ctx, k, WorkloadOptions{}) },
		func(w *WorkloadServer) string {
			return fmt.Sprintf("kube-controller-manager and kube-scheduler %s, kwok %s with node %v started", KubernetesVersion, KwokVersion, w.Nodes)
		})
}

// Flagger starts a Flagger (-mesh-provider=kubernetes) for t that watches
// only namespace, on the shared API server with the shared workloads
// (started on first use), and stops it when t ends. It is confined because
// other tests of the binary may play Flagger on canaries of their own, which
// a Flagger watching every namespace would take over. Without ControllersEnv
// it skips t.
func Flagger(t testing.TB, namespace string) (*KubeServer, *FlaggerServer) {
	t.Helper()
	k, _ := Workloads(t)
	return k, startOwn(t, "flagger in "+namespace, func(ctx context.Context) (*FlaggerServer, error) {
		return StartFlagger(ctx, k, FlaggerOptions{Namespace: namespace})
	})
}

// Flux starts Flux's source-controller and kustomize-controller for t that
// reconcile only the GitRepositories and Kustomizations in namespace (what
// they apply may go anywhere), on the shared API server, and stops them when
// t ends; confined for the same reason as Flagger. Without ControllersEnv it
// skips t.
func Flux(t testing.TB, namespace string) (*KubeServer, *FluxServer) {
	t.Helper()
	NeedControllers(t)
	k := Kube(t)
	return k, startOwn(t, "flux in "+namespace, func(ctx context.Context) (*FluxServer, error) {
		return StartFlux(ctx, k, FluxOptions{Namespace: namespace})
	})
}

// startOwn starts a server for t alone (given 2 minutes), logs it, fails t
// when it cannot start, and stops it when t ends.
func startOwn[S any, P interface {
	*S
	Stop() error
}](t testing.TB, what string, start func(context.Context) (*S, error)) *S {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	srv, err := start(ctx)
	unavailable(t, what, err)
	t.Logf("harness: %s started in %v", what, time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := P(srv).Stop(); err != nil {
			t.Errorf("stop %s: %v", what, err)
		}
	})
	return srv
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

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

var shared struct {
	mu    sync.Mutex
	gitea *GiteaServer
	kube  *KubeServer
	// errors are remembered so that one failed start does not repeat per test
	giteaErr, kubeErr error
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

// StopShared stops the shared servers that Gitea and Kube started.
func StopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	var errs []error
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

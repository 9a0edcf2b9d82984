package harness

import (
	"context"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// A killed Gitea started again serves the same data at the same URL; a
// paused one answers nothing until it is resumed.
func TestGiteaKillStartAgainPause(t *testing.T) {
	_, err := binary("gitea")
	unavailable(t, "gitea", err) // skips or fails like every integration test
	ctx := context.Background()
	g, err := StartGitea(ctx, GiteaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop() })
	org := UniqueName("restart")
	if err := g.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateRepo(ctx, org, "kept"); err != nil {
		t.Fatal(err)
	}
	g.Kill()
	if code := get(g.URL + "api/healthz"); code != 0 {
		t.Fatalf("killed gitea answered %d", code)
	}
	if err := g.StartAgain(ctx); err != nil {
		t.Fatal(err)
	}
	if code := get(g.URL + "api/v1/repos/" + org + "/kept"); code != http.StatusOK {
		t.Fatalf("the repository after a restart: HTTP %d, want 200", code)
	}
	if err := g.StartAgain(ctx); err == nil {
		t.Fatal("StartAgain of a running gitea succeeded")
	}

	if err := g.Pause(); err != nil {
		t.Fatal(err)
	}
	if code := get(g.URL + "api/healthz"); code != 0 {
		_ = g.Resume()
		t.Fatalf("paused gitea answered %d", code)
	}
	if err := g.Resume(); err != nil {
		t.Fatal(err)
	}
	if code := get(g.URL + "api/healthz"); code != http.StatusOK {
		t.Fatalf("resumed gitea: HTTP %d, want 200", code)
	}
}

// The API server and etcd stopped and started again keep their objects,
// address and credentials.
func TestKubeStopStartServers(t *testing.T) {
	_, err := binary("kube-apiserver")
	unavailable(t, "kube-apiserver", err)
	ctx := context.Background()
	k, err := StartKube(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Stop() })
	kc := kubernetes.NewForConfigOrDie(k.Config)
	ns := UniqueName("kept-")
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := k.StopServers(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = kc.CoreV1().Namespaces().Get(short, ns, metav1.GetOptions{})
	cancel()
	if err == nil {
		t.Fatal("a stopped API server answered")
	}
	if err := k.StartServers(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Fatalf("the namespace after a restart, with the old client: %v", err)
	}
}

// get returns the status code of a GET, or 0 when nothing answered within
// two seconds.
func get(url string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

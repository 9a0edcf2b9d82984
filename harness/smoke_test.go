package harness

import (
	"context"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"
	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	flaggerinformers "github.com/fluxcd/flagger/pkg/client/informers/externalversions"
	"github.com/go-git/go-billy/v5/memfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// TestGiteaPushAndPullRequest pushes a commit over HTTP with a token, opens a
// pull request with the SDK and reads it back.
func TestGiteaPushAndPullRequest(t *testing.T) {
	g := Gitea(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	org := UniqueName("smoke-org-")
	if err := g.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	cloneURL, err := g.CreateRepo(ctx, org, "gitops")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := g.CreateUser(ctx, UniqueName("alice-"))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AddCollaborator(ctx, org, "gitops", alice.Name, "write"); err != nil {
		t.Fatal(err)
	}

	auth := &githttp.BasicAuth{Username: alice.Name, Password: alice.Token}
	repo, err := git.CloneContext(ctx, memory.NewStorage(), memfs.New(), &git.CloneOptions{URL: cloneURL, Auth: auth})
	if err != nil {
		t.Fatalf("clone %s: %v", cloneURL, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName("smoke"), Create: true}); err != nil {
		t.Fatal(err)
	}
	f, err := wt.Filesystem.Create("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("hello from the harness\n"))
	f.Close()
	if _, err := wt.Add("hello.txt"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: alice.Name, Email: alice.Name + "@example.com", When: time.Now()}
	sha, err := wt.Commit("Add hello", &git.CommitOptions{Author: sig})
	if err != nil {
		t.Fatal(err)
	}
	err = repo.PushContext(ctx, &git.PushOptions{Auth: auth, RefSpecs: []config.RefSpec{"refs/heads/smoke:refs/heads/smoke"}})
	if err != nil {
		t.Fatalf("push: %v", err)
	}

	c, err := g.Client(ctx, alice.Token)
	if err != nil {
		t.Fatal(err)
	}
	// Gitea processes pushes asynchronously: wait until the branch shows.
	waitFor(t, 20*time.Second, func() bool {
		b, _, err := c.GetRepoBranch(org, "gitops", "smoke")
		return err == nil && b.Commit != nil && b.Commit.ID == sha.String()
	})
	pr, _, err := c.CreatePullRequest(org, "gitops", gitea.CreatePullRequestOption{
		Head: "smoke", Base: "main", Title: "Smoke test", Body: "opened by the harness smoke test",
	})
	if err != nil {
		t.Fatalf("create pull request: %v", err)
	}
	got, _, err := c.GetPullRequest(org, "gitops", pr.Index)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "Smoke test" || got.Head == nil || got.Head.Sha != sha.String() || got.State != gitea.StateOpen {
		t.Fatalf("read back PR #%d: title %q head %+v state %s; want the pushed commit %s open", pr.Index, got.Title, got.Head, got.State, sha)
	}
	if got.Poster == nil || got.Poster.UserName != alice.Name {
		t.Fatalf("PR poster = %+v, want %s", got.Poster, alice.Name)
	}
}

// TestCanaryStatusReachesInformer creates a Flagger Canary, moves its phase
// through the status subresource and sees each transition in an informer.
func TestCanaryStatusReachesInformer(t *testing.T) {
	k := Kube(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kc := kubernetes.NewForConfigOrDie(k.Config)
	fc := flaggerclient.NewForConfigOrDie(k.Config)
	ns := UniqueName("smoke-")
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	phases := make(chan flaggerv1.CanaryPhase, 16)
	factory := flaggerinformers.NewSharedInformerFactoryWithOptions(fc, 0, flaggerinformers.WithNamespace(ns))
	informer := factory.Flagger().V1beta1().Canaries().Informer()
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			o, n := oldObj.(*flaggerv1.Canary), newObj.(*flaggerv1.Canary)
			if o.Status.Phase != n.Status.Phase {
				phases <- n.Status.Phase
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	defer func() {
		close(stop)
		factory.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		t.Fatal("informer did not sync")
	}

	canary := &flaggerv1.Canary{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: ns},
		Spec: flaggerv1.CanarySpec{
			TargetRef: flaggerv1.LocalObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "podinfo"},
			Service:   flaggerv1.CanaryService{Port: 9898},
			Analysis:  &flaggerv1.CanaryAnalysis{Interval: "1m", Threshold: 5, MaxWeight: 50, StepWeight: 10},
		},
	}
	created, err := fc.FlaggerV1beta1().Canaries(ns).Create(ctx, canary, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create canary: %v", err)
	}
	cur := created
	for _, phase := range []flaggerv1.CanaryPhase{flaggerv1.CanaryPhaseProgressing, flaggerv1.CanaryPhaseSucceeded, flaggerv1.CanaryPhaseFailed} {
		cur.Status.Phase = phase
		cur, err = fc.FlaggerV1beta1().Canaries(ns).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update status to %s: %v", phase, err)
		}
		select {
		case got := <-phases:
			if got != phase {
				t.Fatalf("informer saw phase %s, want %s", got, phase)
			}
		case <-ctx.Done():
			t.Fatalf("informer never saw phase %s", phase)
		}
	}

	// The CRD's enum is enforced by the real API server.
	cur.Status.Phase = "Exploded"
	if _, err := fc.FlaggerV1beta1().Canaries(ns).UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "Unsupported value") {
		t.Fatalf("status with an unknown phase: err = %v, want the CRD's enum to reject it", err)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

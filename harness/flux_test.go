package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

var (
	gitRepositoryGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	kustomizationGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
)

const requestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

// TestFluxAppliesFromGitea has the real source-controller fetch a repository
// from the harness Gitea over HTTP with a read-only user's token, and the real
// kustomize-controller apply a kustomization from it; then a new commit is
// applied after a reconcile request on the GitRepository alone, and a
// request on the Kustomization alone undoes a change made by hand.
func TestFluxAppliesFromGitea(t *testing.T) {
	g := Gitea(t)
	NeedControllers(t)
	k := Kube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kc := kubernetes.NewForConfigOrDie(k.Config)
	dyn := dynamic.NewForConfigOrDie(k.Config)
	ns := newNamespace(ctx, t, kc, "flux-")
	_, f := Flux(t, ns)
	logOnFailure(t, f.Source, f.Kustomize)

	org := UniqueName("flux-org-")
	if err := g.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	cloneURL, err := g.CreateRepo(ctx, org, "gitops")
	if err != nil {
		t.Fatal(err)
	}
	reader, err := g.CreateUser(ctx, UniqueName("flux-reader-"))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AddCollaborator(ctx, org, "gitops", reader.Name, "read"); err != nil {
		t.Fatal(err)
	}
	sha1 := gitPush(ctx, t, g, cloneURL, map[string]string{
		"apps/demo/kustomization.yaml": "resources:\n  - configmap.yaml\n",
		"apps/demo/configmap.yaml":     configMapYAML("one"),
	}, "Add demo")

	if _, err := kc.CoreV1().Secrets(ns).Create(ctx, FluxGitSecret(ns, "gitea-token", reader.Name, reader.Token), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	createFluxObject(ctx, t, dyn, gitRepositoryGVR, "GitRepository", ns, "gitops", map[string]any{
		"url": cloneURL, "interval": "10m", "ref": map[string]any{"branch": "main"},
		"secretRef": map[string]any{"name": "gitea-token"},
	})
	createFluxObject(ctx, t, dyn, kustomizationGVR, "Kustomization", ns, "demo", map[string]any{
		"interval": "10m", "path": "./apps/demo", "prune": true, "targetNamespace": ns,
		"sourceRef": map[string]any{"kind": "GitRepository", "name": "gitops"},
	})
	waitApplied(ctx, t, dyn, ns, "demo", sha1, "")
	t.Logf("first revision applied %v after the GitRepository was created", time.Since(start).Round(time.Millisecond))
	wantConfigMap(ctx, t, kc, ns, "one")
	src := getFlux(ctx, t, dyn, gitRepositoryGVR, ns, "gitops")
	if rev, _, _ := unstructured.NestedString(src.Object, "status", "artifact", "revision"); rev != "main@sha1:"+sha1 {
		t.Fatalf("GitRepository artifact revision %q, want main@sha1:%s", rev, sha1)
	}

	// A new commit, and a reconcile request on the source only: the
	// Kustomization follows the new artifact by itself.
	sha2 := gitPush(ctx, t, g, cloneURL, map[string]string{"apps/demo/configmap.yaml": configMapYAML("two")}, "Bump demo")
	start = time.Now()
	token := requestReconcile(ctx, t, dyn, gitRepositoryGVR, ns, "gitops")
	eventually(ctx, t, "GitRepository handles the request", func(ctx context.Context) (bool, error) {
		u, err := dyn.Resource(gitRepositoryGVR).Namespace(ns).Get(ctx, "gitops", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got, _, _ := unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
		return got == token, nil
	})
	waitApplied(ctx, t, dyn, ns, "demo", sha2, "")
	t.Logf("new commit applied %v after a reconcile request on the GitRepository alone", time.Since(start).Round(time.Millisecond))
	wantConfigMap(ctx, t, kc, ns, "two")

	// Drift: a change by hand, undone on a request on the Kustomization.
	patch := []byte(`{"data":{"version":"edited by hand"}}`)
	if _, err := kc.CoreV1().ConfigMaps(ns).Patch(ctx, "demo", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	token = requestReconcile(ctx, t, dyn, kustomizationGVR, ns, "demo")
	waitApplied(ctx, t, dyn, ns, "demo", sha2, token)
	t.Logf("reconcile request on the Kustomization handled in %v", time.Since(start).Round(time.Millisecond))
	wantConfigMap(ctx, t, kc, ns, "two")
}

func configMapYAML(version string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  version: %q\n", version)
}

func wantConfigMap(ctx context.Context, t *testing.T, kc kubernetes.Interface, ns, version string) {
	t.Helper()
	cm, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["version"] != version {
		t.Fatalf("ConfigMap demo data %v, want version %q", cm.Data, version)
	}
	if cm.Labels["kustomize.toolkit.fluxcd.io/name"] != "demo" {
		t.Fatalf("ConfigMap labels %v, want kustomize-controller's ownership labels", cm.Labels)
	}
}

// gitPush commits files (path to content) on main of the repository at
// cloneURL as the Gitea admin, pushes, and returns the commit hash.
func gitPush(ctx context.Context, t *testing.T, g *GiteaServer, cloneURL string, files map[string]string, msg string) string {
	t.Helper()
	auth := &githttp.BasicAuth{Username: g.AdminUser, Password: g.AdminToken}
	repo, err := git.CloneContext(ctx, memory.NewStorage(), memfs.New(), &git.CloneOptions{URL: cloneURL, Auth: auth})
	if err != nil {
		t.Fatalf("clone %s: %v", cloneURL, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for path, content := range files {
		f, err := wt.Filesystem.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if _, err := wt.Add(path); err != nil {
			t.Fatal(err)
		}
	}
	sig := &object.Signature{Name: "harness", Email: "harness@example.com", When: time.Now()}
	sha, err := wt.Commit(msg, &git.CommitOptions{Author: sig})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.PushContext(ctx, &git.PushOptions{Auth: auth}); err != nil {
		t.Fatalf("push: %v", err)
	}
	return sha.String()
}

func createFluxObject(ctx context.Context, t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, kind, ns, name string, spec map[string]any) {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvr.Group + "/" + gvr.Version, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns}, "spec": spec,
	}}
	if _, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create %s %s/%s: %v", kind, ns, name, err)
	}
}

func getFlux(ctx context.Context, t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// requestReconcile sets reconcile.fluxcd.io/requestedAt to a new value, as
// `flux reconcile` and ensign do, and returns the value.
func requestReconcile(ctx context.Context, t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, name string) string {
	t.Helper()
	token := time.Now().Format(time.RFC3339Nano)
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, requestedAtAnnotation, token)
	if _, err := dyn.Resource(gvr).Namespace(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("request reconcile of %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return token
}

// waitApplied waits until the Kustomization's lastAppliedRevision names sha
// and, if token is set, it has handled that reconcile request.
func waitApplied(ctx context.Context, t *testing.T, dyn dynamic.Interface, ns, name, sha, token string) {
	t.Helper()
	eventually(ctx, t, fmt.Sprintf("Kustomization %s/%s applies %s", ns, name, sha), func(ctx context.Context) (bool, error) {
		u, err := dyn.Resource(kustomizationGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		rev, _, _ := unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
		handled, _, _ := unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
		if rev == "main@sha1:"+sha && (token == "" || handled == token) {
			return true, nil
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		return false, fmt.Errorf("lastAppliedRevision %q, lastHandledReconcileAt %q, conditions %v", rev, handled, conds)
	})
}

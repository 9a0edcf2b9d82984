package promote

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/internal/scenario"
)

// A person promoting a version ensign rolled back lifts ensign's exclusion
// of its tag from Flux's image automation in the promotion commit (as the
// git CLI shows); Flux's default entry and the overlay's setter marker stay.
func TestPersonsPromotionLiftsImageExclusion(t *testing.T) {
	r := newRig(t, time.Now())
	ctx := context.Background()
	env := r.env
	ov := env.Production.Overlay + "/kustomization.yaml"
	base, err := env.File(ctx, ov)
	if err != nil {
		t.Fatal(err)
	}
	marker := `# {"$imagepolicy": "` + env.FluxNamespace + `:podinfo:tag"}`
	manifests := "clusters/production/image-automation.yaml"
	excluded := `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: podinfo
  namespace: ` + env.FluxNamespace + `
spec:
  exclusionList:
    - '^.*\.sig$'
    - '^6\.5\.1$' # ensign: excluded after failed canary production/x/podinfo at 2026-12-03T11:00:00Z
  image: ghcr.io/stefanprodan/podinfo
  interval: 5m
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: ` + env.FluxNamespace + `
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: 6.x
`
	if _, err := env.Commit(ctx, env.Dev, "Automate podinfo's image (6.5.1 excluded after its rollback)", map[string]string{
		ov:        regexp.MustCompile(`newTag: \S+ # .*`).ReplaceAllLiteralString(base, "newTag: 6.5.0 "+marker),
		manifests: excluded,
	}); err != nil {
		t.Fatal(err)
	}
	r.verify("6.5.1")
	out, err := r.service(nil).PromoteStage(ctx, Request{App: "podinfo", To: "production", Person: env.Dev.Name, Now: true})
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionMerged || len(out.Changes) != 2 || !strings.Contains(out.Changes[1].What, manifests) || out.Changes[1].Old != `^6\.5\.1$` {
		t.Fatalf("promotion %+v, want it merged with the exclusion lifted", out)
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	git("clone", "-q", env.Gitea.GitURL(env.Org, env.Repo, env.Dev), ".")
	want := strings.Replace(excluded, "    - '^6\\.5\\.1$' # ensign: excluded after failed canary production/x/podinfo at 2026-12-03T11:00:00Z\n", "", 1)
	if got := git("show", "HEAD:"+manifests); got != want {
		t.Fatalf("%s after the promotion:\n%s\nwant:\n%s", manifests, got, want)
	}
	if got := git("show", "HEAD:"+ov); !strings.Contains(got, "newTag: 6.5.1 "+marker) {
		t.Fatalf("overlay after the promotion:\n%s", got)
	}
}

// When the ImagePolicy lives in the cluster, ensign's exclusion of a
// rolled-back tag is in the cluster's ImageRepository (noted in its
// annotation); a person's promotion of that version removes exactly that
// entry once the promotion lands, and a person's own entry stays.
func TestPersonsPromotionLiftsClusterExclusion(t *testing.T) {
	r := newRig(t, time.Now())
	ctx := context.Background()
	env := r.env
	ns := env.FluxNamespace
	dyn := dynamic.NewForConfigOrDie(env.Kube.Config)
	for _, o := range []struct {
		gvr  schema.GroupVersionResource
		kind string
		spec map[string]any
	}{
		{cluster.ImageRepositoryGVR, "ImageRepository", map[string]any{"image": scenario.Image, "interval": "5m"}},
		{cluster.ImagePolicyGVR, "ImagePolicy", map[string]any{"imageRepositoryRef": map[string]any{"name": "podinfo"}, "policy": map[string]any{"semver": map[string]any{"range": "6.x"}}}},
	} {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": o.kind,
			"metadata": map[string]any{"name": "podinfo", "namespace": ns}, "spec": o.spec,
		}}
		if _, err := dyn.Resource(o.gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", o.kind, err)
		}
	}
	cs, err := env.Clusters()
	if err != nil {
		t.Fatal(err)
	}
	// As ensign's rollback of 6.5.1 left it, next to a person's own entry.
	repo, err := cs.ImageRepositoryOf(ctx, "production", ns, "podinfo")
	if err != nil {
		t.Fatal(err)
	}
	repo.Exclusions = []string{`^.*\.sig$`, `^6\.4\.0$`, `^6\.5\.1$`}
	repo.Notes = map[string]string{`^6\.5\.1$`: "excluded after failed canary production/x/podinfo at 2026-12-03T11:00:00Z"}
	if err := cs.SetImageExclusions(ctx, repo); err != nil {
		t.Fatal(err)
	}
	ov := env.Production.Overlay + "/kustomization.yaml"
	base, err := env.File(ctx, ov)
	if err != nil {
		t.Fatal(err)
	}
	marker := `# {"$imagepolicy": "` + ns + `:podinfo:tag"}`
	if _, err := env.Commit(ctx, env.Dev, "Automate podinfo's image", map[string]string{
		ov: regexp.MustCompile(`newTag: \S+ # .*`).ReplaceAllLiteralString(base, "newTag: 6.5.0 "+marker),
	}); err != nil {
		t.Fatal(err)
	}
	r.verify("6.5.1")
	out, err := r.service(nil).PromoteStage(ctx, Request{App: "podinfo", To: "production", Person: env.Dev.Name, Now: true})
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionMerged || len(out.ClusterLifted) != 1 || out.ClusterLifted[0].Tag != "6.5.1" {
		t.Fatalf("promotion %+v, want it merged and 6.5.1's exclusion lifted in the cluster", out)
	}
	after, err := cs.ImageRepositoryOf(ctx, "production", ns, "podinfo")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(after.Exclusions, " "); got != `^.*\.sig$ ^6\.4\.0$` || len(after.Notes) != 0 {
		t.Fatalf("ImageRepository after the promotion: exclusions %q, notes %v", got, after.Notes)
	}
}

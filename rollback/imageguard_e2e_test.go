package rollback

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/status"
)

const imageManifests = "clusters/production/image-automation.yaml"

// imagePolicy and imageRepository are Flux's image objects for podinfo in
// namespace ns, as a person writes them.
func imagePolicy(ns string) string {
	return `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: ` + ns + `
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: 6.x
`
}

func imageRepository(ns string) string {
	return `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: podinfo
  namespace: ` + ns + `
spec:
  image: ` + scenario.Image + `
  interval: 5m
`
}

var newTagLine = regexp.MustCompile(`newTag: \S+ # .*`)

// markedRig is the sample setup whose production overlay's newTag line
// carries the setter of ImagePolicy podinfo, brought to 6.5.1 by a
// person's merged pull request and applied by Flux. inRepo puts the image
// objects in the repository; otherwise they are created in the cluster.
func markedRig(t *testing.T, inRepo bool) *rig {
	t.Helper()
	ctx := context.Background()
	env, err := scenario.Setup(ctx, harness.Gitea(t), harness.Kube(t), scenario.Options{Prefix: harness.UniqueName("ig") + "-"})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := env.Forge()
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, env: env, forge: fc}
	ov := env.Production.Overlay + "/kustomization.yaml"
	base := r.fileAt(t, ov)
	marked := func(tag string) string {
		return newTagLine.ReplaceAllLiteralString(base, `newTag: `+tag+` # {"$imagepolicy": "`+env.FluxNamespace+`:podinfo:tag"}`)
	}
	files := map[string]string{ov: marked("6.5.0")}
	if inRepo {
		files[imageManifests] = "# podinfo's image automation\n" + imageRepository(env.FluxNamespace) + "---\n" + imagePolicy(env.FluxNamespace)
	} else {
		for _, m := range []string{imageRepository(env.FluxNamespace), imagePolicy(env.FluxNamespace)} {
			apply(t, env, m)
		}
	}
	if _, err := env.Commit(ctx, env.Dev, "Automate podinfo's image", files); err != nil {
		t.Fatal(err)
	}
	branch := "promote-marked-" + time.Now().Format("150405.000")
	if _, err := env.CommitOnBranch(ctx, env.Dev, branch, "Promote podinfo 6.5.1 to production", map[string]string{ov: marked("6.5.1")}); err != nil {
		t.Fatal(err)
	}
	r.change.PR = r.mergeByHand(t, branch)
	pr, err := fc.GetPullRequest(ctx, env.ForgeRepo(), r.change.PR)
	if err != nil {
		t.Fatal(err)
	}
	r.change.MergeSHA = pr.MergeCommitSHA
	if _, err := env.FluxApply(ctx, env.Production); err != nil {
		t.Fatal(err)
	}
	return r
}

// apply creates the object of a YAML manifest on the API server, which
// validates it against the image-reflector-controller's real CRDs.
func apply(t *testing.T, env *scenario.Env, manifest string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatal(err)
	}
	gvr := cluster.ImageRepositoryGVR
	if u.GetKind() == "ImagePolicy" {
		gvr = cluster.ImagePolicyGVR
	}
	dyn := dynamic.NewForConfigOrDie(env.Kube.Config)
	got, err := dyn.Resource(gvr).Namespace(u.GetNamespace()).Create(context.Background(), u, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s: %v", u.GetKind(), err)
	}
	return got
}

// gitCLI runs the real git in dir.
func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// A failed canary whose image line carries a Flux setter marker: the revert
// commit also excludes exactly the failed tag in the ImageRepository
// manifest (as the git CLI shows), keeping Flux's default entry, and the
// edited object is one the real CRD accepts.
func TestRevertExcludesFailedTagInRepository(t *testing.T) {
	r := markedRig(t, true)
	ctx := context.Background()
	out, err := r.service(nil, nil).Failed(ctx, "production", r.fail())
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionReverted || len(out.Excluded) != 1 || out.Excluded[0].Tag != "6.5.1" || out.Excluded[0].File != imageManifests {
		t.Fatalf("outcome %+v, want a revert that excludes 6.5.1 in %s", out, imageManifests)
	}
	dir := t.TempDir()
	gitCLI(t, dir, "clone", "-q", r.env.Gitea.GitURL(r.env.Org, r.env.Repo, r.env.Dev), ".")
	if head := strings.TrimSpace(gitCLI(t, dir, "rev-parse", "HEAD")); head != out.Commit {
		t.Fatalf("main is at %s, want the revert %s", head, out.Commit)
	}
	changed := strings.Fields(gitCLI(t, dir, "show", "--name-only", "--format=", "HEAD"))
	if len(changed) != 2 || changed[0] != r.env.Production.Overlay+"/kustomization.yaml" || changed[1] != imageManifests {
		t.Fatalf("the revert changes %v, want the overlay and %s", changed, imageManifests)
	}
	diff := gitCLI(t, dir, "show", "--format=", "HEAD", "--", imageManifests)
	want := "+  exclusionList:\n+    - '^.*\\.sig$'\n+    - '^6\\.5\\.1$' # ensign: excluded after failed canary production/" + r.env.Production.Namespace + "/podinfo at "
	if !strings.Contains(diff, want) || regexp.MustCompile(`(?m)^-[^-]`).MatchString(diff) {
		t.Fatalf("the revert's change of %s:\n%s\nwant it to add only:\n%s", imageManifests, diff, want)
	}
	file := gitCLI(t, dir, "show", "HEAD:"+imageManifests)
	repo := apply(t, r.env, strings.Split(strings.SplitN(file, "\n", 2)[1], "---\n")[0])
	list, _, _ := unstructured.NestedStringSlice(repo.Object, "spec", "exclusionList")
	if strings.Join(list, " ") != `^.*\.sig$ ^6\.5\.1$` {
		t.Fatalf("the API server stored exclusionList %q", list)
	}
	comments := r.rollbackComments()
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "excludes tag `6.5.1` in ImageRepository") {
		t.Fatalf("rollback comments %v, want one that names the exclusion", comments)
	}
	r.statusShowsExclusion(imageManifests)
}

// statusShowsExclusion checks that `ensign status` reports the exclusion
// of 6.5.1 for production, found in file ("" for the cluster).
func (r *rig) statusShowsExclusion(file string) {
	r.t.Helper()
	ctx := context.Background()
	ws, err := r.env.Workspace(ctx, r.t.TempDir(), nil)
	if err != nil {
		r.t.Fatal(err)
	}
	defer ws.Git.Close()
	cs, err := r.env.Clusters()
	if err != nil {
		r.t.Fatal(err)
	}
	rep, err := (&status.Reporter{Workspace: ws, Forge: r.forge, Clusters: cs, Bot: r.env.Bot.Name}).Build(ctx, "podinfo")
	if err != nil {
		r.t.Fatal(err)
	}
	for _, st := range rep.Apps[0].Stages {
		if st.Name == "production" && (len(st.Excluded) != 1 || st.Excluded[0].Tag != "6.5.1" || st.Excluded[0].File != file) {
			r.t.Fatalf("status of production shows exclusions %+v, want 6.5.1 in %q", st.Excluded, file)
		}
	}
}

// When the ImagePolicy is not in the repository, ensign patches the
// ImageRepository in the stage's cluster (the real API server, validating
// against the real CRD), notes it on the object, and says so.
func TestRevertExcludesFailedTagInCluster(t *testing.T) {
	r := markedRig(t, false)
	ctx := context.Background()
	out, err := r.service(nil, nil).Failed(ctx, "production", r.fail())
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionReverted || len(out.Excluded) != 0 || len(out.ClusterExcluded) != 1 || out.ClusterExcluded[0].Tag != "6.5.1" {
		t.Fatalf("outcome %+v, want a revert and 6.5.1 excluded in the cluster", out)
	}
	cs, err := r.env.Clusters()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := cs.ImageRepositoryOf(ctx, "production", r.env.FluxNamespace, "podinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(repo.Exclusions, " ") != `^.*\.sig$ ^6\.5\.1$` || !strings.HasPrefix(repo.Notes[`^6\.5\.1$`], "excluded after failed canary") {
		t.Fatalf("ImageRepository in the cluster: %+v", repo)
	}
	comments := r.rollbackComments()
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "ensign patched ImageRepository `"+r.env.FluxNamespace+"/podinfo` in cluster `production`") {
		t.Fatalf("rollback comments %v, want one that says the cluster was patched", comments)
	}
	r.statusShowsExclusion("")
	// Handling the failure again (a resync) changes nothing more.
	again, err := r.service(nil, nil).Failed(ctx, "production", r.fail())
	if err != nil || len(again.ClusterExcluded) != 1 {
		t.Fatalf("again: %+v, %v", again, err)
	}
	if after, _ := cs.ImageRepositoryOf(ctx, "production", r.env.FluxNamespace, "podinfo"); after.ResourceVersion != repo.ResourceVersion {
		t.Fatalf("the second handling wrote the ImageRepository again")
	}
}

package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/util"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/ensignbot/ensign/harness"
)

// FleetOptions shape a large sample for memory benchmarks: many apps, each
// with a staging canary (cluster "staging") and a production canary
// (cluster "production"), spread over many namespaces.
type FleetOptions struct {
	// Prefix makes names unique on shared servers.
	Prefix string
	// Namespaces is the total number of namespaces, half per cluster
	// (default 100).
	Namespaces int
	// PerNamespace is the number of canaries in each namespace (default 10).
	PerNamespace int
	// Live is how many apps get target and primary deployments in both
	// stages, so their canaries' final phases can be acted on (default 20).
	Live int
}

// FleetApp is one app of a fleet. Its canaries and deployments are named
// after the app.
type FleetApp struct {
	Name                string
	Staging, Production Stage
}

// Fleet is a large GitOps setup on real servers: one repository whose
// policy names every app, and a canary per app and stage.
type Fleet struct {
	// Env holds the repository, the users and the clients; its Staging and
	// Production stages are unset.
	*Env
	Apps []FleetApp

	live int
}

// SetupFleet creates the users, the repository (a policy naming every
// canary, an overlay pair per app) and the cluster objects.
func SetupFleet(ctx context.Context, g *harness.GiteaServer, k *harness.KubeServer, opts FleetOptions) (*Fleet, error) {
	if opts.Namespaces <= 0 {
		opts.Namespaces = 100
	}
	if opts.PerNamespace <= 0 {
		opts.PerNamespace = 10
	}
	if opts.Live <= 0 {
		opts.Live = 20
	}
	if opts.Namespaces%2 != 0 {
		return nil, fmt.Errorf("fleet: want an even number of namespaces (half per cluster), got %d", opts.Namespaces)
	}
	p := opts.Prefix
	f := &Fleet{Env: &Env{
		Gitea: g, Kube: k, Org: p + "fleet", Repo: "gitops", FluxNamespace: p + "flux-system",
		kube:    kubernetes.NewForConfigOrDie(k.Config),
		dyn:     dynamic.NewForConfigOrDie(k.Config),
		flagger: flaggerclient.NewForConfigOrDie(k.Config),
	}}
	half := opts.Namespaces / 2
	apps := half * opts.PerNamespace
	if opts.Live > apps {
		opts.Live = apps
	}
	f.live = opts.Live
	for i := range apps {
		name := fmt.Sprintf("app-%04d", i)
		ns := i % half
		f.Apps = append(f.Apps, FleetApp{
			Name:       name,
			Staging:    Stage{Name: "staging", Cluster: "staging", Namespace: fmt.Sprintf("%sstg-%03d", p, ns), Overlay: "apps/" + name + "/staging"},
			Production: Stage{Name: "production", Cluster: "production", Namespace: fmt.Sprintf("%sprd-%03d", p, ns), Overlay: "apps/" + name + "/production"},
		})
	}
	if err := f.setupGitea(ctx, opts); err != nil {
		return nil, err
	}
	if err := f.setupCluster(ctx, opts); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *Fleet) setupGitea(ctx context.Context, opts FleetOptions) error {
	g := f.Gitea
	if err := g.CreateOrg(ctx, f.Org); err != nil {
		return err
	}
	if _, err := g.CreateRepo(ctx, f.Org, f.Repo); err != nil {
		return err
	}
	for _, x := range []struct {
		u    *harness.GiteaUser
		name string
		perm string
	}{{&f.Bot, "ensign", "admin"}, {&f.CI, "ci", "write"}, {&f.Dev, "dev", "write"}} {
		u, err := g.CreateUser(ctx, opts.Prefix+x.name)
		if err != nil {
			return err
		}
		*x.u = u
		if err := g.AddCollaborator(ctx, f.Org, f.Repo, u.Name, x.perm); err != nil {
			return err
		}
	}
	files := map[string]string{".ensign.yaml": f.policy()}
	for _, a := range f.Apps {
		files["apps/"+a.Name+"/base/kustomization.yaml"] = "resources:\n  - deployment.yaml\n"
		files["apps/"+a.Name+"/base/deployment.yaml"] = strings.ReplaceAll(deploymentYAML, "podinfo", a.Name)
		for _, s := range []Stage{a.Staging, a.Production} {
			files[s.Overlay+"/kustomization.yaml"] = fleetOverlay(s, "1.0.0")
		}
	}
	_, err := f.commitAll(ctx, f.Dev, fmt.Sprintf("Add %d apps with staging and production overlays", len(f.Apps)), files)
	return err
}

// policy names every app's canaries; production merges only in a window
// that never opens during a benchmark (January 1st, 00:00 UTC, one minute),
// so promotions queue instead of merging.
func (f *Fleet) policy() string {
	var b strings.Builder
	b.WriteString(`apiVersion: ensign.dev/v1alpha1
identity:
  name: ensign
  email: ensign@example.com
windows:
  - name: new-year
    type: allow
    schedule: "0 0 1 1 *"
    duration: 1m
    timezone: UTC
apps:
`)
	for _, a := range f.Apps {
		fmt.Fprintf(&b, `  - name: %s
    stages:
      - name: staging
        overlay: %s
        canary: {cluster: staging, namespace: %s, name: %s}
      - name: production
        overlay: %s
        canary: {cluster: production, namespace: %s, name: %s}
        autoMerge: true
        windows: [new-year]
`, a.Name, a.Staging.Overlay, a.Staging.Namespace, a.Name, a.Production.Overlay, a.Production.Namespace, a.Name)
	}
	b.WriteString("rollback:\n  mode: push\n")
	return b.String()
}

func fleetOverlay(s Stage, tag string) string {
	return fmt.Sprintf(`# %s overlay
namespace: %s
resources:
  - ../base
images:
  - name: %s
    newTag: %s
`, s.Name, s.Namespace, Image, tag)
}

// setupCluster creates the namespaces and a canary per app and stage (in
// phase Initialized), and deployments for the live apps.
func (f *Fleet) setupCluster(ctx context.Context, opts FleetOptions) error {
	seen := map[string]bool{}
	for _, a := range f.Apps {
		for _, ns := range []string{a.Staging.Namespace, a.Production.Namespace} {
			if seen[ns] {
				continue
			}
			seen[ns] = true
			_, err := f.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create namespace %s: %w", ns, err)
			}
		}
	}
	img := Image + ":1.0.0"
	return parallel(len(f.Apps), 8, func(i int) error {
		a := f.Apps[i]
		for _, s := range []Stage{a.Staging, a.Production} {
			if i < opts.Live {
				for _, name := range []string{a.Name, a.Name + "-primary"} {
					if err := f.createDeployment(ctx, s.Namespace, name, img); err != nil {
						return err
					}
				}
			}
			c := &flaggerv1.Canary{
				ObjectMeta: metav1.ObjectMeta{Name: a.Name, Namespace: s.Namespace},
				Spec: flaggerv1.CanarySpec{
					TargetRef: flaggerv1.LocalObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: a.Name},
					Service:   flaggerv1.CanaryService{Port: 9898},
					Analysis:  &flaggerv1.CanaryAnalysis{Interval: "1m", Threshold: 5, MaxWeight: 50, StepWeight: 10},
				},
			}
			if _, err := f.flagger.FlaggerV1beta1().Canaries(s.Namespace).Create(ctx, c, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create canary %s/%s: %w", s.Namespace, a.Name, err)
			}
			if err := f.SetPhase(ctx, a, s, flaggerv1.CanaryPhaseInitialized); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetPhase moves an app's canary in stage s to phase, as Flagger writes it.
func (f *Fleet) SetPhase(ctx context.Context, a FleetApp, s Stage, phase flaggerv1.CanaryPhase) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c, err := f.flagger.FlaggerV1beta1().Canaries(s.Namespace).Get(ctx, a.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		c.Status.Phase = phase
		c.Status.LastTransitionTime = metav1.Now()
		_, err = f.flagger.FlaggerV1beta1().Canaries(s.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{})
		return err
	})
}

// PrepareSuccess makes a live app's staging stage look verified at tag:
// CI pushed tag to the staging overlay, Flux applied it, Flagger promoted
// it to the primary. The canary's phase is left as it is; Succeed ends it.
func (f *Fleet) PrepareSuccess(ctx context.Context, a FleetApp, tag string) error {
	if _, err := f.commitAll(ctx, f.CI, "Release "+a.Name+" "+tag+" to staging", map[string]string{
		a.Staging.Overlay + "/kustomization.yaml": fleetOverlay(a.Staging, tag),
	}); err != nil {
		return err
	}
	for _, d := range []string{a.Name, a.Name + "-primary"} {
		if err := f.setImage(ctx, a.Staging.Namespace, d, Image+":"+tag); err != nil {
			return err
		}
	}
	return nil
}

// PrepareFailure makes a live app's production stage run tag on its target
// only: a person pushed tag straight to the production overlay and Flux
// applied it; the primary keeps the old version. Fail ends the analysis.
func (f *Fleet) PrepareFailure(ctx context.Context, a FleetApp, tag string) error {
	if _, err := f.commitAll(ctx, f.Dev, "Hotfix "+a.Name+" "+tag+" straight to production", map[string]string{
		a.Production.Overlay + "/kustomization.yaml": fleetOverlay(a.Production, tag),
	}); err != nil {
		return err
	}
	return f.setImage(ctx, a.Production.Namespace, a.Name, Image+":"+tag)
}

// PrepareFailureByPR is PrepareFailure through a pull request: a person
// opens one that pins tag in the production overlay and merges it, so
// ensign's rollback comments on it. It returns the pull request's number.
func (f *Fleet) PrepareFailureByPR(ctx context.Context, a FleetApp, tag string) (int64, error) {
	branch := fmt.Sprintf("hotfix-%s-%s-%d", a.Name, tag, time.Now().UnixNano())
	pr, err := f.mergeByHand(ctx, branch, "Hotfix "+a.Name+" "+tag+" to production", map[string]string{
		a.Production.Overlay + "/kustomization.yaml": fleetOverlay(a.Production, tag),
	}, time.Minute)
	if err != nil {
		return 0, err
	}
	return pr.Index, f.setImage(ctx, a.Production.Namespace, a.Name, Image+":"+tag)
}

// Fail ends a live app's production analysis as failed (warning event, then
// phase Failed).
func (f *Fleet) Fail(ctx context.Context, a FleetApp) error {
	if err := f.warn(ctx, a.Production.Namespace, a.Name); err != nil {
		return err
	}
	_, err := f.finalPhase(ctx, a.Production.Namespace, a.Name, flaggerv1.CanaryPhaseFailed, 5)
	return err
}

// Succeed ends a live app's staging analysis as succeeded.
func (f *Fleet) Succeed(ctx context.Context, a FleetApp) error {
	_, err := f.finalPhase(ctx, a.Staging.Namespace, a.Name, flaggerv1.CanaryPhaseSucceeded, 0)
	return err
}

// LiveApps splits the live apps (FleetOptions.Live) into those whose
// staging canary will succeed and those whose production canary will fail.
func (f *Fleet) LiveApps() (promoting, failing []FleetApp) {
	live := f.Apps[:f.live]
	return live[:len(live)/2], live[len(live)/2:]
}

// PrepareFinals readies every live app for its final phase: verified
// versions in staging for the promoting half, failing versions in
// production for the other half, and those canaries Progressing.
func (f *Fleet) PrepareFinals(ctx context.Context, tag string) error {
	promoting, failing := f.LiveApps()
	for _, a := range promoting {
		if err := f.PrepareSuccess(ctx, a, tag); err != nil {
			return err
		}
		if err := f.SetPhase(ctx, a, a.Staging, flaggerv1.CanaryPhaseProgressing); err != nil {
			return err
		}
	}
	for _, a := range failing {
		if err := f.PrepareFailure(ctx, a, tag); err != nil {
			return err
		}
		if err := f.SetPhase(ctx, a, a.Production, flaggerv1.CanaryPhaseProgressing); err != nil {
			return err
		}
	}
	return nil
}

// Finals ends every live app's analysis at once (8 writers): Succeeded in
// staging for the promoting half, Failed in production for the other.
func (f *Fleet) Finals(ctx context.Context) error {
	promoting, failing := f.LiveApps()
	return parallel(len(promoting)+len(failing), 8, func(i int) error {
		if i < len(promoting) {
			return f.Succeed(ctx, promoting[i])
		}
		return f.Fail(ctx, failing[i-len(promoting)])
	})
}

// Burst moves n canaries of apps that are not live to Progressing at once
// (8 writers), both stages of an app in turn, so that every namespace gets
// some. It returns how many it moved.
func (f *Fleet) Burst(ctx context.Context, n int, phase flaggerv1.CanaryPhase) (int, error) {
	type target struct {
		a FleetApp
		s Stage
	}
	var ts []target
	for _, a := range f.Apps[f.live:] {
		for _, s := range []Stage{a.Staging, a.Production} {
			if len(ts) < n {
				ts = append(ts, target{a, s})
			}
		}
	}
	return len(ts), parallel(len(ts), 8, func(i int) error { return f.SetPhase(ctx, ts[i].a, ts[i].s, phase) })
}

// EnsignEventAt returns when ensign first recorded an event with the given
// reason on an app's canary in stage s (whole seconds, as events keep
// time), and false while there is none.
func (f *Fleet) EnsignEventAt(ctx context.Context, a FleetApp, s Stage, reason string) (time.Time, bool, error) {
	list, err := f.kube.CoreV1().Events(s.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return time.Time{}, false, err
	}
	var first time.Time
	for _, ev := range list.Items {
		if ev.Source.Component == "ensign" && ev.InvolvedObject.Kind == "Canary" && ev.InvolvedObject.Name == a.Name && ev.Reason == reason {
			if t := ev.FirstTimestamp.Time; first.IsZero() || t.Before(first) {
				first = t
			}
		}
	}
	return first, !first.IsZero(), nil
}

// commitAll is Env.Commit for a big tree: it stages all files with one
// worktree status instead of one per file (go-git's Add computes the status
// of the whole worktree each time), so thousands of files take seconds.
func (f *Fleet) commitAll(ctx context.Context, user harness.GiteaUser, msg string, files map[string]string) (string, error) {
	shas, err := f.commitEach(ctx, user, []fleetCommit{{msg, files}})
	if err != nil {
		return "", err
	}
	return shas[0], nil
}

// fleetCommit is one commit of commitEach.
type fleetCommit struct {
	msg   string
	files map[string]string
}

// commitEach makes the commits one on top of the other in one clone and
// pushes them to main in one push, as a person pushing a branch of several
// commits does; it returns their hashes in order.
func (f *Fleet) commitEach(ctx context.Context, user harness.GiteaUser, commits []fleetCommit) ([]string, error) {
	auth := &githttp.BasicAuth{Username: user.Name, Password: user.Token}
	url := f.Gitea.URL + f.Org + "/" + f.Repo + ".git"
	repo, err := git.CloneContext(ctx, memory.NewStorage(), memfs.New(), &git.CloneOptions{
		URL: url, Auth: auth, ReferenceName: plumbing.NewBranchReferenceName("main"), SingleBranch: true, Depth: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", url, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, err
	}
	var shas []string
	for _, c := range commits {
		for name, content := range c.files {
			if err := util.WriteFile(wt.Filesystem, name, []byte(content), 0o644); err != nil {
				return nil, err
			}
		}
		if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
			return nil, err
		}
		sig := &object.Signature{Name: user.Name, Email: user.Name + "@example.com", When: time.Now()}
		sha, err := wt.Commit(c.msg, &git.CommitOptions{Author: sig, Committer: sig})
		if err != nil {
			return nil, err
		}
		shas = append(shas, sha.String())
	}
	if err := repo.PushContext(ctx, &git.PushOptions{Auth: auth, RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/main"}}); err != nil {
		return nil, fmt.Errorf("push to main: %w", err)
	}
	last := shas[len(shas)-1]
	err = Wait(ctx, 30*time.Second, "gitea to show the push", func() (bool, error) {
		tip, err := f.Tip(ctx)
		return tip == last, err
	})
	return shas, err
}

// parallel runs fn(0..n-1) on at most width goroutines and returns the
// errors joined.
func parallel(n, width int, fn func(i int) error) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan int)
	for range width {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

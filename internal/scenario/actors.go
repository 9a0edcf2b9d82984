package scenario

import (
	"context"
	"fmt"
	"regexp"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/go-git/go-billy/v5/memfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"

	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/harness"
)

// Commit pushes a commit of files to main as user, like a person or CI
// would, and waits until Gitea shows it. It returns the commit id.
func (e *Env) Commit(ctx context.Context, user harness.GiteaUser, msg string, files map[string]string) (string, error) {
	return e.commit(ctx, user, "main", msg, files)
}

// CommitTo is Commit onto another existing branch: a person pushing to a
// pull request's branch.
func (e *Env) CommitTo(ctx context.Context, user harness.GiteaUser, branch, msg string, files map[string]string) (string, error) {
	return e.commit(ctx, user, branch, msg, files)
}

func (e *Env) commit(ctx context.Context, user harness.GiteaUser, branch, msg string, files map[string]string) (string, error) {
	return e.commits(ctx, user, branch, []change{{msg, files}})
}

// change is one commit: a message and the files it writes.
type change struct {
	msg   string
	files map[string]string
}

// Busywork pushes n commits to main in one push, each rewriting notes.md,
// as a busy team's unrelated work would, and returns the new tip.
func (e *Env) Busywork(ctx context.Context, n int) (string, error) {
	cs := make([]change, n)
	for i := range cs {
		cs[i] = change{fmt.Sprintf("Notes, take %d", i+1), map[string]string{"notes.md": fmt.Sprintf("take %d\n", i+1)}}
	}
	return e.commits(ctx, e.Dev, "main", cs)
}

func (e *Env) commits(ctx context.Context, user harness.GiteaUser, branch string, changes []change) (string, error) {
	auth := &githttp.BasicAuth{Username: user.Name, Password: user.Token}
	url := e.Gitea.URL + e.Org + "/" + e.Repo + ".git"
	repo, err := git.CloneContext(ctx, memory.NewStorage(), memfs.New(), &git.CloneOptions{
		URL: url, Auth: auth, ReferenceName: plumbing.NewBranchReferenceName(branch), SingleBranch: true, Depth: 1,
	})
	if err != nil {
		return "", fmt.Errorf("clone %s: %w", url, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	var sha plumbing.Hash
	for _, ch := range changes {
		for name, content := range ch.files {
			f, err := wt.Filesystem.Create(name)
			if err != nil {
				return "", err
			}
			if _, err := f.Write([]byte(content)); err != nil {
				return "", err
			}
			f.Close()
			if _, err := wt.Add(name); err != nil {
				return "", err
			}
		}
		sig := &object.Signature{Name: user.Name, Email: user.Name + "@example.com", When: time.Now()}
		if sha, err = wt.Commit(ch.msg, &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
			return "", err
		}
	}
	ref := config.RefSpec("refs/heads/" + branch + ":refs/heads/" + branch)
	if err := repo.PushContext(ctx, &git.PushOptions{Auth: auth, RefSpecs: []config.RefSpec{ref}}); err != nil {
		return "", fmt.Errorf("push to %s: %w", branch, err)
	}
	err = Wait(ctx, 30*time.Second, "gitea to show the push", func() (bool, error) {
		tip, err := e.BranchTip(ctx, branch)
		return tip == sha.String(), err
	})
	return sha.String(), err
}

// Tip returns the commit at the tip of main, as Gitea shows it.
func (e *Env) Tip(ctx context.Context) (string, error) { return e.BranchTip(ctx, "main") }

// BranchTip returns the commit at the tip of a branch, as Gitea shows it.
func (e *Env) BranchTip(ctx context.Context, branch string) (string, error) {
	c, err := e.Gitea.Client(ctx, e.Dev.Token)
	if err != nil {
		return "", err
	}
	b, _, err := c.GetRepoBranch(e.Org, e.Repo, branch)
	if err != nil {
		return "", err
	}
	return b.Commit.ID, nil
}

// File reads a file at the tip of main through Gitea's API.
func (e *Env) File(ctx context.Context, path string) (string, error) {
	c, err := e.Gitea.Client(ctx, e.Dev.Token)
	if err != nil {
		return "", err
	}
	data, _, err := c.GetFile(e.Org, e.Repo, "main", path)
	return string(data), err
}

var newTag = regexp.MustCompile(`(?m)^\s*newTag:\s*"?([^"\s#]+)`)

// PinnedTag returns the podinfo tag a stage's overlay pins at main's tip.
func (e *Env) PinnedTag(ctx context.Context, s Stage) (string, error) {
	data, err := e.File(ctx, s.Overlay+"/kustomization.yaml")
	if err != nil {
		return "", err
	}
	m := newTag.FindStringSubmatch(data)
	if m == nil {
		return "", fmt.Errorf("no newTag in %s/kustomization.yaml", s.Overlay)
	}
	return m[1], nil
}

// ReleaseToStaging is CI pushing a new version into the staging overlay.
func (e *Env) ReleaseToStaging(ctx context.Context, tag string) (string, error) {
	return e.Commit(ctx, e.CI, "Release podinfo "+tag+" to staging", map[string]string{
		e.Staging.Overlay + "/kustomization.yaml": overlayYAML(e.Staging, tag),
	})
}

// FluxApply plays Flux: it applies what the stage's overlay pins at main's
// tip to the canary's target deployment and records the applied revision.
// It returns the tag applied.
func (e *Env) FluxApply(ctx context.Context, s Stage) (string, error) {
	tip, err := e.Tip(ctx)
	if err != nil {
		return "", err
	}
	tag, err := e.PinnedTag(ctx, s)
	if err != nil {
		return "", err
	}
	if err := e.setImage(ctx, s.Namespace, "podinfo", Image+":"+tag); err != nil {
		return "", err
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := e.dyn.Resource(flux.KustomizationGVR).Namespace(e.FluxNamespace).Get(ctx, "podinfo-"+s.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		_ = unstructured.SetNestedField(u.Object, "main@sha1:"+tip, "status", "lastAppliedRevision")
		_, err = e.dyn.Resource(flux.KustomizationGVR).Namespace(e.FluxNamespace).UpdateStatus(ctx, u, metav1.UpdateOptions{})
		return err
	})
	return tag, err
}

func (e *Env) setImage(ctx context.Context, ns, name, image string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := e.kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		d.Spec.Template.Spec.Containers[0].Image = image
		_, err = e.kube.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
		return err
	})
}

// Image returns the image a stage's deployment ("podinfo" or
// "podinfo-primary") runs.
func (e *Env) Image(ctx context.Context, s Stage, deployment string) (string, error) {
	d, err := e.kube.AppsV1().Deployments(s.Namespace).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return d.Spec.Template.Spec.Containers[0].Image, nil
}

// SetPhase moves the stage's canary to phase, as Flagger writes it.
func (e *Env) SetPhase(ctx context.Context, s Stage, phase flaggerv1.CanaryPhase, failedChecks int) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c, err := e.flagger.FlaggerV1beta1().Canaries(s.Namespace).Get(ctx, "podinfo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		c.Status.Phase = phase
		c.Status.FailedChecks = failedChecks
		c.Status.LastTransitionTime = metav1.Now()
		if phase == flaggerv1.CanaryPhaseProgressing {
			c.Status.Iterations, c.Status.CanaryWeight = 0, 10
		}
		if phase == flaggerv1.CanaryPhaseSucceeded {
			c.Status.Iterations, c.Status.CanaryWeight = 5, 0
		}
		_, err = e.flagger.FlaggerV1beta1().Canaries(s.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{})
		return err
	})
}

// Analyse plays Flagger's analysis of what the stage's target runs: the
// canary goes Progressing, then Succeeded (the primary gets the target's
// image) or Failed (traffic goes back to the primary, which keeps its image;
// Flagger records a warning event).
func (e *Env) Analyse(ctx context.Context, s Stage, succeed bool) error {
	if err := e.SetPhase(ctx, s, flaggerv1.CanaryPhaseProgressing, 0); err != nil {
		return err
	}
	if succeed {
		img, err := e.Image(ctx, s, "podinfo")
		if err != nil {
			return err
		}
		if err := e.setImage(ctx, s.Namespace, "podinfo-primary", img); err != nil {
			return err
		}
		return e.SetPhase(ctx, s, flaggerv1.CanaryPhaseSucceeded, 0)
	}
	c, err := e.flagger.FlaggerV1beta1().Canaries(s.Namespace).Get(ctx, "podinfo", metav1.GetOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	_, err = e.kube.CoreV1().Events(s.Namespace).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "podinfo.", Namespace: s.Namespace},
		InvolvedObject: corev1.ObjectReference{APIVersion: "flagger.app/v1beta1", Kind: "Canary", Namespace: s.Namespace, Name: "podinfo", UID: c.UID},
		Type:           corev1.EventTypeWarning, Reason: "Synced",
		Message: "Halt podinfo advancement request success rate 61.20% < 99%",
		Source:  corev1.EventSource{Component: "flagger"}, FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	return e.SetPhase(ctx, s, flaggerv1.CanaryPhaseFailed, 5)
}

// Annotation returns an annotation of a Flux object ("Kustomization" or
// "GitRepository").
func (e *Env) Annotation(ctx context.Context, kind, name, key string) (string, error) {
	gvr := flux.KustomizationGVR
	if kind == "GitRepository" {
		gvr = flux.GitRepositoryGVR
	}
	u, err := e.dyn.Resource(gvr).Namespace(e.FluxNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return u.GetAnnotations()[key], nil
}

// CanaryEvents returns the reasons and messages of the events ensign
// recorded on a stage's canary.
func (e *Env) CanaryEvents(ctx context.Context, s Stage) ([]corev1.Event, error) {
	list, err := e.kube.CoreV1().Events(s.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []corev1.Event
	for _, ev := range list.Items {
		if ev.Source.Component == "ensign" && ev.InvolvedObject.Kind == "Canary" {
			out = append(out, ev)
		}
	}
	return out, nil
}

package scenario

import (
	"context"
	"fmt"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// This file holds what ensign's benchmarks (cmd/ensign-bench) need beyond
// the story: steps that end exactly at the API server write a measurement
// starts from.

// PushVersion is a person pushing tag straight into a stage's overlay on
// main, without a pull request (a hotfix). It waits until Gitea shows the
// push and returns the commit id.
func (e *Env) PushVersion(ctx context.Context, s Stage, tag string) (string, error) {
	return e.Commit(ctx, e.Dev, "Hotfix: podinfo "+tag+" straight to "+s.Name, map[string]string{
		s.Overlay + "/kustomization.yaml": overlayYAML(s, tag),
	})
}

// StartAnalysis moves the stage's canary to Progressing, as Flagger does
// when it sees a new revision of the target.
func (e *Env) StartAnalysis(ctx context.Context, s Stage) error {
	return e.SetPhase(ctx, s, flaggerv1.CanaryPhaseProgressing, 0)
}

// FinishAnalysis ends the analysis StartAnalysis began, like Analyse does
// (on success the primary gets the target's image first; on failure
// Flagger's warning event is recorded first), and returns the time taken
// right before the UpdateStatus call that writes the final phase: the start
// of ensign's reaction.
func (e *Env) FinishAnalysis(ctx context.Context, s Stage, succeed bool) (time.Time, error) {
	phase, failed := flaggerv1.CanaryPhaseFailed, 5
	if succeed {
		phase, failed = flaggerv1.CanaryPhaseSucceeded, 0
		img, err := e.Image(ctx, s, "podinfo")
		if err != nil {
			return time.Time{}, err
		}
		if err := e.setImage(ctx, s.Namespace, "podinfo-primary", img); err != nil {
			return time.Time{}, err
		}
	} else if err := e.warn(ctx, s.Namespace, "podinfo"); err != nil {
		return time.Time{}, err
	}
	return e.finalPhase(ctx, s.Namespace, "podinfo", phase, failed)
}

// warn records Flagger's warning event for a failed analysis of a canary.
func (e *Env) warn(ctx context.Context, ns, name string) error {
	c, err := e.flagger.FlaggerV1beta1().Canaries(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	_, err = e.kube.CoreV1().Events(ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: name + ".", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{APIVersion: "flagger.app/v1beta1", Kind: "Canary", Namespace: ns, Name: name, UID: c.UID},
		Type:           corev1.EventTypeWarning, Reason: "Synced",
		Message: "Halt " + name + " advancement request success rate 61.20% < 99%",
		Source:  corev1.EventSource{Component: "flagger"}, FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}, metav1.CreateOptions{})
	return err
}

// finalPhase writes a final phase with one Get and one UpdateStatus and
// returns the time right before the UpdateStatus that succeeded.
func (e *Env) finalPhase(ctx context.Context, ns, name string, phase flaggerv1.CanaryPhase, failedChecks int) (time.Time, error) {
	for attempt := 0; attempt < 5; attempt++ {
		c, err := e.flagger.FlaggerV1beta1().Canaries(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return time.Time{}, err
		}
		c.Status.Phase = phase
		c.Status.FailedChecks = failedChecks
		c.Status.LastTransitionTime = metav1.Now()
		if phase == flaggerv1.CanaryPhaseSucceeded {
			c.Status.Iterations, c.Status.CanaryWeight = 5, 0
		}
		start := time.Now()
		_, err = e.flagger.FlaggerV1beta1().Canaries(ns).UpdateStatus(ctx, c, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		return start, err
	}
	return time.Time{}, fmt.Errorf("set canary %s/%s to %s: conflicts on every attempt", ns, name, phase)
}

// EnsignEvents counts the events ensign recorded on a stage's canary with
// the given reason.
func (e *Env) EnsignEvents(ctx context.Context, s Stage, reason string) (int, error) {
	evs, err := e.CanaryEvents(ctx, s)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ev := range evs {
		if ev.Reason == reason {
			n++
		}
	}
	return n, nil
}

package canary

import (
	"context"
	"testing"
	"time"

	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ensignbot/ensign/harness"
)

func TestInspectorReadsTargetAndEvents(t *testing.T) {
	k := harness.Kube(t)
	ctx := context.Background()
	kc := kubernetes.NewForConfigOrDie(k.Config)
	fc := flaggerclient.NewForConfigOrDie(k.Config)
	ns := newNamespace(t, kc)
	labels := map[string]string{"app": "podinfo"}
	_, err := kc.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "migrate", Image: "ghcr.io/acme/migrate:1.2.0"}},
					Containers: []corev1.Container{
						{Name: "app", Image: "ghcr.io/stefanprodan/podinfo:6.5.1"},
						{Name: "sidecar", Image: "envoyproxy/envoy@sha256:" + sha64("a")},
					},
				},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	primary := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo-primary"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "podinfo-primary"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "podinfo-primary"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/stefanprodan/podinfo:6.5.0"}}},
			},
		},
	}
	if _, err := kc.AppsV1().Deployments(ns).Create(ctx, primary, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := createCanary(t, fc, ns, "podinfo", "")
	in := Inspector{Client: kc}
	prim, err := in.PrimaryImages(ctx, c)
	if err != nil || len(prim) != 1 || prim[0] != (Container{"app", "ghcr.io/stefanprodan/podinfo:6.5.0"}) {
		t.Fatalf("PrimaryImages = %v, %v; want the primary deployment's app container", prim, err)
	}

	got, err := in.TargetImages(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []Container{
		{"migrate", "ghcr.io/acme/migrate:1.2.0"},
		{"app", "ghcr.io/stefanprodan/podinfo:6.5.1"},
		{"sidecar", "envoyproxy/envoy@sha256:" + sha64("a")},
	}
	if len(got) != len(want) {
		t.Fatalf("TargetImages = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("TargetImages[%d] = %v, want %v", i, got[i], want[i])
		}
	}

	missing := c.DeepCopy()
	missing.Spec.TargetRef.Name = "nope"
	if _, err := in.TargetImages(ctx, missing); err == nil {
		t.Fatal("TargetImages of a missing deployment: want an error")
	}
	svc := c.DeepCopy()
	svc.Spec.TargetRef.Kind = "Service"
	if _, err := in.TargetImages(ctx, svc); err == nil {
		t.Fatal("TargetImages of an unsupported kind: want an error")
	}

	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i, reason := range []string{"Synced", "Halted", "Rollback"} {
		n := Note{Type: corev1.EventTypeWarning, Reason: reason, Message: "check " + reason, Key: "k" + reason}
		if err := in.RecordEvent(ctx, c, n, base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// The same key again records nothing.
	if err := in.RecordEvent(ctx, c, Note{Type: corev1.EventTypeWarning, Reason: "Halted", Message: "again", Key: "kHalted"}, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := in.RecordEvent(ctx, c, Note{Type: corev1.EventTypeNormal, Reason: "Promoted", Message: "fine", Key: "promoted"}, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	events, err := in.WarningEvents(ctx, c, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Reason != "Rollback" || events[1].Reason != "Halted" {
		t.Fatalf("WarningEvents(limit 2) = %+v; want Rollback then Halted (newest warnings first, Normal excluded)", events)
	}
	all, err := in.WarningEvents(ctx, c, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("WarningEvents(no limit) = %+v, %v; want 3 (the repeated key recorded once)", all, err)
	}
}

func sha64(c string) string {
	s := ""
	for len(s) < 64 {
		s += c
	}
	return s
}

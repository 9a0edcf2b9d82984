package cluster

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ensignbot/ensign/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

func TestWorkloadImagesAndEvents(t *testing.T) {
	k := harness.Kube(t)
	ctx := context.Background()
	kc := kubernetes.NewForConfigOrDie(k.Config)
	fc := flaggerclient.NewForConfigOrDie(k.Config)
	ns := harness.UniqueName("cluster-")
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cl, err := FromConfig("default", k.Config)
	if err != nil {
		t.Fatal(err)
	}
	in := NewSet(cl)
	labels := map[string]string{"app": "podinfo"}
	_, err = kc.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
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
	c, err := fc.FlaggerV1beta1().Canaries(ns).Create(ctx, &flaggerv1.Canary{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: ns},
		Spec: flaggerv1.CanarySpec{
			TargetRef: flaggerv1.LocalObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "podinfo"},
			Service:   flaggerv1.CanaryService{Port: 9898},
			Analysis:  &flaggerv1.CanaryAnalysis{Interval: "1m", Threshold: 5, MaxWeight: 50, StepWeight: 10},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.PrimaryImages(ctx, "elsewhere", c); !errors.Is(err, ErrUnknownCluster) {
		t.Fatalf("a cluster without a kubeconfig: %v, want ErrUnknownCluster", err)
	}
	prim, err := in.PrimaryImages(ctx, "default", c)
	if err != nil || len(prim) != 1 || prim[0] != (Container{"app", "ghcr.io/stefanprodan/podinfo:6.5.0"}) {
		t.Fatalf("PrimaryImages = %v, %v; want the primary deployment's app container", prim, err)
	}

	got, err := in.TargetImages(ctx, "default", c)
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
	if _, err := in.TargetImages(ctx, "default", missing); err == nil {
		t.Fatal("TargetImages of a missing deployment: want an error")
	}
	svc := c.DeepCopy()
	svc.Spec.TargetRef.Kind = "Service"
	if _, err := in.TargetImages(ctx, "default", svc); !errors.Is(err, ErrUnsupportedTarget) {
		t.Fatalf("TargetImages of an unsupported kind: %v, want ErrUnsupportedTarget", err)
	}

	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i, reason := range []string{"Synced", "Halted", "Rollback"} {
		n := Note{Type: corev1.EventTypeWarning, Reason: reason, Message: "check " + reason, Key: "k" + reason}
		if err := in.RecordEvent(ctx, "default", c, n, base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// The same key again records nothing.
	if err := in.RecordEvent(ctx, "default", c, Note{Type: corev1.EventTypeWarning, Reason: "Halted", Message: "again", Key: "kHalted"}, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := in.RecordEvent(ctx, "default", c, Note{Type: corev1.EventTypeNormal, Reason: "Promoted", Message: "fine", Key: "promoted"}, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	events, err := in.WarningEvents(ctx, "default", c, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Reason != "Rollback" || events[1].Reason != "Halted" {
		t.Fatalf("WarningEvents(limit 2) = %+v; want Rollback then Halted (newest warnings first, Normal excluded)", events)
	}
	all, err := in.WarningEvents(ctx, "default", c, 0)
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

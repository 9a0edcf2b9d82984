package harness

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestDeploymentGetsReadyPods applies a Deployment and sees the real
// kube-controller-manager create a ReplicaSet, kube-scheduler bind its Pods to
// a kwok Node and kwok mark them running and ready; then a new image rolls out
// through a second ReplicaSet.
func TestDeploymentGetsReadyPods(t *testing.T) {
	k, w := Workloads(t)
	logOnFailure(t, w.ControllerManager, w.Scheduler, w.Kwok)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := kubernetes.NewForConfigOrDie(k.Config)
	ns := newNamespace(ctx, t, kc, "workloads-")
	dumpOnFailure(t, kc, ns)

	start := time.Now()
	dep := testDeployment(ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.0")
	two := int32(2)
	dep.Spec.Replicas = &two
	if _, err := kc.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeploymentReady(ctx, t, kc, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.0", 2)
	t.Logf("2 replicas ready %v after the Deployment was created", time.Since(start).Round(time.Millisecond))

	rss, err := kc.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=podinfo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 1 || len(rss.Items[0].OwnerReferences) != 1 || rss.Items[0].OwnerReferences[0].Name != "podinfo" {
		t.Fatalf("ReplicaSets = %+v, want one owned by the Deployment", rss.Items)
	}
	pods := readyPods(ctx, t, kc, ns, "app=podinfo")
	if len(pods) != 2 {
		t.Fatalf("%d ready pods, want 2", len(pods))
	}
	for _, p := range pods {
		if !slices.Contains(w.Nodes, p.Spec.NodeName) || p.Status.PodIP == "" || p.Status.Phase != corev1.PodRunning {
			t.Fatalf("pod %s: node %q ip %q phase %s; want running on a kwok node with an IP", p.Name, p.Spec.NodeName, p.Status.PodIP, p.Status.Phase)
		}
	}

	// kwok renews each Node's Lease like a kubelet; without it the node
	// lifecycle controller marks the Node NotReady after about a minute and
	// its Pods unready.
	for _, node := range w.Nodes {
		eventually(ctx, t, "lease of node "+node, func(ctx context.Context) (bool, error) {
			l, err := kc.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, node, metav1.GetOptions{})
			return err == nil && l.Spec.RenewTime != nil, err
		})
	}

	start = time.Now()
	cur, err := kc.AppsV1().Deployments(ns).Get(ctx, "podinfo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.Template.Spec.Containers[0].Image = "ghcr.io/stefanprodan/podinfo:6.0.1"
	if _, err := kc.AppsV1().Deployments(ns).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeploymentReady(ctx, t, kc, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1", 2)
	eventually(ctx, t, "old pods gone", func(ctx context.Context) (bool, error) {
		pods, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=podinfo"})
		if err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			if p.Spec.Containers[0].Image != "ghcr.io/stefanprodan/podinfo:6.0.1" {
				return false, nil
			}
		}
		return len(pods.Items) == 2, nil
	})
	t.Logf("rolled out a new image to 2 ready replicas in %v", time.Since(start).Round(time.Millisecond))
	rss, err = kc.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=podinfo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 2 {
		t.Fatalf("%d ReplicaSets after a new image, want 2 (old scaled to 0, new)", len(rss.Items))
	}
}

// logOnFailure logs the last lines of the processes' output if t fails.
func logOnFailure(t *testing.T, ps ...*Process) {
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range ps {
				t.Logf("last lines of %s:\n%s", p.Name, p.Log(40))
			}
		}
	})
}

// dumpOnFailure logs the namespace's Pods and Events if t fails.
func dumpOnFailure(t *testing.T, kc kubernetes.Interface, ns string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if pods, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, p := range pods.Items {
				t.Logf("pod %s node=%q phase=%s ip=%s conditions=%v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.PodIP, p.Status.Conditions)
			}
		}
		if events, err := kc.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, e := range events.Items {
				t.Logf("event %s %s/%s %s %s: %s", e.Source.Component, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Type, e.Reason, e.Message)
			}
		}
	})
}

// testDeployment is a one-container Deployment selecting app=name; with no
// replicas set, the API server defaults it to 1.
func testDeployment(ns, name, image string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "podinfod", Image: image,
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 9898}},
				}}},
			},
		},
	}
}

// waitDeploymentReady waits until the Deployment's latest generation runs
// image with replicas updated, ready and available replicas and no others.
func waitDeploymentReady(ctx context.Context, t *testing.T, kc kubernetes.Interface, ns, name, image string, replicas int32) {
	t.Helper()
	eventually(ctx, t, fmt.Sprintf("deployment %s/%s ready with %s", ns, name, image), func(ctx context.Context) (bool, error) {
		d, err := kc.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := d.Status
		return d.Spec.Template.Spec.Containers[0].Image == image && s.ObservedGeneration == d.Generation &&
			s.Replicas == replicas && s.UpdatedReplicas == replicas && s.ReadyReplicas == replicas &&
			s.AvailableReplicas == replicas, nil
	})
}

// readyPods lists the running, ready pods matching selector.
func readyPods(ctx context.Context, t *testing.T, kc kubernetes.Interface, ns, selector string) []corev1.Pod {
	t.Helper()
	pods, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var ready []corev1.Pod
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				ready = append(ready, p)
			}
		}
	}
	return ready
}

// newNamespace creates a uniquely named namespace.
func newNamespace(ctx context.Context, t *testing.T, kc kubernetes.Interface, prefix string) string {
	t.Helper()
	ns := UniqueName(prefix)
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// eventually polls cond every 100 ms until it holds, and fails the test with
// what (and cond's last error, which does not stop the polling) when ctx
// ends first.
func eventually(ctx context.Context, t *testing.T, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	var last error
	for {
		ok, err := cond(ctx)
		if err != nil && ctx.Err() == nil {
			last = err
		} else if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error: %v)", what, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

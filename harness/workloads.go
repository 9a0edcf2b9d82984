package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// KubeControllers are the kube-controller-manager controllers the harness
// runs: enough for Deployments to get ReplicaSets and Pods, for namespaces to
// get their default ServiceAccount (the API server's admission refuses Pods
// without it), for deletions to cascade, and for new Nodes to lose the
// node.kubernetes.io/not-ready taint the API server puts on them once kwok
// reports them Ready (node-lifecycle-controller; kwok renews their leases).
var KubeControllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"serviceaccount-controller",
	"garbage-collector-controller",
	"namespace-controller",
	"node-lifecycle-controller",
}

// KwokNodeAnnotation marks the Nodes kwok manages (the harness starts kwok
// with --manage-nodes-with-annotation-selector=KwokNodeAnnotation=fake).
const KwokNodeAnnotation = "kwok.x-k8s.io/node"

// WorkloadServer holds the programs that make Deployments run on a harness API
// server with no container runtime: kube-controller-manager creates
// ReplicaSets and Pods, kube-scheduler binds Pods to Nodes, and kwok plays
// the kubelets of fake Nodes, marking their Pods running and ready.
type WorkloadServer struct {
	ControllerManager *Process
	Scheduler         *Process
	Kwok              *Process
	// Nodes are the fake Nodes kwok manages, Ready when StartWorkloads returns.
	Nodes []string
}

// WorkloadOptions tunes StartWorkloads; the zero value is fine.
type WorkloadOptions struct {
	// Nodes is the number of fake Nodes (default 1). A kwok Node offers
	// 1,000 CPUs and a million Pods, so one is usually enough.
	Nodes int
}

// StartWorkloads starts kube-controller-manager, kube-scheduler and kwok
// against k, creates the fake Nodes and waits until they are Ready.
func StartWorkloads(ctx context.Context, k *KubeServer, opts WorkloadOptions) (w *WorkloadServer, err error) {
	bins := map[string]string{}
	for _, b := range []string{"kube-controller-manager", "kube-scheduler", "kwok"} {
		if bins[b], err = binary(b); err != nil {
			return nil, err
		}
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	w = &WorkloadServer{}
	defer func() {
		if err != nil {
			_ = w.Stop()
		}
	}()

	kcmAddr, err := loopbackAddr()
	if err != nil {
		return nil, err
	}
	w.ControllerManager, err = startKubeComponent(k, "kube-controller-manager", bins["kube-controller-manager"], kcmAddr,
		"--controllers="+strings.Join(KubeControllers, ","))
	if err != nil {
		return nil, err
	}
	schedAddr, err := loopbackAddr()
	if err != nil {
		return nil, err
	}
	if w.Scheduler, err = startKubeComponent(k, "kube-scheduler", bins["kube-scheduler"], schedAddr); err != nil {
		return nil, err
	}

	kwokDir, err := newScratchDir("kwok-")
	if err != nil {
		return nil, err
	}
	stages, err := kwokStages(kwokDir)
	if err != nil {
		return nil, err
	}
	kwokArgs := []string{
		"--kubeconfig=" + k.Kubeconfig,
		"--config=" + stages,
		"--manage-nodes-with-annotation-selector=" + KwokNodeAnnotation + "=fake",
		"--cidr=10.244.0.1/16",
		"--node-ip=127.0.0.1",
		// Without leases (kwok's default when run alone) the node lifecycle
		// controller marks the Node NotReady after its grace period and the
		// Pods on it unready; kwok renews a Lease per Node like a kubelet.
		"--node-lease-duration-seconds=40",
	}
	if w.Kwok, err = startProcessIn(kwokDir, "kwok", bins["kwok"], kwokArgs); err != nil {
		return nil, err
	}

	for _, p := range []struct {
		p    *Process
		addr string
	}{{w.ControllerManager, kcmAddr}, {w.Scheduler, schedAddr}} {
		if err := p.p.waitUntil(ctx, "healthz", httpOK("https://"+p.addr+"/healthz")); err != nil {
			return nil, err
		}
	}

	kc, err := kubernetes.NewForConfig(k.Config)
	if err != nil {
		return nil, err
	}
	for i := range opts.Nodes {
		name := fmt.Sprintf("kwok-node-%d", i)
		if err := createKwokNode(ctx, kc, name); err != nil {
			return nil, err
		}
		w.Nodes = append(w.Nodes, name)
	}
	err = w.Kwok.waitUntil(ctx, "nodes Ready", func(ctx context.Context) error {
		for _, name := range w.Nodes {
			n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !nodeReady(n) {
				return fmt.Errorf("node %s not Ready and untainted yet: taints %v", name, n.Spec.Taints)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// startKubeComponent starts kube-controller-manager or kube-scheduler with
// the flags they share: the admin kubeconfig for everything, no leader
// election, HTTPS health and metrics on addr with a self-signed certificate
// in the process's directory.
func startKubeComponent(k *KubeServer, name, bin, addr string, extra ...string) (*Process, error) {
	dir, err := newScratchDir(name + "-")
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	args := append([]string{
		"--kubeconfig=" + k.Kubeconfig,
		"--authentication-kubeconfig=" + k.Kubeconfig,
		"--authorization-kubeconfig=" + k.Kubeconfig,
		// envtest's API server has no request-header CA to look up.
		"--authentication-skip-lookup=true",
		"--leader-elect=false",
		"--bind-address=" + host,
		"--secure-port=" + port,
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--v=1",
	}, extra...)
	return startProcessIn(dir, name, bin, args)
}

func createKwokNode(ctx context.Context, kc kubernetes.Interface, name string) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{KwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				"type": "kwok",
			},
		},
	}
	_, err := kc.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create node %s: %w", name, err)
	}
	return nil
}

// nodeReady says whether the scheduler can place Pods on n: Ready, with
// allocatable Pods and no NoSchedule or NoExecute taint.
func nodeReady(n *corev1.Node) bool {
	if n.Status.Allocatable.Pods().IsZero() {
		return false
	}
	for _, taint := range n.Spec.Taints {
		if taint.Effect == corev1.TaintEffectNoSchedule || taint.Effect == corev1.TaintEffectNoExecute {
			return false
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// kwokStages writes kwok's "fast" node and pod stages (copied from the kwok
// module by build.sh) into one configuration file in dir and returns its path.
func kwokStages(dir string) (string, error) {
	src := filepath.Join(controllersData(), "kwok-stages")
	files, err := filepath.Glob(filepath.Join(src, "*.yaml"))
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("kwok stages not found in %s: %w", src, ErrNoBinaries)
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		b.WriteString("---\n")
		b.Write(data)
		b.WriteString("\n")
	}
	path := filepath.Join(dir, "kwok.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// controllersData is where build.sh puts the controllers' data files.
func controllersData() string { return filepath.Join(BinDir(), "controllers-data") }

// Stop stops kwok, the scheduler and the controller manager. The fake Nodes
// stay in the API server. It is safe to call more than once.
func (w *WorkloadServer) Stop() error {
	return stopAll(w.Kwok, w.Scheduler, w.ControllerManager)
}

package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// KubeServer is a running kube-apiserver + etcd on 127.0.0.1 with Flagger's
// CRDs (from the flagger module) and Flux's source, kustomize and image-reflector CRDs (from
// the modules build.sh built the Flux controllers from) installed.
type KubeServer struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for Config.
	Kubeconfig string
	// Dir holds the servers' data and certificates.
	Dir string

	env      *envtest.Environment
	stopOnce sync.Once
	stopErr  error
}

// StartKube starts an envtest control plane from the harness binaries and
// installs the CRDs ensign needs.
func StartKube(ctx context.Context) (*KubeServer, error) {
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := binary(b); err != nil {
			return nil, err
		}
	}
	dir, err := newScratchDir("kube-")
	if err != nil {
		return nil, err
	}
	flagger, err := moduleDir("github.com/fluxcd/flagger")
	if err != nil {
		return nil, err
	}
	flux, err := FluxCRDFiles()
	if err != nil {
		return nil, err
	}
	etcdDir := filepath.Join(dir, "etcd")
	certDir := filepath.Join(dir, "apiserver")
	for _, d := range []string{etcdDir, certDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: BinDir(),
		CRDInstallOptions: envtest.CRDInstallOptions{
			Paths:              append([]string{filepath.Join(flagger, "artifacts", "flagger", "crd.yaml")}, flux...),
			ErrorIfPathMissing: true,
		},
		ControlPlane: envtest.ControlPlane{
			Etcd:      &envtest.Etcd{DataDir: etcdDir},
			APIServer: &envtest.APIServer{CertDir: certDir},
		},
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	// A standalone API server on loopback has no endpoints to reconcile.
	env.ControlPlane.APIServer.Configure().Set("endpoint-reconciler-type", "none")
	k := &KubeServer{Dir: dir, env: env}
	type result struct {
		cfg *rest.Config
		err error
	}
	started := make(chan result, 1)
	go func() {
		cfg, err := env.Start()
		started <- result{cfg, err}
	}()
	var r result
	select {
	case r = <-started:
	case <-ctx.Done():
		r = <-started // envtest has no cancellation; its own timeout bounds this
		if r.err == nil {
			_ = env.Stop()
			r.err = ctx.Err()
		}
	}
	if r.err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("start kube-apiserver and etcd: %w", r.err)
	}
	k.Config = r.cfg
	k.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(k.Kubeconfig, env.KubeConfig, 0o600); err != nil {
		_ = k.Stop()
		return nil, err
	}
	return k, nil
}

// Stop stops the API server, then etcd. It is safe to call more than once.
func (k *KubeServer) Stop() error {
	k.stopOnce.Do(func() {
		k.stopErr = k.env.Stop()
		if root, _ := scratch(); root != "" {
			_ = os.RemoveAll(k.Dir)
		}
	})
	return k.stopErr
}

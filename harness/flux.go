package harness

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FluxNamespace is what the Flux controllers take as their own namespace
// (RUNTIME_NAMESPACE) unless FluxOptions.Namespace names one.
const FluxNamespace = "flux-system"

// FluxOptions tunes StartFlux; the zero value watches all namespaces.
type FluxOptions struct {
	// Namespace, if set, is the only namespace whose GitRepositories and
	// Kustomizations the controllers reconcile (RUNTIME_NAMESPACE with
	// --watch-all-namespaces=false). What a Kustomization applies may still
	// go to any namespace. A test that shares the API server with tests
	// playing Flux sets it, so the real controllers leave the played objects
	// alone.
	Namespace string
}

// FluxServer is Flux's source-controller and kustomize-controller running
// against a harness API server: GitRepositories are fetched (over HTTP, for
// example from the harness Gitea) into source-controller's artifact store, and
// Kustomizations are built from those artifacts and applied with
// server-side apply as the API server's admin.
type FluxServer struct {
	Source    *Process
	Kustomize *Process
	// StorageURL is where source-controller serves artifacts (and what it
	// advertises in status.artifact.url).
	StorageURL string
}

// StartFlux starts source-controller and kustomize-controller against k and
// waits until both answer /readyz.
func StartFlux(ctx context.Context, k *KubeServer, opts FluxOptions) (f *FluxServer, err error) {
	srcBin, err := binary("source-controller")
	if err != nil {
		return nil, err
	}
	ksBin, err := binary("kustomize-controller")
	if err != nil {
		return nil, err
	}
	f = &FluxServer{}
	defer func() {
		if err != nil {
			_ = f.Stop()
		}
	}()
	addrs := make([]string, 5)
	for i := range addrs {
		if addrs[i], err = loopbackAddr(); err != nil {
			return nil, err
		}
	}
	storage, srcMetrics, srcHealth, ksMetrics, ksHealth := addrs[0], addrs[1], addrs[2], addrs[3], addrs[4]
	f.StorageURL = "http://" + storage

	srcDir, err := newScratchDir("source-controller-")
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"data", "tmp"} {
		if err := os.Mkdir(filepath.Join(srcDir, d), 0o700); err != nil {
			return nil, err
		}
	}
	f.Source, err = startProcessIn(srcDir, "source-controller", srcBin, append(fluxCommonArgs(srcMetrics, srcHealth, opts),
		"--storage-path="+filepath.Join(srcDir, "data"),
		"--storage-addr="+storage,
		"--storage-adv-addr="+storage,
	), fluxEnv(k, srcDir, opts)...)
	if err != nil {
		return nil, err
	}

	ksDir, err := newScratchDir("kustomize-controller-")
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(ksDir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	f.Kustomize, err = startProcessIn(ksDir, "kustomize-controller", ksBin, append(fluxCommonArgs(ksMetrics, ksHealth, opts),
		"--no-remote-bases=true",
	), fluxEnv(k, ksDir, opts)...)
	if err != nil {
		return nil, err
	}

	if err := f.Source.waitUntil(ctx, "readyz", httpOK("http://"+srcHealth+"/readyz")); err != nil {
		return nil, err
	}
	if err := f.Kustomize.waitUntil(ctx, "readyz", httpOK("http://"+ksHealth+"/readyz")); err != nil {
		return nil, err
	}
	return f, nil
}

func fluxCommonArgs(metrics, health string, opts FluxOptions) []string {
	return []string{
		"--metrics-addr=" + metrics,
		"--health-addr=" + health,
		"--events-addr=",
		"--enable-leader-election=false",
		fmt.Sprintf("--watch-all-namespaces=%t", opts.Namespace == ""),
		"--log-level=info",
		"--log-encoding=console",
	}
}

func fluxEnv(k *KubeServer, dir string, opts FluxOptions) []string {
	return []string{
		"KUBECONFIG=" + k.Kubeconfig,
		"RUNTIME_NAMESPACE=" + cmp.Or(opts.Namespace, FluxNamespace),
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"HOME=" + dir,
	}
}

// Stop stops kustomize-controller, then source-controller. It is safe to
// call more than once.
func (f *FluxServer) Stop() error {
	return stopAll(f.Kustomize, f.Source)
}

// FluxGitSecret returns a Secret for a GitRepository's spec.secretRef that
// reads a Gitea repository over HTTP as user with an access token (Gitea
// takes the token as the basic-auth password).
func FluxGitSecret(namespace, name, user, token string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{"username": user, "password": token},
	}
}

// FluxCRDFiles lists the Flux CRD manifests that build.sh (fluxcrds, part of
// all) copied from the source-controller, kustomize-controller and
// image-reflector-controller modules.
func FluxCRDFiles() ([]string, error) {
	var all []string
	for _, d := range []string{"flux-crds", "image-crds"} {
		dir := filepath.Join(BinDir(), d)
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil || len(files) == 0 {
			return nil, fmt.Errorf("flux CRDs not found in %s (harness/build/build.sh fluxcrds): %w", dir, ErrNoBinaries)
		}
		all = append(all, files...)
	}
	return all, nil
}

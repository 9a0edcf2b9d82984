package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Versions of the servers the harness builds and runs.
const (
	GiteaVersion      = "v1.26.0"
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.7.3"
	// FlaggerVersion, FluxVersion (source-controller and kustomize-controller)
	// and KwokVersion are the controllers' versions; kube-controller-manager
	// and kube-scheduler are KubernetesVersion.
	FlaggerVersion = "v1.44.0"
	FluxVersion    = "v1.9.6"
	KwokVersion    = "v0.8.0"
	// GiteaGitVersion is the git that Gitea runs (built from Debian's
	// source by build.sh): 2.40 or newer checks pull requests with
	// `git merge-tree` instead of a temporary clone.
	GiteaGitVersion = "2.47.3"
)

// BinDir is the directory holding the harness binaries: $ENSIGN_HARNESS_CACHE/bin,
// by default ~/.cache/ensign-harness/bin (where harness/build/build.sh puts them).
func BinDir() string {
	return filepath.Join(cacheDir(), "bin")
}

func cacheDir() string {
	if d := os.Getenv("ENSIGN_HARNESS_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "ensign-harness")
	}
	return filepath.Join(home, ".cache", "ensign-harness")
}

// ErrNoBinaries reports that a harness binary has not been built.
var ErrNoBinaries = errors.New("harness binaries not built (run harness/build/build.sh)")

// binary returns the path of a harness binary, or an error wrapping ErrNoBinaries.
func binary(name string) (string, error) {
	p := filepath.Join(BinDir(), name)
	if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s not found at %s: %w", name, p, ErrNoBinaries)
	}
	return p, nil
}

// giteaStaticDir is the copy of Gitea's options/, templates/ and public/ (with
// the frontend assets build.sh builds) that build.sh places next to the
// binary; Gitea built without the bindata tag serves them from disk.
func giteaStaticDir() (string, error) {
	d := filepath.Join(BinDir(), "gitea-static")
	if _, err := os.Stat(filepath.Join(d, "options")); err != nil {
		return "", fmt.Errorf("gitea static assets not found at %s: %w", d, ErrNoBinaries)
	}
	return d, nil
}

var moduleDirs sync.Map // module path -> dir

// moduleDir returns the module cache directory of a dependency of ensign, as
// `go list -m` reports it from the repository root.
func moduleDir(module string) (string, error) {
	if d, ok := moduleDirs.Load(module); ok {
		return d.(string), nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locate module %s: %w", module, err)
	}
	d := strings.TrimSpace(string(out))
	if d == "" {
		return "", fmt.Errorf("locate module %s: not downloaded (run go mod download)", module)
	}
	moduleDirs.Store(module, d)
	return d, nil
}

// repoRoot finds ensign's repository root by walking up from the working
// directory to the go.mod that declares the ensign module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/ensignbot/ensign\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("ensign repository root not found above the working directory")
		}
		dir = parent
	}
}

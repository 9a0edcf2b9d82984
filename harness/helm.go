package harness

import (
	"fmt"
	"testing"
)

// HelmVersion is the helm that harness/build/build.sh helm builds, for the
// chart tests in deploy.
const HelmVersion = "v3.22.0"

// HelmBinary returns the path of the harness's helm, or an error wrapping
// ErrNoBinaries when it has not been built (harness/build/build.sh helm).
func HelmBinary() (string, error) {
	p, err := binary("helm")
	if err != nil {
		return "", fmt.Errorf("%w; helm is built by harness/build/build.sh helm", err)
	}
	return p, nil
}

// Helm returns the path of the harness's helm for a test. Without it the
// test is skipped, or failed when ENSIGN_E2E is set, like Gitea and Kube.
func Helm(t testing.TB) string {
	t.Helper()
	p, err := HelmBinary()
	unavailable(t, "helm", err)
	return p
}

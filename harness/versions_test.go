package harness

import (
	"os"
	"regexp"
	"testing"
)

// TestVersionsMatchBuild checks that the versions the harness reports are
// the ones build.sh builds.
func TestVersionsMatchBuild(t *testing.T) {
	script, err := os.ReadFile("build/build.sh")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"GITEA_VERSION":     GiteaVersion,
		"K8S_VERSION":       KubernetesVersion,
		"ETCD_VERSION":      EtcdVersion,
		"FLAGGER_VERSION":   FlaggerVersion,
		"FLUX_VERSION":      FluxVersion,
		"KWOK_VERSION":      KwokVersion,
		"GITEA_GIT_VERSION": GiteaGitVersion,
	} {
		m := regexp.MustCompile(`(?m)^` + name + `=(\S+)`).FindSubmatch(script)
		if m == nil {
			t.Errorf("build.sh sets no %s", name)
			continue
		}
		if got := string(m[1]); got != want {
			t.Errorf("build.sh builds %s=%s, the harness says %s", name, got, want)
		}
	}
}

package deploy

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ensignbot/ensign/harness"
)

// buildEnsign builds the ensign binary for this test.
func buildEnsign(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ensign")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ensignbot/ensign/cmd/ensign").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ensign: %v\n%s", err, out)
	}
	return bin
}

// deployedEnv is the environment the Deployment gives ensign, with the
// Secret's values replaced by the given ones and the downward API's fields
// by what a pod in the kustomization's namespace would get.
func deployedEnv(t *testing.T, secrets map[string]string) map[string]string {
	t.Helper()
	var cm corev1.ConfigMap
	fromManifest(t, findManifest(t, "ConfigMap", "ensign"), &cm)
	env := map[string]string{}
	for k, v := range cm.Data {
		env[k] = v
	}
	var d appsv1.Deployment
	fromManifest(t, findManifest(t, "Deployment", "ensign"), &d)
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			v, ok := map[string]string{"metadata.name": "ensign-7d9f8b6c5-x2x4q", "metadata.namespace": readKustomization(t).Namespace, "status.podIP": "127.0.0.1"}[e.ValueFrom.FieldRef.FieldPath]
			if !ok {
				t.Fatalf("the Deployment takes %s from the pod's %s; the test has no value for it", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
			env[e.Name] = v
		case e.ValueFrom.SecretKeyRef != nil:
			v, ok := secrets[e.Name]
			if !ok && e.ValueFrom.SecretKeyRef.Optional != nil && *e.ValueFrom.SecretKeyRef.Optional {
				continue // an optional key the Secret does not have
			}
			if !ok {
				t.Fatalf("the Deployment takes %s from a Secret; the test has no value for it", e.Name)
			}
			env[e.Name] = v
		}
	}
	return env
}

// TestConfigIsEnsigns: every ENSIGN_ variable the manifests set is one ensign
// reads (ensign ignores unknown ones, so a misspelt name would silently
// fall back to a default), the chart has a value for every variable ensign
// reads, and `ensign run` accepts the whole configuration:
// it gets past validation, asks Gitea who it is, and stops only where a pod
// differs from this test: there is no in-cluster ServiceAccount token here.
func TestConfigIsEnsigns(t *testing.T) {
	g := harness.Gitea(t)
	bin := buildEnsign(t)
	out, err := exec.Command(bin, "config").Output()
	if err != nil {
		t.Fatalf("ensign config: %v", err)
	}
	known := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			known[f[0]] = true
		}
	}
	if !known["ENSIGN_GITEA_URL"] {
		t.Fatalf("ensign config lists no ENSIGN_GITEA_URL:\n%s", out)
	}
	// The chart has a value for every variable (the existing-secret value
	// set also gives the optional ENSIGN_COMMAND_FLOORS).
	set := map[string]bool{}
	for _, o := range decodeAll(t, mustRender(t, "ensign", "ensign", []string{caseValues("existing-secret")})) {
		switch o.GetKind() {
		case "ConfigMap":
			var cm corev1.ConfigMap
			fromManifest(t, o, &cm)
			for k := range cm.Data {
				set[k] = true
			}
		case "Deployment":
			var d appsv1.Deployment
			fromManifest(t, o, &d)
			for _, e := range d.Spec.Template.Spec.Containers[0].Env {
				set[e.Name] = true
			}
		}
	}
	for name := range known {
		if !set[name] {
			t.Errorf("ensign reads %s; the chart never sets it", name)
		}
	}
	bot, err := g.CreateUser(context.Background(), harness.UniqueName("deploy-bot"))
	if err != nil {
		t.Fatal(err)
	}
	env := deployedEnv(t, map[string]string{"ENSIGN_GITEA_TOKEN": bot.Token, "ENSIGN_WEBHOOK_SECRET": "a-webhook-secret-of-32-characters"})
	for name := range env {
		if strings.HasPrefix(name, "ENSIGN_") && !known[name] {
			t.Errorf("the manifests set %s, which ensign does not read (ensign config)", name)
		}
	}
	// Point at this test's Gitea and a writable data directory; the rest
	// is exactly what the manifests say.
	env["ENSIGN_GITEA_URL"] = strings.TrimSuffix(g.URL, "/")
	env["ENSIGN_DATA_DIR"] = t.TempDir()
	env["TMPDIR"] = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if code == 2 {
		t.Fatalf("ensign run rejects the manifests' configuration:\n%s", stderr.String())
	}
	if err == nil || !strings.Contains(stderr.String(), "in-cluster configuration") {
		t.Fatalf("ensign run: exit %d (%v); want it to stop at the in-cluster kubeconfig of ENSIGN_KUBECONFIGS:\n%s", code, err, stderr.String())
	}
}

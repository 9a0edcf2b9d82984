package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

const (
	teams       = 100
	appsPerTeam = 20 // 2,000 apps x 10 files = 20,000 files
)

func appDir(team, app int) string { return fmt.Sprintf("apps/team%03d/app%02d", team, app) }

func overlay(team, app int, env, tag string, replicas int) string {
	return fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: team%03d-%s
# %s overlay for app%02d; owned by team%03d.
resources:
  - ../../base
images:
  - name: registry.example.com/team%03d/app%02d
    newTag: %s
patches:
  - path: replicas.yaml
labels:
  - pairs:
      env: %s
      team: team%03d
replicas:
  - name: app%02d
    count: %d
`, team, env, env, app, team, team, app, tag, env, team, app, replicas)
}

func appFiles(team, app int) map[string]string {
	d := appDir(team, app)
	name := fmt.Sprintf("app%02d", app)
	return map[string]string{
		d + "/base/deployment.yaml":                fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  selector:\n    matchLabels:\n      app: %s\n  template:\n    metadata:\n      labels:\n        app: %s\n    spec:\n      containers:\n        - name: %s\n          image: registry.example.com/team%03d/%s:latest\n          ports:\n            - containerPort: 8080\n          resources:\n            requests:\n              cpu: 100m\n              memory: 128Mi\n", name, name, name, name, team, name),
		d + "/base/service.yaml":                   fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n  selector:\n    app: %s\n  ports:\n    - port: 80\n      targetPort: 8080\n", name, name),
		d + "/base/kustomization.yaml":             "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\n",
		d + "/overlays/staging/kustomization.yaml": overlay(team, app, "staging", "v1.0.0", 1),
		d + "/overlays/staging/replicas.yaml":      fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 1\n", name),
		d + "/overlays/prod/kustomization.yaml":    overlay(team, app, "prod", "v1.0.0", 3),
		d + "/overlays/prod/replicas.yaml":         fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 3\n", name),
		d + "/overlays/prod/hpa.yaml":              fmt.Sprintf("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: %s\nspec:\n  minReplicas: 3\n  maxReplicas: 10\n", name),
		d + "/README.md":                           fmt.Sprintf("# team%03d/%s\n\nDeployed by Flux from this directory.\n", team, name),
		d + "/config/values.yaml":                  fmt.Sprintf("logLevel: info\nfeature:\n  flags: []\nowner: team%03d\n", team),
	}
}

// generate writes a bare repository with `commits` commits on main into dir
// using git fast-import, then repacks it with a bitmap as a server would.
func generate(dir string, commits int, seed int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("git init: %v: %s", err, out)
	}
	cmd := exec.Command("git", "fast-import", "--quiet", "--done")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	if err := writeStream(w, commits, seed); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git fast-import: %w", err)
	}
	repack := exec.Command("git", "repack", "-a", "-d", "-q", "--write-bitmap-index")
	repack.Dir = dir
	if out, err := repack.CombinedOutput(); err != nil {
		return fmt.Errorf("git repack: %v: %s", err, out)
	}
	return os.WriteFile(filepath.Join(dir, "ensign-bench-complete"), []byte(fmt.Sprintf("%d commits, seed %d\n", commits, seed)), 0o644)
}

func writeStream(w io.Writer, commits int, seed int64) error {
	rng := rand.New(rand.NewSource(seed))
	when := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	tags := map[string]int{}
	commit := func(n int, msg string, body func()) {
		fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\nauthor Dev <dev@example.com> %d +0000\ncommitter Dev <dev@example.com> %d +0000\ndata %d\n%s\n", n, when+int64(n)*60, when+int64(n)*60, len(msg), msg)
		if n > 1 {
			fmt.Fprintf(w, "from :%d\n", n-1)
		}
		body()
		fmt.Fprintln(w)
	}
	file := func(path, content string) {
		fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", path, len(content), content)
	}
	commit(1, "Initial import of all apps", func() {
		for t := 0; t < teams; t++ {
			for a := 0; a < appsPerTeam; a++ {
				for p, c := range appFiles(t, a) {
					file(p, c)
				}
			}
		}
	})
	for n := 2; n <= commits; n++ {
		t, a := rng.Intn(teams), rng.Intn(appsPerTeam)
		key := appDir(t, a)
		switch r := rng.Intn(100); {
		case r < 70:
			tags[key+"s"]++
			tag := fmt.Sprintf("v1.%d.0", tags[key+"s"])
			commit(n, fmt.Sprintf("Deploy team%03d/app%02d %s to staging", t, a, tag), func() {
				file(key+"/overlays/staging/kustomization.yaml", overlay(t, a, "staging", tag, 1))
			})
		case r < 95:
			tags[key+"p"]++
			tag := fmt.Sprintf("v1.%d.0", tags[key+"p"])
			commit(n, fmt.Sprintf("Promote team%03d/app%02d %s to prod\n\nEnsign-Promotion: team%03d/app%02d/%s", t, a, tag, t, a, tag), func() {
				file(key+"/overlays/prod/kustomization.yaml", overlay(t, a, "prod", tag, 3))
			})
		default:
			commit(n, fmt.Sprintf("Tune team%03d/app%02d", t, a), func() {
				file(key+"/config/values.yaml", fmt.Sprintf("logLevel: debug\nfeature:\n  flags: [f%d]\nowner: team%03d\n", n, t))
				file(key+"/overlays/prod/replicas.yaml", fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app%02d\nspec:\n  replicas: %d\n", a, 3+rng.Intn(5)))
			})
		}
	}
	_, err := fmt.Fprintln(w, "done")
	return err
}

package deploy

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/ensignbot/ensign/harness"
)

var update = flag.Bool("update", false, "rewrite the chart's golden files and the generated Kustomize base")

const (
	chartDir = "chart"
	// baseValues renders the Kustomize base (baseFile) from the chart.
	baseValues = "ensign.values.yaml"
	baseFile   = "ensign.yaml"
)

// chartCases are the value sets in chart/testdata, each with a golden
// rendering <name>.golden.yaml.
var chartCases = []string{"defaults", "registry-digest", "existing-secret", "remote-kubeconfigs"}

// helm runs the harness's helm with its own empty configuration and cache.
func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	bin := harness.Helm(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	home := t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"), "HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, errors.New(strings.TrimSpace(stderr.String() + "\n" + string(out)))
	}
	return out, nil
}

// render is `helm template` of the chart as release in namespace, with
// values files and --set pairs.
func render(t *testing.T, release, namespace string, valueFiles []string, set ...string) ([]byte, error) {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", namespace}
	for _, f := range valueFiles {
		args = append(args, "--values", f)
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return helm(t, args...)
}

func mustRender(t *testing.T, release, namespace string, valueFiles []string, set ...string) []byte {
	t.Helper()
	out, err := render(t, release, namespace, valueFiles, set...)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	return out
}

func caseValues(name string) string { return filepath.Join(chartDir, "testdata", name+".values.yaml") }

// decodeAll splits a multi-document rendering into objects.
func decodeAll(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decode the rendering: %v", err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

// golden compares got with the file, or rewrites it with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./deploy -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the chart renders; check the diff and rerun with -update:\n%s", file, firstDifference(want, got))
	}
}

// firstDifference shows the first differing line of two renderings.
func firstDifference(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  file:     %s\n  rendered: %s", i+1, wl, gl)
		}
	}
	return "(same lines, different bytes)"
}

// TestChartLints runs `helm lint --strict` (templates, values schema,
// Kubernetes 1.37 deprecations) over every value set. (Lint treats a
// missing required value as fine; TestChartRefuses covers those.)
func TestChartLints(t *testing.T) {
	for _, name := range chartCases {
		t.Run(name, func(t *testing.T) {
			if out, err := helm(t, "lint", chartDir, "--strict", "--values", caseValues(name)); err != nil {
				t.Fatalf("helm lint: %v\n%s", err, out)
			}
		})
	}
}

// TestChartGolden: `helm template` of each value set is its golden file.
func TestChartGolden(t *testing.T) {
	for _, name := range chartCases {
		t.Run(name, func(t *testing.T) {
			out := mustRender(t, "ensign", "ensign", []string{caseValues(name)})
			golden(t, filepath.Join(chartDir, "testdata", name+".golden.yaml"), out)
		})
	}
}

// TestKustomizeBaseIsTheChart: the Kustomize base's manifests are the chart
// rendered with ensign.values.yaml, byte for byte, so the two cannot drift.
func TestKustomizeBaseIsTheChart(t *testing.T) {
	out := mustRender(t, "ensign", readKustomization(t).Namespace, []string{baseValues})
	header := "# Generated from deploy/chart with deploy/" + baseValues + " by\n" +
		"#   go test ./deploy -run TestKustomizeBaseIsTheChart -update\n" +
		"# Do not edit: change the chart or the values, then regenerate.\n"
	golden(t, baseFile, append([]byte(header), out...))
}

// TestChartRefuses: value combinations that cannot work are refused at
// render time, with a message naming the value.
func TestChartRefuses(t *testing.T) {
	base := []string{caseValues("defaults")}
	tests := []struct {
		name string
		set  []string
		want string
	}{
		{"two replicas without leader election", []string{"leaderElection.enabled=false"}, "replicas > 1 needs leaderElection.enabled"},
		{"a digest that is not one", []string{"image.digest=latest"}, "'latest' does not match pattern"},
		{"a cluster both in-cluster and remote", []string{"kubeconfigs.inCluster={prod}", "kubeconfigs.remote.prod=x"}, `cluster "prod" is both in-cluster and remote`},
		{"no token and no existing Secret", []string{"giteaToken="}, "giteaToken is required (or set existingSecret)"},
		{"no repositories", []string{"config.repos=null"}, "config.repos is required"},
		{"a misspelt value", []string{"leaderElection.enable=true"}, "additional properties 'enable' not allowed"},
		{"a duration without a unit", []string{"leaderElection.leaseDuration=15"}, "leaseDuration"},
		{"an unknown command floor", []string{"config.commandFloors.deploy=admin"}, "invalid propertyName 'deploy'"},
		{"an unknown permission level", []string{"config.commandFloors.rollback=boss"}, "/config/commandFloors/rollback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(t, "ensign", "ensign", base, tt.set...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("helm template with %v: %v; want an error containing %q", tt.set, err, tt.want)
			}
		})
	}
	if _, err := render(t, "ensign", "ensign", nil); err == nil || !strings.Contains(err.Error(), " is required") {
		t.Fatalf("helm template without values: %v; want a required value named", err)
	}
	if _, err := render(t, "ensign", "ensign", base, "leaderElection.enabled=false", "replicas=1"); err != nil {
		t.Fatalf("one replica without leader election is refused: %v", err)
	}
}

// TestChartImage: global.imageRegistry takes precedence over image.registry,
// the tag defaults to the chart's appVersion, a digest pins the image.
func TestChartImage(t *testing.T) {
	const digest = "sha256:4f2b3c1d0e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
	tests := []struct {
		name string
		set  []string
		want string
	}{
		{"defaults", nil, "ghcr.io/ensignbot/ensign:0.1.0"},
		{"tag", []string{"image.tag=v1.2.3"}, "ghcr.io/ensignbot/ensign:v1.2.3"},
		{"registry", []string{"image.registry=quay.io"}, "quay.io/ensignbot/ensign:0.1.0"},
		{"global registry", []string{"global.imageRegistry=registry.internal/proxy"}, "registry.internal/proxy/ensignbot/ensign:0.1.0"},
		{"global registry wins", []string{"image.registry=quay.io", "global.imageRegistry=registry.internal"}, "registry.internal/ensignbot/ensign:0.1.0"},
		{"digest", []string{"image.digest=" + digest}, "ghcr.io/ensignbot/ensign:0.1.0@" + digest},
		{"no registry", []string{"image.registry="}, "ensignbot/ensign:0.1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := renderedDeployment(t, mustRender(t, "ensign", "ensign", []string{caseValues("defaults")}, tt.set...))
			if got := d.Spec.Template.Spec.Containers[0].Image; got != tt.want {
				t.Fatalf("image %q, want %q", got, tt.want)
			}
		})
	}
}

func renderedDeployment(t *testing.T, rendering []byte) *appsv1.Deployment {
	t.Helper()
	for _, o := range decodeAll(t, rendering) {
		if o.GetKind() == "Deployment" {
			var d appsv1.Deployment
			fromManifest(t, o, &d)
			return &d
		}
	}
	t.Fatal("the rendering has no Deployment")
	return nil
}

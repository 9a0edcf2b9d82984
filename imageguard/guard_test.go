package imageguard

import (
	"io/fs"
	"sort"
	"strings"
	"testing"

	"github.com/ensignbot/ensign/imageref"
)

// memTree is a map of path to content, for tests of one decision.
type memTree map[string]string

func (m memTree) ReadFile(name string) ([]byte, error) {
	d, ok := m[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return []byte(d), nil
}

func (m memTree) List(dir string) ([]string, error) {
	var out []string
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for p := range m {
		if dir == "" {
			out = append(out, p)
		} else if strings.HasPrefix(p, prefix) {
			out = append(out, strings.TrimPrefix(p, prefix))
		}
	}
	if len(out) == 0 {
		return nil, fs.ErrNotExist
	}
	sort.Strings(out)
	return out, nil
}

func (m memTree) WriteFile(name string, data []byte) error {
	m[name] = string(data)
	return nil
}

const imageObjects = `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  image: ghcr.io/stefanprodan/podinfo
  interval: 5m
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: 6.x
`

func mustRef(t *testing.T, s string) imageref.Ref {
	t.Helper()
	r, err := imageref.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestExcludeAndLift(t *testing.T) {
	overlays := map[string]string{
		"kustomize tag marker": "images:\n  - name: ghcr.io/stefanprodan/podinfo\n    newTag: 6.5.0 # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}\n",
		"whole reference":      "spec:\n  template:\n    spec:\n      containers:\n        - image: ghcr.io/stefanprodan/podinfo:6.5.0 # {\"$imagepolicy\": \"flux-system:podinfo\"}\n",
		"tag without context":  "values:\n  tag: 6.5.0 # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}\n",
	}
	for name, ov := range overlays {
		t.Run(name, func(t *testing.T) {
			tree := memTree{"apps/production/kustomization.yaml": ov, "infra/image.yaml": imageObjects}
			failing := []imageref.Ref{mustRef(t, "ghcr.io/stefanprodan/podinfo:6.5.1")}
			res, err := Exclude(tree, "apps/production", failing, "excluded after failed canary p/podinfo/podinfo at 2026-12-03T11:00:00Z")
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Changed) != 1 || res.Changed[0].Repository != "flux-system/podinfo" || res.Changed[0].File != "infra/image.yaml" || res.Changed[0].Tag != "6.5.1" {
				t.Fatalf("Exclude = %+v", res)
			}
			if !strings.Contains(tree["infra/image.yaml"], "  exclusionList:\n    - '^.*\\.sig$'\n    - '^6\\.5\\.1$' # ensign: excluded after failed canary") {
				t.Fatalf("file:\n%s", tree["infra/image.yaml"])
			}
			again, err := Exclude(tree, "apps/production", failing, "later")
			if err != nil || len(again.Changed) != 0 || len(again.Present) != 1 {
				t.Fatalf("second Exclude = %+v, %v", again, err)
			}
			in, remote, err := InForce(tree, "apps/production")
			if err != nil || len(remote) != 0 || len(in) != 1 || in[0].Tag != "6.5.1" || !strings.HasPrefix(in[0].Note, "excluded after failed canary") {
				t.Fatalf("InForce = %+v, %+v, %v", in, remote, err)
			}
			lifted, err := Lift(tree, "apps/production", failing)
			if err != nil || len(lifted.Changed) != 1 {
				t.Fatalf("Lift = %+v, %v", lifted, err)
			}
			if in, _, _ := InForce(tree, "apps/production"); len(in) != 0 {
				t.Fatalf("after Lift, InForce = %+v", in)
			}
		})
	}
}

func TestExcludeLeavesOthersAlone(t *testing.T) {
	tests := map[string]struct {
		overlay string
		failing string
		remote  int
		skipped int
	}{
		"another image's line": {
			overlay: "images:\n  - name: ghcr.io/acme/other\n    newTag: 1.0.0 # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}\n",
			failing: "ghcr.io/stefanprodan/podinfo:6.5.1",
		},
		"no marker": {
			overlay: "images:\n  - name: ghcr.io/stefanprodan/podinfo\n    newTag: 6.5.0 # pinned by hand\n",
			failing: "ghcr.io/stefanprodan/podinfo:6.5.1",
		},
		"digest only": {
			overlay: "images:\n  - name: ghcr.io/stefanprodan/podinfo\n    digest: sha256:aaaa # {\"$imagepolicy\": \"flux-system:podinfo:digest\"}\n",
			failing: "ghcr.io/stefanprodan/podinfo@sha256:" + strings.Repeat("a", 64),
			skipped: 1,
		},
		"policy in the cluster": {
			overlay: "images:\n  - name: ghcr.io/stefanprodan/podinfo\n    newTag: 6.5.0 # {\"$imagepolicy\": \"apps:web:tag\"}\n",
			failing: "ghcr.io/stefanprodan/podinfo:6.5.1",
			remote:  1,
		},
		"repository scans another image": {
			overlay: "values:\n  tag: 6.5.0 # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}\n",
			failing: "ghcr.io/acme/web:6.5.1",
			skipped: 1,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tree := memTree{"apps/production/kustomization.yaml": tt.overlay, "infra/image.yaml": imageObjects}
			res, err := Exclude(tree, "apps/production", []imageref.Ref{mustRef(t, tt.failing)}, "note")
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Changed) != 0 || len(res.Remote) != tt.remote || len(res.Skipped) != tt.skipped || tree["infra/image.yaml"] != imageObjects {
				t.Fatalf("Exclude = %+v", res)
			}
		})
	}
}

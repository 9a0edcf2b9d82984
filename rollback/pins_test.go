package rollback

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"testing"

	"github.com/ensignbot/ensign/imageref"
)

type mapTree map[string]string

func (m mapTree) ReadFile(p string) ([]byte, error) {
	if s, ok := m[p]; ok {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
}

func (m mapTree) List(dir string) ([]string, error) {
	var out []string
	for p := range m {
		if rel, ok := strings.CutPrefix(p, dir+"/"); ok {
			out = append(out, rel) // relative to dir: overlay.Reader's contract
		}
	}
	if len(out) == 0 {
		return nil, fs.ErrNotExist
	}
	sort.Strings(out)
	return out, nil
}

func TestPinned(t *testing.T) {
	tree := mapTree{
		"prod/kustomization.yaml": "resources: [deploy.yaml]\nimages:\n  - name: podinfo\n    newName: ghcr.io/stefanprodan/podinfo\n    newTag: 6.5.1\n",
		"prod/deploy.yaml":        "spec:\n  containers:\n    - image: ghcr.io/acme/sidecar:1.0.1\n    - image: \"ghcr.io/acme/tool:2.0\"\n",
	}
	tests := []struct {
		ref  string
		want bool
	}{
		{"ghcr.io/stefanprodan/podinfo:6.5.1", true},
		{"ghcr.io/stefanprodan/podinfo:6.5.0", false},
		{"ghcr.io/acme/sidecar:1.0.1", true},
		{"ghcr.io/acme/sidecar:1.0", false}, // a prefix of 1.0.1 is not a match
		{"ghcr.io/acme/tool:2.0", true},
		{"acme/tool:2.0", false}, // a suffix of another reference is not a match
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			r, err := imageref.Parse(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pinned(tree, "prod", []imageref.Ref{r})
			if err != nil {
				t.Fatal(err)
			}
			if got[tt.ref] != tt.want {
				t.Fatalf("pinned(%s) = %v, want %v", tt.ref, got[tt.ref], tt.want)
			}
		})
	}
}

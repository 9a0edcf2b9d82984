package overlay

import (
	"errors"
	"io/fs"
	"testing"
)

func TestFindKustomization(t *testing.T) {
	tree := newMemTree(map[string]string{
		"a/kustomization.yml": "images:\n  - name: x\n    newTag: \"1\"\n",
		"b/Kustomization":     "resources: []\n",
		"c/other.yaml":        "x: 1\n",
	})
	for dir, want := range map[string]string{"a": "a/kustomization.yml", "b": "b/Kustomization"} {
		f, err := FindKustomization(tree, dir)
		if err != nil || f.Name() != want {
			t.Fatalf("FindKustomization(%s) = %v, %v; want %s", dir, f, err, want)
		}
	}
	if _, err := FindKustomization(tree, "c"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("FindKustomization without one: %v, want fs.ErrNotExist", err)
	}
}

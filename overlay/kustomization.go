package overlay

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// KustomizationNames are the file names kustomize accepts for an overlay's
// kustomization, in the order it looks for them.
var KustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// FindKustomization reads and parses the kustomization file of the overlay
// directory dir. Without one it returns an error wrapping fs.ErrNotExist.
func FindKustomization(r Reader, dir string) (*File, error) {
	for _, n := range KustomizationNames {
		p := path.Join(dir, n)
		data, err := r.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return Parse(p, data)
	}
	return nil, fmt.Errorf("no kustomization file in %s: %w", dir, fs.ErrNotExist)
}

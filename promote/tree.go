package promote

import (
	"strings"

	"github.com/ensignbot/ensign/gitops"
)

// treeView adapts a gitops.TreeEditor to overlay.Tree: overlay lists paths
// relative to the listed directory, gitops lists them from the root.
type treeView struct{ *gitops.TreeEditor }

// List returns the files under dir, relative to dir.
func (t treeView) List(dir string) ([]string, error) {
	all, err := t.TreeEditor.List(dir)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	out := make([]string, 0, len(all))
	for _, p := range all {
		out = append(out, strings.TrimPrefix(p, prefix))
	}
	return out, nil
}

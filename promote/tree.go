package promote

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/overlay"
)

// treeView adapts a gitops.TreeEditor to overlay.Tree: overlay never reads
// through a symbolic link.
type treeView struct{ *gitops.TreeEditor }

// ReadFile returns the content of the file at name; a symbolic link gives
// an error wrapping overlay.ErrSymlink (its blob is the link's target, not
// a file a promotion may copy or edit).
func (t treeView) ReadFile(name string) ([]byte, error) {
	if mode, err := t.Stat(name); err == nil && mode == filemode.Symlink {
		return nil, fmt.Errorf("read %s: %w", name, overlay.ErrSymlink)
	}
	return t.TreeEditor.ReadFile(name)
}

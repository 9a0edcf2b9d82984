package gitops

import "github.com/go-git/go-git/v5/plumbing"

// attrReader answers .gitattributes questions from one tree.
type attrReader struct {
	objs *objectSet
	root plumbing.Hash
}

func (a *attrReader) diffBinary(path string) (forced, binary bool) { return false, false }

// mergeDriver names the low-level merge driver for path: "text", "binary",
// "union" or a custom driver's name.
func (a *attrReader) mergeDriver(path string) (string, error) { return mergeDriverText, nil }

const (
	mergeDriverText   = "text"
	mergeDriverBinary = "binary"
)

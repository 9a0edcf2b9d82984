package gitops

import (
	"bytes"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/ensignbot/ensign/gitops/textmerge"
)

// contentMerge is merge-ort's handle_content_merge for two versions of the
// same type (regular file, symlink or submodule) against a base, which may
// be absent or of another type (then the merge is two-way, from nothing).
// Modes merge like contents: a change on one side wins, changes on both
// sides conflict. ok is false on any conflict; the returned version is then
// only a placeholder (ours).
func (m *ortMerge) contentMerge(p string, o, a, b version) (res version, ok bool, kind ConflictKind, err error) {
	if class(a.mode) != class(b.mode) {
		return version{}, false, "", fmt.Errorf("%w: %s: content merge of a %o and a %o (git: handle_content_merge assertion)", ErrGitCannotMerge, p, a.mode, b.mode)
	}
	ok = true
	if a.mode == b.mode || a.mode == o.mode {
		res.mode = b.mode
	} else {
		res.mode = a.mode
		if b.mode != o.mode {
			ok, kind = false, ConflictMode
		}
	}
	switch {
	case a.hash == b.hash || a.hash == o.hash:
		res.hash = b.hash
	case b.hash == o.hash:
		res.hash = a.hash
	case isRegular(a.mode):
		base := o.hash
		if class(o.mode) != class(a.mode) {
			base = plumbing.ZeroHash
		}
		merged, textKind, err := m.mergeText(p, base, a.hash, b.hash)
		if err != nil {
			return version{}, false, "", err
		}
		if textKind != "" {
			return version{mode: res.mode, hash: a.hash}, false, textKind, nil
		}
		res.hash = m.objs.putBlob(merged)
	default:
		// Symlinks never merge; submodules would need the submodule's own
		// history, which git does not have either without a checkout.
		return version{mode: res.mode, hash: a.hash}, false, typeConflictKind([3]version{o, a, b}), nil
	}
	return res, ok, kind, nil
}

// mergeText merges three blobs (a zero base is empty) with the driver the
// path's merge attribute selects. A non-empty kind is a conflict.
func (m *ortMerge) mergeText(p string, b, o, t plumbing.Hash) ([]byte, ConflictKind, error) {
	driver, err := m.attrs.mergeDriver(p)
	if err != nil {
		return nil, "", err
	}
	var blobs [3][]byte
	for i, h := range []plumbing.Hash{b, o, t} {
		if h.IsZero() {
			continue
		}
		data, err := m.blobs.blob(h)
		if err != nil {
			return nil, "", err
		}
		blobs[i] = data
	}
	if driver == mergeDriverBinary {
		return nil, ConflictBinary, nil
	}
	for _, data := range blobs {
		if isBinary(data) {
			return nil, ConflictBinary, nil
		}
	}
	res := textmerge.Merge(blobs[0], blobs[1], blobs[2])
	if res.Conflicts > 0 {
		return nil, ConflictContent, nil
	}
	return res.Merged, "", nil
}

// isBinary is git's buffer_is_binary: a NUL byte in the first 8000 bytes.
func isBinary(b []byte) bool {
	if len(b) > 8000 {
		b = b[:8000]
	}
	return bytes.IndexByte(b, 0) >= 0
}

// class folds the two regular-file modes together.
func class(m filemode.FileMode) filemode.FileMode {
	if m == filemode.Executable || m == filemode.Deprecated {
		return filemode.Regular
	}
	return m
}

func typeConflictKind(vs [3]version) ConflictKind {
	for _, v := range vs {
		if v.mode == filemode.Submodule {
			return ConflictSubmodule
		}
	}
	return ConflictSymlink
}

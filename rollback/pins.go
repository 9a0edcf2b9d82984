package rollback

import (
	"bytes"
	"errors"
	"io/fs"
	"path"

	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/overlay"
)

// pinned returns which of refs the overlay in tree makes resources run: by
// its kustomization's images: entries, or, for an image no entry manages,
// by the reference appearing verbatim in one of the overlay's files.
func pinned(tree overlay.Reader, dir string, refs []imageref.Ref) (map[string]bool, error) {
	var entries []overlay.Image
	f, err := overlay.FindKustomization(tree, dir)
	switch {
	case err == nil:
		if entries, err = f.Images(); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	out := map[string]bool{}
	var files [][]byte // read on first need
	for _, r := range refs {
		if i := imageref.Find(entries, r); i >= 0 {
			if imageref.Pins(entries[i], r) {
				out[r.String()] = true
			}
			continue
		}
		if files == nil {
			names, err := tree.List(dir)
			if errors.Is(err, fs.ErrNotExist) {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			files = [][]byte{}
			for _, n := range names {
				data, err := tree.ReadFile(path.Join(dir, n))
				if err != nil {
					return nil, err
				}
				files = append(files, data)
			}
		}
		for _, data := range files {
			if containsRef(data, r.String()) {
				out[r.String()] = true
				break
			}
		}
	}
	return out, nil
}

// containsRef reports whether ref appears in data as a whole reference, not
// as the prefix of a longer one ("app:1.0" is not in "app:1.0.1").
func containsRef(data []byte, ref string) bool {
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte(ref))
		if j < 0 {
			return false
		}
		end := i + j + len(ref)
		start := i + j
		if (end == len(data) || !refByte(data[end])) && (start == 0 || !refByte(data[start-1])) {
			return true
		}
		i = start + 1
	}
}

func refByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-' || b == '@' || b == ':' || b == '/'
}

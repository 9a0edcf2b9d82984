package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// entry is one tree entry: a name, a mode and the object it names.
type entry struct {
	name string
	mode filemode.FileMode
	hash plumbing.Hash
}

func (e entry) isTree() bool { return e.mode == filemode.Dir }

// parseTree decodes a raw git tree object.
func parseTree(data []byte) ([]entry, error) {
	var out []entry
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp < 0 {
			return nil, errors.New("malformed tree: no mode")
		}
		m, err := strconv.ParseUint(string(data[:sp]), 8, 32)
		if err != nil {
			return nil, fmt.Errorf("malformed tree: mode %q", data[:sp])
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul < 0 || len(data) < nul+1+20 {
			return nil, errors.New("malformed tree: truncated entry")
		}
		var h plumbing.Hash
		copy(h[:], data[nul+1:nul+21])
		out = append(out, entry{name: string(data[:nul]), mode: filemode.FileMode(m), hash: h})
		data = data[nul+21:]
	}
	return out, nil
}

// lookupEntry returns the hash and mode of the first entry called name in
// a raw git tree object, without decoding the others: a history walk looks
// up one path in trees of hundreds of entries, thousands of times per
// event. It stops at the entry, so a fault later in the tree goes unseen.
func lookupEntry(data []byte, name string) (plumbing.Hash, filemode.FileMode, bool, error) {
	var (
		h     plumbing.Hash
		mode  filemode.FileMode
		found bool
	)
	err := scanTree(data, func(n []byte, m filemode.FileMode, eh plumbing.Hash) bool {
		if string(n) == name {
			h, mode, found = eh, m, true
			return false
		}
		return true
	})
	if err != nil {
		return plumbing.ZeroHash, 0, false, err
	}
	return h, mode, found, nil
}

// scanTree calls fn with each entry of a raw git tree object, in order,
// until fn returns false, without allocating: name is a slice of data. It
// fails on a malformed tree as parseTree does, before calling fn for any
// entry after the fault.
func scanTree(data []byte, fn func(name []byte, mode filemode.FileMode, h plumbing.Hash) bool) error {
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp < 0 {
			return errors.New("malformed tree: no mode")
		}
		m, err := parseMode(data[:sp])
		if err != nil {
			return err
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul < 0 || len(data) < nul+1+20 {
			return errors.New("malformed tree: truncated entry")
		}
		var h plumbing.Hash
		copy(h[:], data[nul+1:nul+21])
		if !fn(data[:nul], m, h) {
			return nil
		}
		data = data[nul+21:]
	}
	return nil
}

// parseMode reads a tree entry's octal mode: the modes git writes without
// arithmetic, any other as strconv.ParseUint(b, 8, 32) would.
func parseMode(b []byte) (filemode.FileMode, error) {
	switch string(b) {
	case "100644":
		return filemode.Regular, nil
	case "40000":
		return filemode.Dir, nil
	case "100755":
		return filemode.Executable, nil
	case "120000":
		return filemode.Symlink, nil
	case "160000":
		return filemode.Submodule, nil
	}
	var m uint64
	for _, c := range b {
		if c < '0' || c > '7' {
			return 0, fmt.Errorf("malformed tree: mode %q", b)
		}
		if m = m<<3 | uint64(c-'0'); m > math.MaxUint32 {
			return 0, fmt.Errorf("malformed tree: mode %q", b)
		}
	}
	if len(b) == 0 {
		return 0, fmt.Errorf("malformed tree: mode %q", b)
	}
	return filemode.FileMode(m), nil
}

// encodeTree encodes entries in git's canonical order (a directory sorts as
// if its name ended in '/').
func encodeTree(entries []entry) []byte {
	sortEntries(entries)
	var b bytes.Buffer
	for _, e := range entries {
		b.WriteString(strconv.FormatUint(uint64(e.mode), 8))
		b.WriteByte(' ')
		b.WriteString(e.name)
		b.WriteByte(0)
		b.Write(e.hash[:])
	}
	return b.Bytes()
}

// sortEntries puts entries in git's tree order.
func sortEntries(entries []entry) {
	sort.Slice(entries, func(i, j int) bool { return treeKey(entries[i]) < treeKey(entries[j]) })
}

func treeKey(e entry) string {
	if e.isTree() {
		return e.name + "/"
	}
	return e.name
}

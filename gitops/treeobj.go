package gitops

import (
	"bytes"
	"errors"
	"fmt"
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

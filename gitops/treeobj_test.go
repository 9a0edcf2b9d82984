package gitops

import (
	"bytes"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

func TestEncodeTreeOrder(t *testing.T) {
	// git sorts a directory "a" as "a/", so it comes after "a.txt".
	ents := []entry{
		{name: "a", mode: filemode.Dir, hash: plumbing.NewHash("01")},
		{name: "a.txt", mode: filemode.Regular, hash: plumbing.NewHash("02")},
		{name: "a-b", mode: filemode.Executable, hash: plumbing.NewHash("03")},
	}
	got, err := parseTree(encodeTree(ents))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a-b", "a.txt", "a"}
	for i, e := range got {
		if e.name != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}

// FuzzParseTree feeds arbitrary bytes (trees come from the remote) to the
// tree decoder: it must not panic, and whatever it accepts re-encodes to a
// tree that decodes to the same entries.
func FuzzParseTree(f *testing.F) {
	f.Add(encodeTree([]entry{{name: "x", mode: filemode.Regular, hash: plumbing.NewHash("ab")}}))
	f.Add([]byte("100644 a\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ents, err := parseTree(data)
		if err != nil {
			return
		}
		again, err := parseTree(encodeTree(append([]entry(nil), ents...)))
		if err != nil || len(again) != len(ents) {
			t.Fatalf("re-encoded tree: %v, %d vs %d entries", err, len(again), len(ents))
		}
		if !bytes.Equal(encodeTree(again), encodeTree(ents)) {
			t.Fatal("encoding not stable")
		}
	})
}

func TestLookupEntry(t *testing.T) {
	tree := encodeTree([]entry{
		{name: "apps", mode: filemode.Dir, hash: plumbing.NewHash("01")},
		{name: "README.md", mode: filemode.Regular, hash: plumbing.NewHash("02")},
		{name: "run.sh", mode: filemode.Executable, hash: plumbing.NewHash("03")},
	})
	for _, tc := range []struct {
		name  string
		data  []byte
		look  string
		want  plumbing.Hash
		mode  filemode.FileMode
		found bool
		err   bool
	}{
		{name: "a directory", data: tree, look: "apps", want: plumbing.NewHash("01"), mode: filemode.Dir, found: true},
		{name: "the last entry", data: tree, look: "run.sh", want: plumbing.NewHash("03"), mode: filemode.Executable, found: true},
		{name: "absent", data: tree, look: "app", found: false},
		{name: "empty tree", data: nil, look: "apps", found: false},
		{name: "truncated before the name", data: []byte("100644 READ"), look: "x", err: true},
		{name: "bad mode of the entry looked up", data: []byte("10064x a\x00" + string(make([]byte, 20))), look: "a", err: true},
		{name: "mode over 32 bits", data: []byte("77777777777 a\x00" + string(make([]byte, 20))), look: "a", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, mode, found, err := lookupEntry(tc.data, tc.look)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if found != tc.found || h != tc.want || mode != tc.mode {
				t.Fatalf("lookupEntry = %s %o %v, want %s %o %v", h, mode, found, tc.want, tc.mode, tc.found)
			}
		})
	}
}

// FuzzLookupEntry checks lookupEntry against parseTree: on any tree that
// parseTree accepts, it finds exactly the first entry of that name, or
// none, and never fails.
func FuzzLookupEntry(f *testing.F) {
	f.Add(encodeTree([]entry{{name: "x", mode: filemode.Regular, hash: plumbing.NewHash("ab")}, {name: "y", mode: filemode.Dir, hash: plumbing.NewHash("cd")}}), "y")
	f.Add([]byte("100644 a\x00"), "a")
	f.Add([]byte("4294967295 a\x00aaaaaaaaaaaaaaaaaaaa"), "a")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		h, mode, found, err := lookupEntry(data, name)
		ents, perr := parseTree(data)
		if perr != nil {
			return
		}
		if err != nil {
			t.Fatalf("parseTree accepts the tree, lookupEntry fails: %v", err)
		}
		for _, e := range ents {
			if e.name == name {
				if !found || h != e.hash || mode != e.mode {
					t.Fatalf("lookupEntry(%q) = %s %o %v, parseTree has %s %o", name, h, mode, found, e.hash, e.mode)
				}
				return
			}
		}
		if found {
			t.Fatalf("lookupEntry(%q) found %s, parseTree has no such entry", name, h)
		}
	})
}

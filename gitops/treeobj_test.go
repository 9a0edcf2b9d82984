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

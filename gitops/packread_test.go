package gitops

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestPackReaderMatchesGoGit reads every packed object of a repository
// whose packs git made (deltas included: one pack repacked aggressively,
// one incremental pack) with the pack reader and with go-git, and
// compares.
func TestPackReaderMatchesGoGit(t *testing.T) {
	w := newWorkRepo(t)
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 40; i++ {
		for f := 0; f < 5; f++ {
			p := fmt.Sprintf("d%d/f%d.yaml", f%3, f)
			w.write(p, render(randLines(rng, 30+i), true))
		}
		w.commit(fmt.Sprintf("c%d", i))
		if i == 20 {
			w.git("repack", "-a", "-d", "-q", "--depth=50", "--window=50")
		}
	}
	w.git("repack", "-q") // a second, incremental pack
	r := openLocal(t, w.dir)
	list := w.git("cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)")
	n := 0
	for _, line := range strings.Split(list, "\n") {
		sha, typ, _ := strings.Cut(line, " ")
		h := plumbing.NewHash(sha)
		pt, pdata, ok := r.packs.read(h)
		if !ok {
			continue // loose
		}
		n++
		o, err := r.st.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			t.Fatal(err)
		}
		rd, _ := o.Reader()
		want := make([]byte, o.Size())
		if _, err := readFull(rd, want); err != nil {
			t.Fatal(err)
		}
		rd.Close()
		if pt != o.Type() || pt.String() != typ || !bytes.Equal(pdata, want) {
			t.Fatalf("%s: pack reader %s %d bytes, go-git %s %d bytes", sha, pt, len(pdata), o.Type(), len(want))
		}
	}
	if n < 400 {
		t.Fatalf("only %d objects read from packs", n)
	}
	if r.packs.has(plumbing.NewHash(strings.Repeat("ab", 20))) {
		t.Fatal("has() found a missing object")
	}
}

// FuzzPatchDelta: deltas come from packs the remote sent; applying a
// malformed one must fail cleanly, never panic or overrun.
func FuzzPatchDelta(f *testing.F) {
	f.Add([]byte("hello world"), []byte{11, 5, 0x91, 0, 5})
	f.Add([]byte("abc"), []byte{3, 3, 3, 'x', 'y', 'z'})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		out, err := patchDelta(base, delta)
		if err == nil && out == nil {
			t.Fatal("nil result without error")
		}
	})
}

// TestPackReaderRejectsDamage flips bytes in a pack: the reader must
// either fail or (if the damage misses what it reads) return the right
// object; never a wrong one.
func TestPackReaderRejectsDamage(t *testing.T) {
	w := newWorkRepo(t)
	for i := 0; i < 10; i++ {
		w.write("a.yaml", lines(50+i, map[int]string{i + 1: "x"}))
		w.commit(fmt.Sprintf("c%d", i))
	}
	w.git("repack", "-a", "-d", "-q")
	packs, _ := filepath.Glob(filepath.Join(w.dir, ".git/objects/pack/*.pack"))
	data, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	list := strings.Fields(w.git("cat-file", "--batch-all-objects", "--batch-check=%(objectname)"))
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 30; round++ {
		bad := bytes.Clone(data)
		for k := 0; k < 3; k++ {
			bad[12+rng.Intn(len(bad)-32)] ^= byte(1 + rng.Intn(255))
		}
		if err := os.Chmod(packs[0], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(packs[0], bad, 0o644); err != nil {
			t.Fatal(err)
		}
		pr := newPackReader(filepath.Join(w.dir, ".git"))
		for _, sha := range list {
			h := plumbing.NewHash(sha)
			if typ, got, ok := pr.read(h); ok && plumbing.ComputeHash(typ, got) != h {
				t.Fatalf("round %d: %s read wrong", round, sha)
			}
		}
		pr.close()
	}
}

// TestDecodedObjectsForgottenWhenIdle: the decoded-object cache keeps what
// is read at least once per decodedIdle period, and forgets what goes
// unread for two; its timer stops once it holds nothing.
func TestDecodedObjectsForgottenWhenIdle(t *testing.T) {
	c := &objCache{}
	p := &mappedPack{name: "pack-1"}
	c.put(p, 12, objBlob, []byte("hello"))
	c.put(p, 40, objBlob, []byte("world!"))
	if c.idle == nil {
		t.Fatal("a cache holding objects has no timer")
	}
	defer func() {
		if c.idle != nil {
			c.idle.Stop()
		}
	}()
	held := func() (keys []int64) {
		for _, m := range []map[objKey]cachedObj{c.cur, c.old} {
			for k := range m {
				keys = append(keys, k.off)
			}
		}
		slices.Sort(keys)
		return keys
	}
	for i, step := range []struct {
		read []int64 // objects read before the turn-over
		want []int64 // objects held after it
	}{
		{want: []int64{12, 40}},                // unread for one period: still held
		{read: []int64{12}, want: []int64{12}}, // 40 unread for two: gone
		{want: nil},                            // and now 12
	} {
		for _, off := range step.read {
			if _, ok := c.get(p, off); !ok {
				t.Fatalf("turn %d: object at %d missing", i, off)
			}
		}
		c.turnOver() // as the timer does
		if got := held(); !slices.Equal(got, step.want) {
			t.Fatalf("turn %d: held %v, want %v", i, got, step.want)
		}
	}
	if c.curBytes != 0 || c.oldBytes != 0 || c.idle != nil {
		t.Fatalf("empty cache: %d and %d bytes, timer %v; want none", c.curBytes, c.oldBytes, c.idle)
	}
	c.put(p, 12, objBlob, []byte("again"))
	if c.idle == nil || c.curBytes != 5 {
		t.Fatalf("after a new object: timer %v, %d bytes; want a timer and 5 bytes", c.idle, c.curBytes)
	}
	// An object decoded again while its old copy waits in the old
	// generation is counted once.
	c.turnOver()
	c.put(p, 12, objBlob, []byte("again!"))
	if c.curBytes != 6 || c.oldBytes != 0 || len(c.old) != 0 {
		t.Fatalf("object put again: %d and %d bytes, %d old; want 6, 0 and 0", c.curBytes, c.oldBytes, len(c.old))
	}
}

package gitops

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestDecodedObjectsForgottenWhenIdle: the decoded-object cache keeps its
// objects while they are used and forgets them all decodedIdle after their
// last use.
func TestDecodedObjectsForgottenWhenIdle(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 4, 0, 0, 0, time.UTC)
	now := t0
	c := &objCache{now: func() time.Time { return now }}
	p := &mappedPack{name: "pack-1"}
	c.put(p, 12, objBlob, []byte("hello"))
	if c.idle == nil {
		t.Fatal("a cache holding objects has no idle timer")
	}
	defer c.idle.Stop()
	for _, step := range []struct {
		at       time.Duration
		read     bool
		wantKept bool
	}{
		{at: decodedIdle / 2, read: true, wantKept: true},  // used: lastUse moves
		{at: decodedIdle, wantKept: true},                  // idle for half of decodedIdle only
		{at: decodedIdle/2 + decodedIdle, wantKept: false}, // idle for decodedIdle
	} {
		now = t0.Add(step.at)
		if step.read {
			if _, ok := c.get(p, 12); !ok {
				t.Fatalf("at %v: object missing before it was idle", step.at)
			}
		}
		c.expire()                                            // as the timer would
		if _, ok := c.m[objKey{p, 12}]; ok != step.wantKept { // not get: that is a use
			t.Fatalf("at %v: object kept %v, want %v", step.at, ok, step.wantKept)
		}
	}
	if c.used != 0 || c.idle != nil {
		t.Fatalf("after expiry used=%d idle=%v, want 0 and no timer", c.used, c.idle)
	}
	c.put(p, 12, objBlob, []byte("again"))
	if c.idle == nil {
		t.Fatal("the timer was not armed again by the next object")
	}
	c.idle.Stop()
}

package gitops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

func TestGeometricRollup(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes []int64
		want  int
	}{
		{"none", nil, 0},
		{"one pack", []int64{100}, 0},
		{"two equal packs: the largest stays", []int64{5, 5}, 0},
		{"three equal packs", []int64{5, 5, 5}, 2},
		{"already geometric", []int64{10, 100, 1000}, 0},
		{"exactly factor apart", []int64{1, 2, 4, 8}, 0},
		{"small fetches under the first clone", []int64{5, 5, 5, 5, 5, 40 << 20}, 5},
		{"two similar small packs", []int64{80, 85, 40 << 20}, 2},
		{"the roll-up swallows a pack it outgrows", []int64{5, 5, 5, 5, 30, 40 << 20}, 5},
		{"a pack far above the roll-up stays", []int64{5, 5, 5, 5, 100, 40 << 20}, 4},
		{"a break high up rolls everything below it", []int64{1, 10, 100, 150, 1000}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := geometricRollup(tc.sizes, 2); got != tc.want {
				t.Fatalf("geometricRollup(%v) = %d, want %d", tc.sizes, got, tc.want)
			}
		})
	}
}

// seedApps publishes a repository of 20 apps' overlays as "packs".
func seedApps(tb testing.TB) (*workRepo, *gitServer, string) {
	tb.Helper()
	w := newWorkRepo(tb)
	for i := range 20 {
		w.write(fmt.Sprintf("apps/app%d/kustomization.yaml", i), kustomization("v1", "v1"))
	}
	w.commit("base")
	gs := newGitServer(tb)
	return w, gs, gs.publish(tb, w.dir, "packs")
}

// pushChange is someone else's push to the server: the cache's next fetch
// stores it as one more pack.
func pushChange(w *workRepo, gs *gitServer, i int) {
	w.t.Helper()
	w.write(fmt.Sprintf("apps/app%d/kustomization.yaml", i%20), kustomization(fmt.Sprintf("v%d", i+2), "v1"))
	w.commit(fmt.Sprintf("change %d", i))
	w.git("push", "-q", gs.dir("packs"), "main")
}

// TestRepackKeepsEveryObject feeds a cache one small fetch and some pushes
// at a time, as a long-lived ensign's cache is fed, with low repack limits:
// the packs and loose objects stay bounded, git's fsck finds the cache whole
// and holding exactly the server's objects, and every commit reads back.
func TestRepackKeepsEveryObject(t *testing.T) {
	// The default bound on one repack's objects, and one so low that a
	// repack copies two or three packs and leaves the rest to the next.
	for _, most := range []int{repackObjects, 12} {
		t.Run(fmt.Sprintf("at most %d objects per repack", most), func(t *testing.T) {
			testRepack(t, most)
		})
	}
}

func testRepack(t *testing.T, most int) {
	w, gs, url := seedApps(t)
	ctx := testCtx(t)
	var repacks []error
	dir := t.TempDir()
	r, err := Open(ctx, Options{Dir: dir, URL: url, Observe: func(op string, _ time.Duration, err error) {
		if op == "repack" {
			repacks = append(repacks, err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	r.repackPacks, r.repackLoose, r.repackObjects = 4, 12, most
	fetch := func() {
		t.Helper()
		if _, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}}); err != nil {
			t.Fatal(err)
		}
	}
	fetch()
	// What a pack write killed midway leaves (go-git's temporary name).
	if err := os.WriteFile(filepath.Join(dir, "objects", "pack", "tmp_pack_123456"), []byte("PACK"), 0o644); err != nil {
		t.Fatal(err)
	}
	meta := CommitMeta{Message: "Promote", Author: botIdentity, When: fixedTime}
	for i := range 20 {
		pushChange(w, gs, i)
		fetch()
		if i%3 == 0 {
			// ensign pushes: its objects stay loose in the cache.
			edit := func(ed *TreeEditor) error {
				return ed.WriteFile(fmt.Sprintf("apps/app%d/kustomization.yaml", i%20), []byte(kustomization("v1", fmt.Sprintf("x%d", i))))
			}
			if _, err := r.Update(ctx, Target{Branch: "main"}, meta, edit); err != nil {
				t.Fatal(err)
			}
			w.git("pull", "-q", "--ff-only", gs.dir("packs"), "main")
		}
	}

	if len(repacks) == 0 {
		t.Fatal("the cache was never repacked")
	}
	for _, err := range repacks {
		if err != nil {
			t.Fatalf("repack: %v", err)
		}
	}
	packs, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
	if len(packs) > r.repackPacks {
		t.Errorf("%d packs after %d repacks, want at most %d", len(packs), len(repacks), r.repackPacks)
	}
	if loose, err := r.looseObjects(); err != nil || len(loose) > r.repackLoose {
		t.Errorf("%d loose objects (%v), want at most %d", len(loose), err, r.repackLoose)
	}
	t.Logf("%d repacks; %d packs and %d loose objects left (20 fetches and 7 pushes)", len(repacks), len(packs), r.loose)

	// git finds the cache whole, with exactly the server's objects.
	runGit(t, dir, "fsck", "--strict", "--no-dangling")
	objects := func(d, ref string) []string {
		list := strings.Fields(runGit(t, d, "rev-list", "--objects", ref))
		slices.Sort(list)
		return list
	}
	if got, want := objects(dir, "refs/remotes/origin/main"), objects(gs.dir("packs"), "main"); !slices.Equal(got, want) {
		t.Fatalf("cache holds %d objects reachable from main, the server %d", len(got), len(want))
	}
	ents, err := os.ReadDir(filepath.Join(dir, "objects", "pack"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}

	// ensign reads every commit and file of the history from the repacked
	// cache as the server has them.
	n := 0
	err = r.Log(context.Background(), "main", LogOptions{}, func(c *CommitInfo) error {
		n++
		// ls-tree: "<mode> blob <hash>\t<path>" for each file.
		for _, line := range strings.Split(runGit(t, gs.dir("packs"), "ls-tree", "-r", c.Hash.String()), "\n") {
			meta, path, _ := strings.Cut(line, "\t")
			want := plumbing.NewHash(meta[strings.LastIndexByte(meta, ' ')+1:])
			got, err := r.ReadFile(c.Hash, path)
			if err != nil {
				return fmt.Errorf("%s:%s: %w", c.Hash, path, err)
			}
			if h := plumbing.ComputeHash(plumbing.BlobObject, got); h != want {
				return fmt.Errorf("%s:%s reads blob %s, the server has %s", c.Hash, path, h, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(strings.Fields(runGit(t, gs.dir("packs"), "rev-list", "main"))); n != want {
		t.Fatalf("walked %d commits, the server has %d", n, want)
	}
	if tip, _, _ := r.Tip("main"); tip != plumbing.NewHash(serverTip(t, gs, "packs", "main")) {
		t.Fatalf("cache tip %s, server %s", tip, serverTip(t, gs, "packs", "main"))
	}
}

// BenchmarkReadAcrossPacks reads every file of main's tip from a cache fed
// by 16 and by 150 small fetches, before and after a repack, and times the
// repack: each pack is one more step of every lookup (even of an object the
// decoded cache holds) and two more mappings. 17 packs is where a repack
// starts; 151 is a cache that never repacked.
func BenchmarkReadAcrossPacks(b *testing.B) {
	for _, fetches := range []int{16, 150} {
		b.Run(fmt.Sprintf("fetches=%d", fetches), func(b *testing.B) { benchmarkPacks(b, fetches) })
	}
}

func benchmarkPacks(b *testing.B, fetches int) {
	w, gs, url := seedApps(b)
	ctx := context.Background()
	dir := b.TempDir()
	r, err := Open(ctx, Options{Dir: dir, URL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	r.repackPacks, r.repackLoose = 1<<30, 1<<30
	for i := range fetches + 1 {
		if i > 0 {
			pushChange(w, gs, i)
		}
		if _, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}}); err != nil {
			b.Fatal(err)
		}
	}
	tip, _, _ := r.Tip("main")
	readAll := func(b *testing.B) {
		for b.Loop() {
			for i := range 20 {
				if _, err := r.ReadFile(tip, fmt.Sprintf("apps/app%d/kustomization.yaml", i)); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	packs := func() int {
		m, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
		return len(m)
	}
	b.Run(fmt.Sprintf("read/packs=%d", packs()), readAll)
	b.Run("repack", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			cp := filepath.Join(b.TempDir(), "cache")
			if err := os.CopyFS(cp, os.DirFS(dir)); err != nil {
				b.Fatal(err)
			}
			c, err := Open(ctx, Options{Dir: cp, URL: url})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			c.mu.Lock()
			c.maybeRepack()
			c.mu.Unlock()
			b.StopTimer()
			c.Close()
			b.StartTimer()
		}
	})
	r.mu.Lock()
	r.repackPacks = repackPacks
	r.maybeRepack()
	r.mu.Unlock()
	b.Run(fmt.Sprintf("read/packs=%d", packs()), readAll)
}

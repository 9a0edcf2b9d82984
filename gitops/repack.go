package gitops

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// A cache gains a pack with every fetch that brings objects and a few loose
// objects with every push, and ensign runs for months: left alone, a busy
// repository's cache would hold thousands of packs, each mapped twice by
// packReader (the kernel allows about 65,000 mappings per process), each
// one more step of every lookup, each an index go-git reads again after a
// fetch, and thousands of loose files that only go-git's slow path reads.
// Like git's `gc --auto` with `repack --geometric=2`, the cache rolls the
// small packs and every loose object into one new pack once there are too
// many, leaving the large packs as they are, so that an object is copied
// into a new pack a logarithmic number of times over the cache's life.
const (
	// repackPacks and repackLoose are the default limits: more packs or
	// more loose objects than these start a repack.
	repackPacks = 16
	repackLoose = 256
	// repackFactor is the geometric progression the packs that stay keep:
	// each at least this many times the size of all smaller ones together.
	repackFactor = 2
	// repackWindow is the delta search window, git's default.
	repackWindow = 10
	// repackObjects bounds what one repack copies (by default): packing
	// 750 small objects allocated 11.5 MB (BenchmarkReadAcrossPacks).
	repackObjects = 2048
)

// maybeRepack repacks when the cache holds more packs or loose objects
// than its limits, and reports the repack to the Observe hook as "repack".
// A repack that fails leaves the cache as it was (or with objects stored
// twice, which is harmless) and is tried again at the next trigger; reads
// never depend on it. The caller holds r.mu.
func (r *Repo) maybeRepack() {
	start := time.Now()
	packs, err := r.st.ObjectPacks()
	var loose []plumbing.Hash // listed only when not counted yet
	if err == nil && r.loose < 0 {
		loose, err = r.looseObjects()
		r.loose = len(loose)
	}
	if err == nil && len(packs) <= r.repackPacks && r.loose <= r.repackLoose {
		return
	}
	if err == nil {
		err = r.repack(packs, loose)
	}
	if err != nil {
		err = fmt.Errorf("repack the cache of %s: %w", RedactURL(r.url), err)
	}
	if r.observe != nil {
		r.observe("repack", time.Since(start), err)
	}
}

// looseObjects lists the cache's loose objects (a walk of objects/??/).
func (r *Repo) looseObjects() ([]plumbing.Hash, error) {
	var hs []plumbing.Hash
	err := r.st.ForEachObjectHash(func(h plumbing.Hash) error {
		hs = append(hs, h)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list loose objects: %w", err)
	}
	return hs, nil
}

type sizedPack struct {
	hash plumbing.Hash
	size int64
}

// repack writes the objects of the packs geometricRollup picks and the
// loose objects into one new pack, then deletes what it copied, and any
// temporary file a pack write cut short left. loose lists the loose
// objects, or is nil to have them listed.
func (r *Repo) repack(hashes, loose []plumbing.Hash) error {
	// A pack write cut short by a crash leaves its temporary file behind.
	// None is being written now: packs are written under r.mu, which the
	// caller holds, and one process owns a cache.
	if tmps, err := filepath.Glob(filepath.Join(r.packs.dir, "tmp_pack_*")); err == nil {
		for _, f := range tmps {
			_ = os.Remove(f)
		}
	}
	packs := make([]sizedPack, 0, len(hashes))
	for _, h := range hashes {
		st, err := os.Stat(filepath.Join(r.packs.dir, "pack-"+h.String()+".pack"))
		if err != nil {
			return err
		}
		packs = append(packs, sizedPack{h, st.Size()})
	}
	slices.SortFunc(packs, func(a, b sizedPack) int {
		return cmp.Or(cmp.Compare(a.size, b.size), bytes.Compare(a.hash[:], b.hash[:]))
	})
	sizes := make([]int64, len(packs))
	for i, p := range packs {
		sizes[i] = p.size
	}
	k := geometricRollup(sizes, repackFactor)
	if len(packs) > r.repackPacks {
		// Packs that happen to grow geometrically still count against
		// the limit: roll the smallest up until half of it is left.
		k = min(len(packs)-1, max(k, len(packs)-r.repackPacks/2))
	}
	roll := packs[:k]
	if loose == nil {
		var err error
		if loose, err = r.looseObjects(); err != nil {
			return err
		}
	}
	if len(roll) < 2 && len(loose) == 0 {
		r.loose = 0
		return nil
	}
	// go-git's encoder holds every object it packs in memory, so one
	// repack copies about r.repackObjects objects at most (a pack is taken
	// whole, and at least two): a cache that went long without a repack
	// catches up over the next few.
	left := len(loose) - min(len(loose), r.repackObjects)
	loose = loose[:len(loose)-left]
	seen := make(map[plumbing.Hash]bool, len(loose))
	objs := make([]plumbing.Hash, 0, len(loose))
	for _, h := range loose {
		seen[h] = true
		objs = append(objs, h)
	}
	for i, p := range roll {
		if len(objs) >= r.repackObjects && (i >= 2 || len(loose) > 0) {
			roll = roll[:i]
			break
		}
		in, err := r.packs.objectsOf("pack-" + p.hash.String())
		if err != nil {
			return err
		}
		for _, h := range in {
			if !seen[h] {
				seen[h] = true
				objs = append(objs, h)
			}
		}
	}
	made, err := r.writePack(objs)
	if err != nil {
		return err
	}
	// The new pack is complete and indexed: what it copied can go.
	var errs []error
	for _, p := range roll {
		if p.hash != made {
			errs = append(errs, r.st.DeleteOldObjectPackAndIndex(p.hash, time.Time{}))
		}
	}
	for _, h := range loose {
		errs = append(errs, r.st.DeleteLooseObject(h))
	}
	// Forget the deleted packs: go-git's indexes and open descriptors, and
	// packReader's mappings (it maps what is left at its next lookup).
	r.st.Reindex()
	errs = append(errs, r.st.ObjectStorage.Close())
	r.packs.close()
	r.loose = left
	return errors.Join(errs...)
}

// writePack stores objs in a new pack (with deltas between them where
// they help) and returns its checksum.
func (r *Repo) writePack(objs []plumbing.Hash) (plumbing.Hash, error) {
	w, err := r.st.PackfileWriter()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("start a pack: %w", err)
	}
	made, err := packfile.NewEncoder(w, r.st, false).Encode(objs, repackWindow)
	if cerr := w.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write a pack of %d objects: %w", len(objs), err)
	}
	return made, nil
}

// geometricRollup returns how many of the packs, given by size in
// ascending order, to roll into one new pack so that the packs left, with
// the new one, grow geometrically by factor: each at least factor times
// the size of everything smaller. The largest pack (usually the history
// the cache started with) always stays, so that a repack never rewrites
// the whole repository. It returns 0 when nothing needs rolling up.
func geometricRollup(sizes []int64, factor int64) int {
	n := len(sizes)
	// The largest run at the top that is already a progression stays.
	i := n - 1
	for i > 0 && sizes[i] >= factor*sizes[i-1] {
		i--
	}
	if i <= 0 {
		return 0
	}
	// The pair that broke it and everything below roll up; then each next
	// pack joins while it is not at least factor times the roll-up.
	count := min(i+1, n-1)
	var total int64
	for _, s := range sizes[:count] {
		total += s
	}
	for count < n-1 && sizes[count] < factor*total {
		total += sizes[count]
		count++
	}
	if count < 2 {
		return 0
	}
	return count
}

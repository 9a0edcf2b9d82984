package gitops

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// packReader reads objects straight from the cache's pack files, mapped
// into memory: the index is binary-searched in place and deltas are
// resolved by offset. go-git, by comparison, decodes a pack's whole index
// (and a map of every object's offset) in each process before its first
// read, and reads each object through several small system calls; a revert
// with rename detection reads hundreds to thousands of trees. Every object
// read here is checked against its hash (once while it stays in the decoded
// cache, which history walks read thousands of times per event), so a pack
// this reader misreads is never trusted: the caller falls back to go-git, as it does for loose
// objects and anything else not found here.
//
// Not safe for concurrent use; Repo calls it under its storage mutex.
type packReader struct {
	dir     string // objects/pack
	packs   []*mappedPack
	scanned time.Time // pack directory modification time at the last scan
	cache   *objCache // shared by every repository
}

type mappedPack struct {
	name       string
	idx, pack  []byte
	count      uint32
	names      []byte // count × 20
	offsets    []byte // count × 4
	bigOffsets []byte
}

const (
	objCommit   = 1
	objTree     = 2
	objBlob     = 3
	objTag      = 4
	objOfsDelta = 6
	objRefDelta = 7
)

var errPackFormat = errors.New("unexpected pack data")

func newPackReader(gitDir string) *packReader {
	return &packReader{dir: filepath.Join(gitDir, "objects", "pack"), cache: &decoded}
}

// read returns the object's type and content, or ok false.
func (r *packReader) read(h plumbing.Hash) (plumbing.ObjectType, []byte, bool) {
	t, data, ok := r.view(h)
	if !ok {
		return 0, nil, false
	}
	// The cache keeps data; callers get their own copy.
	return t, bytes.Clone(data), true
}

// view is read without the copy: data may be the cache's, valid only
// until the next call on r.
func (r *packReader) view(h plumbing.Hash) (plumbing.ObjectType, []byte, bool) {
	p, off := r.locate(h)
	if p == nil {
		return 0, nil, false
	}
	if o, ok := r.cache.get(p, off); ok && o.verified {
		return plumbing.ObjectType(o.t), o.data, true
	}
	t, data, err := r.readAt(p, off, 0)
	if err != nil {
		return 0, nil, false
	}
	ot := plumbing.ObjectType(t)
	if plumbing.ComputeHash(ot, data) != h {
		return 0, nil, false
	}
	r.cache.markVerified(p, off)
	return ot, data, true
}

// has reports whether a pack holds h.
func (r *packReader) has(h plumbing.Hash) bool {
	p, _ := r.locate(h)
	return p != nil
}

// locate finds the pack and offset holding h (nil if none does), mapping
// new packs once if the mapped ones do not have it.
func (r *packReader) locate(h plumbing.Hash) (*mappedPack, int64) {
	for attempt := 0; attempt < 2; attempt++ {
		for _, p := range r.packs {
			if off, found := p.find(h); found {
				return p, off
			}
		}
		if !r.rescan() {
			break
		}
	}
	return nil, 0
}

// rescan maps packs that appeared since the last scan; it reports whether
// anything changed.
func (r *packReader) rescan() bool {
	st, err := os.Stat(r.dir)
	if err != nil || st.ModTime().Equal(r.scanned) {
		return false
	}
	r.scanned = st.ModTime()
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return false
	}
	known := map[string]bool{}
	for _, p := range r.packs {
		known[p.name] = true
	}
	changed := false
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".idx")
		if !ok || known[name] {
			continue
		}
		if p, err := mapPack(filepath.Join(r.dir, name)); err == nil {
			r.packs = append(r.packs, p)
			changed = true
		}
	}
	return changed
}

// objectsOf lists the objects of the pack named name ("pack-<checksum>").
func (r *packReader) objectsOf(name string) ([]plumbing.Hash, error) {
	for attempt := 0; attempt < 2; attempt++ {
		for _, p := range r.packs {
			if p.name != name {
				continue
			}
			hs := make([]plumbing.Hash, p.count)
			for i := range hs {
				copy(hs[i][:], p.names[i*20:])
			}
			return hs, nil
		}
		if !r.rescan() {
			break
		}
	}
	return nil, fmt.Errorf("%s: %w", name, errPackNotMapped)
}

var errPackNotMapped = errors.New("pack cannot be read")

// close unmaps every pack; the next lookup maps what the directory holds
// then.
func (r *packReader) close() {
	for _, p := range r.packs {
		unmapFile(p.idx)
		unmapFile(p.pack)
		// Entries of the decoded cache still name p; none reads its bytes.
		p.idx, p.pack, p.names, p.offsets, p.bigOffsets = nil, nil, nil, nil, nil
	}
	r.packs = nil
	r.scanned = time.Time{}
}

func mapPack(base string) (*mappedPack, error) {
	idx, err := mapFile(base + ".idx")
	if err != nil {
		return nil, err
	}
	pack, err := mapFile(base + ".pack")
	if err != nil {
		unmapFile(idx)
		return nil, err
	}
	p := &mappedPack{name: filepath.Base(base), idx: idx, pack: pack}
	if err := p.parseIndex(); err != nil {
		unmapFile(idx)
		unmapFile(pack)
		return nil, err
	}
	return p, nil
}

// parseIndex checks an index (version 2) and locates its tables.
func (p *mappedPack) parseIndex() error {
	b := p.idx
	if len(b) < 8+256*4 || !bytes.Equal(b[:8], []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}) {
		return errPackFormat
	}
	if len(p.pack) < 12 || string(p.pack[:4]) != "PACK" {
		return errPackFormat
	}
	n := binary.BigEndian.Uint32(b[8+255*4:])
	p.count = n
	namesAt := 8 + 256*4
	offsetsAt := namesAt + int(n)*20 + int(n)*4
	bigAt := offsetsAt + int(n)*4
	if bigAt > len(b) {
		return errPackFormat
	}
	p.names = b[namesAt : namesAt+int(n)*20]
	p.offsets = b[offsetsAt:bigAt]
	p.bigOffsets = b[bigAt:]
	return nil
}

func (p *mappedPack) find(h plumbing.Hash) (int64, bool) {
	first := 0
	if h[0] > 0 {
		first = int(binary.BigEndian.Uint32(p.idx[8+(int(h[0])-1)*4:]))
	}
	last := int(binary.BigEndian.Uint32(p.idx[8+int(h[0])*4:]))
	if last > int(p.count) || first > last {
		return 0, false
	}
	i := first + sort.Search(last-first, func(k int) bool {
		return bytes.Compare(p.names[(first+k)*20:(first+k)*20+20], h[:]) >= 0
	})
	if i >= last || !bytes.Equal(p.names[i*20:i*20+20], h[:]) {
		return 0, false
	}
	off := int64(binary.BigEndian.Uint32(p.offsets[i*4:]))
	if off&0x80000000 != 0 {
		k := int(off & 0x7fffffff)
		if (k+1)*8 > len(p.bigOffsets) {
			return 0, false
		}
		off = int64(binary.BigEndian.Uint64(p.bigOffsets[k*8:]))
	}
	return off, off > 0 && off < int64(len(p.pack))
}

const maxDeltaDepth = 10000

// readAt decodes the object at off, resolving deltas.
func (r *packReader) readAt(p *mappedPack, off int64, depth int) (byte, []byte, error) {
	if depth > maxDeltaDepth {
		return 0, nil, errPackFormat
	}
	if o, ok := r.cache.get(p, off); ok {
		return o.t, o.data, nil
	}
	b := p.pack[off:]
	if len(b) == 0 {
		return 0, nil, errPackFormat
	}
	c := b[0]
	t := (c >> 4) & 7
	size := uint64(c & 15)
	i, shift := 1, uint(4)
	for c&0x80 != 0 {
		if i >= len(b) || shift > 57 {
			return 0, nil, errPackFormat
		}
		c = b[i]
		size |= uint64(c&0x7f) << shift
		shift += 7
		i++
	}
	switch t {
	case objCommit, objTree, objBlob, objTag:
		data, err := r.inflate(b[i:], size)
		if err != nil {
			return 0, nil, err
		}
		r.cache.put(p, off, t, data)
		return t, data, nil
	case objOfsDelta:
		if i >= len(b) {
			return 0, nil, errPackFormat
		}
		c = b[i]
		i++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(b) || rel > 1<<55 {
				return 0, nil, errPackFormat
			}
			c = b[i]
			i++
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		if rel <= 0 || rel > off {
			return 0, nil, errPackFormat
		}
		bt, base, err := r.readAt(p, off-rel, depth+1)
		if err != nil {
			return 0, nil, err
		}
		return r.applyDelta(p, off, b[i:], size, bt, base)
	case objRefDelta:
		if i+20 > len(b) {
			return 0, nil, errPackFormat
		}
		var bh plumbing.Hash
		copy(bh[:], b[i:i+20])
		boff, found := p.find(bh)
		if !found {
			return 0, nil, errPackFormat // base in another pack: leave it to go-git
		}
		bt, base, err := r.readAt(p, boff, depth+1)
		if err != nil {
			return 0, nil, err
		}
		return r.applyDelta(p, off, b[i+20:], size, bt, base)
	}
	return 0, nil, errPackFormat
}

func (r *packReader) applyDelta(p *mappedPack, off int64, z []byte, size uint64, t byte, base []byte) (byte, []byte, error) {
	delta, err := r.inflate(z, size)
	if err != nil {
		return 0, nil, err
	}
	out, err := patchDelta(base, delta)
	if err != nil {
		return 0, nil, err
	}
	r.cache.put(p, off, t, out)
	return t, out, nil
}

// maxObjectSize bounds what is inflated here; bigger objects go to go-git.
const maxObjectSize = 64 << 20

func (r *packReader) inflate(z []byte, size uint64) ([]byte, error) {
	if size > maxObjectSize {
		return nil, errPackFormat
	}
	in := inflaters.Get().(*inflater)
	defer inflaters.Put(in)
	in.src.Reset(z)
	if in.zr == nil {
		zr, err := zlib.NewReader(&in.src)
		if err != nil {
			return nil, err
		}
		in.zr = zr
	} else if err := in.zr.(zlib.Resetter).Reset(&in.src, nil); err != nil {
		return nil, err
	}
	out := make([]byte, size)
	if _, err := io.ReadFull(in.zr, out); err != nil {
		return nil, err
	}
	return out, nil
}

// inflater is a zlib reader and its source, reused: a new one allocates
// about 44 KiB. The pool is shared by every repository, so a process with
// a hundred of them does not keep a hundred.
type inflater struct {
	zr  io.ReadCloser
	src bytes.Reader
}

var inflaters = sync.Pool{New: func() any { return new(inflater) }}

// patchDelta applies a git delta to base.
func patchDelta(base, delta []byte) ([]byte, error) {
	srcSize, n := deltaVarint(delta)
	if n == 0 || srcSize != uint64(len(base)) {
		return nil, errPackFormat
	}
	delta = delta[n:]
	dstSize, n := deltaVarint(delta)
	if n == 0 || dstSize > maxObjectSize {
		return nil, errPackFormat
	}
	delta = delta[n:]
	out := make([]byte, 0, dstSize)
	for len(delta) > 0 {
		op := delta[0]
		delta = delta[1:]
		switch {
		case op&0x80 != 0:
			var offset, length uint64
			for k := uint(0); k < 7; k++ {
				if op&(1<<k) == 0 {
					continue
				}
				if len(delta) == 0 {
					return nil, errPackFormat
				}
				if k < 4 {
					offset |= uint64(delta[0]) << (8 * k)
				} else {
					length |= uint64(delta[0]) << (8 * (k - 4))
				}
				delta = delta[1:]
			}
			if length == 0 {
				length = 0x10000
			}
			if offset+length > uint64(len(base)) || uint64(len(out))+length > dstSize {
				return nil, errPackFormat
			}
			out = append(out, base[offset:offset+length]...)
		case op != 0:
			if int(op) > len(delta) || uint64(len(out))+uint64(op) > dstSize {
				return nil, errPackFormat
			}
			out = append(out, delta[:op]...)
			delta = delta[op:]
		default:
			return nil, errPackFormat
		}
	}
	if uint64(len(out)) != dstSize {
		return nil, errPackFormat
	}
	return out, nil
}

func deltaVarint(b []byte) (uint64, int) {
	var v uint64
	for i, shift := 0, uint(0); i < len(b) && shift < 64; i, shift = i+1, shift+7 {
		v |= uint64(b[i]&0x7f) << shift
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// objCache keeps recently decoded objects (delta bases above all), by pack
// and offset, in one process-wide store of at most decodedLimit bytes that
// forgets everything when full: a process serving a hundred repositories
// holds no more decoded objects than one serving one. (The key's pack
// pointer keeps repositories apart.)
//
// It also forgets what goes unused: the objects serve the walks of an event,
// and an idle process need not hold up to decodedLimit of them. Objects live
// in two generations: every decodedIdle the current one becomes the old one
// and the old one is dropped, and a read moves an object from the old
// generation to the current one. An object unused for between one and two
// decodedIdle periods is gone.
type objCache struct {
	mu       sync.Mutex
	cur, old map[objKey]cachedObj
	// curBytes and oldBytes are the sizes of the generations' data.
	curBytes, oldBytes int
	// idle, armed while the cache holds anything, turns the generations
	// over.
	idle *time.Timer
}

const (
	// decodedLimit bounds the decoded objects kept by all repositories
	// together.
	decodedLimit = 16 << 20
	// decodedIdle is how often the generations turn over.
	decodedIdle = 10 * time.Second
)

// decoded is the process's object cache.
var decoded objCache

type objKey struct {
	p   *mappedPack
	off int64
}

type cachedObj struct {
	t    byte
	data []byte
	// verified: the data hashed to the name the pack's index gives this
	// offset, so a later read of the same object need not hash it again.
	verified bool
}

func (c *objCache) get(p *mappedPack, off int64) (cachedObj, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := objKey{p, off}
	if o, ok := c.cur[k]; ok {
		return o, true
	}
	o, ok := c.takeOld(k)
	if ok {
		c.keep(k, o)
	}
	return o, ok
}

// takeOld removes k from the old generation and returns what it held.
func (c *objCache) takeOld(k objKey) (cachedObj, bool) {
	o, ok := c.old[k]
	if ok {
		delete(c.old, k)
		c.oldBytes -= len(o.data)
	}
	return o, ok
}

// keep puts o in the current generation.
func (c *objCache) keep(k objKey, o cachedObj) {
	if c.cur == nil {
		c.cur = make(map[objKey]cachedObj, 1024)
	}
	c.cur[k] = o
	c.curBytes += len(o.data)
	if c.idle == nil {
		c.idle = time.AfterFunc(decodedIdle, c.turnOver)
	}
}

// turnOver drops the old generation and makes the current one old; the
// timer stops once both are empty.
func (c *objCache) turnOver() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.old, c.oldBytes = c.cur, c.curBytes
	c.cur, c.curBytes = nil, 0
	if len(c.old) == 0 {
		c.old, c.idle = nil, nil
		return
	}
	c.idle.Reset(decodedIdle)
}

// markVerified records that the cached object at p, off hashed right.
func (c *objCache) markVerified(p *mappedPack, off int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := objKey{p, off}
	if o, ok := c.cur[k]; ok {
		o.verified = true
		c.cur[k] = o
	}
}

func (c *objCache) put(p *mappedPack, off int64, t byte, data []byte) {
	if len(data) > decodedLimit/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.curBytes+c.oldBytes+len(data) > decodedLimit {
		c.cur, c.old, c.curBytes, c.oldBytes = nil, nil, 0, 0
	}
	k := objKey{p, off}
	if o, ok := c.cur[k]; ok {
		c.curBytes -= len(o.data)
	}
	c.takeOld(k)
	c.keep(k, cachedObj{t: t, data: data})
}

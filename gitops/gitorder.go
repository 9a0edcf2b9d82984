package gitops

// A few of merge-ort's choices depend on the order in which git's string
// hash maps (hashmap.c, keyed by the FNV-1 strhash) list their keys: which
// deferred directory is walked first, and which destination wins a tie when
// guessing where a directory went. The helpers here reproduce that order
// from the insertion order, so that ties are broken as git breaks them.

const (
	gitHashmapInitialSize = 64
	gitHashmapLoadFactor  = 80 // percent
	gitHashmapResizeBits  = 2
)

// gitStrhash is git's strhash (FNV-1, 32 bit).
func gitStrhash(s string) uint32 {
	h := uint32(0x811c9dc5)
	for i := 0; i < len(s); i++ {
		h = (h * 0x01000193) ^ uint32(s[i])
	}
	return h
}

// gitHashOrder returns keys (distinct, in insertion order) in the order a
// git strmap that had them added one by one iterates them: buckets in
// table order, each bucket's chain newest first, with the table growing
// fourfold past 80 % load (which re-chains every bucket in reverse).
func gitHashOrder(keys []string) []string {
	if len(keys) < 2 {
		return keys
	}
	size := uint32(gitHashmapInitialSize)
	table := make([][]string, size)
	hashes := make(map[string]uint32, len(keys))
	count := uint32(0)
	for _, k := range keys {
		h := gitStrhash(k)
		hashes[k] = h
		b := h & (size - 1)
		table[b] = append([]string{k}, table[b]...)
		count++
		if count > size*gitHashmapLoadFactor/100 {
			size <<= gitHashmapResizeBits
			grown := make([][]string, size)
			for _, chain := range table {
				for _, e := range chain {
					nb := hashes[e] & (size - 1)
					grown[nb] = append([]string{e}, grown[nb]...)
				}
			}
			table = grown
		}
	}
	out := make([]string, 0, len(keys))
	for _, chain := range table {
		out = append(out, chain...)
	}
	return out
}

// orderedSet is a set of strings that remembers insertion order, so that
// it can be walked in git's hash order.
type orderedSet struct {
	keys []string
	has  map[string]bool
}

func (s *orderedSet) add(k string) bool {
	if s.has == nil {
		s.has = map[string]bool{}
	}
	if s.has[k] {
		return false
	}
	s.has[k] = true
	s.keys = append(s.keys, k)
	return true
}

// countMap counts strings and remembers their insertion order.
type countMap struct {
	set orderedSet
	n   map[string]int
}

func (c *countMap) incr(k string) {
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.set.add(k)
	c.n[k]++
}

func (c *countMap) remove(k string) {
	if !c.set.has[k] {
		return
	}
	delete(c.set.has, k)
	delete(c.n, k)
	for i, x := range c.set.keys {
		if x == k {
			c.set.keys = append(c.set.keys[:i], c.set.keys[i+1:]...)
			break
		}
	}
}

package gitops

import (
	"slices"
)

// Similarity scores are on git's scale: maxScore is 100 %, and a rename
// needs at least defaultRenameScore (50 %, git's default for -M and for
// merges).
const (
	maxScore           = 60000
	defaultRenameScore = 30000
)

// spanBase is the modulus of the chunk hash; git picked a prime between
// 2^16 and 2^17, and the count of colliding chunks depends on it, so it has
// to be the same value for scores to agree.
const spanBase = 107927

// span is one hashed chunk value and the number of bytes of content that
// fell into chunks with that hash.
type span struct {
	hash uint32
	cnt  uint32
}

// spanCounts summarises a blob the way diffcore-delta does: the content is
// cut into chunks that end at a newline or after 64 bytes, each chunk is
// hashed, and the bytes are counted per hash value. A trailing chunk that
// neither ends in a newline nor reaches 64 bytes is not counted (git drops
// it too). For text, the CR of a CRLF pair is skipped, so line-ending
// conversions do not lower a score. The result is sorted by hash.
func spanCounts(data []byte, text bool) []span {
	counts := make(map[uint32]uint32)
	var acc1, acc2 uint32
	n := uint32(0)
	for i := 0; i < len(data); i++ {
		c := uint32(data[i])
		if text && c == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			continue
		}
		old1 := acc1
		acc1 = (acc1 << 7) ^ (acc2 >> 25)
		acc2 = (acc2 << 7) ^ (old1 >> 25)
		acc1 += c
		n++
		if n < 64 && c != '\n' {
			continue
		}
		counts[(acc1+acc2*0x61)%spanBase] += n
		n, acc1, acc2 = 0, 0, 0
	}
	out := make([]span, 0, len(counts))
	for h, c := range counts {
		out = append(out, span{hash: h, cnt: c})
	}
	slices.SortFunc(out, func(a, b span) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	return out
}

// copiedBytes is diffcore_count_changes: how many bytes of dst can be
// accounted for by chunks of src (per hash value, the smaller of the two
// counts).
func copiedBytes(src, dst []span) uint64 {
	var copied uint64
	j := 0
	for _, s := range src {
		for j < len(dst) && dst[j].hash < s.hash {
			j++
		}
		if j < len(dst) && dst[j].hash == s.hash {
			copied += uint64(min(s.cnt, dst[j].cnt))
			j++
		}
	}
	return copied
}

// similarity is estimate_similarity for two regular files of the given
// sizes: 0 when the sizes alone rule out minScore, otherwise the share of
// the larger file's bytes that were copied, scaled to maxScore. The counts
// are computed lazily, only when the sizes allow a match.
func similarity(srcSize, dstSize int, minScore int, srcCounts, dstCounts func() []span) int {
	maxSize, baseSize := max(srcSize, dstSize), min(srcSize, dstSize)
	delta := maxSize - baseSize
	if uint64(maxSize)*uint64(maxScore-minScore) < uint64(delta)*maxScore {
		return 0
	}
	if dstSize == 0 {
		return 0
	}
	copied := copiedBytes(srcCounts(), dstCounts())
	return int(copied * maxScore / uint64(maxSize))
}

package textmerge

// maxChainLength is xhistogram.c's max_chain_length: a record that occurs
// more often than this in the first file's region is not used as an
// anchor, and a region whose only anchors are such records falls back to
// the Myers diff.
const maxChainLength = 64

// histScratch is per-merge scratch space for find_lcs, indexed by record
// id. Every entry is zero between calls.
type histScratch struct {
	first []int   // lowest line (1-based) of the id in region A, 0 if absent
	count []int32 // occurrences of the id in region A
	next  []int   // next[line-line1]: following line with the same id, 0 if none
}

func newHistScratch(nclasses int) histScratch {
	return histScratch{first: make([]int, nclasses), count: make([]int32, nclasses)}
}

// region is a common run: A lines [begin1, end1] match B lines
// [begin2, end2] (1-based, inclusive), as in xhistogram.c.
type region struct{ begin1, end1, begin2, end2 int }

// histogram marks changed records the way git 2.39's xdl_do_histogram_diff
// does: over the whole files (no prefix/suffix trimming and no discarding
// of unmatched records, which xdiff only does for Myers).
func (d *differ) histogram(s1, s2 *side) {
	d.histogramRange(s1, s2, 1, s1.n(), 1, s2.n())
}

// histogramRange is xhistogram.c's histogram_diff on A lines
// [line1, line1+count1) and B lines [line2, line2+count2), 1-based.
func (d *differ) histogramRange(s1, s2 *side, line1, count1, line2, count2 int) {
	for {
		if count1 <= 0 && count2 <= 0 {
			return
		}
		if count1 == 0 {
			for ; count2 > 0; count2-- {
				s2.mark(line2 - 1)
				line2++
			}
			return
		}
		if count2 == 0 {
			for ; count1 > 0; count1-- {
				s1.mark(line1 - 1)
				line1++
			}
			return
		}

		lcs, fallback := d.findLCS(s1.ids, s2.ids, line1, count1, line2, count2)
		if fallback {
			d.fallBackToMyers(s1, s2, line1, count1, line2, count2)
			return
		}
		if lcs.begin1 == 0 && lcs.begin2 == 0 {
			for ; count1 > 0; count1-- {
				s1.mark(line1 - 1)
				line1++
			}
			for ; count2 > 0; count2-- {
				s2.mark(line2 - 1)
				line2++
			}
			return
		}
		d.histogramRange(s1, s2, line1, lcs.begin1-line1, line2, lcs.begin2-line2)
		end1, end2 := line1+count1-1, line2+count2-1
		count1, line1 = end1-lcs.end1, lcs.end1+1
		count2, line2 = end2-lcs.end2, lcs.end2+1
	}
}

// fallBackToMyers is xdl_fall_back_diff: a full Myers diff (with its own
// trimming and discarding) of the two ranges as if they were whole files.
func (d *differ) fallBackToMyers(s1, s2 *side, line1, count1, line2, count2 int) {
	sub1 := newSide(s1.ids[line1-1 : line1-1+count1])
	sub2 := newSide(s2.ids[line2-1 : line2-1+count2])
	d.myers(sub1, sub2)
	copy(s1.changed[line1:line1+count1], sub1.changed[1:1+count1])
	copy(s2.changed[line2:line2+count2], sub2.changed[1:1+count2])
}

// findLCS is xhistogram.c's find_lcs: among the common runs of the two
// ranges, pick the one whose rarest record is rarest in A (ties go to the
// longer run found first, scanning B from the top). It reports fallback
// when every common record is too frequent to anchor on.
func (d *differ) findLCS(a, b []int32, line1, count1, line2, count2 int) (region, bool) {
	h := &d.hist
	d.spend(count1 + count2)
	end1 := line1 + count1 - 1
	end2 := line2 + count2 - 1

	// scanA: walk A bottom-up so that first[id] ends at the lowest line
	// and next chains each line to the following occurrence.
	if cap(h.next) < count1 {
		h.next = make([]int, count1)
	}
	next := h.next[:count1]
	for ptr := end1; ptr >= line1; ptr-- {
		id := a[ptr-1]
		next[ptr-line1] = h.first[id] // 0 when id is new
		h.first[id] = ptr
		h.count[id]++
	}
	lcs, fallback := d.scanB(a, b, line1, end1, line2, end2)
	for ptr := line1; ptr <= end1; ptr++ {
		id := a[ptr-1]
		h.first[id] = 0
		h.count[id] = 0
	}
	return lcs, fallback
}

// scanB is the try_lcs loop of find_lcs, over an index built by findLCS.
func (d *differ) scanB(a, b []int32, line1, end1, line2, end2 int) (region, bool) {
	h := &d.hist
	next := h.next
	cnt := func(line int) int { return int(h.count[a[line-1]]) }

	var lcs region
	best := maxChainLength + 1 // index->cnt
	hasCommon := false
	for bPtr := line2; bPtr <= end2; {
		bNext := bPtr + 1
		id := b[bPtr-1]
		recCnt := int(h.count[id])
		switch {
		case recCnt == 0:
			// no occurrence in A
		case recCnt > best:
			hasCommon = true
		default:
			hasCommon = true
			as := h.first[id]
			for {
				np := next[as-line1]
				bs, ae, be := bPtr, as, bPtr
				rc := recCnt
				for line1 < as && line2 < bs && a[as-2] == b[bs-2] {
					as--
					bs--
					if rc > 1 {
						rc = min(rc, cnt(as))
					}
				}
				for ae < end1 && be < end2 && a[ae] == b[be] {
					ae++
					be++
					if rc > 1 {
						rc = min(rc, cnt(ae))
					}
				}
				d.spend(ae - as + 1)
				if bNext <= be {
					bNext = be + 1
				}
				if lcs.end1-lcs.begin1 < ae-as || rc < best {
					lcs = region{begin1: as, end1: ae, begin2: bs, end2: be}
					best = rc
				}
				if np == 0 {
					break
				}
				for np != 0 && np <= ae {
					np = next[np-line1]
				}
				if np == 0 {
					break
				}
				as = np
			}
		}
		bPtr = bNext
	}
	return lcs, hasCommon && best > maxChainLength
}

package textmerge

// Hunk modes of xdiff's xdmerge_t.
const (
	modeConflict  = 0
	modeOurs      = 1 // only ours changed the base here
	modeTheirs    = 2 // only theirs changed the base here
	modeIdentical = 4 // both made the same change (found by refinement)
)

// hunk is xdmerge_t: base records [i0, i0+chg0) became ours records
// [i1, i1+chg1) and theirs records [i2, i2+chg2).
type hunk struct {
	mode     int
	i0, chg0 int
	i1, chg1 int
	i2, chg2 int
}

// merger holds the three classified files of one merge.
type merger struct {
	d            *differ
	base         []int32
	ours, theirs []int32
	oursLines    [][]byte
	theirsLines  [][]byte
}

// appendHunk is xdl_append_merge: a hunk that overlaps or touches the
// previous one in either output is folded into it, and if the two came
// from different sides the result is a conflict.
func appendHunk(hs []hunk, mode, i0, chg0, i1, chg1, i2, chg2 int) []hunk {
	if n := len(hs); n > 0 {
		m := &hs[n-1]
		if i1 <= m.i1+m.chg1 || i2 <= m.i2+m.chg2 {
			if mode != m.mode {
				m.mode = modeConflict
			}
			m.chg0 = i0 + chg0 - m.i0
			m.chg1 = i1 + chg1 - m.i1
			m.chg2 = i2 + chg2 - m.i2
			return hs
		}
	}
	return append(hs, hunk{mode: mode, i0: i0, chg0: chg0, i1: i1, chg1: chg1, i2: i2, chg2: chg2})
}

// hunks is the first half of xdl_do_merge at level XDL_MERGE_ZEALOUS:
// walk both edit scripts against the base and classify every change.
func (mg *merger) hunks(x1, x2 []change) []hunk {
	var hs []hunk
	for len(x1) > 0 && len(x2) > 0 {
		c1, c2 := x1[0], x2[0]
		if c1.i1+c1.chg1 < c2.i1 {
			hs = appendHunk(hs, modeOurs,
				c1.i1, c1.chg1,
				c1.i2, c1.chg2,
				c2.i2-c2.i1+c1.i1, c1.chg1)
			x1 = x1[1:]
			continue
		}
		if c2.i1+c2.chg1 < c1.i1 {
			hs = appendHunk(hs, modeTheirs,
				c2.i1, c2.chg1,
				c1.i2-c1.i1+c2.i1, c2.chg1,
				c2.i2, c2.chg2)
			x2 = x2[1:]
			continue
		}
		if c1.i1 != c2.i1 || c1.chg1 != c2.chg1 || c1.chg2 != c2.chg2 ||
			!sameIDs(mg.ours[c1.i2:c1.i2+c1.chg2], mg.theirs[c2.i2:c2.i2+c2.chg2]) {
			off := c1.i1 - c2.i1
			ffo := off + c1.chg1 - c2.chg1
			i0, i1, i2 := c1.i1, c1.i2, c2.i2
			if off > 0 {
				i0 -= off
				i1 -= off
			} else {
				i2 += off
			}
			chg0 := c1.i1 + c1.chg1 - i0
			chg1 := c1.i2 + c1.chg2 - i1
			chg2 := c2.i2 + c2.chg2 - i2
			if ffo < 0 {
				chg0 -= ffo
				chg1 -= ffo
			} else {
				chg2 += ffo
			}
			hs = appendHunk(hs, modeConflict, i0, chg0, i1, chg1, i2, chg2)
		}
		e1, e2 := c1.i1+c1.chg1, c2.i1+c2.chg1
		if e1 >= e2 {
			x2 = x2[1:]
		}
		if e2 >= e1 {
			x1 = x1[1:]
		}
	}
	for _, c1 := range x1 {
		hs = appendHunk(hs, modeOurs,
			c1.i1, c1.chg1,
			c1.i2, c1.chg2,
			c1.i1+len(mg.theirs)-len(mg.base), c1.chg1)
	}
	for _, c2 := range x2 {
		hs = appendHunk(hs, modeTheirs,
			c2.i1, c2.chg1,
			c2.i1+len(mg.ours)-len(mg.base), c2.chg1,
			c2.i2, c2.chg2)
	}
	return hs
}

func sameIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// refine is xdl_refine_conflicts: diff the two sides of each conflict
// against each other; where they agree the conflict shrinks or splits,
// and if they agree completely it is no conflict at all.
func (mg *merger) refine(hs []hunk) []hunk {
	out := make([]hunk, 0, len(hs))
	for _, m := range hs {
		if m.mode != modeConflict || m.chg1 == 0 || m.chg2 == 0 {
			out = append(out, m)
			continue
		}
		script := mg.d.diff(mg.ours[m.i1:m.i1+m.chg1], mg.theirs[m.i2:m.i2+m.chg2])
		if len(script) == 0 {
			m.mode = modeIdentical
			out = append(out, m)
			continue
		}
		for j, x := range script {
			r := hunk{mode: modeConflict, i1: m.i1 + x.i1, chg1: x.chg1, i2: m.i2 + x.i2, chg2: x.chg2}
			if j == 0 {
				// xdiff keeps the unrefined base range on the first piece;
				// it only matters for diff3-style output, which we never write.
				r.i0, r.chg0 = m.i0, m.chg0
			}
			out = append(out, r)
		}
	}
	return out
}

// simplify is xdl_simplify_non_conflicts at level XDL_MERGE_ZEALOUS:
// conflicts separated by at most three unchanged lines become one. It
// only changes how many conflicts are counted.
func simplify(hs []hunk) []hunk {
	if len(hs) == 0 {
		return hs
	}
	out := []hunk{hs[0]}
	for _, next := range hs[1:] {
		m := &out[len(out)-1]
		if m.mode == modeConflict && next.mode == modeConflict && next.i1-(m.i1+m.chg1) <= 3 {
			m.chg1 = next.i1 + next.chg1 - m.i1
			m.chg2 = next.i2 + next.chg2 - m.i2
			continue
		}
		out = append(out, next)
	}
	return out
}

// output is xdl_fill_merge_buffer for a merge without conflicts: text
// nobody touched comes from ours, each hunk from the side that changed it.
func (mg *merger) output(hs []hunk) []byte {
	var buf []byte
	size := 0
	for _, l := range mg.oursLines {
		size += len(l)
	}
	for _, m := range hs {
		if m.mode == modeTheirs {
			for _, l := range mg.theirsLines[m.i2 : m.i2+m.chg2] {
				size += len(l)
			}
		}
	}
	buf = make([]byte, 0, size)
	i := 0
	for _, m := range hs {
		switch m.mode {
		case modeOurs:
			buf = appendLines(buf, mg.oursLines[i:m.i1+m.chg1])
		case modeTheirs:
			buf = appendLines(buf, mg.oursLines[i:m.i1])
			buf = appendLines(buf, mg.theirsLines[m.i2:m.i2+m.chg2])
		default:
			continue
		}
		i = m.i1 + m.chg1
	}
	return appendLines(buf, mg.oursLines[i:])
}

func appendLines(buf []byte, lines [][]byte) []byte {
	for _, l := range lines {
		buf = append(buf, l...)
	}
	return buf
}

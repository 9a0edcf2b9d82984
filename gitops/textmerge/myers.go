package textmerge

// Constants of xdiff's Myers implementation (xdiffi.c, xprepare.c).
const (
	maxCostMin   = 256     // XDL_MAX_COST_MIN
	heurMinCost  = 256     // XDL_HEUR_MIN_COST
	snakeCnt     = 20      // XDL_SNAKE_CNT
	kHeur        = 4       // XDL_K_HEUR
	kpdisRun     = 4       // XDL_KPDIS_RUN
	maxEqLimit   = 1024    // XDL_MAX_EQLIMIT
	simscanWin   = 100     // XDL_SIMSCAN_WINDOW
	lineMax      = 1 << 62 // XDL_LINE_MAX, any value above every index works
	discardNone  = 0       // record has no match in the other file
	discardKeep  = 1       // record has some matches
	discardMulti = 2       // record has "too many" matches
)

// bogosqrt is xdl_bogosqrt: a power of two near sqrt(n).
func bogosqrt(n int) int {
	i := 1
	for ; n > 0; n >>= 2 {
		i <<= 1
	}
	return i
}

// myers marks the changed records of s1 and s2 as xdl_do_diff does with
// no algorithm flag: trim the common prefix and suffix, discard records
// that cannot match (xdl_cleanup_records), then run the divide-and-conquer
// Myers search with xdiff's cost heuristics on what is left.
func (d *differ) myers(s1, s2 *side) {
	a, b := s1.ids, s2.ids
	n1, n2 := len(a), len(b)

	// xdl_trim_ends
	lim := min(n1, n2)
	pre := 0
	for pre < lim && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for lim -= pre; suf < lim && a[n1-1-suf] == b[n2-1-suf]; suf++ {
	}
	dstart, dend1, dend2 := pre, n1-suf-1, n2-suf-1

	// xdl_cleanup_records: match counts are over the whole files.
	for _, id := range a {
		d.cnt1[id]++
	}
	for _, id := range b {
		d.cnt2[id]++
	}
	dis1 := make([]byte, n1+1)
	dis2 := make([]byte, n2+1)
	mlim := min(bogosqrt(n1), maxEqLimit)
	for i := dstart; i <= dend1; i++ {
		dis1[i] = discardClass(int(d.cnt2[a[i]]), mlim)
	}
	mlim = min(bogosqrt(n2), maxEqLimit)
	for i := dstart; i <= dend2; i++ {
		dis2[i] = discardClass(int(d.cnt1[b[i]]), mlim)
	}
	for _, id := range a {
		d.cnt1[id] = 0
	}
	for _, id := range b {
		d.cnt2[id] = 0
	}
	ha1, rindex1 := keptRecords(s1, dis1, dstart, dend1)
	ha2, rindex2 := keptRecords(s2, dis2, dstart, dend2)

	nreff1, nreff2 := len(ha1), len(ha2)
	ndiags := nreff1 + nreff2 + 3
	if cap(d.kvd) < 2*ndiags+2 {
		d.kvd = make([]int, 2*ndiags+2)
	}
	kvd := d.kvd[:2*ndiags+2]
	m := &myersEnv{
		ha1: ha1, ha2: ha2,
		rindex1: rindex1, rindex2: rindex2,
		s1: s1, s2: s2,
		kvdf: kvd[:ndiags], kvdb: kvd[ndiags:],
		koff:   nreff2 + 1,
		mxcost: max(bogosqrt(ndiags), maxCostMin),
	}
	m.recsCmp(0, nreff1, 0, nreff2, false)
}

func discardClass(matches, mlim int) byte {
	switch {
	case matches == 0:
		return discardNone
	case matches >= mlim:
		return discardMulti
	}
	return discardKeep
}

// keptRecords returns the ids and original indexes of the records the
// Myers search will look at, and marks the discarded ones changed.
func keptRecords(s *side, dis []byte, dstart, dend int) (ha []int32, rindex []int) {
	n := max(dend-dstart+1, 0)
	ha, rindex = make([]int32, 0, n), make([]int, 0, n)
	for i := dstart; i <= dend; i++ {
		if dis[i] == discardKeep || (dis[i] == discardMulti && !cleanMMatch(dis, i, dstart, dend)) {
			ha = append(ha, s.ids[i])
			rindex = append(rindex, i)
		} else {
			s.mark(i)
		}
	}
	return ha, rindex
}

// cleanMMatch reports whether the multi-match record i sits in a run of
// records that are mostly unmatched, in which case it is discarded too
// (xdl_clean_mmatch).
func cleanMMatch(dis []byte, i, s, e int) bool {
	if i-s > simscanWin {
		s = i - simscanWin
	}
	if e-i > simscanWin {
		e = i + simscanWin
	}
	rdis0, rpdis0 := 0, 1
	for r := 1; i-r >= s; r++ {
		if dis[i-r] == discardNone {
			rdis0++
		} else if dis[i-r] == discardMulti {
			rpdis0++
		} else {
			break
		}
	}
	if rdis0 == 0 {
		return false
	}
	rdis1, rpdis1 := 0, 1
	for r := 1; i+r <= e; r++ {
		if dis[i+r] == discardNone {
			rdis1++
		} else if dis[i+r] == discardMulti {
			rpdis1++
		} else {
			break
		}
	}
	if rdis1 == 0 {
		return false
	}
	rdis1 += rdis0
	rpdis1 += rpdis0
	return rpdis1*kpdisRun < rpdis1+rdis1
}

type myersEnv struct {
	ha1, ha2         []int32
	rindex1, rindex2 []int
	s1, s2           *side
	kvdf, kvdb       []int // indexed by diagonal + koff
	koff             int
	mxcost           int
}

type splitPoint struct {
	i1, i2       int
	minLo, minHi bool
}

// recsCmp is xdl_recs_cmp: shrink the box by its common ends, then split
// it at a middle snake and recurse.
func (m *myersEnv) recsCmp(off1, lim1, off2, lim2 int, needMin bool) {
	ha1, ha2 := m.ha1, m.ha2
	for off1 < lim1 && off2 < lim2 && ha1[off1] == ha2[off2] {
		off1++
		off2++
	}
	for off1 < lim1 && off2 < lim2 && ha1[lim1-1] == ha2[lim2-1] {
		lim1--
		lim2--
	}
	switch {
	case off1 == lim1:
		for ; off2 < lim2; off2++ {
			m.s2.mark(m.rindex2[off2])
		}
	case off2 == lim2:
		for ; off1 < lim1; off1++ {
			m.s1.mark(m.rindex1[off1])
		}
	default:
		spl := m.split(off1, lim1, off2, lim2, needMin)
		m.recsCmp(off1, spl.i1, off2, spl.i2, spl.minLo)
		m.recsCmp(spl.i1, lim1, spl.i2, lim2, spl.minHi)
	}
}

// split is xdl_split: search forward from (off1, off2) and backward from
// (lim1, lim2) until the paths meet; unless needMin, give up early on a
// "good enough" snake or when the cost passes mxcost.
func (m *myersEnv) split(off1, lim1, off2, lim2 int, needMin bool) splitPoint {
	ha1, ha2 := m.ha1, m.ha2
	kvdf, kvdb, k := m.kvdf, m.kvdb, m.koff
	dmin, dmax := off1-lim2, lim1-off2
	fmid, bmid := off1-off2, lim1-lim2
	odd := (fmid-bmid)&1 != 0
	fmin, fmax := fmid, fmid
	bmin, bmax := bmid, bmid

	kvdf[fmid+k] = off1
	kvdb[bmid+k] = lim1

	for ec := 1; ; ec++ {
		gotSnake := false

		if fmin > dmin {
			fmin--
			kvdf[fmin-1+k] = -1
		} else {
			fmin++
		}
		if fmax < dmax {
			fmax++
			kvdf[fmax+1+k] = -1
		} else {
			fmax--
		}
		for d := fmax; d >= fmin; d -= 2 {
			var i1 int
			if kvdf[d-1+k] >= kvdf[d+1+k] {
				i1 = kvdf[d-1+k] + 1
			} else {
				i1 = kvdf[d+1+k]
			}
			prev1 := i1
			i2 := i1 - d
			for i1 < lim1 && i2 < lim2 && ha1[i1] == ha2[i2] {
				i1++
				i2++
			}
			if i1-prev1 > snakeCnt {
				gotSnake = true
			}
			kvdf[d+k] = i1
			if odd && bmin <= d && d <= bmax && kvdb[d+k] <= i1 {
				return splitPoint{i1: i1, i2: i2, minLo: true, minHi: true}
			}
		}

		if bmin > dmin {
			bmin--
			kvdb[bmin-1+k] = lineMax
		} else {
			bmin++
		}
		if bmax < dmax {
			bmax++
			kvdb[bmax+1+k] = lineMax
		} else {
			bmax--
		}
		for d := bmax; d >= bmin; d -= 2 {
			var i1 int
			if kvdb[d-1+k] < kvdb[d+1+k] {
				i1 = kvdb[d-1+k]
			} else {
				i1 = kvdb[d+1+k] - 1
			}
			prev1 := i1
			i2 := i1 - d
			for i1 > off1 && i2 > off2 && ha1[i1-1] == ha2[i2-1] {
				i1--
				i2--
			}
			if prev1-i1 > snakeCnt {
				gotSnake = true
			}
			kvdb[d+k] = i1
			if !odd && fmin <= d && d <= fmax && i1 <= kvdf[d+k] {
				return splitPoint{i1: i1, i2: i2, minLo: true, minHi: true}
			}
		}

		if needMin {
			continue
		}

		if gotSnake && ec > heurMinCost {
			best := 0
			var spl splitPoint
			for d := fmax; d >= fmin; d -= 2 {
				dd := d - fmid
				if dd < 0 {
					dd = -dd
				}
				i1 := kvdf[d+k]
				i2 := i1 - d
				v := (i1 - off1) + (i2 - off2) - dd
				if v > kHeur*ec && v > best &&
					off1+snakeCnt <= i1 && i1 < lim1 &&
					off2+snakeCnt <= i2 && i2 < lim2 {
					for j := 1; ha1[i1-j] == ha2[i2-j]; j++ {
						if j == snakeCnt {
							best = v
							spl.i1, spl.i2 = i1, i2
							break
						}
					}
				}
			}
			if best > 0 {
				spl.minLo, spl.minHi = true, false
				return spl
			}

			best = 0
			for d := bmax; d >= bmin; d -= 2 {
				dd := d - bmid
				if dd < 0 {
					dd = -dd
				}
				i1 := kvdb[d+k]
				i2 := i1 - d
				v := (lim1 - i1) + (lim2 - i2) - dd
				if v > kHeur*ec && v > best &&
					off1 < i1 && i1 <= lim1-snakeCnt &&
					off2 < i2 && i2 <= lim2-snakeCnt {
					for j := 0; ha1[i1+j] == ha2[i2+j]; j++ {
						if j == snakeCnt-1 {
							best = v
							spl.i1, spl.i2 = i1, i2
							break
						}
					}
				}
			}
			if best > 0 {
				spl.minLo, spl.minHi = false, true
				return spl
			}
		}

		if ec >= m.mxcost {
			fbest, fbest1 := -1, -1
			for d := fmax; d >= fmin; d -= 2 {
				i1 := min(kvdf[d+k], lim1)
				i2 := i1 - d
				if lim2 < i2 {
					i1 = lim2 + d
					i2 = lim2
				}
				if fbest < i1+i2 {
					fbest = i1 + i2
					fbest1 = i1
				}
			}
			bbest, bbest1 := lineMax, lineMax
			for d := bmax; d >= bmin; d -= 2 {
				i1 := max(off1, kvdb[d+k])
				i2 := i1 - d
				if i2 < off2 {
					i1 = off2 + d
					i2 = off2
				}
				if i1+i2 < bbest {
					bbest = i1 + i2
					bbest1 = i1
				}
			}
			if (lim1+lim2)-bbest < fbest-(off1+off2) {
				return splitPoint{i1: fbest1, i2: fbest - fbest1, minLo: true, minHi: false}
			}
			return splitPoint{i1: bbest1, i2: bbest - bbest1, minLo: false, minHi: true}
		}
	}
}

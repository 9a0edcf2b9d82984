package textmerge

// group is a run of changed records in one file: [start, end). An empty
// group (start == end) sits just above the unchanged record at start.
type group struct{ start, end int }

func groupInit(s *side) group {
	g := group{}
	for s.isChanged(g.end) {
		g.end++
	}
	return g
}

// groupNext moves g to the next (possibly empty) group; false at the end.
func groupNext(s *side, g *group) bool {
	if g.end == s.n() {
		return false
	}
	g.start = g.end + 1
	g.end = g.start
	for s.isChanged(g.end) {
		g.end++
	}
	return true
}

// groupPrevious moves g to the previous group; false at the start.
func groupPrevious(s *side, g *group) bool {
	if g.start == 0 {
		return false
	}
	g.end = g.start - 1
	g.start = g.end
	for s.isChanged(g.start - 1) {
		g.start--
	}
	return true
}

// slideDown shifts g one record toward the end if the record after it
// equals its first record, absorbing a following group it runs into.
func slideDown(s *side, g *group) bool {
	if g.end < s.n() && s.ids[g.start] == s.ids[g.end] {
		s.set(g.start, false)
		s.set(g.end, true)
		g.start++
		g.end++
		for s.isChanged(g.end) {
			g.end++
		}
		return true
	}
	return false
}

// slideUp shifts g one record toward the start if the record before it
// equals its last record, absorbing a preceding group it runs into.
func slideUp(s *side, g *group) bool {
	if g.start > 0 && s.ids[g.start-1] == s.ids[g.end-1] {
		g.start--
		g.end--
		s.set(g.start, true)
		s.set(g.end, false)
		for s.isChanged(g.start - 1) {
			g.start--
		}
		return true
	}
	return false
}

// compact slides every group of changes in s as far down as it can go,
// merging groups that run into each other, and then back up to line up
// with a change in the other file if one was passed on the way
// (xdl_change_compact without the indent heuristic, which git's merge
// code never enables). o is the other file of the same diff; the two
// group walks stay in step because both files have the same number of
// unchanged records.
func compact(s, o *side) {
	g := groupInit(s)
	og := groupInit(o)
	for {
		if g.end != g.start {
			var earliestEnd int
			for {
				size := g.end - g.start
				endMatchingOther := -1
				for slideUp(s, &g) {
					mustStep(groupPrevious(o, &og))
				}
				earliestEnd = g.end
				if og.end > og.start {
					endMatchingOther = g.end
				}
				for slideDown(s, &g) {
					mustStep(groupNext(o, &og))
					if og.end > og.start {
						endMatchingOther = g.end
					}
				}
				if size == g.end-g.start {
					if g.end != earliestEnd && endMatchingOther != -1 {
						for og.end == og.start {
							mustStep(slideUp(s, &g))
							mustStep(groupPrevious(o, &og))
						}
					}
					break
				}
			}
		}
		if !groupNext(s, &g) {
			break
		}
		mustStep(groupNext(o, &og))
	}
	if groupNext(o, &og) {
		panic("textmerge: group sync broken at end of file")
	}
}

func mustStep(ok bool) {
	if !ok {
		panic("textmerge: group sync broken")
	}
}

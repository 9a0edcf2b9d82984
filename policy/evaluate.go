package policy

import (
	"fmt"
	"strings"
	"time"
)

// State is whether a set of windows lets merges through at an instant, and
// for how long. All times are in the location of the instant evaluated.
type State struct {
	// Open reports whether merges may happen: no deny window is active, and
	// either no allow window applies or one of them is active.
	Open bool
	// Reason explains Open in a short phrase, naming the windows involved.
	Reason string
	// Active names the windows active at the instant, allow and deny, in the
	// order they were given.
	Active []string
	// Since is when the current state (open or closed) began: the state held
	// on [Since, now]. Zero if it has held for the whole search horizon
	// (five years back), as it does for a stage without windows.
	Since time.Time
	// Until is when the current state ends: the first instant after now
	// with the other state. Zero if it does not change within the search
	// horizon (five years ahead).
	Until time.Time
	// Next is the next instant after now at which a closed period ends and
	// an open one begins. When closed it equals Until (the state opens at
	// Until). When open it is the start of the following open period, after
	// the current one closes at Until. Zero if there is none within the
	// search horizon. "Queued until Next" is always right for a closed state.
	Next time.Time
}

// Period is a stretch of time with one state, as listed by Periods.
type Period struct {
	Start, End time.Time
	Open       bool
	// Reason is the state's reason at Start.
	Reason string
	// Active names the windows active at some instant of [Start, End), in
	// the order they were given.
	Active []string
}

const (
	// searchYears bounds every search forwards and backwards; robfig/cron
	// itself gives up after five years.
	searchYears = 5
	// nextBudget bounds the cron computations of one Evaluate or Periods
	// call, so a pathological schedule (a window every minute lasting a
	// minute is open forever, one start at a time) cannot stall a caller.
	nextBudget = 50000
	// maxPeriods bounds Periods' result.
	maxPeriods = 10000
)

// Evaluate returns the state that windows put a stage in at now. With no
// windows the stage is always open. Any active deny window closes it;
// otherwise, if there are allow windows, it is open only while one of them
// is active. A window not made by Load or NewWindow counts as an active deny
// window, so a programming error fails closed.
//
// If the windows are so dense that the search budget runs out, Open,
// Reason and Active are still exact but Since, Until and Next are zero.
func Evaluate(now time.Time, windows []Window) State {
	e := newEvaluator(windows)
	if e.invalid != "" {
		return State{Reason: fmt.Sprintf("window %q is not valid", e.invalid)}
	}
	st := State{}
	st.Open, st.Reason, st.Active = e.stateAt(now)
	if len(windows) == 0 {
		return st
	}
	lower, upper := now.AddDate(-searchYears, 0, 0), now.AddDate(searchYears, 0, 0)
	if st.Open {
		st.Since = e.openSince(now, lower)
		st.Until = e.nextClose(now, upper)
		if !st.Until.IsZero() {
			st.Next = e.nextOpen(st.Until, upper)
		}
	} else {
		st.Since = e.closedSince(now, lower)
		st.Until = e.nextOpen(now, upper)
		st.Next = st.Until
	}
	if e.exhausted() {
		st.Since, st.Until, st.Next = time.Time{}, time.Time{}, time.Time{}
	}
	loc := now.Location()
	st.Since, st.Until, st.Next = inLoc(st.Since, loc), inLoc(st.Until, loc), inLoc(st.Next, loc)
	return st
}

// OpenAt reports whether windows let a stage through at now: exactly
// Evaluate(now, windows).Open, without the searches for when that state began
// and when it ends. Those search back and forth through up to a year of a
// window's schedule (milliseconds for a yearly window); what is checked for
// every stage at every turn (the schedulers' gates, ensign_window_open) needs
// only this.
func OpenAt(now time.Time, windows []Window) bool {
	e := newEvaluator(windows)
	if e.invalid != "" {
		return false
	}
	open, _, _ := e.stateAt(now)
	return open
}

// Periods splits [from, to) into consecutive periods of one state under
// windows. It returns an error if to is not after from, if the range needs
// more than 10,000 periods, or if the windows are too dense to evaluate.
func Periods(from, to time.Time, windows []Window) ([]Period, error) {
	if !to.After(from) {
		return nil, fmt.Errorf("end %s is not after start %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	e := newEvaluator(windows)
	if e.invalid != "" {
		return nil, fmt.Errorf("window %q is not valid", e.invalid)
	}
	var out []Period
	for t := from; t.Before(to); {
		if len(out) == maxPeriods {
			return nil, fmt.Errorf("more than %d periods between %s and %s; use a shorter range",
				maxPeriods, from.Format(time.RFC3339), to.Format(time.RFC3339))
		}
		e.budget = nextBudget // per period: the range, not the density, sets the total
		open, reason, _ := e.stateAt(t)
		var end time.Time
		if len(windows) > 0 {
			if open {
				end = e.nextClose(t, to)
			} else {
				end = e.nextOpen(t, to)
			}
		}
		if e.exhausted() {
			return nil, fmt.Errorf("windows too dense to evaluate after %s", t.Format(time.RFC3339))
		}
		if end.IsZero() || end.After(to) {
			end = to
		}
		var active []string
		for _, w := range windows {
			if s := w.next(t.Add(-w.Duration)); !s.IsZero() && s.Before(end) {
				active = append(active, w.Name)
			}
		}
		out = append(out, Period{Start: t, End: inLoc(end, from.Location()), Open: open, Reason: reason, Active: active})
		t = end
	}
	return out, nil
}

func inLoc(t time.Time, loc *time.Location) time.Time {
	if t.IsZero() {
		return t
	}
	return t.In(loc)
}

// evaluator answers questions about one set of windows within a budget of
// cron computations. The zero time means "none within the limit".
type evaluator struct {
	all, allows, denies []Window
	invalid             string
	budget              int
}

func newEvaluator(windows []Window) *evaluator {
	e := &evaluator{all: windows, budget: nextBudget}
	for _, w := range windows {
		if !w.valid() || (w.Type != Allow && w.Type != Deny) {
			e.invalid = w.Name
			return e
		}
		if w.Type == Allow {
			e.allows = append(e.allows, w)
		} else {
			e.denies = append(e.denies, w)
		}
	}
	return e
}

func (e *evaluator) exhausted() bool { return e.budget <= 0 }

// next is w.next within the budget; it returns zero once the budget is spent,
// which ends every search loop.
func (e *evaluator) next(w Window, t time.Time) time.Time {
	if e.budget <= 0 {
		return time.Time{}
	}
	e.budget--
	return w.next(t)
}

// active reports whether a start s of w has s <= t < s+Duration.
func (e *evaluator) active(w Window, t time.Time) bool {
	s := e.next(w, t.Add(-w.Duration))
	return !s.IsZero() && !s.After(t)
}

func (e *evaluator) anyActive(ws []Window, t time.Time) bool {
	for _, w := range ws {
		if e.active(w, t) {
			return true
		}
	}
	return false
}

func (e *evaluator) stateAt(t time.Time) (open bool, reason string, active []string) {
	var activeAllow, activeDeny []string
	for _, w := range e.all {
		if e.active(w, t) {
			active = append(active, w.Name)
			if w.Type == Allow {
				activeAllow = append(activeAllow, w.Name)
			} else {
				activeDeny = append(activeDeny, w.Name)
			}
		}
	}
	switch {
	case len(activeDeny) > 0:
		return false, plural("deny window", activeDeny) + " active", active
	case len(e.allows) == 0 && len(e.denies) == 0:
		return true, "no windows apply", active
	case len(e.allows) == 0:
		return true, "no deny window active", active
	case len(activeAllow) > 0:
		return true, "inside " + plural("allow window", activeAllow), active
	default:
		return false, "outside " + plural("allow window", names(e.allows)), active
	}
}

func names(ws []Window) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Name
	}
	return out
}

func plural(noun string, ns []string) string {
	q := make([]string, len(ns))
	for i, n := range ns {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(ns) == 1 {
		return noun + " " + q[0]
	}
	return noun + "s " + strings.Join(q, ", ")
}

// nextOpen returns the first instant >= t at which the state is open, or
// zero if none before limit.
func (e *evaluator) nextOpen(t, limit time.Time) time.Time {
	for !t.After(limit) && !e.exhausted() {
		if e.anyActive(e.denies, t) {
			t = e.unionEnd(e.denies, t, limit)
			if t.IsZero() {
				return t
			}
			continue
		}
		if len(e.allows) == 0 || e.anyActive(e.allows, t) {
			return t
		}
		t = e.firstStart(e.allows, t)
		if t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// nextClose returns the first instant after t (where the state is open) at
// which it is closed, or zero if none before limit.
func (e *evaluator) nextClose(t, limit time.Time) time.Time {
	c := e.firstStart(e.denies, t)
	if !c.IsZero() && c.Before(limit) {
		limit = c
	}
	if len(e.allows) > 0 {
		if end := e.unionEnd(e.allows, t, limit); !end.IsZero() && (c.IsZero() || end.Before(c)) {
			c = end
		}
	}
	if c.After(limit) {
		return time.Time{}
	}
	return c
}

// openSince returns when the open state holding at t began, or zero if
// before lower.
func (e *evaluator) openSince(t, lower time.Time) time.Time {
	// Open on [max(last deny end, start of the allow coverage), t]. A deny
	// that ended before the allow coverage began does not matter, so the
	// allow start bounds the (costly, backwards) deny search.
	if len(e.allows) > 0 {
		start := e.unionStart(e.allows, t, lower)
		if start.IsZero() {
			return e.latestEnd(e.denies, t, lower)
		}
		if end := e.latestEnd(e.denies, t, start); end.After(start) {
			return end
		}
		return start
	}
	return e.latestEnd(e.denies, t, lower)
}

// closedSince returns when the closed state holding at t began, or zero if
// before lower.
func (e *evaluator) closedSince(t, lower time.Time) time.Time {
	const eps = time.Nanosecond
	for t.After(lower) && !e.exhausted() {
		if e.anyActive(e.denies, t) {
			s := e.unionStart(e.denies, t, lower)
			if s.IsZero() {
				return s
			}
			if len(e.allows) == 0 || e.anyActive(e.allows, s.Add(-eps)) {
				return s
			}
			t = s.Add(-eps)
			continue
		}
		a := e.latestEnd(e.allows, t, lower)
		if a.IsZero() {
			return a
		}
		if !e.anyActive(e.denies, a.Add(-eps)) {
			return a
		}
		t = a.Add(-eps)
	}
	return time.Time{}
}

// firstStart returns the earliest start after t of any window in ws.
func (e *evaluator) firstStart(ws []Window, t time.Time) time.Time {
	var first time.Time
	for _, w := range ws {
		if n := e.next(w, t); !n.IsZero() && (first.IsZero() || n.Before(first)) {
			first = n
		}
	}
	return first
}

// unionEnd returns the end of the stretch of time, containing t, during which
// some window of ws is active; zero if it reaches limit.
func (e *evaluator) unionEnd(ws []Window, t, limit time.Time) time.Time {
	end := t
	for progressed := true; progressed; {
		progressed = false
		for _, w := range ws {
			if !e.active(w, end) {
				continue
			}
			if we := e.coverEnd(w, end, limit); we.IsZero() {
				return we
			} else if we.After(end) {
				end, progressed = we, true
			}
		}
		if end.After(limit) || e.exhausted() {
			return time.Time{}
		}
	}
	return end
}

// unionStart returns the start of the stretch of time, containing t, during
// which some window of ws is active; zero if it reaches lower.
func (e *evaluator) unionStart(ws []Window, t, lower time.Time) time.Time {
	const eps = time.Nanosecond
	start := t
	for progressed := true; progressed; {
		progressed = false
		for _, w := range ws {
			if !e.active(w, start.Add(-eps)) {
				continue
			}
			if s := e.coverStart(w, start.Add(-eps), lower); s.IsZero() {
				return s
			} else if s.Before(start) {
				start, progressed = s, true
			}
		}
		if start.Before(lower) || e.exhausted() {
			return time.Time{}
		}
	}
	return start
}

// coverEnd returns the end of w's own merged coverage containing t (w is
// active at t); zero if it reaches limit.
func (e *evaluator) coverEnd(w Window, t, limit time.Time) time.Time {
	end := e.latestStartWithin(w, t, w.Duration).Add(w.Duration)
	for !e.exhausted() {
		if end.After(limit) {
			return time.Time{}
		}
		// A start in (end-Duration, end] extends the coverage; the latest
		// such start extends it furthest.
		s := e.latestStartWithin(w, end, w.Duration)
		if s.IsZero() {
			return end
		}
		end = s.Add(w.Duration)
	}
	return time.Time{}
}

// coverStart returns the start of w's own merged coverage containing t (w is
// active at t); zero if it reaches lower.
func (e *evaluator) coverStart(w Window, t, lower time.Time) time.Time {
	const eps = time.Nanosecond
	start := e.next(w, t.Add(-w.Duration)) // earliest start covering t
	for !start.IsZero() && !e.exhausted() {
		if start.Before(lower) {
			return time.Time{}
		}
		// The earliest start covering the instant before start extends the
		// coverage furthest back.
		p := e.next(w, start.Add(-eps-w.Duration))
		if p.IsZero() || !p.Before(start) {
			return start
		}
		start = p
	}
	return time.Time{}
}

// latestEnd returns the latest end <= t of any window in ws, none of which is
// active at t; zero if none after lower.
func (e *evaluator) latestEnd(ws []Window, t, lower time.Time) time.Time {
	var latest time.Time
	for _, w := range ws {
		// An interval ending at or after lower starts at most Duration
		// before it.
		s := e.latestStart(w, t, t.Sub(lower)+w.Duration)
		if s.IsZero() {
			continue
		}
		if end := s.Add(w.Duration); end.After(latest) && !end.Before(lower) {
			latest = end
		}
	}
	return latest
}

// latestStartWithin returns w's latest start in (t-span, t], or zero.
func (e *evaluator) latestStartWithin(w Window, t time.Time, span time.Duration) time.Time {
	lo := t.Add(-span)
	if n := e.next(w, lo); n.IsZero() || n.After(t) {
		return time.Time{}
	}
	return e.bisect(w, lo, t, t)
}

// latestStart returns w's latest start <= t that is at most bound before t,
// or zero. cron only computes forwards, so it looks back in doubling steps
// for an instant lo with next(lo) <= t, then bisects.
func (e *evaluator) latestStart(w Window, t time.Time, bound time.Duration) time.Time {
	hi := t
	for step := time.Hour; ; step *= 2 {
		if step > bound {
			step = bound
		}
		lo := t.Add(-step)
		if n := e.next(w, lo); !n.IsZero() && !n.After(t) {
			return e.bisect(w, lo, hi, t)
		}
		if step == bound || e.exhausted() {
			return time.Time{}
		}
		hi = lo
	}
}

// bisect narrows lo < hi, where next(lo) <= t < next(hi) (or next(hi) is
// zero), until they are at most a second apart. Starts are whole seconds, so
// next(lo) is then the latest start <= t.
func (e *evaluator) bisect(w Window, lo, hi, t time.Time) time.Time {
	for hi.Sub(lo) > time.Second && !e.exhausted() {
		mid := lo.Add(hi.Sub(lo) / 2)
		if n := e.next(w, mid); !n.IsZero() && !n.After(t) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return e.next(w, lo)
}

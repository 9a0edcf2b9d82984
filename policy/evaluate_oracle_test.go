package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// oracle computes open/closed on a one-minute grid by painting every window
// interval found by forward enumeration of starts; it shares only
// Window.next with Evaluate, not the backward searches and merging.
type oracle struct {
	from time.Time
	open []bool
}

func newOracle(ws []Window, from time.Time, minutes int) oracle {
	allow := make([]int, minutes+1)
	deny := make([]int, minutes+1)
	hasAllow := false
	end := from.Add(time.Duration(minutes) * time.Minute)
	for _, w := range ws {
		diff := deny
		if w.Type == Allow {
			diff, hasAllow = allow, true
		}
		for s := w.next(from.Add(-w.Duration - time.Minute)); !s.IsZero() && s.Before(end); s = w.next(s) {
			i0 := int(s.Sub(from) / time.Minute)
			i1 := int(s.Add(w.Duration).Sub(from) / time.Minute)
			i0, i1 = max(i0, 0), min(i1, minutes)
			if i0 < i1 {
				diff[i0]++
				diff[i1]--
			}
		}
	}
	o := oracle{from: from, open: make([]bool, minutes)}
	a, d := 0, 0
	for i := range minutes {
		a += allow[i]
		d += deny[i]
		o.open[i] = d == 0 && (!hasAllow || a > 0)
	}
	return o
}

func (o oracle) at(i int) time.Time { return o.from.Add(time.Duration(i) * time.Minute) }

func randomWindow(r *rand.Rand, i int) (string, WindowType, string, time.Duration, string) {
	zones := []string{"UTC", "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"}
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	schedule := fmt.Sprintf("%s %s %s %s %s",
		pick("0", "30", "*/15", "5,50", "0"),
		pick("*", "2", "9", "22", "1-3", "0"),
		pick("*", "*", "1", "15", "29", "1-7"),
		pick("*", "*", "*", "3", "10,11", "2"),
		pick("*", "*", "1-5", "0", "6", "3"))
	durations := []time.Duration{time.Minute, 30 * time.Minute, time.Hour, 8 * time.Hour, 25 * time.Hour, 72 * time.Hour, 168 * time.Hour}
	d := durations[r.IntN(len(durations))] + time.Duration(r.IntN(3))*time.Minute
	typ := Allow
	if r.IntN(3) == 0 {
		typ = Deny
	}
	return fmt.Sprintf("w%d", i), typ, schedule, d, zones[r.IntN(len(zones))]
}

func TestEvaluateMatchesOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 2025))
	const span = 120 * 24 * 60 // minutes on the grid
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	checked := 0
	for trial := 0; trial < 300; trial++ {
		var ws []Window
		var desc string
		for i := 0; i <= r.IntN(3); i++ {
			name, typ, sched, d, tz := randomWindow(r, i)
			w, err := NewWindow(name, typ, sched, d, tz)
			if err != nil {
				continue // e.g. "0 0 29 2 *" style schedules that never match are fine to skip
			}
			ws = append(ws, w)
			desc += fmt.Sprintf("[%s %s %q %s %s] ", name, typ, sched, d, tz)
		}
		if len(ws) == 0 {
			continue
		}
		from := base.Add(time.Duration(r.IntN(365*24)) * time.Hour)
		o := newOracle(ws, from, span)
		k := span/3 + r.IntN(span/3)
		now := o.at(k).Add(time.Duration(r.IntN(60)) * time.Second)
		st := Evaluate(now, ws)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("trial %d, now %s, windows %s: %s", trial, now.Format(time.RFC3339), desc, fmt.Sprintf(format, args...))
		}
		if st.Open != o.open[k] {
			fail("Open = %v, oracle %v", st.Open, o.open[k])
			continue
		}
		if open := OpenAt(now, ws); open != o.open[k] {
			fail("OpenAt = %v, oracle %v", open, o.open[k])
		}
		// Since: first grid minute of the current run, if the run starts on the grid.
		if j := k; true {
			for j > 0 && o.open[j-1] == o.open[k] {
				j--
			}
			if j > 0 && !st.Since.Equal(o.at(j)) {
				fail("Since = %s, oracle %s", fmtInstant(st.Since), o.at(j).Format(time.RFC3339))
			}
		}
		// Until and Next, when the grid reaches them.
		u := k + 1
		for u < span && o.open[u] == o.open[k] {
			u++
		}
		if u < span {
			if !st.Until.Equal(o.at(u)) {
				fail("Until = %s, oracle %s", fmtInstant(st.Until), o.at(u).Format(time.RFC3339))
			}
			n := u
			for n < span && !o.open[n] {
				n++
			}
			if n < span && !st.Next.Equal(o.at(n)) {
				fail("Next = %s, oracle %s", fmtInstant(st.Next), o.at(n).Format(time.RFC3339))
			}
		}
		checked++
	}
	if checked < 200 {
		t.Fatalf("only %d trials had valid windows", checked)
	}
}

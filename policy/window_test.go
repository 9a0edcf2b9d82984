package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// wallMatches reports whether a wall-clock reading (held in UTC) is a start
// of w's schedule, asking robfig/cron in UTC, where it has no DST to get
// wrong.
func wallMatches(w Window, wall time.Time) bool {
	return w.spec.Next(wall.Add(-time.Second)).Equal(wall)
}

// oracleStarts scans [from, to) minute by minute. A wall reading at or below
// the highest one seen already happened (clocks went back): not a start
// again. A jump of more than a minute skipped readings (clocks went
// forward): a start if any skipped reading matches, at the first instant
// after the jump.
func oracleStarts(w Window, from, to time.Time) []time.Time {
	var out []time.Time
	maxWall := wallClock(from.Add(-time.Minute).In(w.loc))
	for u := from; u.Before(to); u = u.Add(time.Minute) {
		wu := wallClock(u.In(w.loc))
		if !wu.After(maxWall) {
			continue
		}
		for x := maxWall.Add(time.Minute); !x.After(wu); x = x.Add(time.Minute) {
			if wallMatches(w, x) {
				out = append(out, u)
				break
			}
		}
		maxWall = wu
	}
	return out
}

func TestNextMatchesWallClockOracle(t *testing.T) {
	zones := []string{"Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Antarctica/Troll",
		"Europe/Dublin", "America/Santiago", "America/Havana", "Asia/Kolkata"}
	r := rand.New(rand.NewPCG(7, 30))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	for _, zone := range zones {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		// A day and two hours either side of every transition in 2024-2026 (a plain
		// stretch for zones without DST).
		var centers []time.Time
		for z := time.Date(2024, 1, 1, 0, 0, 0, 0, loc); z.Year() < 2027; {
			_, end := z.ZoneBounds()
			if end.IsZero() || end.Year() >= 2027 {
				break
			}
			centers = append(centers, end)
			z = end
		}
		if len(centers) == 0 {
			centers = []time.Time{time.Date(2025, 3, 30, 0, 0, 0, 0, loc)}
		}
		for i := 0; i < 8; i++ {
			sched := fmt.Sprintf("%s %s * * %s",
				pick("0", "30", "*/10", "15,45", "59", "0,1"),
				pick("0", "1", "2", "3", "23", "*", "0-3", "22-23"),
				pick("*", "0", "6", "1-5"))
			w, err := NewWindow("w", Allow, sched, time.Hour, zone)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range centers {
				from, to := c.Add(-26*time.Hour), c.Add(26*time.Hour)
				want := oracleStarts(w, from, to)
				var got []time.Time
				for s := w.next(from.Add(-time.Nanosecond)); !s.IsZero() && s.Before(to); s = w.next(s) {
					got = append(got, s)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s %q around %s:\n got %v\nwant %v", zone, sched, c, got, want)
				}
			}
		}
	}
}

package policy

import (
	"testing"
	"time"
)

// FuzzEvaluate checks Evaluate's promises on arbitrary schedules: it never
// panics, the state holds from Since and flips exactly at Since and Until,
// and Next is the next opening.
func FuzzEvaluate(f *testing.F) {
	f.Add("0 9 * * 1-5", int64(8*3600), uint8(1), "30 2 * * *", int64(3600), uint8(2), int64(0), false)
	f.Add("0 0 29 2 *", int64(86400), uint8(0), "*/15 * * * *", int64(60), uint8(3), int64(86400*400), true)
	f.Add("@weekly", int64(604800), uint8(4), "0 1 * * 0", int64(7200), uint8(2), int64(-86400*90), false)
	zones := []string{"UTC", "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"}
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s1 string, d1 int64, z1 uint8, s2 string, d2 int64, z2 uint8, offset int64, secondDeny bool) {
		var ws []Window
		if w, err := NewWindow("a", Allow, s1, time.Duration(d1)*time.Second, zones[int(z1)%len(zones)]); err == nil {
			ws = append(ws, w)
		}
		typ := Allow
		if secondDeny {
			typ = Deny
		}
		if w, err := NewWindow("b", typ, s2, time.Duration(d2)*time.Second, zones[int(z2)%len(zones)]); err == nil {
			ws = append(ws, w)
		}
		now := base.Add(time.Duration(offset%(86400*3650)) * time.Second)
		st := Evaluate(now, ws)
		if OpenAt(now, ws) != st.Open {
			t.Fatalf("OpenAt = %v, Evaluate's Open = %v at %s", !st.Open, st.Open, now)
		}
		at := func(x time.Time) bool { return Evaluate(x, ws).Open }
		if !st.Since.IsZero() {
			if st.Since.After(now) || at(st.Since) != st.Open || at(st.Since.Add(-time.Nanosecond)) == st.Open {
				t.Fatalf("Since %s does not start the %v state at %s", st.Since, st.Open, now)
			}
		}
		if !st.Until.IsZero() {
			if !st.Until.After(now) || at(st.Until) == st.Open || at(st.Until.Add(-time.Nanosecond)) != st.Open {
				t.Fatalf("Until %s does not end the %v state at %s", st.Until, st.Open, now)
			}
		}
		if !st.Open && !st.Next.Equal(st.Until) {
			t.Fatalf("closed: Next %s != Until %s", st.Next, st.Until)
		}
		if st.Open && !st.Next.IsZero() && (!st.Next.After(st.Until) || !at(st.Next) || at(st.Next.Add(-time.Nanosecond))) {
			t.Fatalf("open: Next %s is not the opening after Until %s", st.Next, st.Until)
		}
	})
}

package policy

import (
	"os"
	"testing"
	"time"
)

// Benchmarks for the costs the services pay: Evaluate runs for every
// promotion decision and /status, Load on every policy change, Periods for
// "ensign windows". Compare medians of -count runs.

func benchWindows(b *testing.B) map[string][]Window {
	b.Helper()
	mk := func(name string, typ WindowType, sched string, d time.Duration, tz string) Window {
		w, err := NewWindow(name, typ, sched, d, tz)
		if err != nil {
			b.Fatal(err)
		}
		return w
	}
	ams := "Europe/Amsterdam"
	return map[string][]Window{
		"business+deny": {
			mk("business-hours", Allow, "0 9 * * 1-5", 8*time.Hour, ams),
			mk("friday", Deny, "0 15 * * 5", 2*time.Hour, ams),
			mk("freeze-1", Deny, "0 0 20 12 *", 168*time.Hour, ams),
			mk("freeze-2", Deny, "0 0 27 12 *", 168*time.Hour, ams),
		},
		"leap-day":      {mk("leap", Allow, "0 0 29 2 *", 24*time.Hour, "UTC")},
		"dense-15min":   {mk("quarterly", Allow, "*/15 9-17 * * 1-5", 15*time.Minute, ams)},
		"always-weekly": {mk("week", Allow, "0 0 * * 1", 168*time.Hour, "UTC")},
		// The scale benchmark's production windows: one minute a year.
		"yearly": {mk("new-year", Allow, "0 0 1 1 *", time.Minute, "UTC")},
	}
}

func BenchmarkEvaluate(b *testing.B) {
	now := time.Date(2025, 12, 17, 11, 0, 0, 0, time.UTC)
	for name, ws := range benchWindows(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Evaluate(now, ws)
			}
		})
	}
}

// BenchmarkOpenAt is what checking whether a stage is open costs (the
// schedulers' gates and ensign_window_open, for every stage at every turn),
// side by side with the full Evaluate those checks used before.
func BenchmarkOpenAt(b *testing.B) {
	now := time.Date(2025, 12, 17, 11, 0, 0, 0, time.UTC)
	for name, ws := range benchWindows(b) {
		b.Run(name+"/OpenAt", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				OpenAt(now, ws)
			}
		})
		b.Run(name+"/Evaluate", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Evaluate(now, ws).Open
			}
		})
	}
}

func BenchmarkPeriodsWeek(b *testing.B) {
	from := time.Date(2025, 12, 15, 0, 0, 0, 0, time.UTC)
	ws := benchWindows(b)["business+deny"]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Periods(from, from.Add(7*24*time.Hour), ws); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadExample(b *testing.B) {
	data, err := os.ReadFile("../testdata/policy/ensign.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load("ensign.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

package faults

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ensignbot/ensign/internal/scenario"
)

func TestQuantiles(t *testing.T) {
	var ds []time.Duration
	for i := 20; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Second)
	}
	if got, want := quantiles(ds), "10.0 / 19.0 / 20.0 (20)"; got != want {
		t.Errorf("quantiles = %q, want %q (nearest rank)", got, want)
	}
	if got := quantiles([]time.Duration{1500 * time.Millisecond}); got != "1.5 / 1.5 / 1.5 (1)" {
		t.Errorf("one value: %q", got)
	}
	if got := quantiles(nil); got != "-" {
		t.Errorf("none: %q", got)
	}
}

// Only an app's last verified version needs its own pull request: ensign
// moves the open one to it.
func TestLatestPromotions(t *testing.T) {
	f, g := &scenario.Fleet{}, &scenario.Fleet{}
	a, b := scenario.FleetApp{Name: "a"}, scenario.FleetApp{Name: "b"}
	got := latest([]promotion{{f, a, "1"}, {f, b, "1"}, {g, a, "1"}, {f, a, "2"}})
	var tags []string
	for _, p := range got {
		tags = append(tags, p.app.Name+p.tag)
	}
	if strings.Join(tags, " ") != "b1 a1 a2" {
		t.Fatalf("latest = %v, want [b1 a1 a2]", tags)
	}
}

func TestPrintMarksLossAndSlowRecovery(t *testing.T) {
	good := Row{Case: "good", Faults: 1, Failures: tally{Once: 2}, Reverts: []time.Duration{time.Second, 2 * time.Second}}
	slow := good
	slow.Case, slow.Reverts = "slow", []time.Duration{9 * time.Second}
	lost := good
	lost.Case, lost.Failures = "lost", tally{Once: 1, Lost: 1}
	var b bytes.Buffer
	Print(&b, []Row{good, slow, lost}, 5*time.Second)
	lines := strings.Split(b.String(), "\n")
	for i, want := range []string{"| yes |", "| no |", "| yes, **lost, duplicated or wrong** |"} {
		if !strings.Contains(lines[2+i], want) {
			t.Errorf("row %d = %q, want %q in it", i, lines[2+i], want)
		}
	}
}

// A case recovered when every revert landed and Git was right within the
// target after each fault.
func TestRecovered(t *testing.T) {
	s := time.Second
	tests := []struct {
		name         string
		reverts, git []time.Duration
		want         bool
	}{
		{"all within", []time.Duration{2 * s, 3 * s}, []time.Duration{4 * s}, true},
		{"a late revert", []time.Duration{2 * s, 6 * s}, []time.Duration{4 * s}, false},
		{"Git right late, reverts in time", []time.Duration{2 * s}, []time.Duration{4 * s, 7 * s}, false},
		{"nothing measured", nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Row{Reverts: tt.reverts, Git: tt.git}).Recovered(5 * s); got != tt.want {
				t.Fatalf("Recovered = %v, want %v", got, tt.want)
			}
		})
	}
}

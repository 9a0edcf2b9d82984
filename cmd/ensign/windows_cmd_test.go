package main

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ensignbot/ensign/policy"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestWindowsGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		// A week before Christmas: business hours, a Friday deny, then the freeze.
		{"windows-year-end", []string{"--from", "2025-12-18", "--to", "5d", "--tz", "Europe/Amsterdam"}},
		// Across the spring DST change, shown in New York time, one app.
		{"windows-dst-new-york", []string{"--from", "2025-03-28T12:00:00+01:00", "--to", "2025-04-01 00:00", "--tz", "America/New_York", "--app", "podinfo"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"windows", "--policy", examplePolicy}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden := "testdata/" + tc.name + ".golden"
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("missing golden (run with -update and review): %v", err)
			}
			if stdout != string(want) {
				t.Errorf("output differs\n got:\n%s\nwant:\n%s", stdout, want)
			}
		})
	}
}

func TestWindowsErrors(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.yaml"
	if err := os.WriteFile(bad, []byte("apiVersion: v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		args       []string
		code       int
		stderrPart string
	}{
		{"unknown zone", []string{"--tz", "Mars/Olympus"}, 2, `unknown time zone "Mars/Olympus"`},
		{"bad from", []string{"--from", "tomorrow"}, 2, `--from: invalid time "tomorrow"`},
		{"bad to", []string{"--to", "soon"}, 2, `--to: want a time or a duration, got "soon"`},
		{"to before from", []string{"--from", "2025-06-02", "--to", "2025-06-01"}, 2, "must be after --from"},
		{"extra argument", []string{"prod"}, 2, `unexpected argument "prod"`},
		{"invalid policy", []string{"--policy", bad}, 1, "2 problems"},
		{"no matching stage", []string{"--app", "podinfo", "--stage", "qa"}, 1, `no stage matches --app "podinfo" --stage "qa"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"windows", "--policy", examplePolicy}, tc.args...)
			code, _, stderr := runCLI(t, args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderrPart) {
				t.Errorf("exit %d stderr %q, want %d and %q", code, stderr, tc.code, tc.stderrPart)
			}
		})
	}
}

func TestParseDaysAndHuman(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 168 * time.Hour, "2d12h": 60 * time.Hour, "36h": 36 * time.Hour, "0d30m": 30 * time.Minute} {
		if got, err := policy.ParseDays(in); err != nil || got != want {
			t.Errorf("ParseDays(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "xd", "-1d", "7dd", "-3h"} {
		if _, err := policy.ParseDays(bad); err == nil {
			t.Errorf("ParseDays(%q) succeeded", bad)
		}
	}
	for d, want := range map[time.Duration]string{8 * time.Hour: "8h", 402 * time.Hour: "16d18h", 90 * time.Minute: "1h30m", 168 * time.Hour: "7d", 30 * time.Second: "30s"} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}

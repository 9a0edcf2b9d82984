package vocab

import (
	"testing"
	"time"
)

func TestHoldRoundTrip(t *testing.T) {
	for _, reason := range []string{"waiting for QA", "", "two\nlines: with colon"} {
		by, got, ok := ParseHold(HoldText("hold", "alice", reason))
		want := reason
		switch reason {
		case "":
			want = "no reason given"
		case "two\nlines: with colon":
			want = "two lines: with colon"
		}
		if !ok || by != "alice" || got != want {
			t.Fatalf("ParseHold(HoldText(%q)) = %q, %q, %v", reason, by, got, ok)
		}
	}
	if _, _, ok := ParseHold("some other text"); ok {
		t.Fatal("parsed a hold out of other text")
	}
}

func TestOverrideRoundTrip(t *testing.T) {
	o := Override{By: "ada", At: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Head: "0123456789abcdef0123456789abcdef01234567"}
	got, ok := ParseOverride(OverrideText(o))
	if !ok || got != o {
		t.Fatalf("ParseOverride = %+v, %v; want %+v", got, ok, o)
	}
	for _, bad := range []string{"", "⏩ **Let through outside the windows** by @ at x for head y.", "by @ada at 2026-12-03T10:00:00Z for head abc"} {
		if _, ok := ParseOverride(bad); ok {
			t.Fatalf("parsed an override out of %q", bad)
		}
	}
}

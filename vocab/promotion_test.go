package vocab

import (
	"errors"
	"strings"
	"testing"
)

func TestPromotionRoundTrip(t *testing.T) {
	m := NewPromotion("podinfo", "staging", "production", []string{"b:2", "a:1"}, "abc123", "staging/podinfo/podinfo")
	if m.Images[0] != "a:1" {
		t.Fatalf("images not sorted: %v", m.Images)
	}
	if again := NewPromotion("podinfo", "staging", "production", []string{"a:1", "b:2"}, "abc123", "other"); again.ID != m.ID {
		t.Fatalf("ID depends on image order or canary: %s vs %s", again.ID, m.ID)
	}
	for _, other := range []Promotion{
		NewPromotion("podinfo", "staging", "production", []string{"a:1", "b:3"}, "abc123", ""),
		NewPromotion("podinfo", "staging", "production", []string{"a:1", "b:2"}, "def456", ""),
		NewPromotion("podinfo", "staging", "production-us", []string{"a:1", "b:2"}, "abc123", ""),
	} {
		if other.ID == m.ID {
			t.Fatalf("different promotions share ID %s: %+v", m.ID, other)
		}
	}
	body := "## Promote podinfo\n\ntext --> with arrows\n\n" + m.Marker() + "\n"
	got, err := ParsePromotion(body)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID || got.App != "podinfo" || got.To != "production" || len(got.Images) != 2 || got.Revision != "abc123" {
		t.Fatalf("ParsePromotion = %+v, want %+v", got, m)
	}
}

func TestParseMarkerRejects(t *testing.T) {
	for name, body := range map[string]string{
		"none":         "a plain body",
		"unterminated": markerPrefix + `{"app":"a","to":"b","id":"c"}`,
		"not json":     markerPrefix + "hello" + markerSuffix,
		"unknown":      markerPrefix + `{"app":"a","to":"b","id":"c","x":1}` + markerSuffix,
		"incomplete":   markerPrefix + `{"app":"a"}` + markerSuffix,
		"oversized":    markerPrefix + `{"app":"` + strings.Repeat("a", maxMarker) + `"}` + markerSuffix,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParsePromotion(body); err == nil {
				t.Fatal("want an error")
			} else if name == "none" && !errors.Is(err, ErrNoPromotion) {
				t.Fatalf("err = %v, want ErrNoPromotion", err)
			}
		})
	}
}

func FuzzParsePromotion(f *testing.F) {
	m := NewPromotion("app", "s", "p", []string{"x:1"}, "", "c/n/x")
	f.Add(m.Marker())
	f.Add("text " + m.Marker() + " more")
	f.Add(markerPrefix + "{}" + markerSuffix)
	f.Fuzz(func(t *testing.T, body string) {
		got, err := ParsePromotion(body)
		if err != nil {
			return
		}
		// Whatever was accepted survives a round trip through Marker.
		again, err := ParsePromotion(got.Marker())
		if err != nil || again.ID != got.ID || again.App != got.App || again.To != got.To {
			t.Fatalf("round trip of %+v: %+v, %v", got, again, err)
		}
	})
}

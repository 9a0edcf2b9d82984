package imageref

import (
	"errors"
	"strings"
	"testing"

	"github.com/ensignbot/ensign/overlay"
)

var digest = "sha256:" + strings.Repeat("ab", 32)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
		err  bool
	}{
		{in: "nginx", want: Ref{Name: "nginx"}},
		{in: "nginx:1.25", want: Ref{Name: "nginx", Tag: "1.25"}},
		{in: "ghcr.io/stefanprodan/podinfo:6.5.1", want: Ref{Name: "ghcr.io/stefanprodan/podinfo", Tag: "6.5.1"}},
		{in: "localhost:5000/app", want: Ref{Name: "localhost:5000/app"}},
		{in: "localhost:5000/app:v2", want: Ref{Name: "localhost:5000/app", Tag: "v2"}},
		{in: "app@" + digest, want: Ref{Name: "app", Digest: digest}},
		{in: "reg.io/a/app:1.0@" + digest, want: Ref{Name: "reg.io/a/app", Tag: "1.0", Digest: digest}},
		{in: "", err: true},
		{in: " app", err: true},
		{in: "app:", err: true},
		{in: "app:-bad", err: true},
		{in: "app@sha256:XYZ", err: true},
		{in: "app@sha256:abc", err: true},
		{in: "/app", err: true},
		{in: "a//b", err: true},
		{in: "app:1.0 extra", err: true},
		{in: "app$:1", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.err {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Parse(%q) = %+v, %v; want ErrInvalid", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Fatalf("String() = %q, want the input %q back", got.String(), tt.in)
			}
		})
	}
}

func TestKustomizeEntries(t *testing.T) {
	entries := []overlay.Image{
		{Name: "podinfo", NewName: "ghcr.io/stefanprodan/podinfo", NewTag: "6.5.0"},
		{Name: "ghcr.io/acme/api", NewTag: "1.0.0"},
		{Name: "ghcr.io/acme/worker", Digest: digest},
	}
	tests := []struct {
		ref    string
		find   int
		pins   bool
		pinned overlay.Image
	}{
		{"ghcr.io/stefanprodan/podinfo:6.5.0", 0, true, entries[0]},
		{"ghcr.io/stefanprodan/podinfo:6.5.1", 0, false, overlay.Image{Name: "podinfo", NewName: "ghcr.io/stefanprodan/podinfo", NewTag: "6.5.1"}},
		{"ghcr.io/acme/api:1.0.0", 1, true, entries[1]},
		{"ghcr.io/acme/api:1.0.0@" + digest, 1, false, overlay.Image{Name: "ghcr.io/acme/api", NewTag: "1.0.0", Digest: digest}},
		{"ghcr.io/acme/worker@" + digest, 2, true, entries[2]},
		{"ghcr.io/acme/worker:2.0", 2, false, overlay.Image{Name: "ghcr.io/acme/worker", NewTag: "2.0"}},
		{"podinfo:6.5.0", -1, false, overlay.Image{}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			r, err := Parse(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			i := Find(entries, r)
			if i != tt.find {
				t.Fatalf("Find = %d, want %d", i, tt.find)
			}
			if i < 0 {
				return
			}
			if got := Pins(entries[i], r); got != tt.pins {
				t.Fatalf("Pins = %v, want %v", got, tt.pins)
			}
			p := Pin(entries[i], r)
			if p != tt.pinned {
				t.Fatalf("Pin = %+v, want %+v", p, tt.pinned)
			}
			if !Pins(p, r) {
				t.Fatalf("Pin(%+v) does not pin %s", p, r)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"nginx", "a/b:c", "localhost:5000/x:y@" + digest, "x@y", ":", "@", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if r.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, r.String())
		}
		again, err := Parse(r.String())
		if err != nil || again != r {
			t.Fatalf("reparse of %q = %+v, %v; want %+v", s, again, err, r)
		}
		if !Pins(Pin(overlay.Image{Name: r.Name}, r), r) {
			t.Fatalf("Pin does not pin %q", s)
		}
	})
}

package imageguard

import (
	"strings"
	"testing"
)

func TestParseMarker(t *testing.T) {
	tests := []struct {
		name, comment string
		want          Marker
		ok            bool
	}{
		{"whole reference", `# {"$imagepolicy": "flux-system:podinfo"}`, Marker{"flux-system", "podinfo", ""}, true},
		{"tag", `# {"$imagepolicy": "flux-system:podinfo:tag"}`, Marker{"flux-system", "podinfo", "tag"}, true},
		{"name", `# {"$imagepolicy": "flux-system:podinfo:name"}`, Marker{"flux-system", "podinfo", "name"}, true},
		{"digest", `# {"$imagepolicy": "flux-system:podinfo:digest"}`, Marker{"flux-system", "podinfo", "digest"}, true},
		{"no namespace", `# {"$imagepolicy": "podinfo"}`, Marker{"", "podinfo", ""}, true},
		{"no space, two hashes", `##{"$imagepolicy":"apps:web-1.v2"}`, Marker{"apps", "web-1.v2", ""}, true},
		{"other keys", `# {"$imagepolicy": "a:b", "other": "x"}`, Marker{"a", "b", ""}, true},
		{"unknown field", `# {"$imagepolicy": "a:b:version"}`, Marker{}, false},
		{"too many parts", `# {"$imagepolicy": "a:b:tag:x"}`, Marker{}, false},
		{"empty", `# {"$imagepolicy": ""}`, Marker{}, false},
		{"empty namespace", `# {"$imagepolicy": ":b"}`, Marker{}, false},
		{"upper case", `# {"$imagepolicy": "A:b"}`, Marker{}, false},
		{"slash", `# {"$imagepolicy": "a/b"}`, Marker{}, false},
		{"not a string", `# {"$imagepolicy": 1}`, Marker{}, false},
		{"other value not a string", `# {"$imagepolicy": "a:b", "n": 1}`, Marker{}, false},
		{"prose", `# set by {"$imagepolicy": "a:b"}`, Marker{}, false},
		{"trailing text", `# {"$imagepolicy": "a:b"} keep`, Marker{}, false},
		{"plain comment", `# upstream image`, Marker{}, false},
		{"setters v1 ref", `# {"$ref": "#/definitions/io.k8s.cli.setters.a:b"}`, Marker{}, false},
		{"huge", `# {"$imagepolicy": "` + strings.Repeat("a", 2000) + `"}`, Marker{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseMarker(tt.comment)
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParseMarker(%q) = %+v, %v; want %+v, %v", tt.comment, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzParseMarker: markers come from files anyone with write access edits.
// A parsed marker always renders back to a comment that parses the same.
func FuzzParseMarker(f *testing.F) {
	for _, s := range []string{`# {"$imagepolicy": "a:b"}`, `# {"$imagepolicy": "a:b:tag"}`, `#{"$imagepolicy":"b"}`, `# {"$imagepolicy": "a:b:x"}`, "# \x00", `# {"$imagepolicy": "a:b", "$imagepolicy": "c:d"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := ParseMarker(s)
		if !ok {
			return
		}
		if !objectName(m.Name) || m.Namespace != "" && !objectName(m.Namespace) {
			t.Fatalf("bad names in %+v", m)
		}
		again, ok := ParseMarker(`# {"$imagepolicy": "` + m.String() + `"}`)
		if !ok || again != m {
			t.Fatalf("%+v renders as %q, which parses as %+v, %v", m, m.String(), again, ok)
		}
	})
}

func TestPatternRoundTrip(t *testing.T) {
	for _, tag := range []string{"6.5.1", "v1.2.3-rc.1", "latest", "1_2"} {
		p := Pattern(tag)
		got, ok := TagOf(p)
		if !ok || got != tag {
			t.Errorf("TagOf(Pattern(%q)) = %q, %v", tag, got, ok)
		}
	}
	for _, p := range []string{`^.*\.sig$`, `^6.5.1$`, `6\.5\.1`, `^$`} {
		if tag, ok := TagOf(p); ok {
			t.Errorf("TagOf(%q) = %q, want no tag", p, tag)
		}
	}
}

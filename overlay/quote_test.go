package overlay

import (
	"testing"

	"gopkg.in/yaml.v3"
)

func TestRender(t *testing.T) {
	tests := []struct {
		v     string
		old   byte
		flow  bool
		want  string
		tag   string
		isErr bool
	}{
		{v: "v1.2.3", old: stylePlain, want: "v1.2.3"},
		{v: "6.5.4", old: stylePlain, want: "6.5.4"},
		{v: "1.10", old: stylePlain, want: `"1.10"`},
		{v: "10", old: stylePlain, want: `"10"`},
		{v: "1e3", old: stylePlain, want: `"1e3"`},
		{v: "0777", old: stylePlain, want: `"0777"`},
		{v: "1_000", old: stylePlain, want: `"1_000"`},
		{v: "0x1F", old: stylePlain, want: `"0x1F"`},
		{v: "1:20", old: stylePlain, want: `"1:20"`},
		{v: "true", old: stylePlain, want: `"true"`},
		{v: "yes", old: stylePlain, want: `"yes"`},
		{v: "On", old: stylePlain, want: `"On"`},
		{v: "n", old: stylePlain, want: `"n"`},
		{v: "~", old: stylePlain, want: `"~"`},
		{v: "null", old: stylePlain, want: `"null"`},
		{v: ".inf", old: stylePlain, want: `".inf"`},
		{v: "2024-01-02", old: stylePlain, want: `"2024-01-02"`},
		{v: "", old: stylePlain, want: `""`},
		{v: " lead", old: stylePlain, want: `" lead"`},
		{v: "a #b", old: stylePlain, want: `"a #b"`},
		{v: "a: b", old: stylePlain, want: `"a: b"`},
		{v: "*x", old: stylePlain, want: `"*x"`},
		{v: "- x", old: stylePlain, want: `"- x"`},
		{v: "a,b", old: stylePlain, want: "a,b"},
		{v: "a,b", old: stylePlain, flow: true, want: `"a,b"`},
		{v: "a]", old: stylePlain, flow: true, want: `"a]"`},
		{v: "sha256:abc", old: stylePlain, flow: true, want: "sha256:abc"},
		{v: "ü-β", old: stylePlain, want: "ü-β"},
		{v: "v2", old: styleDouble, want: `"v2"`},
		{v: "v2", old: styleSingle, want: `'v2'`},
		{v: "it's", old: styleSingle, want: `'it''s'`},
		{v: "a\nb", old: styleSingle, want: `"a\nb"`},
		{v: "tab\there", old: stylePlain, want: `"tab\there"`},
		{v: "q\"\\", old: styleDouble, want: `"q\"\\"`},
		{v: "\x01\u0085\u2028\ufeff", old: styleDouble, want: `"\x01\N\L\uFEFF"`},
		{v: "3", tag: "!!int", want: "3"},
		{v: "3.5", tag: "!!float", want: "3.5"},
		{v: "true", tag: "!!bool", want: "true"},
		{v: "x", tag: "!!int", isErr: true},
		{v: "\xff", old: stylePlain, isErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.v, func(t *testing.T) {
			tag := tt.tag
			if tag == "" {
				tag = tagStr
			}
			got, err := render(tt.v, tag, tt.old, tt.flow, false)
			if tt.isErr {
				if err == nil {
					t.Fatalf("render(%q) = %q, want an error", tt.v, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("render(%q) = %q, %v; want %q", tt.v, got, err, tt.want)
			}
			// Whatever is written must read back as the value and tag.
			doc := "k: " + got
			if tt.flow {
				doc = "{k: " + got + "}"
			}
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
				t.Fatalf("%s: %v", doc, err)
			}
			if s := n.Content[0].Content[1]; s.Value != tt.v || s.Tag != tag {
				t.Fatalf("%s reads back %s %q", doc, s.Tag, s.Value)
			}
		})
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{"v1", "1.10", "a: b", "it's", "\n", "ü", "[x]", "#", "- a", "? x", "%x", "@x", "`x"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, v string, flow bool) {
		for _, old := range []byte{stylePlain, styleSingle, styleDouble} {
			got, err := render(v, tagStr, old, flow, false)
			if err != nil {
				return
			}
			doc := "k: " + got
			if flow {
				doc = "{k: " + got + "}"
			}
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
				t.Fatalf("%q: %v", doc, err)
			}
			if s := n.Content[0].Content[1]; s.Value != v || s.Tag != tagStr {
				t.Fatalf("%q reads back %s %q", doc, s.Tag, s.Value)
			}
		}
	})
}

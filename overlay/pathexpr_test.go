package overlay

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		path string
		want []segment // only kind/key/value/index compared
		err  bool
	}{
		{path: "spec.values.image.tag", want: []segment{{key: "spec"}, {key: "values"}, {key: "image"}, {key: "tag"}}},
		{path: "containers[0].image", want: []segment{{key: "containers"}, {kind: segIndex, index: 0}, {key: "image"}}},
		{path: "containers[name=app].image", want: []segment{{key: "containers"}, {kind: segMatch, key: "name", value: "app"}, {key: "image"}}},
		{path: `a[name="x.y]z"]`, want: []segment{{key: "a"}, {kind: segMatch, key: "name", value: "x.y]z"}}},
		{path: `metadata.annotations["fluxcd.io/x.y"]`, want: []segment{{key: "metadata"}, {key: "annotations"}, {key: "fluxcd.io/x.y"}}},
		{path: `m['it''s']`, want: []segment{{key: "m"}, {key: "it's"}}},
		{path: "[1][2]", want: []segment{{kind: segIndex, index: 1}, {kind: segIndex, index: 2}}},
		{path: "a[name=]", want: []segment{{key: "a"}, {kind: segMatch, key: "name", value: ""}}},
		{path: "", err: true},
		{path: "a..b", err: true},
		{path: "a.", err: true},
		{path: ".a", err: true},
		{path: "a[", err: true},
		{path: "a[-1]", err: true},
		{path: "a[+1]", err: true},
		{path: "a[x]", err: true},
		{path: "a[=v]", err: true},
		{path: `a["x]`, err: true},
		{path: "a]b", err: true},
		{path: "a[0]b", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := parsePath(tt.path)
			if tt.err {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("parsePath(%q) = %v, %v; want ErrInvalid", tt.path, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i].text, got[i].parentText = "", ""
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parsePath(%q) =\n %+v\nwant\n %+v", tt.path, got, tt.want)
			}
		})
	}
}

func TestPathErrors(t *testing.T) {
	const doc = `kind: HelmRelease
metadata: {name: web}
spec:
  values:
    image: {repository: r, tag: "1"}
    list: [a, b]
    items:
      - name: x
      - name: x
    literal: |
      text
`
	tests := []struct {
		path     string
		sentinel error
		msg      string
	}{
		{"spec.values.list[5]", ErrNotFound, "r.yaml:6: spec.values.list[5]: list has 2 items"},
		{"spec.values.list.x", ErrType, "r.yaml:6: spec.values.list: found a sequence, want a mapping"},
		{"spec.values.image[0]", ErrType, "found a mapping, want a list"},
		{"spec.values.items[name=x]", ErrAmbiguous, "r.yaml:9: spec.values.items[name=x]: also matched at line 8"},
		{"spec.values.items[name=y].a", ErrNotFound, "no item with name=y"},
		{"spec.values.literal", ErrUnsupported, "r.yaml:10: spec.values.literal: value is a block scalar"},
		{"spec.values.image.tag.x", ErrType, `found the scalar "1", want a mapping`},
		{"spec.values.list[0]x", ErrInvalid, "unexpected"},
		{"spec", ErrType, "found a mapping, want a scalar to replace"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			f, err := Parse("r.yaml", []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.SetPath(Selector{Kind: "HelmRelease"}, tt.path, "v")
			if !errors.Is(err, tt.sentinel) || !contains(err, tt.msg) {
				t.Fatalf("SetPath(%s) error = %v, want %v containing %q", tt.path, err, tt.sentinel, tt.msg)
			}
			if string(f.Bytes()) != doc {
				t.Fatal("failed SetPath changed the file")
			}
		})
	}
}

func TestSelector(t *testing.T) {
	const docs = "kind: A\nmetadata: {name: x, namespace: n1}\nv: 1\n---\nkind: A\nmetadata: {name: x, namespace: n2}\nv: 2\n---\n# empty\n---\nkind: B\nmetadata: {name: x}\nv: 3\n"
	f, err := Parse("m.yaml", []byte(docs))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sel      Selector
		want     string
		sentinel error
	}{
		{Selector{Kind: "B"}, "3", nil},
		{Selector{Kind: "A", Namespace: "n2"}, "2", nil},
		{Selector{Name: "x", Namespace: "n1"}, "1", nil},
		{Selector{Kind: "A"}, "", ErrAmbiguous},
		{Selector{}, "", ErrAmbiguous},
		{Selector{Kind: "C"}, "", ErrNotFound},
		{Selector{APIVersion: "v1"}, "", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.sel.String(), func(t *testing.T) {
			got, err := f.GetPath(tt.sel, "v")
			if !errors.Is(err, tt.sentinel) || got != tt.want {
				t.Fatalf("GetPath = %q, %v; want %q, %v", got, err, tt.want, tt.sentinel)
			}
		})
	}
}

func contains(err error, s string) bool {
	return err != nil && strings.Contains(err.Error(), s)
}

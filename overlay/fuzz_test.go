package overlay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// seedInputs adds every golden input file to a fuzz corpus.
func seedInputs(f *testing.F, add func(data []byte)) {
	f.Helper()
	files, err := filepath.Glob("testdata/*/input/*")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(data)
	}
}

// decodeAll decodes every document of a stream into generic values, the
// way any consumer of the file would see it.
func decodeAll(data []byte) ([]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, normalize(v))
	}
}

// normalize makes NaN comparable and map keys uniform.
func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) {
			return "NaN"
		}
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case map[any]any:
		m := map[string]any{}
		for k, e := range x {
			key, ok := k.(string)
			if !ok {
				key = fmt.Sprintf("%T:%v", k, k)
			}
			m[key] = normalize(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = normalize(e)
		}
		return s
	}
	return v
}

// checkFailedEdit asserts that a failed edit left the file unchanged and
// returned a positioned *Error.
func checkFailedEdit(t *testing.T, f *File, data []byte, err error) {
	t.Helper()
	var oe *Error
	if !errors.As(err, &oe) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if !bytes.Equal(f.Bytes(), data) {
		t.Fatalf("failed edit (%v) changed the file", err)
	}
}

func FuzzImages(f *testing.F) {
	seedInputs(f, func(d []byte) { f.Add(d) })
	f.Add([]byte("images: [{name: a, newTag: b}, {name: c}]"))
	f.Add([]byte("images:\n- name: a\n  <<: {newTag: x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("k.yaml", data)
		if err != nil {
			return
		}
		imgs, err := file.Images()
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		// Cross-check with yaml.v3's own decoding into the Kustomize shape.
		var k struct {
			Images []struct {
				Name    string `yaml:"name"`
				NewName string `yaml:"newName"`
				NewTag  string `yaml:"newTag"`
				Digest  string `yaml:"digest"`
			} `yaml:"images"`
		}
		if yaml.Unmarshal(data, &k) != nil || file.Documents() != 1 {
			return
		}
		if len(k.Images) != len(imgs) {
			t.Fatalf("Images() = %v, yaml.v3 decodes %v", imgs, k.Images)
		}
		for i, im := range k.Images {
			if Image(im) != imgs[i] {
				t.Fatalf("Images()[%d] = %+v, yaml.v3 decodes %+v", i, imgs[i], im)
			}
		}
	})
}

func FuzzSetImage(f *testing.F) {
	seedInputs(f, func(d []byte) { f.Add(d, "app", "", "1.10", "", uint8(FieldNewTag|FieldDigest)) })
	f.Add([]byte("images:\n- name: app\n  newTag: v1\n"), "app", "r/x", "yes", "sha256:1", uint8(FieldsAll))
	f.Add([]byte("resources: [a]\n"), "new", "", "v1", "", uint8(FieldNewTag))
	f.Fuzz(func(t *testing.T, data []byte, name, newName, tag, digest string, fields uint8) {
		file, err := Parse("k.yaml", data)
		if err != nil {
			return
		}
		before, err := file.Images()
		if err != nil {
			return
		}
		img := Image{Name: name, NewName: newName, NewTag: tag, Digest: digest}
		fl := Field(fields) & FieldsAll
		ch, err := file.SetImage(img, fl)
		if err != nil {
			checkFailedEdit(t, file, data, err)
			return
		}
		out := file.Bytes()
		if !ch.Changed() {
			if !bytes.Equal(out, data) {
				t.Fatalf("no change reported but file changed:\n%s", out)
			}
			// The file must already hold what was asked for.
			var cur Image
			if i := slices.IndexFunc(before, func(im Image) bool { return im.Name == name }); i >= 0 {
				cur = before[i]
			}
			for _, k := range imageKeys[1:] {
				if fl&k.field != 0 && cur.get(k.field) != img.get(k.field) {
					t.Fatalf("no change reported but %s is %q, want %q", k.key, cur.get(k.field), img.get(k.field))
				}
			}
			return
		}
		reparsed, err := Parse("k.yaml", out)
		if err != nil {
			t.Fatalf("result does not parse: %v\n%s", err, out)
		}
		after, err := reparsed.Images()
		if err != nil {
			t.Fatalf("result images: %v\n%s", err, out)
		}
		// The edited entry reads back as asked; every other entry is as before.
		want := ch.New
		for _, k := range imageKeys[1:] {
			if fl&k.field != 0 && want.get(k.field) != img.get(k.field) {
				t.Fatalf("change %+v does not carry %s=%q", want, k.key, img.get(k.field))
			}
		}
		var others []Image
		found := false
		for _, im := range after {
			if im.Name == name {
				if im != want {
					t.Fatalf("entry reads back %+v, want %+v\n%s", im, want, out)
				}
				found = true
				continue
			}
			others = append(others, im)
		}
		if !found {
			t.Fatalf("entry %q missing after edit\n%s", name, out)
		}
		var othersBefore []Image
		for _, im := range before {
			if im.Name != name {
				othersBefore = append(othersBefore, im)
			}
		}
		if !reflect.DeepEqual(others, othersBefore) {
			t.Fatalf("other entries changed: %v -> %v", othersBefore, others)
		}
		// Everything outside the edited entry is unchanged for a generic reader.
		oldDocs, err1 := decodeAll(data)
		newDocs, err2 := decodeAll(out)
		if err1 != nil {
			return
		}
		if err2 != nil {
			t.Fatalf("result does not decode: %v\n%s", err2, out)
		}
		// strip takes the edited entry (list index idx, -1 for none) out of
		// the list, returning it without the fields an edit may change, and
		// drops a list left empty, so an absent, null or empty list compares
		// equal. Entries are found by index because a generic decoder reads
		// a name like 0 as a number.
		strip := func(docs []any, idx int) ([]any, map[string]any) {
			var entry map[string]any
			for _, d := range docs {
				m, ok := d.(map[string]any)
				if !ok {
					continue
				}
				list, _ := m["images"].([]any)
				var kept []any
				for i, e := range list {
					if em, ok := e.(map[string]any); ok && i == idx {
						entry = em
						delete(em, "newName")
						delete(em, "newTag")
						delete(em, "digest")
						continue
					}
					kept = append(kept, e)
				}
				if _, isList := m["images"].([]any); isList || m["images"] == nil {
					if len(kept) == 0 {
						delete(m, "images")
					} else {
						m["images"] = kept
					}
				}
			}
			return docs, entry
		}
		oldIdx := slices.IndexFunc(before, func(im Image) bool { return im.Name == name })
		newIdx := slices.IndexFunc(after, func(im Image) bool { return im.Name == name })
		o, oe := strip(oldDocs, oldIdx)
		n, ne := strip(newDocs, newIdx)
		if oe != nil && !reflect.DeepEqual(oe, ne) {
			t.Fatalf("edited entry's other keys changed: %v -> %v", oe, ne)
		}
		if !reflect.DeepEqual(o, n) {
			t.Fatalf("content outside the edit changed:\nold %#v\nnew %#v\n--- in ---\n%s\n--- out ---\n%s", o, n, data, out)
		}
	})
}

func FuzzSetPath(f *testing.F) {
	seedInputs(f, func(d []byte) { f.Add(d, "", "", "spec.values.image.tag", "1.10") })
	f.Add([]byte("a:\n  b: [1, {c: d}]\n"), "", "", "a.b[1].c", "true")
	f.Add([]byte("a: {b: x}\n---\nkind: K\nmetadata: {name: n}\nx: 1\n"), "K", "n", "x", "y")
	f.Add([]byte("l:\n- name: app\n  image: a\n"), "", "", "l[name=app].image", "b")
	f.Fuzz(func(t *testing.T, data []byte, kind, name, path, value string) {
		file, err := Parse("v.yaml", data)
		if err != nil {
			return
		}
		sel := Selector{Kind: kind, Name: name}
		ch, err := file.SetPath(sel, path, value)
		if err != nil {
			checkFailedEdit(t, file, data, err)
			return
		}
		out := file.Bytes()
		if !ch.Changed() && !bytes.Equal(out, data) {
			t.Fatalf("no change reported but file changed")
		}
		reparsed, err := Parse("v.yaml", out)
		if err != nil {
			t.Fatalf("result does not parse: %v\n%s", err, out)
		}
		n, err := reparsed.getScalar(sel, path)
		if err != nil {
			t.Fatalf("read back: %v\n%s", err, out)
		}
		if n.Value != value || n.Tag != tagStr {
			t.Fatalf("read back %s %q, want !!str %q\n%s", n.Tag, n.Value, value, out)
		}
		// Every other value is unchanged: drop the leaf from both generic
		// trees and compare.
		segs, err := parsePath(path)
		if err != nil {
			t.Fatal(err)
		}
		oldDocs, err1 := decodeAll(data)
		newDocs, err2 := decodeAll(out)
		if err1 != nil {
			return
		}
		if err2 != nil {
			t.Fatalf("result does not decode: %v\n%s", err2, out)
		}
		if len(oldDocs) != len(newDocs) {
			t.Fatalf("document count %d -> %d", len(oldDocs), len(newDocs))
		}
		for i := range newDocs {
			dropped := dropLeaf(newDocs[i], segs)
			dropLeaf(oldDocs[i], segs)
			if dropped && !reflect.DeepEqual(oldDocs[i], newDocs[i]) {
				t.Fatalf("document %d changed outside %s:\nold %#v\nnew %#v\n--- out ---\n%s", i, path, oldDocs[i], newDocs[i], out)
			}
		}
	})
}

// dropLeaf removes the node at segs from a generic tree (map keys are
// deleted, list items replaced by a marker) and reports whether it was
// found. It is the fuzz oracle's own, deliberately simple, path walk.
func dropLeaf(v any, segs []segment) bool {
	for i, s := range segs {
		last := i == len(segs)-1
		switch s.kind {
		case segKey:
			m, ok := v.(map[string]any)
			if !ok {
				return false
			}
			if last {
				_, had := m[s.key]
				delete(m, s.key)
				return had
			}
			v = m[s.key]
		case segIndex, segMatch:
			l, ok := v.([]any)
			if !ok {
				return false
			}
			idx := -1
			if s.kind == segIndex && s.index < len(l) {
				idx = s.index
			}
			for j, e := range l {
				if m, ok := e.(map[string]any); ok && s.kind == segMatch && fmt.Sprint(m[s.key]) == s.value {
					idx = j
				}
			}
			if idx < 0 {
				return false
			}
			if last {
				l[idx] = "<edited>"
				return true
			}
			v = l[idx]
		}
	}
	return false
}

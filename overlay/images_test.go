package overlay

import (
	"bytes"
	"errors"
	"testing"
)

const kust = `resources: [base]
images:
- name: app
  newTag: v1
- name: worker
  newTag: v1
`

func mustParse(t *testing.T, name, data string) *File {
	t.Helper()
	f, err := Parse(name, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSetImageErrors(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		img      Image
		sentinel error
		msg      string
	}{
		{"empty name", kust, Image{NewTag: "v2"}, ErrInvalid, "image name is empty"},
		{"blank in tag", kust, Image{Name: "app", NewTag: "v2 "}, ErrInvalid, "has blanks or control characters"},
		{"newline in digest", kust, Image{Name: "app", Digest: "a\nb"}, ErrInvalid, "control characters"},
		{"empty file", "# nothing here\n", Image{Name: "app", NewTag: "v2"}, ErrNotFound, "no kustomization mapping"},
		{"two documents", "a: 1\n---\nb: 2\n", Image{Name: "app", NewTag: "v2"}, ErrAmbiguous, "k.yaml:3: kustomization has 2 documents"},
		{"scalar document", "just text\n", Image{Name: "app", NewTag: "v2"}, ErrType, "document is the scalar"},
		{"images not a list", "images: {name: app}\n", Image{Name: "app", NewTag: "v2"}, ErrType, "k.yaml:1: images: found a mapping, want a list"},
		{"entry not a mapping", "images:\n- app\n", Image{Name: "app", NewTag: "v2"}, ErrType, "k.yaml:2: images[0]: found the scalar"},
		{"entry without name", "images:\n- newTag: v1\n", Image{Name: "app", NewTag: "v2"}, ErrInvalid, "k.yaml:2: images[0]: image entry has no name"},
		{"tag is a list", "images:\n- name: app\n  newTag: [v1]\n", Image{Name: "app", NewTag: "v2"}, ErrType, "k.yaml:3: images[0].newTag: found a sequence"},
		{"duplicate key", "images:\n- name: app\n  newTag: v1\n  newTag: v0\n", Image{Name: "app", NewTag: "v2"}, ErrAmbiguous, "k.yaml:4: images[0].newTag: key also defined at line 3"},
		{"shared entry", "x: &e {name: app, newTag: v1}\nimages:\n- *e\n", Image{Name: "app", NewTag: "v2"}, ErrUnsupported, "shared through an anchor"},
		{"shared list", "x: &l [{name: app}]\nimages: *l\n", Image{Name: "new", NewTag: "v2"}, ErrUnsupported, "shared through an anchor"},
		{"merge key", "b: &b {newTag: v1}\nimages:\n- name: app\n  <<: *b\n", Image{Name: "app", NewTag: "v2"}, ErrUnsupported, "merge key"},
		{"block scalar tag", "images:\n- name: app\n  newTag: |\n    v1\n", Image{Name: "app", NewTag: "v2"}, ErrUnsupported, "k.yaml:3: images[0].newTag: value is a block scalar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, "k.yaml", tt.data)
			_, err := f.SetImage(tt.img, FieldsAll)
			if !errors.Is(err, tt.sentinel) || !contains(err, tt.msg) {
				t.Fatalf("error = %v, want %v containing %q", err, tt.sentinel, tt.msg)
			}
			if string(f.Bytes()) != tt.data {
				t.Fatalf("failed edit changed the file:\n%s", f.Bytes())
			}
		})
	}
}

func TestSetImageNoopAndRepeat(t *testing.T) {
	f := mustParse(t, "k.yaml", kust)
	before := f.Bytes()
	ch, err := f.SetImage(Image{Name: "app", NewTag: "v1"}, FieldNewTag|FieldDigest)
	if err != nil || ch.Changed() {
		t.Fatalf("SetImage same value = %v, %v; want no change", ch, err)
	}
	if &f.Bytes()[0] != &before[0] {
		t.Fatal("no-op edit replaced the content")
	}
	for i := range 2 {
		ch, err = f.SetImage(Image{Name: "app", NewTag: "v2"}, FieldNewTag)
		if err != nil || ch.Changed() != (i == 0) {
			t.Fatalf("attempt %d: %v, %v", i, ch, err)
		}
	}
	imgs, err := f.Images()
	if err != nil || imgs[0].NewTag != "v2" || imgs[1].NewTag != "v1" {
		t.Fatalf("Images() = %v, %v", imgs, err)
	}
}

func TestSyncImagesAtomic(t *testing.T) {
	src := mustParse(t, "staging.yaml", "images:\n- name: app\n  newTag: v9\n- name: shared\n  newTag: v9\n")
	dstData := "s: &s {name: shared, newTag: v1}\nimages:\n- name: app\n  newTag: v1\n- *s\n"
	dst := mustParse(t, "prod.yaml", dstData)
	_, err := SyncImages(src, dst, nil)
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("error = %v, want ErrUnsupported", err)
	}
	if string(dst.Bytes()) != dstData {
		t.Fatalf("failed sync changed the target:\n%s", dst.Bytes())
	}
	// Syncing only the editable image works and reports it.
	changes, err := SyncImages(src, dst, []string{"app"})
	if err != nil || len(changes) != 1 || changes[0].String() != "app: app:v1 → app:v9" {
		t.Fatalf("SyncImages(app) = %v, %v", changes, err)
	}
}

func TestSyncImagesOrderAndReport(t *testing.T) {
	src := mustParse(t, "s.yaml", "images:\n- name: b\n  newTag: v2\n- name: a\n  newName: r/a\n  digest: sha256:1\n- name: same\n  newTag: v1\n")
	dst := mustParse(t, "d.yaml", "images:\n- name: a\n  newTag: v1\n- name: same\n  newTag: v1\n")
	changes, err := SyncImages(src, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.String())
	}
	want := []string{"b: added b:v2", "a: a:v1 → r/a@sha256:1"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("changes = %q, want %q", got, want)
	}
	wantFile := "images:\n- name: a\n  newName: r/a\n  digest: sha256:1\n- name: same\n  newTag: v1\n- name: b\n  newTag: v2\n"
	if string(dst.Bytes()) != wantFile {
		t.Fatalf("file:\n%s\nwant:\n%s", dst.Bytes(), wantFile)
	}
}

// TestEditorRefusesUnverifiedEdit checks the safety net: a splice whose
// result does not match the intended tree is refused and the File keeps
// working on its old content.
func TestEditorRefusesUnverifiedEdit(t *testing.T) {
	f := mustParse(t, "k.yaml", kust)
	e := f.editor()
	off := bytes.Index(f.Bytes(), []byte("worker"))
	e.add(off, off+len("worker"), "other", nil) // no matching tree change recorded
	if _, err := e.commit(); !errors.Is(err, ErrUnsupported) || !contains(err, "did not read back") {
		t.Fatalf("commit = %v, want a verification error", err)
	}
	if string(f.Bytes()) != kust {
		t.Fatal("refused edit changed the file")
	}
	if _, err := f.SetImage(Image{Name: "worker", NewTag: "v3"}, FieldNewTag); err != nil {
		t.Fatalf("edit after a refused one: %v", err)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "a.yaml", Line: 3, Key: "images[0].newTag", Err: ErrType}, "a.yaml:3: images[0].newTag: wrong node kind"},
		{&Error{File: "a.yaml", Err: ErrParse}, "a.yaml: invalid yaml"},
		{&Error{Key: "x", Err: ErrInvalid}, "x: invalid argument"},
		{&Error{Err: ErrNotFound}, "not found"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, data := range []string{"a: [", "\xff\xfe a: 1", "a: \xff\n", "a: b\n\tc: d\n"} {
		if _, err := Parse("bad.yaml", []byte(data)); !errors.Is(err, ErrParse) || !contains(err, "bad.yaml") {
			t.Errorf("Parse(%q) = %v, want ErrParse naming the file", data, err)
		}
	}
}

func TestSetImageAbsentNothingToSet(t *testing.T) {
	f := mustParse(t, "k.yaml", kust)
	ch, err := f.SetImage(Image{Name: "new", NewTag: "v1"}, FieldDigest)
	if err != nil || ch.Changed() || string(f.Bytes()) != kust {
		t.Fatalf("SetImage with nothing to set = %v, %v\n%s", ch, err, f.Bytes())
	}
}

func TestLineEndingsKept(t *testing.T) {
	for _, eol := range []string{"\n", "\r\n", "\r"} {
		in := "images:" + eol + "- name: a" + eol + "  newTag: v1" + eol
		f := mustParse(t, "k.yaml", in)
		if _, err := f.SetImage(Image{Name: "b", NewTag: "v2"}, FieldNewTag); err != nil {
			t.Fatal(err)
		}
		want := in + "- name: b" + eol + "  newTag: v2" + eol
		if string(f.Bytes()) != want {
			t.Errorf("eol %q: got %q, want %q", eol, f.Bytes(), want)
		}
	}
}

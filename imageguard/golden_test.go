package imageguard

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/ensignbot/ensign/overlay"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const goldenNote = "excluded after failed canary production/podinfo/podinfo at 2026-12-03T11:00:00Z"

// repoDoc is the index of the first ImageRepository document in data.
func repoDoc(t *testing.T, data []byte) int {
	t.Helper()
	docs, err := overlay.Documents(data)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range docs {
		if len(d.Content) == 1 && scalar(d.Content[0], "kind") == KindImageRepository {
			return i
		}
	}
	t.Fatal("no ImageRepository in the input")
	return -1
}

// TestGolden runs addExclusion (testdata/add) and removeExclusion
// (testdata/remove) on each case's input.yaml and compares with
// expected.yaml byte for byte.
func TestGolden(t *testing.T) {
	ops := map[string]func([]byte, int) ([]byte, bool, error){
		"add": func(d []byte, doc int) ([]byte, bool, error) {
			return addExclusion(d, doc, Pattern("6.5.1"), goldenNote)
		},
		"remove": func(d []byte, doc int) ([]byte, bool, error) {
			return removeExclusion(d, doc, Pattern("6.5.1"))
		},
	}
	for op, edit := range ops {
		cases, err := os.ReadDir(filepath.Join("testdata", op))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			t.Run(op+"/"+c.Name(), func(t *testing.T) {
				dir := filepath.Join("testdata", op, c.Name())
				in, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				got, changed, err := edit(in, repoDoc(t, in))
				if err != nil {
					t.Fatal(err)
				}
				if *update {
					if err := os.WriteFile(filepath.Join(dir, "expected.yaml"), got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(filepath.Join(dir, "expected.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(want) {
					t.Errorf("got:\n%s\nwant:\n%s", got, want)
				}
				if changed != (string(in) != string(want)) {
					t.Errorf("changed = %v", changed)
				}
				// Editing again changes nothing more.
				if _, again, err := edit(got, repoDoc(t, got)); err != nil || again {
					t.Errorf("second edit: changed %v, err %v", again, err)
				}
			})
		}
	}
}

// TestRefuse: manifests the guard will not edit line by line are refused
// with ErrCannotEdit (or ErrListFull), never rewritten.
func TestRefuse(t *testing.T) {
	cases, err := os.ReadDir(filepath.Join("testdata", "refuse"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name(), func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", "refuse", c.Name(), "input.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = addExclusion(in, repoDoc(t, in), Pattern("6.5.1"), goldenNote)
			if !errors.Is(err, ErrCannotEdit) && !errors.Is(err, ErrListFull) {
				t.Fatalf("err = %v, want ErrCannotEdit or ErrListFull", err)
			}
		})
	}
}

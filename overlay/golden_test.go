package overlay

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite golden expected files")

// goldenArgs is testdata/<case>/args.yaml: the edit to make on input/<file>.
type goldenArgs struct {
	Op       string       `yaml:"op"`     // images, setImage, syncImages, getPath, setPath, syncPath
	File     string       `yaml:"file"`   // file under input/ and expected/
	Source   string       `yaml:"source"` // syncImages/syncPath: source file under input/
	Image    imageArgs    `yaml:"image"`
	Fields   []string     `yaml:"fields"`
	Names    []string     `yaml:"names"`
	Selector selectorArgs `yaml:"selector"`
	Path     string       `yaml:"path"`
	Value    string       `yaml:"value"`
	Error    string       `yaml:"error"` // substring of the expected error; file must stay unchanged
}

// imageArgs and selectorArgs give the yaml keys used in args.yaml.
type imageArgs struct {
	Name    string `yaml:"name"`
	NewName string `yaml:"newName"`
	NewTag  string `yaml:"newTag"`
	Digest  string `yaml:"digest"`
}

type selectorArgs struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Namespace  string `yaml:"namespace"`
	Name       string `yaml:"name"`
}

func parseFields(t *testing.T, names []string) Field {
	t.Helper()
	var f Field
	for _, n := range names {
		switch n {
		case "newName":
			f |= FieldNewName
		case "newTag":
			f |= FieldNewTag
		case "digest":
			f |= FieldDigest
		case "all":
			f |= FieldsAll
		default:
			t.Fatalf("unknown field %q", n)
		}
	}
	return f
}

// runGolden performs the edit described by args and returns the edited
// file and the report lines.
func runGolden(t *testing.T, dir string, a goldenArgs) (*File, []string, error) {
	t.Helper()
	read := func(name string) *File {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, "input", name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(name, data)
		if err != nil {
			t.Fatalf("parse input %s: %v", name, err)
		}
		return f
	}
	f := read(a.File)
	var lines []string
	switch a.Op {
	case "images":
		imgs, err := f.Images()
		for _, im := range imgs {
			lines = append(lines, fmt.Sprintf("%s|%s|%s|%s", im.Name, im.NewName, im.NewTag, im.Digest))
		}
		return f, lines, err
	case "setImage":
		ch, err := f.SetImage(Image(a.Image), parseFields(t, a.Fields))
		if err == nil && ch.Changed() {
			lines = append(lines, ch.String())
		}
		return f, lines, err
	case "syncImages":
		chs, err := SyncImages(read(a.Source), f, a.Names)
		for _, c := range chs {
			lines = append(lines, c.String())
		}
		return f, lines, err
	case "getPath":
		v, err := f.GetPath(Selector(a.Selector), a.Path)
		return f, []string{v}, err
	case "setPath", "syncPath":
		var ch PathChange
		var err error
		if a.Op == "setPath" {
			ch, err = f.SetPath(Selector(a.Selector), a.Path, a.Value)
		} else {
			ch, err = SyncPath(read(a.Source), f, Selector(a.Selector), a.Path)
		}
		if err == nil && ch.Changed() {
			lines = append(lines, ch.String())
		}
		return f, lines, err
	}
	t.Fatalf("unknown op %q", a.Op)
	return nil, nil, nil
}

// TestGolden runs every testdata/<case>: args.yaml describes an edit of
// input/<file>; expected/<file> holds the exact bytes wanted and
// expected/report.txt the reported changes (one per line).
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/*/args.yaml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, argsPath := range cases {
		dir := filepath.Dir(argsPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(argsPath)
			if err != nil {
				t.Fatal(err)
			}
			var a goldenArgs
			if err := yaml.Unmarshal(raw, &a); err != nil {
				t.Fatalf("args: %v", err)
			}
			input, err := os.ReadFile(filepath.Join(dir, "input", a.File))
			if err != nil {
				t.Fatal(err)
			}
			f, lines, err := runGolden(t, dir, a)
			if a.Error != "" {
				if err == nil || !strings.Contains(err.Error(), a.Error) {
					t.Fatalf("error = %v, want one containing %q", err, a.Error)
				}
				var oe *Error
				if !errors.As(err, &oe) {
					t.Fatalf("error %v is not an *overlay.Error", err)
				}
				if !bytes.Equal(f.Bytes(), input) {
					t.Fatalf("failed edit changed the file:\n%s", f.Bytes())
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			report := strings.Join(lines, "\n")
			if report != "" {
				report += "\n"
			}
			wantFile := filepath.Join(dir, "expected", a.File)
			wantReport := filepath.Join(dir, "expected", "report.txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(wantFile), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(wantFile, f.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(wantReport, []byte(report), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("file mismatch\n--- got ---\n%s\n--- want ---\n%s", got, want)
			}
			wantR, err := os.ReadFile(wantReport)
			if err != nil {
				t.Fatal(err)
			}
			if report != string(wantR) {
				t.Errorf("report mismatch\n--- got ---\n%s--- want ---\n%s", report, wantR)
			}
			if bytes.Equal(input, want) && report != "" && a.Op != "images" && a.Op != "getPath" {
				t.Errorf("report lists changes but the file is unchanged")
			}
		})
	}
}

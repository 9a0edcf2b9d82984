package policy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	freezeA = Freeze{Stage: "production", Apps: []string{"podinfo"}, By: "alice", Reason: `incident #42: "db" down`,
		From: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Until: time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)}
	freezeAll = Freeze{Stage: "production", Reason: "year-end",
		From: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Until: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
)

// TestSetFreezes rewrites the freezes of every testdata/freezes/<case>.yaml
// to each list below and compares the file with <case>.<list>.golden.
func TestSetFreezes(t *testing.T) {
	lists := map[string][]Freeze{"none": nil, "one": {freezeA}, "two": {freezeA, freezeAll}}
	files, err := filepath.Glob("testdata/freezes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		before, err := Load(file, data)
		if err != nil {
			t.Fatal(err)
		}
		for name, fs := range lists {
			t.Run(filepath.Base(file)+"/"+name, func(t *testing.T) {
				got, err := SetFreezes(file, data, fs)
				if err != nil {
					t.Fatal(err)
				}
				golden := strings.TrimSuffix(file, ".yaml") + "." + name + ".golden"
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("missing golden file (run go test -update and review it): %v", err)
				}
				if string(got) != string(want) {
					t.Errorf("edited file differs\n got:\n%s\nwant:\n%s", got, want)
				}
				after, err := Load(file, got)
				if err != nil {
					t.Fatal(err)
				}
				if !sameExceptFreezes(before, after) {
					t.Error("the edit changed more than the freezes")
				}
				if strings.Contains(string(data), "\r\n") && strings.Count(string(got), "\n") != strings.Count(string(got), "\r\n") {
					t.Error("a CRLF file got LF lines")
				}
			})
		}
	}
}

func TestSetFreezesRefuses(t *testing.T) {
	for name, data := range map[string]string{
		"flow document": `{apiVersion: ensign.dev/v1alpha1, apps: [{name: a, stages: [{name: production, overlay: a, canary: {namespace: a}}]}]}`,
		"anchored":      minimal + "freezes: &f []\nlabels: {hold: *f}\n",
		"not a mapping": "- a\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := SetFreezes("f.yaml", []byte(data), []Freeze{freezeAll}); !errors.Is(err, ErrCannotEdit) {
				t.Fatalf("got %v, want ErrCannotEdit", err)
			}
		})
	}
}

// FuzzSetFreezes checks that an edit of any policy that loads either is
// refused with ErrCannotEdit or changes nothing but the freezes.
func FuzzSetFreezes(f *testing.F) {
	files, _ := filepath.Glob("testdata/freezes/*.yaml")
	for _, s := range append(files, "../testdata/policy/ensign.yaml") {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "reason", true)
	}
	f.Add([]byte(minimal), "a\x00b\u2028c", false)
	f.Fuzz(func(t *testing.T, data []byte, reason string, all bool) {
		before, err := Load("f.yaml", data)
		if err != nil || len(before.Apps) == 0 || len(before.Apps[0].Stages) == 0 {
			return
		}
		fr := Freeze{Stage: before.Apps[0].Stages[0].Name, Reason: reason,
			From: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Until: time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC)}
		if !all {
			fr.Apps = []string{before.Apps[0].Name}
		}
		if fr.Check() != nil {
			return
		}
		got, err := SetFreezes("f.yaml", data, []Freeze{fr})
		if err != nil {
			if !errors.Is(err, ErrCannotEdit) {
				t.Fatalf("error without ErrCannotEdit: %v", err)
			}
			return
		}
		after, err := Load("f.yaml", got)
		if err != nil {
			t.Fatalf("edited policy does not load: %v\n%s", err, got)
		}
		if !sameExceptFreezes(before, after) || !sameFreezes(after.Freezes, []Freeze{fr}) {
			t.Fatalf("edit changed more than the freezes:\n%s", got)
		}
	})
}

func sameExceptFreezes(a, b *Policy) bool {
	x, y := *a, *b
	x.Freezes, y.Freezes = nil, nil
	return reflect.DeepEqual(x, y)
}

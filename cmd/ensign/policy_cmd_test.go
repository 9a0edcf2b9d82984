package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs ensign in-process through main's dispatch.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

const examplePolicy = "../../testdata/policy/ensign.yaml"

func TestPolicyValidate(t *testing.T) {
	dir := t.TempDir()
	invalid := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(invalid, []byte("apiVersion: ensign.dev/v1alpha1\napps:\n  - name: podinfo\n    stages:\n      - name: staging\n        overlay: /abs\n        canary: {namespace: x}\n        colour: red\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		args       []string
		code       int
		stdout     string // exact, unless empty
		stderrPart string
	}{
		{"valid example", []string{"policy", "validate", examplePolicy}, 0,
			examplePolicy + ": valid (3 apps, 7 stages, 5 windows)\n", ""},
		{"invalid file lists every problem", []string{"policy", "validate", invalid}, 1,
			invalid + ":6:18: apps[0].stages[0].overlay: path \"/abs\" is absolute; give it relative to the repository\n" +
				invalid + ":8:9: apps[0].stages[0].colour: unknown field\n", "2 problems"},
		{"missing file", []string{"policy", "validate", filepath.Join(dir, "nope.yaml")}, 1, "", "read policy"},
		{"default file is .ensign.yaml", []string{"policy", "validate"}, 1, "", ".ensign.yaml"},
		{"two files", []string{"policy", "validate", "a", "b"}, 2, "", "at most one FILE"},
		{"no subcommand", []string{"policy"}, 2, "", "usage: ensign policy validate"},
		{"unknown subcommand", []string{"policy", "check"}, 2, "", `unknown subcommand "check"`},
		{"unknown flag", []string{"policy", "validate", "--strict"}, 2, "", "flag provided but not defined"},
		{"help", []string{"policy", "help"}, 0, policyUsage, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if tc.stdout != "" && stdout != tc.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tc.stdout)
			}
			if !strings.Contains(stderr, tc.stderrPart) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tc.stderrPart)
			}
		})
	}
}

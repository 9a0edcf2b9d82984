package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ensignbot/ensign/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// Every verb answers --help with its usage line on stdout and exit code 0,
// and a wrong flag with the problem and its usage on stderr and exit code 2.
func TestEveryVerbSpeaksTheSameWay(t *testing.T) {
	verbs := map[string][]string{}
	for name := range commands() {
		verbs[name] = []string{name}
	}
	verbs["policy"] = []string{"policy", "validate"}
	for name, args := range verbs {
		t.Run(name, func(t *testing.T) {
			for _, help := range []string{"-h", "--help"} {
				code, stdout, stderr := runCLI(t, append(slices.Clone(args), help)...)
				if code != 0 || !strings.HasPrefix(stdout, "usage: ensign "+strings.Join(args, " ")) || stderr != "" {
					t.Fatalf("%v %s: exit %d, stdout %q, stderr %q; want the usage on stdout and 0", args, help, code, stdout, stderr)
				}
			}
			code, stdout, stderr := runCLI(t, append(slices.Clone(args), "--no-such-flag")...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, "no-such-flag") || !strings.Contains(stderr, "usage: ensign "+name) {
				t.Fatalf("%v --no-such-flag: exit %d, stdout %q, stderr %q; want the problem and the usage on stderr and 2", args, code, stdout, stderr)
			}
		})
	}
}

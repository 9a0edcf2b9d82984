package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ensignbot/ensign/policy"
)

const policyUsage = `usage: ensign policy validate [FILE]

Checks a policy file (default ` + policy.DefaultFilename + `) and prints every problem as
file:line:col: field: message. Exit status: 0 valid, 1 invalid or unreadable,
2 usage error.
`

// runPolicy implements "ensign policy".
func runPolicy(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return 2
	}
	switch args[0] {
	case "validate":
		return runPolicyValidate(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, policyUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "ensign policy: unknown subcommand %q\n\n%s", args[0], policyUsage)
		return 2
	}
}

func runPolicyValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("policy validate", policyUsage)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "ensign policy validate: want at most one FILE, got %d\n\n%s", fs.NArg(), policyUsage)
		return 2
	}
	file := policy.DefaultFilename
	if fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	p, code := loadPolicyFile(file, stdout, stderr)
	if p == nil {
		return code
	}
	stages := 0
	for _, a := range p.Apps {
		stages += len(a.Stages)
	}
	fmt.Fprintf(stdout, "%s: valid (%s, %s, %s)\n", file,
		count(len(p.Apps), "app"), count(stages, "stage"), count(len(p.Windows), "window"))
	return 0
}

// loadPolicyFile reads and loads a policy. On failure it prints the problems
// (one per line on stdout) or the read error (stderr) and returns exit code 1.
func loadPolicyFile(file string, stdout, stderr io.Writer) (*policy.Policy, int) {
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "ensign: read policy: %v\n", err)
		return nil, 1
	}
	p, err := policy.Load(file, data)
	if err != nil {
		fmt.Fprintln(stdout, err)
		var perr *policy.Error
		if errors.As(err, &perr) {
			fmt.Fprintf(stderr, "%s: %s\n", file, count(len(perr.Problems), "problem"))
		}
		return nil, 1
	}
	return p, 0
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

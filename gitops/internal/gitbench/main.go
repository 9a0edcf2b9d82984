// Command gitbench measures ensign's gitops operations against the git CLI
// doing the same work, on a generated repository of about 50,000 commits and
// 20,000 files served over smart HTTP on 127.0.0.1 (git http-backend).
//
//	go run ./gitops/internal/gitbench gen            # build the repo (cached)
//	go run ./gitops/internal/gitbench run -runs 10   # measure, print a table
//
// Each operation runs as a child process (this binary with "op ..." for
// ensign, sh -c for the git CLI) so that wall time and peak RSS (rusage
// maxrss of the child and its descendants) are measured the same way.
// It is a benchmark tool, not part of CI.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func defaultCache() string {
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "ensign-bench")
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gitbench gen|run|op ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		fs := flag.NewFlagSet("gen", flag.ExitOnError)
		dir := fs.String("dir", filepath.Join(defaultCache(), "repo-50k"), "where to build the bare repo")
		commits := fs.Int("commits", 50000, "number of commits")
		seed := fs.Int64("seed", 1, "random seed")
		_ = fs.Parse(os.Args[2:])
		err = ensureRepo(*dir, *commits, *seed)
	case "run":
		err = runBench(os.Args[2:])
	case "serve":
		err = serveOnly(os.Args[2:])
	case "op":
		err = runOp(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitbench:", err)
		os.Exit(1)
	}
}

// ensureRepo generates the repository unless a complete one is cached.
func ensureRepo(dir string, commits int, seed int64) error {
	if _, err := os.Stat(filepath.Join(dir, "ensign-bench-complete")); err == nil {
		fmt.Fprintf(os.Stderr, "using cached repository %s\n", dir)
		return nil
	}
	_ = os.RemoveAll(dir)
	fmt.Fprintf(os.Stderr, "generating %d commits into %s ...\n", commits, dir)
	return generate(dir, commits, seed)
}

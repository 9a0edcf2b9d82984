// Command ensign is the Git-native promotion and rollback bot: `ensign run`
// is the daemon, the other verbs are the CLI for release pipelines and
// operators (`ensign help` lists them).
//
// This package only wires: config.go reads and checks the environment once;
// wire.go builds the Gitea client, the cluster clients, one Git workspace
// and one set of services (promote, rollback, status) per repository, and
// the router that owns which repository an event belongs to; run.go starts
// the daemon's parts (webhook receiver, command dispatcher, canary watcher,
// window schedulers, branch protection) and stops them in order; cli.go and
// the *_cmd.go files are the verbs, each with its own flag set (flags.go:
// `--help` prints the verb's usage and exits 0, a mistake exits 2). Nothing
// registers itself: main lists the verbs in commands below.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// subcommand is one ensign subcommand. run gets the arguments after the
// subcommand's name and returns the process exit code.
type subcommand struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists every subcommand; add new ones here.
func commands() map[string]subcommand {
	return map[string]subcommand{
		"run":      {summary: "the daemon: watch canaries, receive webhooks, merge in windows", run: runCmd},
		"promote":  {summary: "promote the verified version: --app A --to STAGE [--wait]", run: promoteCmd},
		"rollback": {summary: "revert a stage's change: --app A --stage S [--commit SHA]", run: rollbackCmd},
		"freeze":   {summary: "freeze a stage now: --stage S (--app A | --all) --for 4h --reason R", run: freezeCmd},
		"unfreeze": {summary: "lift a stage's freezes: --stage S (--app A | --all)", run: unfreezeCmd},
		"status":   {summary: "stages, canaries, versions, queued promotions, windows", run: statusCmd},
		"policy":   {summary: "check a policy file: policy validate [FILE]", run: runPolicy},
		"windows":  {summary: "print upcoming promotion windows per stage", run: runWindows},
		"config":   {summary: "list the environment variables ensign reads", run: configCmd},
		"version":  {summary: "print ensign's version, commit and Go version", run: versionCmd},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ensign: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]subcommand) {
	fmt.Fprintln(w, "usage: ensign <command> [flags]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
}

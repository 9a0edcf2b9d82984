// Command ensign-demo plays ensign's main job end to end on this machine, for
// a newcomer (make demo) and as a smoke test of the whole product: it starts
// a real Gitea and a real Kubernetes API server from the harness, seeds a
// sample GitOps repository whose production window opens a minute or so
// later, runs `ensign run` as a child process, and plays CI, Flux and
// Flagger while narrating what ensign does: a staging canary Succeeds, a
// promotion pull request waits for the window, merges when it opens, the
// production canary Fails, and ensign reverts the promotion on main,
// comments on the pull request and asks Flux to reconcile.
//
// It exits 0 only if the story happens as told, and cleans up everything it
// started on any exit, Ctrl-C included (the harness watchdog also kills the
// servers if the demo itself is killed). With --keep it leaves everything
// running until Ctrl-C, for browsing Gitea.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ensignbot/ensign/harness"
)

func main() {
	fs := flag.NewFlagSet("ensign-demo", flag.ContinueOnError)
	keep := fs.Bool("keep", false, "after the story, keep Gitea, the API server and ensign running until Ctrl-C")
	lead := fs.Duration("window-lead", 30*time.Second, "least time from seeding the repository to the production window opening (it opens on the next full minute after); at least 150s with --controllers")
	controllers := fs.Bool("controllers", os.Getenv(harness.ControllersEnv) != "", "run the real Flux and Flagger (built by `ENSIGN_CONTROLLERS=1 make harness`) instead of playing them; default: set when "+harness.ControllersEnv+" is")
	if err := fs.Parse(os.Args[1:]); err != nil || fs.NArg() != 0 {
		os.Exit(2)
	}
	if *lead < 10*time.Second {
		fmt.Fprintln(os.Stderr, "ensign-demo: --window-lead must be at least 10s, so the promotion is queued before the window opens")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		// A second Ctrl-C kills the demo at once; the harness watchdog
		// still stops the servers.
		stop()
	}()
	err := run(ctx, options{keep: *keep, windowLead: *lead, real: *controllers, out: os.Stdout})
	switch {
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(os.Stderr, "ensign-demo: interrupted; everything it started is stopped.")
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "\nensign-demo: FAILED:", err)
		os.Exit(1)
	}
}

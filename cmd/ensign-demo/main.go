// Command ensign-demo runs ensign's main job end to end on local defaults: it
// starts a real Gitea and a real Kubernetes API server from the harness and
// prints how to reach them. It stops and cleans up everything on exit.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ensignbot/ensign/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ensign-demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	g, err := harness.StartGitea(ctx, harness.GiteaOptions{})
	if err != nil {
		return err
	}
	defer g.Stop()
	k, err := harness.StartKube(ctx)
	if err != nil {
		return err
	}
	defer k.Stop()
	fmt.Printf("Gitea:      %s (user %s, password %s)\n", g.URL, g.AdminUser, g.AdminPassword)
	fmt.Printf("Kubernetes: KUBECONFIG=%s\n", k.Kubeconfig)
	fmt.Println("Press Ctrl-C to stop and clean up.")
	<-ctx.Done()
	return nil
}

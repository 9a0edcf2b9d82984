package workspace

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
)

// At most Promotions promotions of a repository run at once: the next one
// waits for a slot (and gives up with its context), whatever its app. The
// remote here refuses connections, so every Sync fails at once; the slot
// is held until done all the same.
func TestPromotionsAreBounded(t *testing.T) {
	ctx := context.Background()
	w := unreachable(t)
	w.Promotions = 2
	var dones []func()
	for _, app := range []string{"a", "b"} {
		_, done, err := w.BeginPromotion(ctx, app)
		if err == nil || strings.Contains(err.Error(), "slot") {
			t.Fatalf("promotion of %s: %v, want the fetch's error", app, err)
		}
		dones = append(dones, done)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, done, err := w.BeginPromotion(short, "c")
	done()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "slot") {
		t.Fatalf("a third promotion while two run: %v, want to wait for a slot until its context ends", err)
	}
	dones[0]()
	dones[0]() // done is safe to call twice
	_, done, err = w.BeginPromotion(ctx, "c")
	defer done()
	if err == nil || strings.Contains(err.Error(), "slot") {
		t.Fatalf("a third promotion after one ended: %v, want the fetch's error", err)
	}
	dones[1]()
}

// Promotions yield to rollbacks: Yield waits while an urgent action holds
// or waits for the repository's lock, and returns once it is done; an
// urgent action that gave up waiting for the lock does not keep them
// waiting.
func TestPromotionsYieldToRollbacks(t *testing.T) {
	ctx := context.Background()
	w := unreachable(t)
	if err := w.Yield(ctx); err != nil {
		t.Fatalf("Yield with no rollback: %v", err)
	}
	_, done, _ := w.Begin(ctx, true) // the fetch fails; the lock is held all the same
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := w.Yield(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Yield while a rollback holds the lock: %v, want to wait until its context ends", err)
	}
	// A second rollback waits for the lock and gives up.
	gone, stop := context.WithCancel(ctx)
	stop()
	if _, _, err := w.Begin(gone, true); err == nil {
		t.Fatal("Begin with an ended context while the lock is held succeeded")
	}
	yielded := make(chan error, 1)
	go func() { yielded <- w.Yield(ctx) }()
	done()
	done() // safe twice
	select {
	case err := <-yielded:
		if err != nil {
			t.Fatalf("Yield after the rollback: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Yield still waits after the only rollback ended (the one that gave up is still counted)")
	}
}

// unreachable is a workspace whose Git server refuses connections: every
// Sync fails at once, while the locks it takes work as they always do.
func unreachable(t *testing.T) *Workspace {
	t.Helper()
	g, err := gitops.Open(context.Background(), gitops.Options{Dir: t.TempDir(), URL: "http://127.0.0.1:1/acme/gitops.git"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return &Workspace{Repo: forge.Repo{Owner: "acme", Name: "gitops"}, Git: g, Branch: "main", PolicyFile: ".ensign.yaml"}
}

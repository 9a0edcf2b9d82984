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
	g, err := gitops.Open(ctx, gitops.Options{Dir: t.TempDir(), URL: "http://127.0.0.1:1/acme/gitops.git"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	w := &Workspace{Repo: forge.Repo{Owner: "acme", Name: "gitops"}, Git: g, Branch: "main", PolicyFile: ".ensign.yaml", Promotions: 2}
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

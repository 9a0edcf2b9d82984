package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"https://ensign:s3cret@git.example.com/o/r.git": "https://REDACTED@git.example.com/o/r.git",
		"https://git.example.com/o/r.git":               "https://git.example.com/o/r.git",
		"http://tok@127.0.0.1:3000/o/r.git":             "http://REDACTED@127.0.0.1:3000/o/r.git",
		"https://u:p@host/%zz":                          "https://REDACTED@host/%zz",
	}
	for in, want := range cases {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "ssh://git@host/r.git", "file:///tmp/r", "https://user:s3cret@host/r.git", "http://"} {
		_, err := Open(context.Background(), Options{Dir: t.TempDir(), URL: u})
		if err == nil {
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestSnapshotReadsOldCommit(t *testing.T) {
	w := newWorkRepo(t)
	w.write("apps/prod/kustomization.yaml", kustomization("v1"))
	first := w.commit("v1")
	w.write("apps/prod/kustomization.yaml", kustomization("v2"))
	w.commit("v2")
	gs := newGitServer(t)
	r := openCache(t, gs.publish(t, w.dir, "snapshot"))
	if _, err := r.Fetch(testCtx(t), FetchOptions{Branches: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	snap, err := r.Snapshot(hash(first))
	if err != nil {
		t.Fatal(err)
	}
	b, err := snap.ReadFile("apps/prod/kustomization.yaml")
	if err != nil || string(b) != kustomization("v1") {
		t.Fatalf("ReadFile at first commit = %q, %v", b, err)
	}
	if b, err := r.ReadFile(hash(first), "apps/prod/kustomization.yaml"); err != nil || string(b) != kustomization("v1") {
		t.Fatalf("Repo.ReadFile = %q, %v", b, err)
	}
	c, err := r.Commit(hash(first))
	if err != nil || c.Subject() != "v1" || len(c.Parents) != 0 {
		t.Fatalf("Commit = %+v, %v", c, err)
	}
}

// A fetch while another operation holds the repository returns the
// remote's tips at once when the cache holds them; when the remote moved to a commit the cache lacks, it waits
// for the lock and fetches it.
func TestFetchWhileLocked(t *testing.T) {
	w := newWorkRepo(t)
	w.write("apps/prod/kustomization.yaml", kustomization("v1"))
	first := w.commit("v1")
	gs := newGitServer(t)
	r := openCache(t, gs.publish(t, w.dir, "locked"))
	ctx := testCtx(t)
	if _, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	release, err := r.begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tips, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}})
	if err != nil || tips["main"] != hash(first) {
		t.Fatalf("Fetch while locked = %v, %v; want main at %s at once", tips, err, first)
	}

	w.write("apps/prod/kustomization.yaml", kustomization("v2"))
	second := w.commit("v2")
	w.git("push", "-q", gs.dir("locked"), "main")
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := r.Fetch(short, FetchOptions{Branches: []string{"main"}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fetch of a commit the cache lacks, while locked = %v; want it to wait for the lock", err)
	}
	got := make(chan error, 1)
	go func() {
		tips, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}})
		if err == nil && tips["main"] != hash(second) {
			err = fmt.Errorf("main at %s, want %s", tips["main"], second)
		}
		got <- err
	}()
	release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if tip, ok, err := r.Tip("main"); err != nil || !ok || tip != hash(second) {
		t.Fatalf("recorded tip of main = %s, %v, %v; want %s", tip, ok, err, second)
	}
}

package gitops

import (
	"context"
	"strings"
	"testing"
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

package gitops

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// gitEnv makes the git CLI deterministic and independent of the machine's
// configuration.
func gitEnv() []string {
	return append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Tester", "GIT_AUTHOR_EMAIL=tester@example.com",
		"GIT_COMMITTER_NAME=Tester", "GIT_COMMITTER_EMAIL=tester@example.com",
		"GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z",
		"GIT_TERMINAL_PROMPT=0",
	)
}

// runGit runs the git CLI in dir and returns trimmed stdout; it fails the
// test on error.
func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := tryGit(dir, nil, args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// tryGit runs the git CLI and returns stdout or an error carrying stderr.
func tryGit(dir string, stdin []byte, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &gitError{args: args, err: err, stderr: stderr.String() + stdout.String()}
	}
	return strings.TrimSpace(stdout.String()), nil
}

type gitError struct {
	args   []string
	err    error
	stderr string
}

func (e *gitError) Error() string {
	return e.err.Error() + ": " + strings.TrimSpace(e.stderr)
}

// gitServer serves bare repositories under root over smart HTTP with the real
// git http-backend (push enabled), like a forge would.
type gitServer struct {
	root string
	srv  *httptest.Server
}

func newGitServer(t testing.TB) *gitServer {
	t.Helper()
	execPath := runGit(t, "", "--exec-path")
	root := t.TempDir()
	h := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Env: []string{
			"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		},
		Stderr: io.Discard, // the server's own rejection messages
	}
	gs := &gitServer{root: root, srv: httptest.NewServer(h)}
	t.Cleanup(gs.srv.Close)
	return gs
}

// publish copies the repository at src as the bare repo name.git and
// returns its URL.
func (g *gitServer) publish(t testing.TB, src, name string) string {
	t.Helper()
	dst := filepath.Join(g.root, name+".git")
	runGit(t, "", "clone", "-q", "--template=", "--bare", src, dst)
	runGit(t, dst, "config", "http.receivepack", "true")
	return g.url(name)
}

func (g *gitServer) url(name string) string { return g.srv.URL + "/" + name + ".git" }

func (g *gitServer) dir(name string) string { return filepath.Join(g.root, name+".git") }

// workRepo is a non-bare repository driven with the git CLI.
type workRepo struct {
	t   testing.TB
	dir string
}

func newWorkRepo(t testing.TB) *workRepo {
	t.Helper()
	dir := t.TempDir()
	runGit(t, dir, "init", "-q", "--template=", "-b", "main")
	runGit(t, dir, "config", "core.autocrlf", "false")
	return &workRepo{t: t, dir: dir}
}

func (w *workRepo) write(path, content string) {
	w.t.Helper()
	p := filepath.Join(w.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	_ = os.Remove(p) // replace symlinks rather than writing through them
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *workRepo) symlink(path, target string) {
	w.t.Helper()
	p := filepath.Join(w.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	_ = os.Remove(p)
	if err := os.Symlink(target, p); err != nil {
		w.t.Fatal(err)
	}
}

func (w *workRepo) chmod(path string, mode os.FileMode) {
	w.t.Helper()
	if err := os.Chmod(filepath.Join(w.dir, path), mode); err != nil {
		w.t.Fatal(err)
	}
}

func (w *workRepo) rm(path string) {
	w.t.Helper()
	runGit(w.t, w.dir, "rm", "-q", "-r", path)
}

// commit commits everything and returns the new commit's sha.
func (w *workRepo) commit(msg string) string {
	w.t.Helper()
	runGit(w.t, w.dir, "add", "-A")
	runGit(w.t, w.dir, "commit", "-q", "--allow-empty", "-m", msg)
	return w.head()
}

func (w *workRepo) head() string {
	w.t.Helper()
	return runGit(w.t, w.dir, "rev-parse", "HEAD")
}

func (w *workRepo) git(args ...string) string {
	w.t.Helper()
	return runGit(w.t, w.dir, args...)
}

// openCache opens a fresh repo cache for url in a temp dir.
func openCache(t testing.TB, url string) *Repo {
	t.Helper()
	r, err := Open(context.Background(), Options{Dir: t.TempDir(), URL: url})
	if err != nil {
		t.Fatalf("open cache: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var botIdentity = Identity{Name: "ensign", Email: "ensign@example.com"}

var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func hash(s string) plumbing.Hash { return plumbing.NewHash(s) }

// serverTip reads a branch tip straight from a served bare repo.
func serverTip(t testing.TB, gs *gitServer, name, branch string) string {
	t.Helper()
	out, err := tryGit(gs.dir(name), nil, "rev-parse", "--verify", "-q", "refs/heads/"+branch)
	if err != nil {
		return ""
	}
	return out
}

var _ = http.StatusOK

func asConflict(err error, ce **ConflictError) bool { return errors.As(err, ce) }

func isAlreadyReverted(err error) bool { return errors.Is(err, ErrAlreadyReverted) }

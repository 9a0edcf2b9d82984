package harness

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"
)

// Gitea's pages name their assets by the hashed paths in the Vite manifest
// (AssetURI): <link rel="stylesheet" href="/assets/css/index.<hash>.css"> and
// <script src="/assets/js/iife.<hash>.js">. Without a built frontend they fall
// back to the unhashed /assets/css/index.css, which answers 404.
var (
	stylesheetRE = regexp.MustCompile(`<link\s[^>]*rel="stylesheet"[^>]*\shref="([^"]+)"`)
	scriptRE     = regexp.MustCompile(`<script\s[^>]*src="([^"]+)"`)
	hashedRE     = regexp.MustCompile(`^/assets/(css|js)/[\w-]+\.[\w-]{8}\.(css|js)$`)
	// A Vite chunk's static imports: import{a as b}from"./chunk.<hash>.js".
	jsImportRE = regexp.MustCompile(`from\s*"\./([\w.-]+\.js)"`)
)

// TestGiteaServesFrontend checks that the harness Gitea serves its built
// frontend (build.sh builds it into gitea-static/public/assets): on the login
// page, a repository page and a pull request page, every stylesheet and script
// under /assets/ has a hashed name from the manifest and answers 200 with its
// content type, and so do the chunks that the entry scripts import.
func TestGiteaServesFrontend(t *testing.T) {
	g := Gitea(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	org, pr := frontendPullRequest(ctx, t, g)

	// The repository is public, so an anonymous client sees every page.
	checked := map[string]bool{}
	for _, page := range []string{"user/login", org + "/gitops", pr} {
		html := getOK(ctx, t, g.URL+page, "text/html")
		styles, scripts := matches(stylesheetRE, html), matches(scriptRE, html)
		if len(styles) == 0 || len(scripts) == 0 {
			t.Fatalf("/%s references %d stylesheets and %d scripts, want some of each", page, len(styles), len(scripts))
		}
		var assets []string
		for _, ref := range append(styles, scripts...) {
			u, err := url.Parse(ref)
			if err != nil {
				t.Fatalf("/%s: asset URL %q: %v", page, ref, err)
			}
			if u.Host != "" || !strings.HasPrefix(u.Path, "/assets/") {
				continue // none expected, but only the frontend's own assets are this test's business
			}
			if !hashedRE.MatchString(u.Path) {
				t.Errorf("/%s references %s, not a hashed asset from the frontend manifest", page, u.Path)
			}
			assets = append(assets, u.Path)
		}
		if !containsPrefix(assets, "/assets/css/index.") || !containsPrefix(assets, "/assets/js/index.") {
			t.Errorf("/%s references %v, want css/index and js/index among them", page, assets)
		}
		for _, a := range assets {
			checkAsset(ctx, t, g.URL, a, checked)
		}
	}
	names := slices.Sorted(maps.Keys(checked))
	t.Logf("%d assets answered 200 with their content type: %s", len(names), strings.Join(names, " "))
}

// frontendPullRequest creates a public repository with an open pull request
// and returns its org and the pull request page's path.
func frontendPullRequest(ctx context.Context, t *testing.T, g *GiteaServer) (org, page string) {
	t.Helper()
	org = UniqueName("frontend-org-")
	if err := g.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateRepo(ctx, org, "gitops"); err != nil {
		t.Fatal(err)
	}
	c, done, err := g.admin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	_, _, err = c.CreateFile(org, "gitops", "hello.txt", gitea.CreateFileOptions{
		FileOptions: gitea.FileOptions{BranchName: "main", NewBranchName: "frontend", Message: "Add hello"},
		Content:     base64.StdEncoding.EncodeToString([]byte("hello\n")),
	})
	if err != nil {
		t.Fatalf("create file on a new branch: %v", err)
	}
	pr, _, err := c.CreatePullRequest(org, "gitops", gitea.CreatePullRequestOption{
		Head: "frontend", Base: "main", Title: "Frontend test",
	})
	if err != nil {
		t.Fatalf("create pull request: %v", err)
	}
	return org, fmt.Sprintf("%s/gitops/pulls/%d", org, pr.Index)
}

// TestGiteaPageRendersInChromium loads a pull request page in headless
// Chromium, when it is installed (Debian's chromium; the test skips without
// it), and checks that Gitea's scripts ran in it: they set
// data-gitea-theme-dark on <html>, which the served HTML lacks. It also takes
// a screenshot, kept in $ENSIGN_SCREENSHOT_DIR when that is set.
//
// Without a built frontend Chromium never finishes: Gitea's <script> tags
// have onerror="alert(...)", and in headless Chromium an alert blocks the page
// for good, so the screenshot and the DOM dump wait forever. Hence the
// timeout, and its message.
func TestGiteaPageRendersInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("browser test skipped: chromium is not installed (apt-get install chromium)")
	}
	g := Gitea(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, page := frontendPullRequest(ctx, t, g)

	dir := os.Getenv("ENSIGN_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	png := filepath.Join(dir, "gitea-pull-request.png")
	runCtx, runCancel := context.WithTimeout(ctx, 90*time.Second)
	defer runCancel()
	// The flags that this machine's headless Chromium needs: no sandbox as
	// root, and none of its background connections, which the closed network
	// refuses.
	cmd := exec.CommandContext(runCtx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
		"--window-size=1280,900", "--screenshot="+png, "--dump-dom", g.URL+page)
	// Chromium's helper processes are in its process group; a timeout kills them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	dom, err := cmd.Output()
	if runCtx.Err() != nil {
		t.Fatalf("chromium did not finish in %v: a page whose scripts fail to load calls alert(), which blocks headless Chromium", time.Since(start).Round(time.Second))
	}
	if err != nil {
		t.Fatalf("chromium: %v: %s", err, lastLines(stderr.String(), 10))
	}
	html := regexp.MustCompile(`<html[^>]*>`).FindString(string(dom))
	if !strings.Contains(html, "data-gitea-theme-dark=") {
		t.Errorf("the page's <html> in Chromium is %q: no data-gitea-theme-dark, so Gitea's scripts did not run", html)
	}
	data, err := os.ReadFile(png)
	if err != nil || !bytes.HasPrefix(data, []byte("\x89PNG")) {
		t.Fatalf("no PNG screenshot at %s (%d bytes, %v)", png, len(data), err)
	}
	t.Logf("chromium rendered /%s in %v: %s, screenshot %s (%d bytes)", page, time.Since(start).Round(time.Millisecond), html, png, len(data))
}

// checkAsset GETs the asset at path (once per test) and checks its status,
// type and size; for a script it also checks the chunks it imports statically.
func checkAsset(ctx context.Context, t *testing.T, base, path string, checked map[string]bool) {
	t.Helper()
	if checked[path] {
		return
	}
	checked[path] = true
	want := "text/css"
	if strings.HasSuffix(path, ".js") {
		want = "javascript" // text/javascript or application/javascript
	}
	body := getOK(ctx, t, strings.TrimSuffix(base, "/")+path, want)
	if !strings.HasSuffix(path, ".js") {
		return
	}
	dir := path[:strings.LastIndex(path, "/")+1]
	for _, name := range matches(jsImportRE, body) {
		checkAsset(ctx, t, base, dir+name, checked)
	}
}

// getOK fetches u anonymously and fails t unless it answers 200 with a non-empty
// body whose Content-Type contains wantType.
func getOK(ctx context.Context, t *testing.T, u, wantType string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s (is Gitea's frontend built? harness/build/build.sh gitea builds it)", u, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, wantType) {
		t.Fatalf("GET %s: Content-Type %q, want %s", u, ct, wantType)
	}
	if len(body) == 0 {
		t.Fatalf("GET %s: empty body", u)
	}
	return string(body)
}

func matches(re *regexp.Regexp, s string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

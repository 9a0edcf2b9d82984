package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/internal/ensignproc"
)

// ensignRun is one `ensign run` subprocess of a benchmark.
type ensignRun struct {
	*ensignproc.Proc
	log string
}

// ensignConfig is what a benchmark tells `ensign run` through its environment.
type ensignConfig struct {
	// repo is one repository or several, comma-separated (ENSIGN_REPOS).
	giteaURL, token, repo, kubeconfigs, dataDir, logFile string
	// gctrace makes the Go runtime log every GC's heap sizes to the log.
	gctrace bool
	// memLimit, if set, is ensign's GOMEMLIMIT.
	memLimit string
	// pprofAddr, if set, is where ensign serves Go's profiles.
	pprofAddr string
}

const webhookSecret = "bench-webhook-secret-0123456789"

// startEnsign runs `ensign run`, registers its webhook on the repository and
// waits until /readyz says its canary caches have synced.
func startEnsign(ctx context.Context, bin string, c ensignConfig) (*ensignRun, error) {
	addr, err := ensignproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"ENSIGN_GITEA_URL":      strings.TrimSuffix(c.giteaURL, "/"),
		"ENSIGN_GITEA_TOKEN":    c.token,
		"ENSIGN_WEBHOOK_SECRET": webhookSecret,
		"ENSIGN_REPOS":          c.repo,
		"ENSIGN_KUBECONFIGS":    c.kubeconfigs,
		"ENSIGN_LISTEN_ADDR":    addr,
		"ENSIGN_DATA_DIR":       c.dataDir,
		"ENSIGN_LOG_LEVEL":      "info",
	}
	if c.gctrace {
		env["GODEBUG"] = "gctrace=1"
	}
	if c.memLimit != "" {
		env["GOMEMLIMIT"] = c.memLimit
	}
	if c.pprofAddr != "" {
		env["ENSIGN_PPROF_ADDR"] = c.pprofAddr
	}
	p, err := ensignproc.Start(bin, c.logFile, env)
	if err != nil {
		return nil, err
	}
	r := &ensignRun{Proc: p, log: c.logFile}
	fc, err := forge.New(forge.Config{URL: strings.TrimSuffix(c.giteaURL, "/"), Token: c.token})
	if err != nil {
		return nil, errors.Join(err, r.stop())
	}
	for _, repo := range strings.Split(c.repo, ",") {
		owner, name, _ := strings.Cut(repo, "/")
		if _, _, err := fc.EnsureWebhook(ctx, forge.Repo{Owner: owner, Name: name}, forge.Webhook{
			URL: "http://" + addr + "/webhooks/gitea", Secret: webhookSecret, Events: []string{"pull_request_comment", "push"},
		}); err != nil {
			return nil, errors.Join(fmt.Errorf("register ensign's webhook on %s: %w", repo, err), r.stop())
		}
	}
	if err := r.WaitReady(ctx, 5*time.Minute); err != nil { // 100 repositories are fetched first
		return nil, errors.Join(err, r.stop())
	}
	return r, nil
}

// alive reports an early exit of ensign.
func (r *ensignRun) alive() error { return r.Exited() }

// stop sends SIGTERM and waits for a clean exit, killing after 30 s.
func (r *ensignRun) stop() error { return r.Stop() }

// memory reads ensign's resident memory.
func (r *ensignRun) memory() (ensignproc.Memory, error) { return r.Memory() }

// scrapeMetrics reads ensign's /metrics at addr within timeout (a poll wants
// a short one; a scrape of a large fleet's series under load a longer one).
func scrapeMetrics(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// samplePeak reads ensign's resident memory every 100 ms until the
// returned function is called, which returns the highest reading (VmRSS or
// the kernel's high-water mark); later calls return it again.
func (r *ensignRun) samplePeak(ctx context.Context) func() int64 {
	ctx, stop := context.WithCancel(ctx)
	sampled := make(chan int64, 1)
	go func() {
		var peak int64
		for ctx.Err() == nil {
			if m, err := r.memory(); err == nil {
				peak = max(peak, m.RSS, m.HWM)
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		sampled <- peak
	}()
	var once sync.Once
	var peak int64
	return func() int64 {
		once.Do(func() {
			stop()
			peak = <-sampled
		})
		return peak
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

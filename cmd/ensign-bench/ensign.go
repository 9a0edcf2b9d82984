package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ensignbot/ensign/forge"
)

// buildEnsign builds the ensign binary into dir and returns its path.
func buildEnsign(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "ensign")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ensign")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ensign: %w\n%s", err, msg)
	}
	return bin, nil
}

// ensignRun is one `ensign run` subprocess.
type ensignRun struct {
	cmd  *exec.Cmd
	addr string
	log  string
	done chan error
}

// ensignConfig is what a benchmark tells `ensign run` through its environment.
type ensignConfig struct {
	giteaURL, token, repo, kubeconfigs, dataDir, logFile string
	// gctrace makes the Go runtime log every GC's heap sizes to the log.
	gctrace bool
	// memLimit, if set, is ensign's GOMEMLIMIT.
	memLimit string
}

const webhookSecret = "bench-webhook-secret-0123456789"

// startEnsign runs `ensign run`, registers its webhook on the repository and
// waits until /readyz says its canary caches have synced.
func startEnsign(ctx context.Context, bin string, c ensignConfig) (*ensignRun, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(c.logFile)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run")
	cmd.Env = append(os.Environ(),
		"ENSIGN_GITEA_URL="+strings.TrimSuffix(c.giteaURL, "/"),
		"ENSIGN_GITEA_TOKEN="+c.token,
		"ENSIGN_WEBHOOK_SECRET="+webhookSecret,
		"ENSIGN_REPOS="+c.repo,
		"ENSIGN_KUBECONFIGS="+c.kubeconfigs,
		"ENSIGN_LISTEN_ADDR="+addr,
		"ENSIGN_DATA_DIR="+c.dataDir,
		"ENSIGN_LOG_LEVEL=info",
	)
	if c.gctrace {
		cmd.Env = append(cmd.Env, "GODEBUG=gctrace=1")
	}
	if c.memLimit != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+c.memLimit)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// The bench may die without stopping ensign; the kernel then does it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ensign run: %w", err)
	}
	r := &ensignRun{cmd: cmd, addr: addr, log: c.logFile, done: make(chan error, 1)}
	go func() { r.done <- cmd.Wait() }()

	fc, err := forge.New(forge.Config{URL: strings.TrimSuffix(c.giteaURL, "/"), Token: c.token})
	if err != nil {
		r.stop()
		return nil, err
	}
	owner, name, _ := strings.Cut(c.repo, "/")
	if _, _, err := fc.EnsureWebhook(ctx, forge.Repo{Owner: owner, Name: name}, forge.Webhook{
		URL: "http://" + addr + "/webhooks/gitea", Secret: webhookSecret, Events: []string{"pull_request_comment", "push"},
	}); err != nil {
		r.stop()
		return nil, fmt.Errorf("register ensign's webhook: %w", err)
	}
	if err := r.waitReady(ctx, 2*time.Minute); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls /readyz until ensign's canary caches have synced.
func (r *ensignRun) waitReady(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case err := <-r.done:
			return fmt.Errorf("ensign run exited before it was ready: %v\n%s", err, tail(r.log, 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := http.Get("http://" + r.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("ensign run not ready after %v\n%s", d, tail(r.log, 20))
}

// alive reports an early exit of ensign.
func (r *ensignRun) alive() error {
	select {
	case err := <-r.done:
		r.done <- err
		return fmt.Errorf("ensign run exited: %v\n%s", err, tail(r.log, 20))
	default:
		return nil
	}
}

// stop sends SIGTERM and waits for a clean exit, killing after 30 s.
func (r *ensignRun) stop() error {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		return errors.New("ensign run did not stop within 30s of SIGTERM; killed")
	}
}

// memory is a reading of /proc/<pid>/status, in KiB.
type memory struct {
	RSS, Anon, File, HWM int64
}

// memory reads ensign's resident memory.
func (r *ensignRun) memory() (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	var m memory
	fields := map[string]*int64{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon, "RssFile:": &m.File, "VmHWM:": &m.HWM}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) >= 2 {
			if p, ok := fields[parts[0]]; ok {
				*p, _ = strconv.ParseInt(parts[1], 10, 64)
			}
		}
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("no VmRSS in /proc/%d/status", r.cmd.Process.Pid)
	}
	return m, sc.Err()
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

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ensignProc is `ensign run` as a child process.
type ensignProc struct {
	// Addr is the webhook receiver's host:port on 127.0.0.1.
	Addr string
	// Log is the file ensign logs to.
	Log string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid after done is closed
}

// moduleRoot returns the directory of ensign's go.mod, as the go command
// sees it from the working directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	data, err := os.ReadFile(mod)
	if mod == "" || mod == os.DevNull || err != nil || !strings.HasPrefix(string(data), "module github.com/ensignbot/ensign\n") {
		return "", errors.New("run the demo from inside the ensign repository (make demo)")
	}
	return filepath.Dir(mod), nil
}

// buildEnsign builds cmd/ensign into dir and returns the binary's path.
func buildEnsign(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ensign")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ensign")
	cmd.Dir = root
	// Its own process group, so that Ctrl-C reaches only the demo, which
	// then stops the build and its compilers through ctx.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ensign: %w\n%s", err, out)
	}
	return bin, nil
}

// freeAddr returns a 127.0.0.1 address with a port nobody listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startEnsign runs `bin run` with env added to this process's environment
// (which carries the harness's owner mark, so the harness watchdog kills
// ensign too if the demo dies) and its output in logPath. It returns once
// ensign answers /readyz, i.e. its canary caches have synced.
func startEnsign(ctx context.Context, bin, logPath string, env map[string]string, timeout time.Duration) (*ensignProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &ensignProc{Addr: env["ENSIGN_LISTEN_ADDR"], Log: logPath, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "run")
	p.cmd.Env = os.Environ()
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	// Its own process group: a terminal's Ctrl-C reaches the demo, which
	// then stops ensign in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start ensign: %w", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	if err := p.waitReady(ctx, timeout); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *ensignProc) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := "http://" + p.Addr + "/readyz"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := p.exited(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ensign did not become ready at %s within %s: %w\n%s", url, timeout, ctx.Err(), p.logTail(10))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// exited returns an error if ensign is no longer running.
func (p *ensignProc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("ensign exited unexpectedly (%v); the end of its log:\n%s", p.err, p.logTail(15))
	default:
		return nil
	}
}

// stop asks ensign to shut down (SIGTERM, as Kubernetes would) and kills it
// if it has not stopped within 30 seconds. It is safe to call twice.
func (p *ensignProc) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return errors.New("ensign did not stop within 30s of SIGTERM; killed it")
	}
}

// logTail returns the last n lines of ensign's log.
func (p *ensignProc) logTail(n int) string {
	data, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// Package ensignproc builds the ensign binary and runs `ensign run` as a
// child process, for the demo, the benchmarks and the fault suite: one
// launcher, so they all start, wait for and stop ensign the same way.
//
// A Proc lives in its own process group (a terminal's Ctrl-C reaches only
// the parent, which stops ensign in order) and dies with its parent
// (Pdeathsig), so a crashed parent leaves no ensign behind. It inherits the
// parent's environment, including the harness's owner mark.
package ensignproc

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
)

// ModuleRoot returns the directory of ensign's go.mod, as the go command
// sees it from the working directory.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	data, err := os.ReadFile(mod)
	if mod == "" || mod == os.DevNull || err != nil || !strings.HasPrefix(string(data), "module github.com/ensignbot/ensign\n") {
		return "", errors.New("run from inside the ensign repository")
	}
	return filepath.Dir(mod), nil
}

// Build builds cmd/ensign into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ensign")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ensign")
	cmd.Dir = root
	// Its own process group, so that Ctrl-C reaches only the parent, which
	// then stops the build and its compilers through ctx.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ensign: %w\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr returns a 127.0.0.1 address with a port nobody listens on now.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Proc is `ensign run` as a child process.
type Proc struct {
	// Addr is the webhook receiver's host:port (ENSIGN_LISTEN_ADDR).
	Addr string
	// Log is the file ensign's output goes to.
	Log string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid after done is closed
}

// Start runs `bin run` with env added to this process's environment and its
// output in logPath; env must set ENSIGN_LISTEN_ADDR. It does not wait for
// ensign to be ready (see WaitReady).
func Start(bin, logPath string, env map[string]string) (*Proc, error) {
	if env["ENSIGN_LISTEN_ADDR"] == "" {
		return nil, errors.New("start ensign: ENSIGN_LISTEN_ADDR is not set")
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &Proc{Addr: env["ENSIGN_LISTEN_ADDR"], Log: logPath, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "run")
	p.cmd.Env = os.Environ()
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start ensign: %w", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// WaitReady polls /readyz until ensign answers 200 (its canary caches have
// synced), it exits, or timeout passes.
func (p *Proc) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := "http://" + p.Addr + "/readyz"
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := p.Exited(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ensign did not become ready at %s within %s: %w\n%s", url, timeout, ctx.Err(), p.LogTail(10))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Exited returns an error saying so if ensign is no longer running.
func (p *Proc) Exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("ensign exited unexpectedly (%v); the end of its log:\n%s", p.err, p.LogTail(15))
	default:
		return nil
	}
}

// Stop asks ensign to shut down (SIGTERM, as Kubernetes would) and kills it
// if it has not stopped within 30 seconds. It is safe to call twice.
func (p *Proc) Stop() error {
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

// Kill stops ensign at once (SIGKILL), as a crash would, and waits for it.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// LogTail returns the last n lines of ensign's log, indented.
func (p *Proc) LogTail(n int) string {
	data, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// Memory is a reading of /proc/<pid>/status, in KiB.
type Memory struct {
	RSS, Anon, File, HWM int64
}

// Memory reads ensign's resident memory.
func (p *Proc) Memory() (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	fields := map[string]*int64{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon, "RssFile:": &m.File, "VmHWM:": &m.HWM}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) >= 2 {
			if ptr, ok := fields[parts[0]]; ok {
				*ptr, _ = strconv.ParseInt(parts[1], 10, 64)
			}
		}
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("no VmRSS in /proc/%d/status", p.cmd.Process.Pid)
	}
	return m, sc.Err()
}

// PID is ensign's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

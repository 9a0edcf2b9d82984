package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a controller the harness started (kube-controller-manager,
// kube-scheduler, kwok, Flagger, a Flux controller). It runs in its own
// process group, carries the owner mark (so the watchdog kills it when the
// test binary dies) and writes its output to a log file in its directory.
type Process struct {
	// Name says which program this is, for logs and errors.
	Name string
	// Dir is the process's scratch directory (working directory and log).
	Dir string
	// Args are the command-line arguments it was started with.
	Args []string
	// Started is when the harness started it; Ready is when its readiness
	// check first passed.
	Started, Ready time.Time

	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
	// cleanup runs after the process has exited, once.
	cleanup func()
}

// startProcess runs bin with args in a fresh scratch directory named after
// name, with extra environment variables added to the harness's own.
func startProcess(name, bin string, args []string, env ...string) (*Process, error) {
	dir, err := newScratchDir(name + "-")
	if err != nil {
		return nil, err
	}
	return startProcessIn(dir, name, bin, args, env...)
}

func startProcessIn(dir, name, bin string, args []string, env ...string) (*Process, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	p := &Process{Name: name, Dir: dir, Args: args, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	// os.Environ carries the owner mark that scratch() set.
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.Started = time.Now()
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// RSS returns the process's resident set size in bytes (from /proc), or 0
// once it has exited.
func (p *Process) RSS() int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// LogPath is the file holding the process's standard output and error.
func (p *Process) LogPath() string { return filepath.Join(p.Dir, p.Name+".log") }

// Log returns the last n lines of the process's output.
func (p *Process) Log(n int) string {
	data, _ := os.ReadFile(p.LogPath())
	return lastLines(string(data), n)
}

// Stop sends SIGTERM to the process group, waits up to 10 s, then SIGKILLs
// it, and removes its scratch directory. It is safe to call more than once;
// the error says how the process ended if it did not end on the signal.
func (p *Process) Stop() error {
	var err error
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			err = fmt.Errorf("%s had exited before Stop: %v: %s", p.Name, p.waitErr, p.Log(10))
		default:
			terminate(p.cmd.Process.Pid, p.done)
		}
		if p.cleanup != nil {
			p.cleanup()
		}
		if root, _ := scratch(); root != "" && strings.HasPrefix(p.Dir, root+string(filepath.Separator)) {
			_ = os.RemoveAll(p.Dir)
		}
	})
	return err
}

// terminate sends SIGTERM to the process group pgid, waits up to 10 s for
// done to close, then SIGKILLs the group and waits for done.
func terminate(pgid int, done <-chan struct{}) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

// waitUntil polls check every 100 ms until it returns nil, the process exits,
// or ctx ends; what names the wait in errors. On success it records Ready.
func (p *Process) waitUntil(ctx context.Context, what string, check func(context.Context) error) error {
	var last error
	for {
		if last = check(ctx); last == nil {
			p.Ready = time.Now()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before %s: %v: %s", p.Name, what, p.waitErr, p.Log(15))
		case <-ctx.Done():
			return fmt.Errorf("%s: %s: %w (last: %v): %s", p.Name, what, ctx.Err(), last, p.Log(15))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// insecureClient reaches the controllers' self-signed HTTPS health endpoints.
var insecureClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // loopback health checks
}

// httpOK returns a check that GETs url and wants 200.
func httpOK(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := insecureClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// loopbackAddr returns 127.0.0.1:<a free port>.
func loopbackAddr() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}

// stopAll stops processes in order and joins their errors.
func stopAll(ps ...*Process) error {
	var errs []error
	for _, p := range ps {
		if p != nil {
			errs = append(errs, p.Stop())
		}
	}
	return errors.Join(errs...)
}

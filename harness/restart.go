package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// This file gives the fault suite (internal/faults) the faults it injects
// into the servers: Gitea killed and started again on the same port and
// data, Gitea frozen, the API server and etcd stopped and started again.

// Kill stops Gitea at once (SIGKILL of its process group), as a crash
// would, and keeps its directory and port: StartAgain serves the same
// repositories and users on the same URL. Killing a stopped server does
// nothing.
func (g *GiteaServer) Kill() {
	g.life.Lock()
	defer g.life.Unlock()
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
	<-g.done
}

// StartAgain starts a killed Gitea again on its port and directory and
// waits until its API answers. It fails if Gitea still runs or was
// stopped with Stop.
func (g *GiteaServer) StartAgain(ctx context.Context) error {
	g.life.Lock()
	defer g.life.Unlock()
	if g.cmd != nil {
		select {
		case <-g.done:
		default:
			return errors.New("gitea start again: it is still running")
		}
	}
	if _, err := os.Stat(filepath.Join(g.Dir, "app.ini")); err != nil {
		return fmt.Errorf("gitea start again: %w", err)
	}
	if err := g.startWeb(); err != nil {
		return err
	}
	if err := g.waitHealthy(ctx); err != nil {
		_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
		<-g.done
		return err
	}
	return nil
}

// Pause freezes Gitea (SIGSTOP of its process group): connections are
// accepted by the kernel but nothing answers until Resume. It returns once
// every thread of Gitea's process has stopped (at most 5 s): a thread
// already running could otherwise still finish an answer.
func (g *GiteaServer) Pause() error {
	if err := g.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	g.life.Lock()
	pid := g.cmd.Process.Pid
	g.life.Unlock()
	// A thread in an uninterruptible wait (disk I/O on a loaded machine)
	// stops only when the wait ends.
	deadline := time.Now().Add(30 * time.Second)
	for {
		running := notStopped(pid)
		if len(running) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gitea (pid %d) did not stop within 30 s of SIGSTOP; threads not stopped (tid:state): %s", pid, strings.Join(running, " "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// notStopped lists the threads of process pid that are not stopped (state
// T or t in /proc), as "tid:state"; none when the process is gone.
func notStopped(pid int) []string {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		// pid (comm) state ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			out = append(out, filepath.Base(filepath.Dir(p))+":?")
			continue
		}
		if st := b[i+2]; st != 'T' && st != 't' {
			out = append(out, filepath.Base(filepath.Dir(p))+":"+string(st))
		}
	}
	return out
}

// Resume lets a paused Gitea run again (SIGCONT).
func (g *GiteaServer) Resume() error { return g.signal(syscall.SIGCONT) }

func (g *GiteaServer) signal(sig syscall.Signal) error {
	g.life.Lock()
	defer g.life.Unlock()
	if g.cmd == nil || g.cmd.Process == nil {
		return errors.New("gitea is not running")
	}
	if err := syscall.Kill(-g.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("signal gitea: %w", err)
	}
	return nil
}

// StopServers stops the API server, then etcd, keeping their data,
// certificates and ports, so StartServers brings back the same cluster at
// the same address: what a restart of the control plane looks like to a
// client. Config and Kubeconfig stay valid.
func (k *KubeServer) StopServers() error {
	cp := &k.env.ControlPlane
	// envtest sends SIGTERM and, after its stop timeout, SIGKILL, which it
	// reports as an error: the server is gone either way once its port is.
	_ = cp.APIServer.Stop()
	if err := portFree(cp.APIServer.SecureServing.Address, cp.APIServer.SecureServing.Port); err != nil {
		return fmt.Errorf("stop kube-apiserver: %w", err)
	}
	_ = cp.Etcd.Stop()
	if err := portFree(cp.Etcd.URL.Hostname(), cp.Etcd.URL.Port()); err != nil {
		return fmt.Errorf("stop etcd: %w", err)
	}
	return nil
}

// portFree waits up to 30 seconds until nothing accepts connections on
// host:port.
func portFree(host, port string) error {
	addr := net.JoinHostPort(host, port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still accepts connections", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StartServers starts etcd, then the API server, after StopServers, and
// waits until the API server is healthy. envtest's start timeout bounds
// the start; ctx ends only the wait for it.
func (k *KubeServer) StartServers(ctx context.Context) error {
	started := make(chan error, 1)
	go func() {
		cp := &k.env.ControlPlane
		if err := cp.Etcd.Start(); err != nil {
			started <- fmt.Errorf("start etcd again: %w", err)
			return
		}
		if err := cp.APIServer.Start(); err != nil {
			started <- fmt.Errorf("start kube-apiserver again: %w", err)
			return
		}
		started <- nil
	}()
	select {
	case err := <-started:
		return err
	case <-ctx.Done():
		return fmt.Errorf("start kube-apiserver again: %w", ctx.Err())
	}
}

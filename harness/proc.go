package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ownerEnv marks every process the harness starts, directly or through
// envtest, with the pid of the process that owns it. Children inherit it.
const ownerEnv = "ENSIGN_HARNESS_OWNER"

// watchdogScript waits for the owner to exit, then kills every process that
// carries the owner's mark until none is left (up to 15 s; one grep over all
// of /proc per round, so that it stays quick on a busy machine, and a child a
// server started meanwhile is caught by the next round), and removes the
// owner's scratch directory, again if a dying process was still writing into
// it. A process that has exited has an empty environ, so zombies do not
// match. It runs in its own process group so that a terminal's ^C does not
// stop it first.
const watchdogScript = `
owner=$1; root=$2
while kill -0 "$owner" 2>/dev/null; do sleep 0.2; done
i=0
while [ $i -lt 75 ]; do
  pids=$(grep -lzxF "` + ownerEnv + `=$owner" /proc/[0-9]*/environ 2>/dev/null | sed 's|^/proc/||; s|/environ$||')
  [ -z "$pids" ] && break
  kill -KILL $pids 2>/dev/null
  sleep 0.2; i=$((i+1))
done
i=0
while [ -e "$root" ] && [ $i -lt 10 ]; do
  rm -rf "$root" 2>/dev/null || sleep 0.5
  i=$((i+1))
done
`

var (
	scratchOnce sync.Once
	scratchRoot string
	scratchErr  error
)

// scratch returns this process's scratch directory for server data, starting
// the watchdog the first time. Every server process started after this call
// inherits the owner mark.
func scratch() (string, error) {
	scratchOnce.Do(func() {
		owner := strconv.Itoa(os.Getpid())
		scratchRoot, scratchErr = os.MkdirTemp("", "ensign-harness-"+owner+"-")
		if scratchErr != nil {
			return
		}
		cmd := exec.Command("/bin/sh", "-c", watchdogScript, "ensign-harness-watchdog", owner, scratchRoot)
		cmd.Env = withoutOwner(os.Environ())
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if scratchErr = cmd.Start(); scratchErr != nil {
			scratchErr = fmt.Errorf("start harness watchdog: %w", scratchErr)
			return
		}
		go func() { _ = cmd.Wait() }()
		// Set the mark only after the watchdog is running, so the watchdog
		// itself does not carry it.
		scratchErr = os.Setenv(ownerEnv, owner)
	})
	return scratchRoot, scratchErr
}

func withoutOwner(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, ownerEnv+"=") {
			out = append(out, e)
		}
	}
	return out
}

// newScratchDir makes a fresh directory for one server under the scratch root.
func newScratchDir(prefix string) (string, error) {
	root, err := scratch()
	if err != nil {
		return "", err
	}
	return os.MkdirTemp(root, prefix)
}

// OwnedProcesses lists the pids of live processes started by the harness in
// the process with the given pid (those that carry its owner mark). Tests use
// it to prove that nothing outlives its owner.
func OwnedProcesses(owner int) ([]int, error) {
	matches, err := filepath.Glob("/proc/[0-9]*/environ")
	if err != nil {
		return nil, err
	}
	mark := []byte(ownerEnv + "=" + strconv.Itoa(owner) + "\x00")
	var pids []int
	for _, f := range matches {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // gone, or not ours to read
		}
		if !containsEnv(data, mark) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err == nil && !isZombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func containsEnv(environ, mark []byte) bool {
	for len(environ) > 0 {
		if len(environ) >= len(mark) && string(environ[:len(mark)]) == string(mark) {
			return true
		}
		i := strings.IndexByte(string(environ), 0)
		if i < 0 {
			return false
		}
		environ = environ[i+1:]
	}
	return false
}

func isZombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

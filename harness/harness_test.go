package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		childMain(m, mode)
		return
	}
	os.Exit(Main(m))
}

const (
	childModeEnv  = "ENSIGN_HARNESS_TEST_CHILD"
	childStateEnv = "ENSIGN_HARNESS_TEST_STATE"
)

// childState is what a child test process reports once its servers run.
type childState struct {
	Pid     int
	Scratch string
}

// childMain starts every server (and, with ControllersEnv, every controller),
// reports them, then dies the way mode says.
func childMain(m *testing.M, mode string) {
	ctx := context.Background()
	if _, err := StartGitea(ctx, GiteaOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "child: gitea:", err)
		os.Exit(3)
	}
	k, err := StartKube(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: kube:", err)
		os.Exit(3)
	}
	if os.Getenv(ControllersEnv) != "" {
		startControllers(ctx, k)
	}
	root, _ := scratch()
	data, _ := json.Marshal(childState{Pid: os.Getpid(), Scratch: root})
	if err := os.WriteFile(os.Getenv(childStateEnv), data, 0o600); err != nil {
		os.Exit(3)
	}
	switch mode {
	case "panic":
		panic("child panics with servers running")
	case "timeout":
		os.Exit(m.Run()) // runs only TestChildBlocks, under a short -test.timeout
	default: // "kill": wait to be killed
		select {}
	}
}

// startControllers starts the controllers in a child, or exits it.
func startControllers(ctx context.Context, k *KubeServer) {
	if _, err := StartWorkloads(ctx, k, WorkloadOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "child: workloads:", err)
		os.Exit(3)
	}
	if _, err := StartFlagger(ctx, k, FlaggerOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "child: flagger:", err)
		os.Exit(3)
	}
	if _, err := StartFlux(ctx, k, FluxOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "child: flux:", err)
		os.Exit(3)
	}
}

// TestChildBlocks only runs inside a child process, where it outlives the
// child's -test.timeout.
func TestChildBlocks(t *testing.T) {
	if os.Getenv(childModeEnv) == "" {
		t.Skip("runs only as the child of TestNoServerOutlivesItsOwner")
	}
	select {}
}

// harnessPrograms are the processes a child of TestNoServerOutlivesItsOwner
// starts: the servers, and the controllers with ControllersEnv.
func harnessPrograms() []string {
	p := []string{"gitea", "etcd", "kube-apiserver"}
	if os.Getenv(ControllersEnv) != "" {
		p = append(p, "kube-controller-manager", "kube-scheduler", "kwok", "flagger", "source-controller", "kustomize-controller")
	}
	return p
}

// TestNoServerOutlivesItsOwner starts every server (and, with ControllersEnv,
// every controller) in a child
// test process, ends that process by a panic, a test timeout and SIGKILL, and
// checks that none of their processes and no scratch directory remain.
func TestNoServerOutlivesItsOwner(t *testing.T) {
	// Skip or fail like every integration test when binaries are absent.
	programs := harnessPrograms()
	for _, b := range programs {
		if _, err := binary(b); err != nil {
			unavailable(t, b, err)
		}
	}
	if _, err := FluxCRDFiles(); err != nil {
		unavailable(t, "flux CRDs", err)
	}
	for _, mode := range []string{"panic", "timeout", "kill"} {
		t.Run(mode, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state.json")
			args := []string{"-test.run=^TestChildBlocks$", "-test.timeout=2s"}
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(withoutOwner(os.Environ()), childModeEnv+"="+mode, childStateEnv+"="+state)
			out, err := os.Create(filepath.Join(t.TempDir(), "child.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var st childState
			deadline := time.Now().Add(2 * time.Minute)
			for {
				data, err := os.ReadFile(state)
				if err == nil && json.Unmarshal(data, &st) == nil {
					break
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("child did not start its servers: %s", childLog(out.Name()))
				}
				time.Sleep(50 * time.Millisecond)
			}
			owned, err := OwnedProcesses(st.Pid)
			if err != nil {
				t.Fatal(err)
			}
			if len(owned) < len(programs) {
				t.Fatalf("child owns %d processes (%s), want %v", len(owned), describe(owned), programs)
			}
			if mode == "kill" {
				_ = cmd.Process.Signal(syscall.SIGKILL)
			}
			err = cmd.Wait()
			if err == nil {
				t.Fatalf("child exited cleanly in mode %s; want a failure", mode)
			}
			// The watchdog kills for up to 15 s, then removes the
			// directory; on a 2-core machine at load 20 and more that
			// took longer than 15 s in all.
			died := time.Now()
			deadline = died.Add(45 * time.Second)
			for {
				left, _ := OwnedProcesses(st.Pid)
				_, statErr := os.Stat(st.Scratch)
				if len(left) == 0 && os.IsNotExist(statErr) {
					t.Logf("%d processes and the scratch directory gone %v after the child died", len(owned), time.Since(died).Round(100*time.Millisecond))
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("after the child died (%v): processes %v remain (%s), scratch dir stat: %v, holding: %s", err, left, describe(left), statErr, remaining(st.Scratch))
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// remaining lists up to 20 paths left under dir.
func remaining(dir string) string {
	var paths []string
	_ = filepath.WalkDir(dir, func(path string, _ fs.DirEntry, _ error) error {
		if len(paths) < 20 {
			paths = append(paths, path)
		}
		return nil
	})
	return strings.Join(paths, " ")
}

func childLog(path string) string {
	data, _ := os.ReadFile(path)
	return lastLines(string(data), 20)
}

func describe(pids []int) string {
	s := ""
	for _, p := range pids {
		exe, _ := os.Readlink("/proc/" + strconv.Itoa(p) + "/exe")
		s += fmt.Sprintf("%d=%s ", p, exe)
	}
	return s
}

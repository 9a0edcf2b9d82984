package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/schedule"
)

// TestMemoryProfile runs the daemon in-process over the memory benchmark's
// fleet (1,000 canaries in 100 namespaces) and writes heap profiles where
// cmd/ensign-bench reads resident memory, so that the benchmark's numbers
// can be explained, and a CPU profile of acting on the final phases. It is
// a profiling aid, not a test: it runs only with
// ENSIGN_BENCH=1 and asserts nothing beyond the daemon working.
//
//	ENSIGN_BENCH=1 ENSIGN_BENCH_OUT=/tmp/prof go test -count=1 -run TestMemoryProfile -v ./cmd/ensign/
//	go tool pprof -top -sample_index=inuse_space -base /tmp/prof/0-before.pprof /tmp/prof/1-idle.pprof
//	go tool pprof -top -cum /tmp/prof/3-finals.cpu.pprof
func TestMemoryProfile(t *testing.T) {
	if os.Getenv("ENSIGN_BENCH") == "" {
		t.Skip("a profiling aid for cmd/ensign-bench; set ENSIGN_BENCH=1 to run it")
	}
	out := os.Getenv("ENSIGN_BENCH_OUT")
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	// Sample every 4 KiB allocated instead of every 512 KiB, so that small
	// per-informer costs show up.
	runtime.MemProfileRate = 4096
	g, k := harness.Gitea(t), harness.Kube(t)
	ctx := context.Background()
	f, err := scenario.SetupFleet(ctx, g, k, scenario.FleetOptions{Prefix: harness.UniqueName("mp") + "-"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.PrepareFinals(ctx, "1.1.0"); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, map[string]string{
		"ENSIGN_GITEA_URL": strings.TrimSuffix(g.URL, "/"), "ENSIGN_GITEA_TOKEN": f.Bot.Token,
		"ENSIGN_REPOS":       f.Org + "/" + f.Repo,
		"ENSIGN_KUBECONFIGS": "staging=" + k.Kubeconfig + ",production=" + k.Kubeconfig,
		"ENSIGN_LISTEN_ADDR": "127.0.0.1:0", "ENSIGN_DATA_DIR": t.TempDir(),
	})
	profile := func(name string) {
		t.Helper()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		t.Logf("%-14s heap in use %5.1f MiB (objects %d), heap idle %5.1f MiB (released %5.1f), stacks %4.1f MiB, goroutines %d, runtime other %4.1f MiB, Sys %5.1f MiB",
			name, mb(m.HeapInuse), m.HeapObjects, mb(m.HeapIdle), mb(m.HeapReleased), mb(m.StackInuse), runtime.NumGoroutine(),
			mb(m.MSpanSys+m.MCacheSys+m.BuckHashSys+m.GCSys+m.OtherSys), mb(m.Sys))
		w, err := os.Create(filepath.Join(out, name+".pprof"))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if err := pprof.Lookup("heap").WriteTo(w, 0); err != nil {
			t.Fatal(err)
		}
		gw, err := os.Create(filepath.Join(out, name+".goroutines.txt"))
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Close()
		if err := pprof.Lookup("goroutine").WriteTo(gw, 1); err != nil {
			t.Fatal(err)
		}
	}
	profile("0-before")

	runCtx, cancel := context.WithCancel(ctx)
	b, err := newBot(runCtx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	d := &daemon{bot: b, listener: ln, clock: schedule.RealClock{}, onReady: func() { close(ready) }}
	done := make(chan error, 1)
	go func() { done <- d.run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ensign run: %v", err)
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("ensign stopped before it was ready: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("ensign did not become ready")
	}
	time.Sleep(10 * time.Second)
	profile("1-idle")

	if _, err := f.Burst(ctx, 100, flaggerv1.CanaryPhaseProgressing); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	profile("2-burst")

	cpu, err := os.Create(filepath.Join(out, "3-finals.cpu.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		t.Fatal(err)
	}
	finals := time.Now()
	if err := f.Finals(ctx); err != nil {
		t.Fatal(err)
	}
	promoting, failing := f.LiveApps()
	for _, x := range []struct {
		apps   []scenario.FleetApp
		rollbk bool
	}{{promoting, false}, {failing, true}} {
		for _, a := range x.apps {
			s, reason := a.Staging, "Promotion"
			if x.rollbk {
				s, reason = a.Production, "Rollback"
			}
			err := scenario.Wait(ctx, 5*time.Minute, reason+" event on "+a.Name, func() (bool, error) {
				_, ok, err := f.EnsignEventAt(ctx, a, s, reason)
				return ok, err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	pprof.StopCPUProfile()
	t.Logf("final phases acted on in %v", time.Since(finals).Round(time.Millisecond))
	profile("3-finals")
}

func mb(n uint64) float64 { return float64(n) / (1 << 20) }

package main

import (
	"context"
	"os"
	"runtime"
	"sort"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/ensignbot/ensign/canary"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/policy"
)

// The tests in this file are the experiments behind the findings in
// BENCHMARKS.md ("The bot"): they measure alternatives ensign does not use
// today, on the memory benchmark's fleet. They run only with ENSIGN_BENCH=1
// and print numbers; they assert nothing beyond the parts working.
//
//	ENSIGN_BENCH=1 go test -count=1 -run 'TestWatcherVariants|TestPolicyLoadCost' -v ./cmd/ensign-bench/

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

func benchOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("ENSIGN_BENCH") == "" {
		t.Skip("an experiment behind BENCHMARKS.md; set ENSIGN_BENCH=1 to run it")
	}
}

// inUse is the heap and stack memory in use after full GCs, and the
// number of goroutines.
func inUse() (uint64, int) {
	for range 3 {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse, runtime.NumGoroutine()
}

// TestWatcherVariants caches the same 1,000 canaries with canary.Watcher
// the way ensign does (one informer per namespace, 100 of them), and with
// one cluster-wide informer, each with and without HTTP compression, and
// prints the memory and goroutines each costs.
func TestWatcherVariants(t *testing.T) {
	benchOnly(t)
	g, k := harness.Gitea(t), harness.Kube(t)
	ctx := context.Background()
	f, err := scenario.SetupFleet(ctx, g, k, scenario.FleetOptions{Prefix: harness.UniqueName("wv") + "-", Live: 1})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var namespaces []string
	for _, a := range f.Apps {
		for _, ns := range []string{a.Staging.Namespace, a.Production.Namespace} {
			if !seen[ns] {
				seen[ns] = true
				namespaces = append(namespaces, ns)
			}
		}
	}
	sort.Strings(namespaces)
	var nothing ignoreCanaries
	for _, v := range []struct {
		name          string
		namespaces    []string
		noCompression bool
	}{
		{"one informer per namespace (ensign today)", namespaces, false},
		{"one informer per namespace, DisableCompression", namespaces, true},
		{"one cluster-wide informer", nil, false},
		{"one cluster-wide informer, DisableCompression", nil, true},
		{"one informer per namespace (ensign today), again", namespaces, false},
	} {
		t.Run(v.name, func(t *testing.T) {
			cfg := rest.CopyConfig(k.Config)
			cfg.DisableCompression = v.noCompression
			before, g0 := inUse()
			w := canary.NewWatcher([]canary.Cluster{{Name: "c", Client: dynamic.NewForConfigOrDie(cfg), Namespaces: v.namespaces}}, nothing, canary.Options{Workers: 4})
			wctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- w.Run(wctx) }()
			err := scenario.Wait(ctx, time.Minute, "the watcher to sync", func() (bool, error) { return w.Synced(), nil })
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			after, g1 := inUse()
			t.Logf("%d canaries cached; heap+stacks +%.1f MiB; goroutines +%d", w.Len(), float64(after-before)/(1<<20), g1-g0)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second) // let the closed watches' goroutines end
		})
	}
}

// TestPolicyLoadCost measures policy.Load of the fleet's policy (500 apps,
// 1,000 stages): ensign loads the policy on every workspace Sync.
func TestPolicyLoadCost(t *testing.T) {
	benchOnly(t)
	g, k := harness.Gitea(t), harness.Kube(t)
	ctx := context.Background()
	f, err := scenario.SetupFleet(ctx, g, k, scenario.FleetOptions{Prefix: harness.UniqueName("pl") + "-", Live: 1})
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.File(ctx, ".ensign.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := policy.Load(".ensign.yaml", []byte(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	t.Logf("policy of %d apps, %d bytes: %v per Load, %.1f MB and %d allocations per Load",
		len(f.Apps), len(data), time.Duration(r.NsPerOp()).Round(100*time.Microsecond), float64(r.AllocedBytesPerOp())/1e6, r.AllocsPerOp())
}

// ignoreCanaries is a canary.Handler that does nothing.
type ignoreCanaries struct{}

func (ignoreCanaries) HandleCanary(context.Context, string, *flaggerv1.Canary) error { return nil }

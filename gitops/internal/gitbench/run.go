package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// sample is one measured run of one operation.
type sample struct {
	wall   time.Duration
	rssKiB int64
}

type series struct {
	op, tool string
	samples  []sample
}

type bench struct {
	self, url, work, srvRepo string
	series                   []*series
}

func runBench(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	repo := fs.String("repo", filepath.Join(defaultCache(), "repo-50k"), "generated bare repo (built if missing)")
	work := fs.String("work", filepath.Join(defaultCache(), "work"), "scratch directory (wiped)")
	runs := fs.Int("runs", 10, "runs per operation and tool")
	coldRuns := fs.Int("cold-runs", 0, "runs for the cold-start op (0: same as -runs)")
	ops := fs.String("ops", "promote,revert,revert-renamed,cold", "operations to measure")
	_ = fs.Parse(args)
	if *coldRuns == 0 {
		*coldRuns = *runs
	}
	if err := ensureRepo(*repo, 50000, 1); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.RemoveAll(*work); err != nil {
		return err
	}
	b := &bench{self: self, work: *work, srvRepo: filepath.Join(*work, "srv", "bench.git")}
	// The server gets a copy, so pushes never touch the cached repository.
	if err := sh("", "mkdir -p %q && cp -a %q %q && git -C %q config http.receivepack true", filepath.Dir(b.srvRepo), *repo, b.srvRepo, b.srvRepo); err != nil {
		return err
	}
	stop, err := b.serve()
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(os.Stderr, "serving %s\n", b.url)

	start := time.Now()
	if err := sh("", "git clone -q %q %q", b.url, b.path("cli")); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "warm git clone: %v\n", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if _, err := b.run(exec.Command(b.self, "op", "warm", "-cache", b.path("ens"), "-url", b.url)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "warm ensign full fetch: %v\n", time.Since(start).Round(time.Millisecond))

	for _, op := range strings.Split(*ops, ",") {
		switch op {
		case "promote":
			err = b.promote(*runs)
		case "revert":
			err = b.revert(*runs)
		case "revert-renamed":
			err = b.revertRenamed(*runs)
		case "cold":
			err = b.cold(*coldRuns)
		default:
			err = fmt.Errorf("unknown op %q", op)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	b.report()
	return nil
}

// serveOnly serves an existing scratch server directory until killed (for
// profiling single operations by hand).
func serveOnly(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	work := fs.String("work", filepath.Join(defaultCache(), "work"), "scratch directory of a previous run")
	_ = fs.Parse(args)
	b := &bench{work: *work, srvRepo: filepath.Join(*work, "srv", "bench.git")}
	stop, err := b.serve()
	if err != nil {
		return err
	}
	defer stop()
	fmt.Println(b.url)
	select {}
}

func (b *bench) path(p string) string { return filepath.Join(b.work, p) }

// serve runs git http-backend over CGI on a random 127.0.0.1 port.
func (b *bench) serve() (func(), error) {
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + filepath.Dir(b.srvRepo), "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	b.url = "http://" + ln.Addr().String() + "/bench.git"
	return func() { srv.Close() }, nil
}

func (b *bench) add(op, tool string, s sample) {
	for _, se := range b.series {
		if se.op == op && se.tool == tool {
			se.samples = append(se.samples, s)
			return
		}
	}
	b.series = append(b.series, &series{op: op, tool: tool, samples: []sample{s}})
}

// run runs a child process and measures it.
func (b *bench) run(cmd *exec.Cmd) (sample, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com",
		"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return sample{wall: time.Since(start), rssKiB: ru.Maxrss}, nil
}

func (b *bench) measure(op, tool string, cmd *exec.Cmd) error {
	s, err := b.run(cmd)
	if err != nil {
		return err
	}
	b.add(op, tool, s)
	fmt.Fprintf(os.Stderr, "  %-8s %-7s %8.1f ms %6.1f MiB\n", op, tool, ms(s.wall), float64(s.rssKiB)/1024)
	return nil
}

const promoteFile = "apps/team000/app00/overlays/prod/kustomization.yaml"

func (b *bench) promote(runs int) error {
	for i := 0; i < runs; i++ {
		ens := exec.Command(b.self, "op", "promote", "-cache", b.path("ens"), "-url", b.url, "-file", promoteFile, "-tag", fmt.Sprintf("v9.%d.0-e", i))
		cli := shCmd(b.path("cli"), "git fetch -q origin && git reset -q --hard origin/main && sed -i 's/newTag: .*/newTag: %s/' %s && git commit -q -am 'Promote to %s' && git push -q origin HEAD:main",
			fmt.Sprintf("v9.%d.0-c", i), promoteFile, fmt.Sprintf("v9.%d.0-c", i))
		if err := b.pair("promote", i, ens, cli); err != nil {
			return err
		}
	}
	return nil
}

// pair measures both tools, alternating which goes first.
func (b *bench) pair(op string, i int, ens, cli *exec.Cmd) error {
	first, second := ens, cli
	ft, st := "ensign", "git CLI"
	if i%2 == 1 {
		first, second, ft, st = cli, ens, st, ft
	}
	if err := b.measure(op, ft, first); err != nil {
		return err
	}
	return b.measure(op, st, second)
}

// candidates returns first-parent commits about `back` commits behind main
// whose files were not touched since and differ from each other, so each
// reverts cleanly and independently.
func (b *bench) candidates(back, n int) ([]string, error) {
	out, err := exec.Command("git", "-C", b.srvRepo, "rev-list", "--first-parent", fmt.Sprintf("--skip=%d", back), "-n", fmt.Sprint(n*5), "main").Output()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{promoteFile: true}
	var picked []string
	for _, sha := range strings.Fields(string(out)) {
		fl, err := b.changedFiles(sha)
		if err != nil {
			return nil, err
		}
		clash := len(fl) == 0
		for _, f := range fl {
			clash = clash || used[f]
		}
		if clash {
			continue
		}
		later, err := exec.Command("git", append([]string{"-C", b.srvRepo, "log", "--format=%H", sha + "..main", "--"}, fl...)...).Output()
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(later)) > 0 {
			continue
		}
		for _, f := range fl {
			used[f] = true
		}
		picked = append(picked, sha)
		if len(picked) == n {
			return picked, nil
		}
	}
	return nil, errors.New("not enough clean revert candidates")
}

// changedFiles lists the paths commit sha changed on the server.
func (b *bench) changedFiles(sha string) ([]string, error) {
	out, err := exec.Command("git", "-C", b.srvRepo, "diff-tree", "--no-commit-id", "--name-only", "-r", sha).Output()
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

func (b *bench) revert(runs int) error {
	cands, err := b.candidates(100, 2*runs)
	if err != nil {
		return err
	}
	for i := 0; i < runs; i++ {
		ens := exec.Command(b.self, "op", "revert", "-cache", b.path("ens"), "-url", b.url, "-sha", cands[2*i])
		cli := shCmd(b.path("cli"), "git fetch -q origin && git reset -q --hard origin/main && git revert --no-edit %s >/dev/null && git push -q origin HEAD:main", cands[2*i+1])
		if err := b.pair("revert", i, ens, cli); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) cold(runs int) error {
	cands, err := b.candidates(100, 3*runs)
	if err != nil {
		return err
	}
	for i := 0; i < runs; i++ {
		dir := b.path(fmt.Sprintf("cold-%d", i))
		ens := exec.Command(b.self, "op", "cold", "-cache", dir+"-ens", "-url", b.url, "-sha", cands[3*i])
		cli := shCmd(b.work, "git clone -q %q %q && cd %q && git revert --no-edit %s >/dev/null && git push -q origin HEAD:main", b.url, dir+"-cli", dir+"-cli", cands[3*i+1])
		if err := b.pair("cold", i, ens, cli); err != nil {
			return err
		}
		shallow := shCmd(b.work, "git clone -q --depth 200 %q %q && cd %q && git revert --no-edit %s >/dev/null && git push -q origin HEAD:main", b.url, dir+"-sh", dir+"-sh", cands[3*i+2])
		if err := b.measure("cold", "git CLI --depth 200", shallow); err != nil {
			return err
		}
		_ = os.RemoveAll(dir + "-ens")
		_ = os.RemoveAll(dir + "-cli")
		_ = os.RemoveAll(dir + "-sh")
	}
	return nil
}

func shCmd(dir, format string, args ...any) *exec.Cmd {
	cmd := exec.Command("sh", "-c", fmt.Sprintf(format, args...))
	cmd.Dir = dir
	return cmd
}

func sh(dir, format string, args ...any) error {
	cmd := shCmd(dir, format, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", cmd.Args[2], err, out)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func stats(s []sample) (median, p95 time.Duration, peak int64) {
	ws := make([]time.Duration, len(s))
	for i, x := range s {
		ws[i] = x.wall
		if x.rssKiB > peak {
			peak = x.rssKiB
		}
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i] < ws[j] })
	n := len(ws)
	if n%2 == 1 {
		median = ws[n/2]
	} else {
		median = (ws[n/2-1] + ws[n/2]) / 2
	}
	idx := (95*n + 99) / 100 // nearest-rank p95
	if idx < 1 {
		idx = 1
	}
	return median, ws[idx-1], peak
}

func (b *bench) report() {
	fmt.Println("| operation | tool | runs | median | p95 | ensign ÷ this (median) | peak RSS (max) |")
	fmt.Println("|---|---|---|---|---|---|---|")
	ensMedian := map[string]time.Duration{}
	for _, se := range b.series {
		if se.tool == "ensign" {
			ensMedian[se.op], _, _ = stats(se.samples)
		}
	}
	for _, se := range b.series {
		med, p95, peak := stats(se.samples)
		ratio := ""
		if e := ensMedian[se.op]; e > 0 && se.tool != "ensign" {
			ratio = fmt.Sprintf("%.2fx", float64(e)/float64(med))
		}
		fmt.Printf("| %s | %s | %d | %.0f ms | %.0f ms | %s | %.0f MiB |\n", se.op, se.tool, len(se.samples), ms(med), ms(p95), ratio, float64(peak)/1024)
	}
}

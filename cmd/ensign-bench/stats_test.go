package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		var out []time.Duration
		for _, v := range vs {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	twenty := ms(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
	for _, tc := range []struct {
		name                   string
		in                     []time.Duration
		min, p50, p95, max, av time.Duration
	}{
		{"one sample", ms(7), 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond},
		// Nearest rank: p50 of 20 is the 10th smallest, p95 the 19th.
		{"twenty, unsorted", twenty, 1 * time.Millisecond, 10 * time.Millisecond, 19 * time.Millisecond, 20 * time.Millisecond, 10500 * time.Microsecond},
		{"three", ms(300, 100, 200), 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond, 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := summarize(tc.in)
			if s.N != len(tc.in) || s.Min != tc.min || s.P50 != tc.p50 || s.P95 != tc.p95 || s.Max != tc.max || s.Avg != tc.av {
				t.Fatalf("summarize = %+v, want n %d min %v p50 %v p95 %v max %v avg %v", s, len(tc.in), tc.min, tc.p50, tc.p95, tc.max, tc.av)
			}
		})
	}
	if s := summarize(nil); s.N != 0 {
		t.Fatalf("summarize(nil) = %+v", s)
	}
	if in := ms(3, 1, 2); summarize(in).P50 != 2*time.Millisecond || in[0] != 3*time.Millisecond {
		t.Fatal("summarize must not reorder its input")
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []int64
		want int64
	}{{[]int64{5}, 5}, {[]int64{3, 1, 2}, 2}, {[]int64{4, 1, 3, 2}, 2}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/api/v1/repos/acme/gitops/pulls/12", "/api/v1/repos/{repo}/pulls/{n}"},
		{"/api/v1/repos/acme/gitops/pulls", "/api/v1/repos/{repo}/pulls"},
		{"/api/v1/repos/acme/gitops/issues/3/comments", "/api/v1/repos/{repo}/issues/{n}/comments"},
		{"/api/v1/repos/acme/gitops/branches/ensign/promote/x", "/api/v1/repos/{repo}/branches/{branch}"},
		{"/s1-acme/gitops.git/info/refs", "/{repo}.git/info/refs"},
		{"/s1-acme/gitops.git/git-receive-pack", "/{repo}.git/git-receive-pack"},
		{"/api/v1/user", "/api/v1/user"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := normalize(tc.in); got != tc.want {
				t.Fatalf("normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTable(t *testing.T) {
	var b strings.Builder
	table(&b, [][]string{{"measure", "n"}, {"a long name", "20"}, {"x", "3"}})
	want := "| measure     |   n |\n| ----------- | --: |\n| a long name |  20 |\n| x           |   3 |\n"
	if b.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestLastGC(t *testing.T) {
	dir := t.TempDir()
	log := dir + "/ensign.log"
	data := "time=... level=INFO msg=x\n" +
		"gc 1 @0.011s 3%: 0.010+1.1+0.002 ms clock, 0.021+0.2/0.9/0+0.005 ms cpu, 3->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
		"gc 12 @9.812s 1%: 0.05+3+0.01 ms clock, 0.1+0.3/2/0+0.02 ms cpu, 25->26->13 MB, 27 MB goal, 1 MB stacks, 1 MB globals, 2 P\n"
	if err := writeFile(log, data); err != nil {
		t.Fatal(err)
	}
	got := lastGC(log)
	if want := (gcLine{N: 12, Start: 25, End: 26, Live: 13, GoalMiB: 27}); got != want {
		t.Fatalf("lastGC = %+v, want %+v", got, want)
	}
	if got := lastGC(dir + "/missing.log"); got != (gcLine{}) {
		t.Fatalf("lastGC of a missing file = %+v", got)
	}
}

func writeFile(path, data string) error { return os.WriteFile(path, []byte(data), 0o644) }

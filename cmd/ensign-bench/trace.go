package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// tracer is a reverse proxy between ensign and Gitea that records every
// request ensign makes (API calls and Git over HTTP), so a benchmark can say
// where a run's time went. It adds well under a millisecond per request.
type tracer struct {
	url string // where ensign should reach Gitea
	srv *http.Server

	mu   sync.Mutex
	reqs []traced
}

// traced is one request ensign made.
type traced struct {
	start, end time.Time
	kind       string // method and normalized path
	status     int
}

func startTracer(giteaURL string) (*tracer, error) {
	target, err := url.Parse(strings.TrimSuffix(giteaURL, "/"))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &tracer{url: "http://" + ln.Addr().String()}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1
	t.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		proxy.ServeHTTP(rec, r)
		t.mu.Lock()
		t.reqs = append(t.reqs, traced{start: start, end: time.Now(), kind: r.Method + " " + normalize(r.URL.Path), status: rec.status})
		t.mu.Unlock()
	})}
	go func() { _ = t.srv.Serve(ln) }()
	return t, nil
}

func (t *tracer) close() { _ = t.srv.Close() }

// between returns the requests that started in [from, to].
func (t *tracer) between(from, to time.Time) []traced {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []traced
	for _, r := range t.reqs {
		if !r.start.Before(from) && !r.start.After(to) {
			out = append(out, r)
		}
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

var (
	repoPath = regexp.MustCompile(`^/api/v1/repos/[^/]+/[^/]+`)
	gitPath  = regexp.MustCompile(`^/[^/]+/[^/]+\.git`)
	number   = regexp.MustCompile(`/[0-9]+(/|$)`)
)

func normalize(p string) string {
	p = repoPath.ReplaceAllString(p, "/api/v1/repos/{repo}")
	p = gitPath.ReplaceAllString(p, "/{repo}.git")
	p = number.ReplaceAllString(p, "/{n}$1")
	if i := strings.Index(p, "/branches/"); i >= 0 {
		p = p[:i] + "/branches/{branch}"
	}
	return p
}

// runTrace is the requests of one measured run.
type runTrace struct {
	start time.Time
	end   time.Time // when the measurement ended
	took  time.Duration
	reqs  []traced
}

// printTrace prints, over all runs, what ensign asked Gitea between the
// phase change and the end of the measurement, and the timeline of the
// median run.
func printTrace(w io.Writer, runs []runTrace) {
	if len(runs) == 0 {
		return
	}
	fmt.Fprintf(w, "ensign's requests to Gitea that started during the measured interval (the time after the measurement ended included):\n\n")
	printKinds(w, runs)

	sorted := append([]runTrace(nil), runs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].took < sorted[j].took })
	med := sorted[(len(sorted)+1)/2-1]
	fmt.Fprintf(w, "\ntimeline of the median run (%s ms), offsets from the phase change:\n\n", ms(med.took))
	for _, q := range med.reqs {
		note := ""
		if q.end.After(med.end) {
			note = " (still running when the measurement ended)"
		}
		fmt.Fprintf(w, "    %5s-%5s ms  %-45s %d%s\n", ms(q.start.Sub(med.start)), ms(q.end.Sub(med.start)), q.kind, q.status, note)
	}
	fmt.Fprintln(w)
}

// printKinds prints, over runs, each kind of request's count per run and
// duration, most time first, and the time inside Gitea per run.
func printKinds(w io.Writer, runs []runTrace) {
	type agg struct {
		n    int
		durs []time.Duration
	}
	kinds := map[string]*agg{}
	var inGitea []time.Duration
	for _, r := range runs {
		var sum time.Duration
		for _, q := range r.reqs {
			a := kinds[q.kind]
			if a == nil {
				a = &agg{}
				kinds[q.kind] = a
			}
			a.n++
			a.durs = append(a.durs, q.end.Sub(q.start))
			sum += q.end.Sub(q.start)
		}
		inGitea = append(inGitea, sum)
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		return summarize(kinds[names[i]].durs).Avg*time.Duration(kinds[names[i]].n) > summarize(kinds[names[j]].durs).Avg*time.Duration(kinds[names[j]].n)
	})
	rows := [][]string{{"ensign -> Gitea request", "per run", "p50 ms", "p95 ms"}}
	for _, k := range names {
		a := kinds[k]
		s := summarize(a.durs)
		rows = append(rows, []string{k, fmt.Sprintf("%.1f", float64(a.n)/float64(len(runs))), ms(s.P50), ms(s.P95)})
	}
	table(w, rows)
	s := summarize(inGitea)
	fmt.Fprintf(w, "\ntime inside Gitea requests per run (sequential sum): p50 %s ms, p95 %s ms\n", ms(s.P50), ms(s.P95))
}

package metrics

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// windowGauges is ensign_window_open: the window state of each configured
// repository's stages, kept as the windows themselves and turned into
// series only when scraped. A GaugeVec would hold a series per repository,
// app and stage between scrapes (about 700 bytes each: 7 MB at 100
// repositories of 50 apps with 2 stages); this holds 40 bytes per stage.
type windowGauges struct {
	desc *prometheus.Desc
	mu   sync.RWMutex
	repo map[string][]Window
}

func newWindowGauges() *windowGauges {
	return &windowGauges{
		desc: prometheus.NewDesc("ensign_window_open",
			"1 while the stage's promotion windows let ensign merge into it, 0 while closed; per configured repository and the policy's apps and stages.",
			[]string{"repo", "app", "stage"}, nil),
		repo: map[string][]Window{},
	}
}

// set replaces one repository's stages in one step, so a scrape sees either
// the old set or the new one, never a mix or a gap.
func (g *windowGauges) set(repo string, windows []Window) {
	if len(windows) == 0 {
		g.mu.Lock()
		delete(g.repo, repo)
		g.mu.Unlock()
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if ws := g.repo[repo]; len(ws) == len(windows) {
		copy(ws, windows) // the usual refresh: same stages, no garbage
		return
	}
	g.repo[repo] = slices.Clone(windows)
}

// Describe implements prometheus.Collector.
func (g *windowGauges) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector.
func (g *windowGauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for repo, ws := range g.repo {
		for _, w := range ws {
			v := 0.0
			if w.Open {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v, repo, w.App, w.Stage)
		}
	}
}

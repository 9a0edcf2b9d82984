package forge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ensignbot/ensign/internal/logctx"
)

// Default timings of a Monitor.
const (
	// DefaultProbeEvery is how often a Monitor asks an unreachable server
	// whether it answers again.
	DefaultProbeEvery = 250 * time.Millisecond
	// DefaultProbeTimeout bounds one probe: a partitioned server's probe
	// fails in this long instead of hanging.
	DefaultProbeTimeout = 2 * time.Second
)

// Monitor watches every call ensign makes to its Gitea server, API and Git
// alike, through the transports Transport wraps. It notices when a call fails
// because the server cannot be reached or is unwell (no connection, a
// reset, a call that timed out, or a 502, 503 or 504 answer), and from then
// on probes the server's health endpoint every ProbeEvery, each probe on a
// new connection, until it answers 200; then it runs every OnBack
// function, so that work waiting out a retry backoff goes at once instead
// of seconds later. Down reports the outage for readiness.
//
// At debug level it logs every call: method, path, status and duration.
type Monitor struct {
	probeURL   string
	probe      *http.Client
	every      time.Duration
	log        *slog.Logger
	wake       chan struct{}
	mu         sync.Mutex
	downSince  time.Time // zero while the server answers
	lastErr    error
	subscribed []func()
}

// MonitorOptions configures a Monitor; zero values take the defaults.
type MonitorOptions struct {
	// ProbeEvery is the probing period while the server is down.
	ProbeEvery time.Duration
	// ProbeTimeout bounds each probe.
	ProbeTimeout time.Duration
	// Logger gets the outage's start and end (info) and every call (debug).
	Logger *slog.Logger
}

// NewMonitor returns a Monitor of the Gitea server at baseURL. Give its
// Transport to the clients that call the server; start its prober with Run.
func NewMonitor(baseURL string, o MonitorOptions) *Monitor {
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = DefaultProbeEvery
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// Probes never reuse a connection: one the outage left hanging would
	// make every probe time out after the server is back.
	probeTransport := &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true}
	return &Monitor{
		probeURL: strings.TrimSuffix(baseURL, "/") + "/api/healthz",
		probe:    &http.Client{Transport: probeTransport, Timeout: o.ProbeTimeout},
		every:    o.ProbeEvery,
		log:      o.Logger,
		wake:     make(chan struct{}, 1),
	}
}

// OnBack adds f to the functions run (in order, on Run's goroutine) each
// time the server answers again after an outage.
func (m *Monitor) OnBack(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subscribed = append(m.subscribed, f)
}

// Down reports since when the server has been unreachable, and the last
// failure, or ok false while it answers.
func (m *Monitor) Down() (since time.Time, lastErr error, down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.downSince, m.lastErr, !m.downSince.IsZero()
}

// Transport wraps next (http.DefaultTransport when nil) so that the
// outcome of every call through it is recorded.
func (m *Monitor) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return monitored{m: m, next: next}
}

type monitored struct {
	m    *Monitor
	next http.RoundTripper
}

// RoundTrip sends req through the wrapped transport and records whether
// the server answered.
func (t monitored) RoundTrip(req *http.Request) (*http.Response, error) {
	m := t.m
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	took := time.Since(start)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	if log := logctx.From(req.Context(), m.log); log.Enabled(req.Context(), slog.LevelDebug) {
		log.Debug("gitea call", "method", req.Method, "path", req.URL.Path, "status", status, "took", took, "err", err)
	}
	if failure := unwell(req, status, err); failure != nil {
		m.failed(failure)
	}
	return resp, err
}

// unwell returns why a call's outcome says the server is unreachable or
// unwell, or nil. A call the caller cancelled says nothing about the
// server; one that ran out of time does.
func unwell(req *http.Request, status int, err error) error {
	switch {
	case err != nil && errors.Is(req.Context().Err(), context.Canceled):
		return nil
	case err != nil:
		return err
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return fmt.Errorf("%s %s: gitea answered %d", req.Method, req.URL.Path, status)
	}
	return nil
}

// failed records a failure and wakes the prober at the start of an outage.
func (m *Monitor) failed(err error) {
	m.mu.Lock()
	m.lastErr = err
	start := m.downSince.IsZero()
	if start {
		m.downSince = time.Now()
	}
	m.mu.Unlock()
	if start {
		m.log.Warn("cannot reach Gitea; probing it until it answers", "every", m.every, "err", err)
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

// Run probes the server while it is down and runs the OnBack functions
// when it answers again, until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		}
		m.untilBack(ctx)
	}
}

// untilBack probes every m.every until the server answers or ctx ends.
func (m *Monitor) untilBack(ctx context.Context) {
	tick := time.NewTicker(m.every)
	defer tick.Stop()
	for {
		err := m.healthy(ctx)
		if err == nil {
			m.back()
			return
		}
		if ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		m.lastErr = err
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// healthy asks the server's health endpoint once.
func (m *Monitor) healthy(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.probeURL, nil)
	if err != nil {
		return err
	}
	resp, err := m.probe.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: gitea answered %d", req.URL.Path, resp.StatusCode)
	}
	return nil
}

// back ends the outage and runs the OnBack functions.
func (m *Monitor) back() {
	m.mu.Lock()
	since := m.downSince
	m.downSince, m.lastErr = time.Time{}, nil
	subs := append([]func(){}, m.subscribed...)
	m.mu.Unlock()
	m.log.Info("Gitea answers again; retrying waiting work at once", "down_for", time.Since(since).Round(time.Millisecond))
	for _, f := range subs {
		f()
	}
}

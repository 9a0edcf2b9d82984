package forge

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestMonitorOutage: a 503 starts an outage, the prober asks the health
// endpoint until it answers, then the OnBack functions run once and Down
// says the server answers. Answers that say nothing about the server's
// health (a 404, a call the caller cancelled) start no outage.
func TestMonitorOutage(t *testing.T) {
	var unwell atomic.Bool
	var probes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/healthz" {
			probes.Add(1)
		}
		switch {
		case unwell.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.URL.Path == "/missing":
			w.WriteHeader(http.StatusNotFound)
		case r.URL.Path == "/slow":
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	m := NewMonitor(srv.URL, MonitorOptions{ProbeEvery: 5 * time.Millisecond})
	backs := make(chan struct{}, 10)
	m.OnBack(func() { backs <- struct{}{} })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	client := &http.Client{Transport: m.Transport(nil)}
	get := func(ctx context.Context, path string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}

	get(ctx, "/missing")
	cancelled, stop := context.WithCancel(ctx)
	go func() { time.Sleep(20 * time.Millisecond); stop() }()
	get(cancelled, "/slow")
	if _, err, down := m.Down(); down {
		t.Fatalf("down after a 404 and a cancelled call: %v", err)
	}

	unwell.Store(true)
	get(ctx, "/api/v1/version")
	since, err, down := m.Down()
	if !down || since.IsZero() || err == nil {
		t.Fatalf("Down() = %v, %v, %v after a 503; want down with the error", since, err, down)
	}
	for probes.Load() < 3 { // still down: the prober keeps asking
		time.Sleep(time.Millisecond)
	}
	select {
	case <-backs:
		t.Fatal("OnBack ran while the server still answered 503")
	default:
	}

	unwell.Store(false)
	select {
	case <-backs:
	case <-time.After(10 * time.Second):
		t.Fatal("OnBack never ran after the server answered again")
	}
	if _, err, down := m.Down(); down {
		t.Fatalf("still down after the server answered: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(backs); n != 0 {
		t.Fatalf("OnBack ran %d more times for one outage", n)
	}
}

// A call that times out (a partitioned or hung server) starts an outage.
func TestMonitorTimeoutIsAnOutage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/healthz" {
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	m := NewMonitor(srv.URL, MonitorOptions{})
	client := &http.Client{Transport: m.Transport(nil)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/version", nil)
	if _, err := client.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline", err)
	}
	if _, err, down := m.Down(); !down || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Down() = %v, %v after a timed-out call; want down", err, down)
	}
}

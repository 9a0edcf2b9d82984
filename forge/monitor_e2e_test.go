package forge_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/forge/forgetest"
	"github.com/ensignbot/ensign/internal/faults"
)

// The Monitor against the real Gitea behind the fault proxy: calls that
// get 503s (a failing load balancer) and calls that hang (a partition) each
// start an outage; the outage ends, and the OnBack functions run, only once
// the real server's health endpoint answers through the proxy again.
func TestMonitorSeesRealGiteaGoAndComeBack(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	u, err := url.Parse(e.G.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := faults.NewProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	m := forge.NewMonitor("http://"+p.Addr(), forge.MonitorOptions{ProbeEvery: 50 * time.Millisecond, ProbeTimeout: 500 * time.Millisecond})
	backs := make(chan struct{}, 10)
	m.OnBack(func() { backs <- struct{}{} })
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	go m.Run(mctx)
	c, err := forge.New(forge.Config{URL: "http://" + p.Addr(), Token: e.Bot.Token, CallTimeout: time.Second,
		HTTPClient: &http.Client{Transport: m.Transport(nil)}})
	if err != nil {
		t.Fatal(err)
	}
	list := func() error {
		_, err := c.ListOpenPullRequests(ctx, e.Repo, "")
		return err
	}
	if err := list(); err != nil {
		t.Fatal(err)
	}
	if _, err, down := m.Down(); down {
		t.Fatalf("down while Gitea answers: %v", err)
	}

	for _, mode := range []faults.Mode{faults.Unavailable, faults.Partition} {
		p.SetMode(mode)
		if err := list(); err == nil {
			t.Fatalf("%v: the call went through", mode)
		}
		_, cause, down := m.Down()
		if !down {
			t.Fatalf("%v: not down after a failed call", mode)
		}
		if mode == faults.Partition && !errors.Is(cause, context.DeadlineExceeded) {
			t.Fatalf("partition: cause %v, want the call's deadline", cause)
		}
		// Still down while the proxy keeps failing: several probes fail.
		time.Sleep(300 * time.Millisecond)
		select {
		case <-backs:
			t.Fatalf("%v: told Gitea was back while it was not", mode)
		default:
		}
		p.SetMode(faults.Forward)
		select {
		case <-backs:
		case <-ctx.Done():
			t.Fatalf("%v: never told Gitea was back", mode)
		}
		if _, err, down := m.Down(); down {
			t.Fatalf("%v: still down after Gitea answered: %v", mode, err)
		}
		if err := list(); err != nil {
			t.Fatalf("%v: after: %v", mode, err)
		}
	}
}

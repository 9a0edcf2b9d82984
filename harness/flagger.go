package harness

import (
	"context"
	"net"
	"time"
)

// FlaggerOptions tunes StartFlagger; the zero value is fine.
type FlaggerOptions struct {
	// Namespace limits Flagger to the Canaries of one namespace; empty
	// watches all namespaces.
	Namespace string
	// ControlLoopInterval is how often Flagger syncs its Canary list with its
	// analysis jobs (Flagger's -control-loop-interval). Default 1 s; Flagger's
	// own default is 10 s. A Canary's analysis itself runs every
	// spec.analysis.interval, which Flagger raises to at least 10 s.
	ControlLoopInterval time.Duration
	// MetricsServer is the Prometheus URL Flagger queries for the built-in
	// metrics. Default: a closed loopback port. Canaries whose analysis only
	// has webhooks never query it; Flagger logs once at start-up that it is
	// unreachable and carries on.
	MetricsServer string
}

// FlaggerServer is a running Flagger with -mesh-provider=kubernetes
// (blue/green without a service mesh) on the harness API server.
type FlaggerServer struct {
	*Process
	// URL serves Flagger's /healthz and /metrics.
	URL string
}

// StartFlagger starts Flagger against k and waits until it serves /healthz
// (after its informers have synced).
func StartFlagger(ctx context.Context, k *KubeServer, opts FlaggerOptions) (*FlaggerServer, error) {
	bin, err := binary("flagger")
	if err != nil {
		return nil, err
	}
	if opts.ControlLoopInterval <= 0 {
		opts.ControlLoopInterval = time.Second
	}
	addr, err := loopbackAddr()
	if err != nil {
		return nil, err
	}
	if opts.MetricsServer == "" {
		closed, err := loopbackAddr()
		if err != nil {
			return nil, err
		}
		opts.MetricsServer = "http://" + closed
	}
	_, port, _ := net.SplitHostPort(addr)
	args := []string{
		"-kubeconfig=" + k.Kubeconfig,
		"-mesh-provider=kubernetes",
		"-port=" + port,
		"-metrics-server=" + opts.MetricsServer,
		"-control-loop-interval=" + opts.ControlLoopInterval.String(),
		"-enable-leader-election=false",
		"-log-level=info",
		"-zap-encoding=console",
	}
	if opts.Namespace != "" {
		args = append(args, "-namespace="+opts.Namespace)
	}
	p, err := startProcess("flagger", bin, args)
	if err != nil {
		return nil, err
	}
	f := &FlaggerServer{Process: p, URL: "http://" + addr}
	if err := p.waitUntil(ctx, "healthz", httpOK(f.URL+"/healthz")); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return f, nil
}

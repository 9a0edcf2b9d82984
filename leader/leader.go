// Package leader decides which replica of ensign acts: replicas campaign for
// a coordination.k8s.io Lease with client-go's leader election, and only the
// holder watches canaries, runs the schedulers and handles webhooks; the
// others stand by (and pass webhook deliveries on to the leader, see
// Forwarder).
//
// The order of a hand-over is what makes it safe: a leader stops acting
// before it gives up the Lease (on shutdown it cancels its work, waits for
// it, then releases the Lease at once so the next replica starts without
// waiting for it to expire), and a leader that fails to renew stops its work
// within the renew deadline, well before the Lease expires for the others.
// A leader whose work does not stop in that margin is told to exit.
//
// The Lease's holder identity is "<identity>@<address>": the replica's name
// and the address it serves webhooks on, so the others can reach it.
//
// An Elector campaigns once (Run); its methods are safe for concurrent use.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Config configures an Elector.
type Config struct {
	// Client reaches the API server that holds the Lease.
	Client kubernetes.Interface
	// Namespace and Name name the Lease.
	Namespace, Name string
	// Identity names this replica (its pod name); unique among replicas.
	Identity string
	// Address is host:port where this replica serves webhooks, announced
	// to the others; empty if it cannot be reached.
	Address string
	// LeaseDuration, RenewDeadline and RetryPeriod are client-go's.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// OnChange, if set, is told when this replica starts and stops leading.
	OnChange func(leading bool)
	Logger   *slog.Logger
}

// ErrLost means the replica lost its Lease while leading. Its work was
// stopped (or did not stop in time: then the process must exit now).
var ErrLost = errors.New("lost the leader lease")

// Elector campaigns for the Lease.
type Elector struct {
	cfg     Config
	log     *slog.Logger
	lec     leaderelection.LeaderElectionConfig
	le      atomic.Pointer[leaderelection.LeaderElector]
	leading atomic.Bool
}

// New checks cfg and returns an Elector; it does not contact the server.
func New(cfg Config) (*Elector, error) {
	if cfg.Client == nil || cfg.Namespace == "" || cfg.Name == "" || cfg.Identity == "" {
		return nil, errors.New("leader election: client, namespace, name and identity are required")
	}
	if strings.Contains(cfg.Identity, "@") {
		return nil, fmt.Errorf("leader election: identity %q must not contain @", cfg.Identity)
	}
	e := &Elector{cfg: cfg, log: cfg.Logger}
	if e.log == nil {
		e.log = slog.Default()
	}
	holder := cfg.Identity
	if cfg.Address != "" {
		holder += "@" + cfg.Address
	}
	e.lec = leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name},
			Client:     cfg.Client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: holder},
		},
		LeaseDuration: cfg.LeaseDuration,
		RenewDeadline: cfg.RenewDeadline,
		RetryPeriod:   cfg.RetryPeriod,
		// Run releases the Lease itself, once the work stopped.
		ReleaseOnCancel: true,
		Name:            cfg.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {}, // Run sets the real one
			OnStoppedLeading: func() {},
			OnNewLeader:      func(holder string) { e.log.Info("leader", "holder", holder) },
		},
	}
	le, err := leaderelection.NewLeaderElector(e.lec)
	if err != nil {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	e.le.Store(le)
	return e, nil
}

// Leading reports whether this replica leads now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// LeaderAddress returns the address the current leader announced, or ""
// when there is no known leader or it announced none.
func (e *Elector) LeaderAddress() string {
	holder := e.le.Load().GetLeader()
	if i := strings.LastIndexByte(holder, '@'); i >= 0 {
		return holder[i+1:]
	}
	return ""
}

// Run campaigns for the Lease until ctx ends. While this replica leads,
// lead runs with a context that ends when ctx ends or the Lease is lost;
// on shutdown the Lease is released only after lead returned. Run returns
// nil once ctx ended, or ErrLost when the Lease was lost while leading.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context)) error {
	electCtx, release := context.WithCancel(context.WithoutCancel(ctx))
	defer release()
	var (
		mu       sync.Mutex
		started  bool
		workDone = make(chan struct{})
	)
	lec := e.lec
	lec.Callbacks.OnStartedLeading = func(leCtx context.Context) {
		mu.Lock()
		started = true
		mu.Unlock()
		e.leading.Store(true)
		e.change(true)
		e.log.Info("leading: this replica acts now", "lease", e.cfg.Namespace+"/"+e.cfg.Name, "identity", e.cfg.Identity)
		wctx, stop := context.WithCancel(leCtx)
		go func() {
			select {
			case <-ctx.Done():
			case <-wctx.Done():
			}
			stop()
		}()
		lead(wctx)
		stop()
		e.leading.Store(false)
		e.change(false)
		close(workDone)
		release() // shutdown: give the Lease up now that nothing acts
	}
	le, err := leaderelection.NewLeaderElector(lec)
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	e.le.Store(le)
	go func() {
		<-ctx.Done()
		mu.Lock()
		defer mu.Unlock()
		if !started {
			release() // still campaigning: stop
		}
	}()
	le.Run(electCtx)
	mu.Lock()
	wasLeading := started
	mu.Unlock()
	if !wasLeading {
		return nil
	}
	if ctx.Err() != nil {
		<-workDone // shutdown: the release above came after the work stopped
		return nil
	}
	// Lost the Lease: the work's context is cancelled; it must stop before
	// the Lease can expire for the others.
	margin := e.cfg.LeaseDuration - e.cfg.RenewDeadline
	select {
	case <-workDone:
		e.log.Error("lost the leader lease; stopped acting")
		return ErrLost
	case <-time.After(margin):
		e.log.Error("lost the leader lease and the work did not stop in time", "waited", margin)
		return fmt.Errorf("%w: the work did not stop within %s", ErrLost, margin)
	}
}

func (e *Elector) change(leading bool) {
	if e.cfg.OnChange != nil {
		e.cfg.OnChange(leading)
	}
}

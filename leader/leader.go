// Package leader decides which replica of ensign acts: replicas campaign for
// a coordination.k8s.io Lease, and only the holder watches canaries, runs
// the schedulers and handles webhooks; the others stand by (and pass webhook
// deliveries on to the leader, see Forwarder).
//
// The Lease is read and written as client-go's leader election does (holder
// identity, lease duration, acquire and renew times, transitions), so a
// replica of an earlier ensign, which used client-go's, and a replica of
// this one respect each other's claim during a rolling upgrade. ensign does
// not use client-go's elector because it links every API group's typed
// client, informer and scheme into the binary: about 16 MB of its 50 and
// 9 MiB of resident memory (BENCHMARKS.md, "A smaller binary and cheaper
// history walks").
//
// The order of a hand-over is what makes it safe: a leader stops acting
// before it gives up the Lease (on shutdown it cancels its work, waits for
// it, then releases the Lease at once so the next replica starts without
// waiting for it to expire), and a leader that fails to renew for the renew
// deadline stops its work then, LeaseDuration - RenewDeadline before the
// others may take the Lease. A leader whose work does not stop in that
// margin is told to exit.
//
// A replica takes a Lease held by another only once the record has not
// changed for its lease duration, measured on the replica's own clock from
// when it saw the record change, so clock skew between replicas does not
// matter.
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
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// JitterFactor spreads a standby replica's attempts: it tries again after
// RetryPeriod times a random factor between 1 and 1+JitterFactor. The renew
// deadline must exceed JitterFactor x RetryPeriod (client-go's rule, kept
// so that configurations valid before stay valid).
const JitterFactor = 1.2

// Config configures an Elector.
type Config struct {
	// Kube reaches the API server that holds the Lease.
	Kube *rest.Config
	// Namespace and Name name the Lease.
	Namespace, Name string
	// Identity names this replica (its pod name); unique among replicas.
	Identity string
	// Address is host:port where this replica serves webhooks, announced
	// to the others; empty if it cannot be reached.
	Address string
	// LeaseDuration is how long the others wait, after the Lease's record
	// last changed, before they take it. RenewDeadline is how long the
	// leader goes on acting after its last renewal without renewing again.
	// RetryPeriod is the pause between attempts to acquire or renew.
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
	leases  *leaseClient
	holder  string
	leading atomic.Bool

	mu       sync.Mutex
	observed *coordinationv1.Lease // the last record read or written
	seenAt   time.Time             // when this replica first saw that record
}

// New checks cfg and returns an Elector; it does not contact the server.
func New(cfg Config) (*Elector, error) {
	if cfg.Kube == nil || cfg.Namespace == "" || cfg.Name == "" || cfg.Identity == "" {
		return nil, errors.New("leader election: client, namespace, name and identity are required")
	}
	if strings.Contains(cfg.Identity, "@") {
		return nil, fmt.Errorf("leader election: identity %q must not contain @", cfg.Identity)
	}
	if err := checkDurations(cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod); err != nil {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	lc, err := newLeaseClient(cfg.Kube, cfg.Namespace, cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	e := &Elector{cfg: cfg, log: cfg.Logger, leases: lc, holder: cfg.Identity}
	if e.log == nil {
		e.log = slog.Default()
	}
	if cfg.Address != "" {
		e.holder += "@" + cfg.Address
	}
	return e, nil
}

// checkDurations enforces the order that makes a hand-over safe: the
// leader stops acting (renew deadline) before the others may take over
// (lease duration), and it gets more than one attempt to renew.
func checkDurations(lease, renew, retry time.Duration) error {
	switch {
	case lease <= 0 || renew <= 0 || retry <= 0:
		return fmt.Errorf("lease duration (%v), renew deadline (%v) and retry period (%v) must be positive", lease, renew, retry)
	case lease < time.Second:
		return fmt.Errorf("the lease duration (%v) must be at least 1s: the Lease records whole seconds", lease)
	case lease <= renew:
		return fmt.Errorf("the lease duration (%v) must exceed the renew deadline (%v)", lease, renew)
	case renew <= time.Duration(JitterFactor*float64(retry)):
		return fmt.Errorf("the renew deadline (%v) must exceed %.1f x the retry period (%v)", renew, JitterFactor, retry)
	}
	return nil
}

// Leading reports whether this replica leads now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// LeaderAddress returns the address the current leader announced, or ""
// when there is no known leader or it announced none.
func (e *Elector) LeaderAddress() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.observed == nil || e.observed.Spec.HolderIdentity == nil {
		return ""
	}
	holder := *e.observed.Spec.HolderIdentity
	if i := strings.LastIndexByte(holder, '@'); i >= 0 {
		return holder[i+1:]
	}
	return ""
}

// Run campaigns for the Lease until ctx ends. While this replica leads,
// lead runs with a context that ends when ctx ends or the Lease is lost;
// on shutdown the Lease is released only after lead returned. Run returns
// nil once ctx ended (or lead returned on its own: the Lease is released
// then too), or ErrLost when the Lease was lost while leading.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context)) error {
	renewedAt, ok := e.acquire(ctx)
	if !ok {
		return nil
	}
	e.leading.Store(true)
	e.change(true)
	e.log.Info("leading: this replica acts now", "lease", e.cfg.Namespace+"/"+e.cfg.Name, "identity", e.cfg.Identity)

	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	workDone := make(chan struct{})
	go func() {
		defer close(workDone)
		lead(workCtx)
	}()
	renewCtx, stopRenewing := context.WithCancel(ctx)
	defer stopRenewing()
	lostCh := make(chan bool, 1)
	go func() { lostCh <- e.renew(renewCtx, renewedAt) }()

	stopped := func() {
		e.leading.Store(false)
		e.change(false)
	}
	select {
	case <-workDone: // the work ended on its own: nothing acts, hand over
		stopRenewing()
		<-lostCh
		stopped()
		e.release(ctx)
		return nil
	case lost := <-lostCh:
		stopWork()
		if !lost { // shutdown: the release comes after the work stopped
			<-workDone
			stopped()
			e.release(ctx)
			return nil
		}
	}
	// Lost the Lease: the work must stop before the Lease can expire for
	// the others.
	margin := e.cfg.LeaseDuration - e.cfg.RenewDeadline
	t := time.NewTimer(margin)
	defer t.Stop()
	select {
	case <-workDone:
		stopped()
		e.log.Error("lost the leader lease; stopped acting")
		return ErrLost
	case <-t.C:
		stopped()
		e.log.Error("lost the leader lease and the work did not stop in time", "waited", margin)
		return fmt.Errorf("%w: the work did not stop within %s", ErrLost, margin)
	}
}

// acquire tries to take the Lease every RetryPeriod (jittered) until it
// holds it, returning when it last renewed, or until ctx ends (false).
func (e *Elector) acquire(ctx context.Context) (time.Time, bool) {
	for {
		start := time.Now()
		attempt, cancel := context.WithTimeout(ctx, e.cfg.RenewDeadline)
		ok, err := e.tryAcquireOrRenew(attempt, start)
		cancel()
		if ok {
			return start, true
		}
		if ctx.Err() != nil {
			return time.Time{}, false
		}
		if err != nil {
			e.log.Warn("leader election: cannot read or take the lease; trying again", "err", err)
		}
		wait := time.Duration(float64(e.cfg.RetryPeriod) * (1 + rand.Float64()*JitterFactor))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, false
		case <-t.C:
		}
	}
}

// renew keeps the Lease, trying every RetryPeriod, and returns true when it
// is lost: another holder took it, or no renewal succeeded for the renew
// deadline. It returns false once ctx ends.
func (e *Elector) renew(ctx context.Context, renewedAt time.Time) bool {
	t := time.NewTimer(e.cfg.RetryPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		start := time.Now()
		deadline := renewedAt.Add(e.cfg.RenewDeadline)
		attempt, cancel := context.WithDeadline(ctx, deadline)
		ok, err := e.tryAcquireOrRenew(attempt, start)
		cancel()
		switch {
		case ok:
			renewedAt = start
			t.Reset(e.cfg.RetryPeriod)
			continue
		case ctx.Err() != nil:
			return false
		case err == nil:
			e.log.Error("leader election: another replica holds the lease", "holder", e.holderNow())
			return true
		case !time.Now().Before(deadline):
			e.log.Error("leader election: could not renew the lease within the renew deadline", "deadline", e.cfg.RenewDeadline, "err", err)
			return true
		}
		e.log.Warn("leader election: cannot renew the lease; trying again", "err", err)
		t.Reset(min(e.cfg.RetryPeriod, time.Until(deadline)))
	}
}

// tryAcquireOrRenew reads the Lease and, if it is free, expired or this
// replica's, writes this replica's claim with renew time now. It returns
// false with a nil error when another replica holds the Lease.
func (e *Elector) tryAcquireOrRenew(ctx context.Context, now time.Time) (bool, error) {
	cur, err := e.leases.get(ctx)
	if apierrors.IsNotFound(err) {
		l := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: e.cfg.Namespace, Name: e.cfg.Name},
			Spec:       claim(coordinationv1.LeaseSpec{}, e.holder, e.cfg.LeaseDuration, now),
		}
		zero := int32(0) // the first holder is no transition
		l.Spec.LeaseTransitions = &zero
		created, err := e.leases.create(ctx, l)
		if err != nil {
			return false, fmt.Errorf("create lease %s/%s: %w", e.cfg.Namespace, e.cfg.Name, err)
		}
		e.observe(created, now)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read lease %s/%s: %w", e.cfg.Namespace, e.cfg.Name, err)
	}
	seenAt := e.observe(cur, now)
	if heldByOther(cur.Spec, e.holder, seenAt, now) {
		return false, nil
	}
	next := cur.DeepCopy()
	next.Spec = claim(cur.Spec, e.holder, e.cfg.LeaseDuration, now)
	updated, err := e.leases.update(ctx, next)
	if err != nil {
		return false, fmt.Errorf("update lease %s/%s: %w", e.cfg.Namespace, e.cfg.Name, err)
	}
	e.observe(updated, now)
	return true, nil
}

// release gives the Lease up, if this replica still holds it as last seen,
// so the next replica takes it at once: no holder, a one-second duration.
func (e *Elector) release(ctx context.Context) {
	e.mu.Lock()
	cur := e.observed.DeepCopy()
	e.mu.Unlock()
	if cur == nil || cur.Spec.HolderIdentity == nil || *cur.Spec.HolderIdentity != e.holder {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.RenewDeadline)
	defer cancel()
	now := metav1.NewMicroTime(time.Now())
	empty, one := "", int32(1)
	cur.Spec.HolderIdentity, cur.Spec.LeaseDurationSeconds = &empty, &one
	cur.Spec.AcquireTime, cur.Spec.RenewTime = &now, &now
	if _, err := e.leases.update(ctx, cur); err != nil {
		e.log.Warn("leader election: could not release the lease; the others take it when it expires", "err", err)
		return
	}
	e.log.Info("leader election: released the lease")
}

// observe records the Lease as last seen and returns when this replica
// first saw this version of it.
func (e *Elector) observe(l *coordinationv1.Lease, now time.Time) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.observed != nil && e.observed.ResourceVersion == l.ResourceVersion {
		return e.seenAt
	}
	before, after := holderOf(e.observed), holderOf(l)
	e.observed, e.seenAt = l, now
	if after != before && after != "" {
		e.log.Info("leader", "holder", after)
	}
	return now
}

func (e *Elector) holderNow() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return holderOf(e.observed)
}

func holderOf(l *coordinationv1.Lease) string {
	if l == nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// heldByOther decides whether another replica holds a Lease whose record
// this replica first saw at seenAt: it names a holder other than me and
// has not gone unchanged for its own lease duration.
func heldByOther(s coordinationv1.LeaseSpec, me string, seenAt, now time.Time) bool {
	if s.HolderIdentity == nil || *s.HolderIdentity == "" || *s.HolderIdentity == me {
		return false
	}
	var d time.Duration
	if s.LeaseDurationSeconds != nil {
		d = time.Duration(*s.LeaseDurationSeconds) * time.Second
	}
	return seenAt.Add(d).After(now)
}

// claim returns the spec with me holding the Lease, renewed now: a new
// holder also sets the acquire time and counts a transition, as client-go
// does (a release and the next claim count one).
func claim(s coordinationv1.LeaseSpec, me string, d time.Duration, now time.Time) coordinationv1.LeaseSpec {
	t := metav1.NewMicroTime(now)
	// The record holds whole seconds: round up, so the others never wait
	// less than the leader's own margin assumes.
	secs := int32((d + time.Second - 1) / time.Second)
	out := coordinationv1.LeaseSpec{
		HolderIdentity: &me, LeaseDurationSeconds: &secs,
		AcquireTime: s.AcquireTime, RenewTime: &t, LeaseTransitions: s.LeaseTransitions,
	}
	if s.HolderIdentity == nil || *s.HolderIdentity != me {
		out.AcquireTime = &t
		n := int32(1)
		if s.LeaseTransitions != nil {
			n = *s.LeaseTransitions + 1
		}
		out.LeaseTransitions = &n
	}
	return out
}

func (e *Elector) change(leading bool) {
	if e.cfg.OnChange != nil {
		e.cfg.OnChange(leading)
	}
}

package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ensignbot/ensign/policy"
)

// Merger merges promotions that are queued for a window. The scheduler calls
// it with the instant it fired; the Merger decides per stage, with
// policy.Evaluate at now, which queued promotions may merge. It must return
// when ctx is cancelled.
type Merger interface {
	MergeQueued(ctx context.Context, now time.Time) error
}

// PolicySource returns the policy in force now (it may have changed in Git
// since the last call).
type PolicySource func(ctx context.Context) (*policy.Policy, error)

// Options tune a Scheduler; zero values take the defaults.
type Options struct {
	// Clock defaults to RealClock.
	Clock Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Recheck is the longest the scheduler sleeps without re-reading the
	// policy, so window changes in Git are picked up. Default 15m.
	Recheck time.Duration
	// RetryMin and RetryMax bound the doubling backoff after a failed merge
	// or policy read. Defaults 30s and 10m.
	RetryMin, RetryMax time.Duration
	// RunTimeout bounds one policy read plus one merge run. Default 10m.
	RunTimeout time.Duration
	// OnChange, if set, is called at start-up and at every instant some
	// stage's windows open or close, with that instant (after the merge, if
	// one runs then). Errors are its own to log.
	OnChange func(ctx context.Context, now time.Time)
}

// Scheduler calls a Merger when promotion windows open. Make one with New.
type Scheduler struct {
	src     PolicySource
	merger  Merger
	clock   Clock
	log     *slog.Logger
	opts    Options
	kick    chan struct{}
	force   atomic.Bool
	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	started bool
}

// New returns a stopped Scheduler.
func New(src PolicySource, m Merger, opts Options) *Scheduler {
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.Recheck, 15*time.Minute)
	def(&opts.RetryMin, 30*time.Second)
	def(&opts.RetryMax, 10*time.Minute)
	def(&opts.RunTimeout, 10*time.Minute)
	return &Scheduler{src: src, merger: m, clock: opts.Clock, log: opts.Logger, opts: opts, kick: make(chan struct{}, 1)}
}

// Start runs the scheduler in a new goroutine until Stop is called or ctx
// is cancelled. A Scheduler starts at most once.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("scheduler already started")
	}
	ctx, cancel := context.WithCancel(ctx)
	s.started, s.cancel, s.done = true, cancel, make(chan struct{})
	go s.loop(ctx)
	return nil
}

// Stop cancels the scheduler and waits until its goroutine, including a
// running merge, has returned. It is safe to call more than once, and before
// Start.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// MergeNow makes the scheduler merge queued promotions now if a stage is
// open, as at a window's opening: something else that held them back
// (a Flux suspension) ended. It never blocks.
func (s *Scheduler) MergeNow() {
	s.force.Store(true)
	s.Kick()
}

// Kick makes the scheduler re-read the policy and re-plan now, for example
// after the policy file changed in Git. It never blocks.
func (s *Scheduler) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Scheduler) loop(ctx context.Context) {
	defer close(s.done)
	var (
		startup  = true
		last     = s.clock.Now() // openings up to last have been handled
		retryAt  time.Time       // zero: no retry pending
		failures int
		prev     *gates // the stages' gates at the last turn; nil before it
	)
	for {
		now := s.clock.Now()
		wake := now.Add(s.opts.Recheck)
		p, err := s.readPolicy(ctx)
		if err != nil {
			s.log.Error("read policy for the window scheduler", "err", err)
			failures++
			wake = now.Add(s.backoff(failures))
		} else {
			opened := startup || s.force.Swap(false) || !retryAt.IsZero() && !retryAt.After(now)
			if next := nextOpening(p, last); !next.IsZero() && !next.After(now) {
				opened = true
			}
			// A policy change (a freeze lifted, a window edited) can open a
			// stage, or change why it is closed, between two instants.
			g := stageGates(p, now)
			opened = opened || g.opensSince(prev)
			regated := prev != nil && !g.equal(*prev)
			prev = &g
			if opened {
				retryAt = time.Time{}
				if len(g.open) == 0 {
					s.log.Info("window opening passed but no stage is open now; not merging", "now", now)
				} else if err := s.run(ctx, now, g.open); err != nil {
					failures++
					retryAt = now.Add(s.backoff(failures))
					s.log.Error("merge queued promotions", "err", err, "retry_at", retryAt)
				} else {
					failures = 0
				}
			}
			if s.opts.OnChange != nil {
				if change := nextChange(p, last); startup || regated || !change.IsZero() && !change.After(now) {
					s.changed(ctx, now)
				}
			}
			startup, last = false, now
			if next := nextOpening(p, now); !next.IsZero() && next.Before(wake) {
				wake = next
			}
			if next := nextChange(p, now); s.opts.OnChange != nil && !next.IsZero() && next.Before(wake) {
				wake = next
			}
			if !retryAt.IsZero() && retryAt.Before(wake) {
				wake = retryAt
			}
		}
		if ctx.Err() != nil {
			return
		}
		timer := s.clock.NewTimer(wake.Sub(s.clock.Now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-s.kick:
			timer.Stop()
		case <-timer.C():
		}
	}
}

func (s *Scheduler) backoff(failures int) time.Duration {
	d := s.opts.RetryMin
	for i := 1; i < failures && d < s.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.opts.RetryMax)
}

func (s *Scheduler) readPolicy(ctx context.Context) (p *policy.Policy, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RunTimeout)
	defer cancel()
	defer recoverTo(&err, "policy source")
	p, err = s.src(ctx)
	if err == nil && p == nil {
		err = errors.New("policy source returned no policy")
	}
	return p, err
}

func (s *Scheduler) run(ctx context.Context, now time.Time, open []string) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RunTimeout)
	defer cancel()
	defer recoverTo(&err, "merger")
	s.log.Info("window open: merging queued promotions", "now", now, "open_stages", strings.Join(open, ","))
	return s.merger.MergeQueued(ctx, now)
}

// changed calls OnChange, bounded by RunTimeout, recovering a panic.
func (s *Scheduler) changed(ctx context.Context, now time.Time) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RunTimeout)
	defer cancel()
	var err error
	func() {
		defer recoverTo(&err, "window change handler")
		s.opts.OnChange(ctx, now)
	}()
	if err != nil {
		s.log.Error("window change", "err", err)
	}
}

func recoverTo(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s panicked: %v\n%s", what, r, debug.Stack())
	}
}

// gates is every stage's gate at one instant.
type gates struct {
	// open names the open stages ("app/stage"), in policy order.
	open []string
	// closed says, per closed stage, which deny window closes it and why
	// (empty when no deny window does: it is outside its allow windows).
	closed map[string]string
}

// stageGates returns every stage's gate at now.
func stageGates(p *policy.Policy, now time.Time) gates {
	g := gates{closed: map[string]string{}}
	for ai := range p.Apps {
		a := &p.Apps[ai]
		for si := range a.Stages {
			s := &a.Stages[si]
			name := a.Name + "/" + s.Name
			if p.StageOpen(s, now) {
				g.open = append(g.open, name)
				continue
			}
			w, _ := p.ActiveDeny(s, now)
			g.closed[name] = w.Name + ": " + w.Description
		}
	}
	return g
}

// opensSince reports whether a stage is open in g that was not open in
// prev; false without prev.
func (g gates) opensSince(prev *gates) bool {
	if prev == nil {
		return false
	}
	for _, name := range g.open {
		if !slices.Contains(prev.open, name) {
			return true
		}
	}
	return false
}

func (g gates) equal(o gates) bool {
	return slices.Equal(g.open, o.open) && maps.Equal(g.closed, o.closed)
}

// nextOpening returns the earliest instant after t at which some stage with
// windows goes from closed to open; zero if none within policy's horizon.
func nextOpening(p *policy.Policy, t time.Time) time.Time {
	return earliest(p, t, func(st policy.State) time.Time { return st.Next })
}

// nextChange returns the earliest instant after t at which some stage with
// windows opens or closes; zero if none within the policy's horizon.
func nextChange(p *policy.Policy, t time.Time) time.Time {
	return earliest(p, t, func(st policy.State) time.Time { return st.Until })
}

// earliest returns the earliest non-zero instant pick takes from the state
// at t of each distinct set of windows gating a stage.
func earliest(p *policy.Policy, t time.Time, pick func(policy.State) time.Time) time.Time {
	var first time.Time
	seen := map[string]bool{}
	for ai := range p.Apps {
		a := &p.Apps[ai]
		for si := range a.Stages {
			s := &a.Stages[si]
			key := p.WindowsKey(s)
			if key == "" || seen[key] {
				continue
			}
			seen[key] = true
			if n := pick(p.EvaluateStage(s, t)); !n.IsZero() && (first.IsZero() || n.Before(first)) {
				first = n
			}
		}
	}
	return first
}

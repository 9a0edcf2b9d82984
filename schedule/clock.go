package schedule

import (
	"sync"
	"time"
)

// Clock is the time source the scheduler waits on.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock.
type Timer interface {
	// C delivers the time once the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was pending.
	Stop() bool
}

// RealClock is the system clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// ManualClock is a Clock that only moves when told to, for tests and demos
// that must not wait for real windows. Its zero value is not usable; make
// one with NewManualClock.
type ManualClock struct {
	mu      sync.Mutex
	changed *sync.Cond
	now     time.Time
	pending []*manualTimer
}

// NewManualClock returns a clock reading now.
func NewManualClock(now time.Time) *ManualClock {
	c := &ManualClock{now: now}
	c.changed = sync.NewCond(&c.mu)
	return c
}

// Now returns the clock's current reading.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when the clock reaches now+d; at once
// if d <= 0.
func (c *ManualClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{clock: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.pending = append(c.pending, t)
	c.changed.Broadcast()
	return t
}

// Set moves the clock to t (never backwards) and fires every timer due by
// then.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	kept := c.pending[:0]
	for _, tm := range c.pending {
		if !tm.at.After(c.now) {
			tm.ch <- c.now
		} else {
			kept = append(kept, tm)
		}
	}
	c.pending = kept
	c.changed.Broadcast()
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// BlockUntil waits until n timers are pending, so a test knows the code
// under test has gone to sleep before it moves the clock.
func (c *ManualClock) BlockUntil(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) != n {
		c.changed.Wait()
	}
}

// NextTimer returns when the earliest pending timer fires; ok is false if
// none is pending.
func (c *ManualClock) NextTimer() (at time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tm := range c.pending {
		if !ok || tm.at.Before(at) {
			at, ok = tm.at, true
		}
	}
	return at, ok
}

type manualTimer struct {
	clock *ManualClock
	at    time.Time
	ch    chan time.Time
}

func (t *manualTimer) C() <-chan time.Time { return t.ch }

func (t *manualTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, tm := range c.pending {
		if tm == t {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			c.changed.Broadcast()
			return true
		}
	}
	return false
}

// Package prio provides a lock whose urgent waiters go before ordinary ones
// and whose waits honour their context, and a context mark that says the
// work under it is urgent (a rollback while Git says the wrong version).
//
// The workspace's repository lock and the Git cache's operation lock are
// both priority locks: a rollback waits for at most the one action or Git
// operation in flight, never for the queue of promotions behind it.
package prio

import (
	"context"
	"slices"
	"sync"
)

// Lock is a mutex whose urgent waiters go before ordinary ones; within a
// kind, waiters are served in arrival order. A waiter gives up when its
// context ends. The lock is handed over directly to the next waiter, so
// nobody can barge in between. The zero value is unlocked.
type Lock struct {
	mu             sync.Mutex
	held           bool
	urgent, normal []chan struct{}
}

// Acquire waits for the lock; it returns the function that releases it
// (safe to call more than once), or ctx's error (holding nothing) when ctx
// ends first.
func (l *Lock) Acquire(ctx context.Context, urgent bool) (release func(), err error) {
	l.mu.Lock()
	if !l.held && len(l.urgent) == 0 && (urgent || len(l.normal) == 0) {
		l.held = true
		l.mu.Unlock()
		return l.releaser(), nil
	}
	if err := ctx.Err(); err != nil {
		l.mu.Unlock()
		return nil, err
	}
	turn := make(chan struct{})
	if urgent {
		l.urgent = append(l.urgent, turn)
	} else {
		l.normal = append(l.normal, turn)
	}
	l.mu.Unlock()
	select {
	case <-turn:
		return l.releaser(), nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	waiting := false
	if i := slices.Index(l.urgent, turn); i >= 0 {
		l.urgent, waiting = slices.Delete(l.urgent, i, i+1), true
	} else if i := slices.Index(l.normal, turn); i >= 0 {
		l.normal, waiting = slices.Delete(l.normal, i, i+1), true
	}
	l.mu.Unlock()
	if !waiting {
		l.release() // handed over just as ctx ended: pass it on
	}
	return nil, ctx.Err()
}

// TryAcquire takes the lock if Acquire would take it without waiting and
// returns the function that releases it; otherwise it reports false at
// once.
func (l *Lock) TryAcquire(urgent bool) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held || len(l.urgent) > 0 || !urgent && len(l.normal) > 0 {
		return nil, false
	}
	l.held = true
	return l.releaser(), true
}

// AcquireContext is Acquire, urgent when ctx carries the mark of WithUrgent.
func (l *Lock) AcquireContext(ctx context.Context) (release func(), err error) {
	return l.Acquire(ctx, Urgent(ctx))
}

// Waiting returns how many urgent and ordinary waiters are queued.
func (l *Lock) Waiting() (urgent, normal int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.urgent), len(l.normal)
}

// releaser returns a release function that acts once.
func (l *Lock) releaser() func() {
	var once sync.Once
	return func() { once.Do(l.release) }
}

// release hands the lock to the next waiter, urgent ones first, or frees it.
func (l *Lock) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	var next chan struct{}
	switch {
	case len(l.urgent) > 0:
		next, l.urgent = l.urgent[0], l.urgent[1:]
	case len(l.normal) > 0:
		next, l.normal = l.normal[0], l.normal[1:]
	default:
		l.held = false
		return
	}
	close(next)
}

type urgentKey struct{}

// WithUrgent marks the work under ctx as urgent: locks it takes with
// AcquireContext go before ordinary waiters.
func WithUrgent(ctx context.Context) context.Context {
	return context.WithValue(ctx, urgentKey{}, true)
}

// Urgent reports whether ctx carries the mark of WithUrgent.
func Urgent(ctx context.Context) bool {
	u, _ := ctx.Value(urgentKey{}).(bool)
	return u
}

package workspace

import (
	"context"
	"slices"
	"sync"
)

// priorityLock is a mutex whose urgent waiters go before ordinary ones;
// within a kind, waiters are served in arrival order. A waiter gives up when
// its context ends. The lock is handed over directly to the next waiter, so
// nobody can barge in between.
type priorityLock struct {
	mu             sync.Mutex
	held           bool
	urgent, normal []chan struct{}
}

// acquire waits for the lock; it returns the function that releases it, or
// ctx's error (and holds nothing) when ctx ends first.
func (l *priorityLock) acquire(ctx context.Context, urgent bool) (func(), error) {
	l.mu.Lock()
	if !l.held && len(l.urgent) == 0 && (urgent || len(l.normal) == 0) {
		l.held = true
		l.mu.Unlock()
		return l.releaser(), nil
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

// releaser returns a release function that acts once.
func (l *priorityLock) releaser() func() {
	var once sync.Once
	return func() { once.Do(l.release) }
}

// release hands the lock to the next waiter, urgent ones first, or frees it.
func (l *priorityLock) release() {
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

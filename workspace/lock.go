package workspace

import "sync"

// priorityLock is a mutex whose urgent waiters go before ordinary ones.
// Among waiters of one kind the order is unspecified.
type priorityLock struct {
	mu      sync.Mutex
	cond    *sync.Cond
	held    bool
	urgentQ int // urgent waiters
}

func (l *priorityLock) acquire(urgent bool) func() {
	l.mu.Lock()
	if l.cond == nil {
		l.cond = sync.NewCond(&l.mu)
	}
	if urgent {
		l.urgentQ++
	}
	for l.held || (!urgent && l.urgentQ > 0) {
		l.cond.Wait()
	}
	if urgent {
		l.urgentQ--
	}
	l.held = true
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.held = false
			l.cond.Broadcast()
			l.mu.Unlock()
		})
	}
}

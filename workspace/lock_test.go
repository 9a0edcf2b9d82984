package workspace

import (
	"sync"
	"testing"
	"time"
)

// TestUrgentGoesFirst holds the lock, queues ordinary waiters, then an urgent
// one: the urgent one must run next, before every ordinary waiter.
func TestUrgentGoesFirst(t *testing.T) {
	var l priorityLock
	unlock := l.acquire(false)
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	waiter := func(name string, urgent bool) {
		defer wg.Done()
		u := l.acquire(urgent)
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
		u()
	}
	for _, n := range []string{"a", "b", "c"} {
		wg.Add(1)
		go waiter(n, false)
	}
	waitWaiting(t, &l, func() bool { return true }) // let them block
	wg.Add(1)
	go waiter("urgent", true)
	waitWaiting(t, &l, func() bool { return l.urgentQ == 1 })
	unlock()
	wg.Wait()
	if len(order) != 4 || order[0] != "urgent" {
		t.Fatalf("order %v, want the urgent waiter first", order)
	}
}

func TestUnlockTwiceIsHarmless(t *testing.T) {
	var l priorityLock
	u := l.acquire(true)
	u()
	u()
	done := make(chan struct{})
	go func() { l.acquire(false)(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("lock not free after unlock")
	}
}

// waitWaiting gives blocked goroutines time to reach Wait, then checks cond.
func waitWaiting(t *testing.T, l *priorityLock, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(20 * time.Millisecond)
		l.mu.Lock()
		ok := cond()
		l.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("waiters did not queue")
		}
	}
}

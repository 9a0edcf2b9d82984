package prio

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestUrgentGoesFirst holds the lock, queues ordinary waiters, then an urgent
// one: the urgent one must run next, then the others in arrival order.
func TestUrgentGoesFirst(t *testing.T) {
	var l Lock
	ctx := context.Background()
	unlock, _ := l.Acquire(ctx, false)
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	waiter := func(name string, urgent bool) {
		defer wg.Done()
		u, err := l.Acquire(ctx, urgent)
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
		u()
	}
	for _, n := range []string{"a", "b", "c"} {
		wg.Add(1)
		go waiter(n, false)
		waitQueued(t, &l, func() bool { return len(l.normal) == int(n[0]-'a'+1) })
	}
	wg.Add(1)
	go waiter("urgent", true)
	waitQueued(t, &l, func() bool { return len(l.urgent) == 1 })
	unlock()
	wg.Wait()
	if want := []string{"urgent", "a", "b", "c"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
}

func TestUnlockTwiceIsHarmless(t *testing.T) {
	var l Lock
	u, _ := l.Acquire(context.Background(), true)
	u()
	u()
	done := make(chan struct{})
	go func() {
		if u, err := l.Acquire(context.Background(), false); err == nil {
			u()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("lock not free after unlock")
	}
}

// A waiter whose context ends gives up without holding the lock, and the
// lock still reaches the waiters behind it.
func TestWaiterGivesUpWithItsContext(t *testing.T) {
	var l Lock
	unlock, _ := l.Acquire(context.Background(), false)
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx, true)
		gaveUp <- err
	}()
	waitQueued(t, &l, func() bool { return len(l.urgent) == 1 })
	next := make(chan struct{})
	go func() {
		if u, err := l.Acquire(context.Background(), false); err == nil {
			u()
		}
		close(next)
	}()
	waitQueued(t, &l, func() bool { return len(l.normal) == 1 })
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire after cancel = %v, want context.Canceled", err)
	}
	unlock()
	select {
	case <-next:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter behind the one that gave up never got the lock")
	}
}

// waitQueued waits until cond holds under the lock's mutex.
func waitQueued(t *testing.T, l *Lock, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		ok := cond()
		l.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("waiters did not queue")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestUrgentMark(t *testing.T) {
	ctx := context.Background()
	if Urgent(ctx) {
		t.Fatal("a plain context is urgent")
	}
	if !Urgent(WithUrgent(ctx)) {
		t.Fatal("WithUrgent did not mark the context")
	}
	var l Lock
	unlock, _ := l.Acquire(ctx, false)
	got := make(chan string, 2)
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"normal", ctx}, {"urgent", WithUrgent(ctx)}} {
		go func() {
			u, err := l.AcquireContext(c.ctx)
			if err == nil {
				got <- c.name
				u()
			}
		}()
		waitQueued(t, &l, func() bool { return len(l.normal) == 1 && (c.name == "normal" || len(l.urgent) == 1) })
	}
	unlock()
	if first := <-got; first != "urgent" {
		t.Fatalf("%s went first, want the urgent context", first)
	}
	<-got
}

// A context already ended gets its error at once, even when the lock is
// held, and queues nothing.
func TestAcquireWithEndedContext(t *testing.T) {
	var l Lock
	unlock, _ := l.Acquire(context.Background(), false)
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Acquire(ctx, true); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v, want context.Canceled", err)
	}
	if u, n := l.Waiting(); u+n != 0 {
		t.Fatalf("%d urgent, %d normal waiters queued, want none", u, n)
	}
}

// TryAcquire takes a free lock and fails at once on a held one, also
// while the lock passes from one holder to a queued waiter.
func TestTryAcquire(t *testing.T) {
	var l Lock
	release, ok := l.TryAcquire(false)
	if !ok {
		t.Fatal("TryAcquire of a free lock failed")
	}
	if _, ok := l.TryAcquire(true); ok {
		t.Fatal("TryAcquire of a held lock succeeded")
	}
	queued := make(chan func())
	go func() {
		r, err := l.Acquire(context.Background(), false)
		if err == nil {
			queued <- r
		}
	}()
	for _, n := l.Waiting(); n == 0; _, n = l.Waiting() {
		time.Sleep(time.Millisecond)
	}
	release() // hands the lock to the queued waiter
	if _, ok := l.TryAcquire(true); ok {
		t.Fatal("TryAcquire took the lock handed to a waiter")
	}
	(<-queued)()
	release, ok = l.TryAcquire(false)
	if !ok {
		t.Fatal("TryAcquire of the lock freed again failed")
	}
	release()
}

package keyed

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestOneAtATimePerKey(t *testing.T) {
	var m Mutex
	var inside [2]atomic.Int32
	var worst [2]atomic.Int32
	var wg sync.WaitGroup
	for i := range 200 {
		k := i % 2
		wg.Go(func() {
			unlock := m.Lock([]string{"a", "b"}[k])
			if n := inside[k].Add(1); n > worst[k].Load() {
				worst[k].Store(n)
			}
			inside[k].Add(-1)
			unlock()
		})
	}
	wg.Wait()
	if worst[0].Load() != 1 || worst[1].Load() != 1 {
		t.Fatalf("at most %d and %d holders of one key at once, want 1", worst[0].Load(), worst[1].Load())
	}
	if m.Len() != 0 {
		t.Fatalf("%d keys left after every unlock", m.Len())
	}
}

func TestKeysAreIndependent(t *testing.T) {
	var m Mutex
	unlockA := m.Lock("a")
	done := make(chan struct{})
	go func() { m.Lock("b")(); close(done) }()
	<-done // would deadlock if "b" waited for "a"
	unlockA()
}

// A waiter whose context ends gives up holding nothing, its key's entry is
// forgotten once nobody holds or waits for it, and the key still works.
func TestLockContextGivesUp(t *testing.T) {
	var m Mutex
	unlock := m.Lock("a")
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := m.LockContext(ctx, "a")
		gaveUp <- err
	}()
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("LockContext after cancel = %v, want context.Canceled", err)
	}
	unlock()
	if m.Len() != 0 {
		t.Fatalf("%d keys left after the holder unlocked and the waiter gave up", m.Len())
	}
	again, err := m.LockContext(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	again()
}

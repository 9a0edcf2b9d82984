package keyed

import (
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

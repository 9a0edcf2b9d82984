// Package keyed provides a mutex per key: work on one key runs one at a
// time, work on different keys runs in parallel, and a key's entry lives only
// while someone holds or waits for it.
package keyed

import (
	"context"
	"sync"

	"github.com/ensignbot/ensign/internal/prio"
)

// Mutex serializes work per key inside this process. The zero value is
// ready to use; a Mutex must not be copied after first use.
type Mutex struct {
	mu    sync.Mutex
	locks map[string]*entry
}

type entry struct {
	lock prio.Lock
	refs int
}

// Lock locks key, waiting while someone else holds it, and returns its
// unlock function, which must be called exactly once.
func (k *Mutex) Lock(key string) (unlock func()) {
	unlock, _ = k.LockContext(context.Background(), key)
	return unlock
}

// LockContext is Lock, giving up (holding nothing) with ctx's error when
// ctx ends first. Waiters on one key are served in arrival order.
func (k *Mutex) LockContext(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*entry)
	}
	e := k.locks[key]
	if e == nil {
		e = &entry{}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()
	forget := func() {
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	release, err := e.lock.Acquire(ctx, false)
	if err != nil {
		forget()
		return nil, err
	}
	return func() {
		release()
		forget()
	}, nil
}

// Len returns how many keys are held or waited for.
func (k *Mutex) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.locks)
}

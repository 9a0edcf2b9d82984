package workspace

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// coalescer shares fetches among concurrent callers. A caller never gets
// the result of a fetch that started before it asked: it joins the fetch
// queued to start when the running one ends, or starts one itself. A burst
// of n callers costs two fetches, not n, and each waits at most for the
// running fetch and its own.
type coalescer struct {
	mu      sync.Mutex
	running *fetchCall // started and not finished
	next    *fetchCall // queued behind running; callers arriving now share it

	// The shared fetches run under no caller's cancellation, but not past
	// close: it cancels them (life) and waits for them (wg).
	life   context.Context
	stop   context.CancelFunc
	closed bool
	wg     sync.WaitGroup
}

// errClosed answers a fetch asked of a closed workspace.
var errClosed = errors.New("workspace closed")

// fetchCall is one shared fetch.
type fetchCall struct {
	done    chan struct{}
	callers int // how many callers share it
	tips    map[string]plumbing.Hash
	err     error
}

// sharedFetchLimit bounds a shared fetch (its callers may all have given up
// waiting; the fetch itself runs under no caller's cancellation).
const sharedFetchLimit = 3 * time.Minute

// do runs fetch or joins a call that starts after now, and waits for it
// until ctx ends. The fetch runs detached from ctx (other callers may share
// it) but keeps ctx's values.
func (c *coalescer) do(ctx context.Context, fetch func(context.Context) (map[string]plumbing.Hash, error)) (map[string]plumbing.Hash, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errClosed
	}
	if c.life == nil {
		c.life, c.stop = context.WithCancel(context.Background())
	}
	call := c.next
	if call == nil {
		call = &fetchCall{done: make(chan struct{})}
		prev := c.running
		if prev == nil {
			c.running = call
		} else {
			c.next = call
		}
		c.wg.Add(1)
		go c.run(ctx, prev, call, fetch)
	}
	call.callers++
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.tips, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run waits for prev (the fetch running when call was made) and runs call.
func (c *coalescer) run(ctx context.Context, prev, call *fetchCall, fetch func(context.Context) (map[string]plumbing.Hash, error)) {
	defer c.wg.Done()
	if prev != nil {
		<-prev.done
		c.mu.Lock()
		c.next, c.running = nil, call
		c.mu.Unlock()
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedFetchLimit)
	unlink := context.AfterFunc(c.life, cancel)
	call.tips, call.err = fetch(fctx)
	unlink()
	cancel()
	c.mu.Lock()
	c.running = nil
	c.mu.Unlock()
	close(call.done)
}

// close cancels the shared fetches still running, waits for them to end,
// and refuses fetches from now on.
func (c *coalescer) close() {
	c.mu.Lock()
	c.closed = true
	if c.stop != nil {
		c.stop()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

package workspace

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// A burst of callers arriving while a fetch runs shares one fetch that
// starts after the running one ends; nobody gets the result of a fetch that
// started before it asked.
func TestCoalescerSharesTheNextFetch(t *testing.T) {
	var c coalescer
	var mu sync.Mutex
	started := 0
	release := []chan struct{}{make(chan struct{}), make(chan struct{})}
	running := make(chan int, 2)
	fetch := func(context.Context) (map[string]plumbing.Hash, error) {
		mu.Lock()
		n := started
		started++
		mu.Unlock()
		running <- n
		<-release[n]
		return map[string]plumbing.Hash{"main": plumbing.NewHash(string(rune('1' + n)))}, nil
	}
	ctx := context.Background()
	first := make(chan plumbing.Hash, 1)
	go func() {
		tips, err := c.do(ctx, fetch)
		if err != nil {
			t.Error(err)
		}
		first <- tips["main"]
	}()
	if n := <-running; n != 0 {
		t.Fatalf("fetch %d started first", n)
	}
	later := make(chan plumbing.Hash, 5)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			tips, err := c.do(ctx, fetch)
			if err != nil {
				t.Error(err)
			}
			later <- tips["main"]
		})
	}
	waitFor(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.next != nil && c.next.callers == 5 })
	close(release[0])
	if n := <-running; n != 1 {
		t.Fatalf("fetch %d started second", n)
	}
	close(release[1])
	wg.Wait()
	close(later)
	if h := <-first; h != plumbing.NewHash("1") {
		t.Fatalf("the first caller got %s, want the first fetch's tip", h)
	}
	for h := range later {
		if h != plumbing.NewHash("2") {
			t.Fatalf("a caller that arrived during the first fetch got %s, want the second fetch's tip", h)
		}
	}
	if started != 2 {
		t.Fatalf("%d fetches for 6 callers, want 2", started)
	}
}

// A caller whose context ends stops waiting; the shared fetch still
// completes for the others.
func TestCoalescerWaiterGivesUp(t *testing.T) {
	var c coalescer
	release := make(chan struct{})
	fetch := func(ctx context.Context) (map[string]plumbing.Hash, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return map[string]plumbing.Hash{"main": plumbing.NewHash("1")}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := c.do(ctx, fetch)
		gaveUp <- err
	}()
	waitFor(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.running != nil })
	other := make(chan error, 1)
	go func() {
		_, err := c.do(context.Background(), fetch)
		other <- err
	}()
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up got %v, want context.Canceled", err)
	}
	close(release)
	if err := <-other; err != nil {
		t.Fatalf("the other caller got %v; the fetch it shared must not end with the first caller's context", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// close cancels a shared fetch nobody waits for any more and returns only
// once it ended; fetches asked after it fail at once. A daemon that shut
// down leaves no fetch running (and logging) behind it.
func TestCoalescerCloseEndsDetachedFetches(t *testing.T) {
	var c coalescer
	started, ended := make(chan struct{}), make(chan struct{})
	fetch := func(ctx context.Context) (map[string]plumbing.Hash, error) {
		close(started)
		<-ctx.Done() // a fetch that would otherwise hang until sharedFetchLimit
		close(ended)
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := c.do(ctx, fetch)
		gaveUp <- err
	}()
	<-started
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller got %v, want context.Canceled", err)
	}
	select {
	case <-ended:
		t.Fatal("the shared fetch ended with its caller's context; it must outlive it")
	case <-time.After(50 * time.Millisecond):
	}
	c.close()
	select {
	case <-ended:
	default:
		t.Fatal("close returned while the shared fetch still ran")
	}
	if _, err := c.do(context.Background(), fetch); !errors.Is(err, errClosed) {
		t.Fatalf("a fetch after close: %v, want errClosed", err)
	}
}

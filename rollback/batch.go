package rollback

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/internal/logctx"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/workspace"
)

// A bad base image or shared chart fails every app's canary at once, and
// while Git still says the bad version Flux may apply it again. So failures
// are not handled one lock, fetch and push each: they queue, and whoever
// runs the queue takes the repository's lock once, fetches once, decides
// every queued failure against that snapshot, writes their reverts one on
// top of the other and pushes them in one push. Each failure keeps its own
// revert commit, message and trailers, so finding a failure's revert again
// after a restart works as for a single one.

// job is one failure waiting to be decided and written.
type job struct {
	ctx     context.Context
	f       failure
	failing []imageref.Ref
	done    chan struct{}
	res     step
}

// batcher is a repository's queue of failures.
type batcher struct {
	mu      sync.Mutex
	pending []*job
	running bool
}

// submit queues j and waits for its step; ctx ending gives up the wait
// (the failure may still be written, which a retry then finds).
func (s *Service) submit(ctx context.Context, j *job) (step, error) {
	j.ctx, j.done = ctx, make(chan struct{})
	b := &s.batch
	b.mu.Lock()
	b.pending = append(b.pending, j)
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		go s.drain()
	}
	select {
	case <-j.done:
		return j.res, nil
	case <-ctx.Done():
		return step{}, fmt.Errorf("wait for the other rollbacks of %s: %w", s.ws.Repo, ctx.Err())
	}
}

// drain runs batches until the queue is empty. A batch takes every failure
// queued by the time the repository's lock is held.
//
// When the Git server cannot be reached (down, restarting, answering 5xx,
// a connection timing out), the batch keeps the lock and tries again every
// retryPause, taking in failures queued meanwhile, for as long as anyone
// waits for it: the reverts land within a pause of the server coming back,
// before any promotion or command that queued at the lock behind them, and
// not after a retry backoff that grew during the outage.
func (s *Service) drain() {
	b := &s.batch
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		g := newGroup(b.pending[0].ctx)
		g.join(b.pending)
		b.mu.Unlock()

		snap, done, err := s.ws.Begin(g.ctx, true) // a broken release must not wait behind promotions
		var jobs []*job
		var steps []step
		for attempt := 0; ; attempt++ {
			b.mu.Lock()
			jobs = append(jobs, b.pending...)
			b.pending = nil
			b.mu.Unlock()
			g.join(jobs)
			jobs = live(jobs)
			var batchErr error
			steps, batchErr = s.runBatch(g.ctx, snap, err, jobs)
			if batchErr == nil || !Outage(batchErr) || g.ctx.Err() != nil {
				break
			}
			if attempt%20 == 0 { // every 10 s of an outage
				s.log.Warn("cannot reach the Git server; the rollbacks keep the repository's lock and try again", "failures", len(jobs), "every", retryPause, "attempt", attempt+1, "err", batchErr)
			}
			select {
			case <-g.ctx.Done():
			case <-time.After(retryPause):
			}
			snap, err = s.ws.Sync(g.ctx)
		}
		done()
		g.cancel()
		for i, j := range jobs {
			j.res = steps[i]
			close(j.done)
		}
	}
}

// retryPause is how long a batch that could not reach the Git server waits
// before trying again.
const retryPause = 500 * time.Millisecond

// live drops the jobs nobody waits for any more (their handler gave up and
// the failure will come back as a new job).
func live(jobs []*job) []*job {
	out := jobs[:0]
	for _, j := range jobs {
		if j.ctx.Err() == nil {
			out = append(out, j)
		} else {
			close(j.done)
		}
	}
	return out
}

// runBatch decides and writes a batch of failures under the repository's
// lock: one step per job, in order. batchErr is an error of the whole batch
// (the fetch, the history walk or the push), which every step carries.
func (s *Service) runBatch(ctx context.Context, snap workspace.Snapshot, syncErr error, jobs []*job) (steps []step, batchErr error) {
	steps = make([]step, len(jobs))
	fail := func(err error) ([]step, error) {
		for i := range steps {
			steps[i].err = err
		}
		return steps, err
	}
	if syncErr != nil {
		return fail(syncErr)
	}
	began := time.Now()
	idx, err := s.readRecent(ctx, failingOverlays(snap, jobs))
	if err != nil {
		return fail(err)
	}
	indexed := time.Now()
	var reqs []gitops.RevertRequest
	var owners []int // steps[owners[k]] made reqs[k]
	for i, j := range jobs {
		steps[i] = s.plan(logctx.With(ctx, s.logger(j.ctx)), snap, idx, j.f, j.failing)
		if steps[i].req != nil {
			reqs = append(reqs, *steps[i].req)
			owners = append(owners, i)
		}
	}
	if len(reqs) == 0 {
		return steps, nil
	}
	planned := time.Now()
	res, outs, err := s.ws.Git.RevertAll(ctx, gitops.Target{Branch: s.ws.Branch}, reqs)
	if err == nil && res != nil {
		// Where the time went: reading history, deciding, writing and pushing.
		level := slog.LevelDebug
		if len(reqs) > 1 {
			level = slog.LevelInfo
		}
		s.log.Log(ctx, level, "pushed reverts", "reverts", len(reqs), "failures", len(jobs), "commit", res.Commit.String(),
			"index", indexed.Sub(began).Round(time.Millisecond), "decide", planned.Sub(indexed).Round(time.Millisecond), "write_push", time.Since(planned).Round(time.Millisecond))
	}
	for k, i := range owners {
		st := &steps[i]
		var r *gitops.Result
		e := err
		if e == nil {
			if e = outs[k].Err; e == nil {
				r = &gitops.Result{Commit: outs[k].Commit}
			}
		}
		st.out, st.err = s.revertResult(st.out, r, e, ActionReverted, fmt.Sprintf("pushed the revert of %s to %s", short(st.out.Reverted), s.ws.Branch))
		st.then = afterRevert(st.out.Action)
	}
	return steps, err
}

// failingOverlays are the overlays of the stages whose canaries fail in
// jobs, each once.
func failingOverlays(snap workspace.Snapshot, jobs []*job) []string {
	if snap.Policy == nil {
		return nil
	}
	var paths []string
	seen := map[string]bool{}
	for _, j := range jobs {
		if len(j.failing) == 0 {
			continue
		}
		_, stage, ok := snap.Policy.FindCanary(policy.CanaryRef{Cluster: j.f.cluster, Namespace: j.f.canary.Namespace, Name: j.f.canary.Name})
		if ok && !seen[stage.Overlay] {
			seen[stage.Overlay] = true
			paths = append(paths, stage.Overlay)
		}
	}
	return paths
}

// group is the context of a batch: it carries the first job's values and
// ends when every job in the batch has given up (their contexts ended), so
// a batch never outlives everyone waiting for it.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	joined map[*job]bool
	live   int
}

func newGroup(first context.Context) *group {
	// Urgent: the batch's fetches, history walks and push go before the
	// promotions' Git operations queued on the same repository.
	ctx, cancel := context.WithCancel(gitops.Urgent(context.WithoutCancel(first)))
	return &group{ctx: ctx, cancel: cancel, joined: map[*job]bool{}}
}

// join counts jobs into the group (each once).
func (g *group) join(jobs []*job) {
	for _, j := range jobs {
		g.mu.Lock()
		if g.joined[j] {
			g.mu.Unlock()
			continue
		}
		g.joined[j] = true
		g.live++
		g.mu.Unlock()
		context.AfterFunc(j.ctx, func() {
			g.mu.Lock()
			g.live--
			last := g.live == 0
			g.mu.Unlock()
			if last {
				g.cancel()
			}
		})
	}
}

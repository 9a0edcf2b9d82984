package gitops

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/storage/memory"
)

// The first of a burst of proposals waits for the others before pushing:
// until none is on its way (announced by ExpectProposal, or an Update in
// Propose mode that has begun but not yet built its commit) and none has
// come for proposalQuiet, or proposalGather at most. They usually come
// together (the verified versions of one release, the promotions held up
// by an outage), but each first reads what it needs (its open pull
// requests, the server's refs), which takes a loaded Gitea 50 to 200 ms a
// call.
const (
	proposalQuiet  = 60 * time.Millisecond
	proposalGather = 300 * time.Millisecond
)

// proposer gathers the proposals (Propose pushes) of one repository that
// come in while one is being pushed, and pushes them together: Gitea runs
// its git hooks once per push, which costs it more than the pull requests
// the push opens.
type proposer struct {
	mu      sync.Mutex
	pushing bool
	queue   []*proposal
	coming  int           // proposals on their way to the queue (expect)
	arrived chan struct{} // a proposal joined the queue or gave up coming (buffered, 1; made by Open)
}

// expect counts a proposal on its way to the queue, so that a burst being
// gathered waits for it. The proposal arrives when propose queues it;
// call cancel if it gives up before (after is harmless).
func (b *proposer) expect() *arrival {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.coming++
	return &arrival{b: b}
}

// resume returns the arrival e announced if it is this proposer's and has
// not arrived (nor been cancelled) yet, and otherwise counts a new one.
func (b *proposer) resume(e *Expected) *arrival {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e != nil && e.a.b == b && !e.a.here {
		return e.a
	}
	b.coming++
	return &arrival{b: b}
}

// Expected is a proposal announced before the work that builds it begins
// (Repo.ExpectProposal).
type Expected struct{ a *arrival }

// ExpectProposal announces a proposal the caller is about to make: a
// burst of proposals being gathered waits for it (proposalGather at most)
// while the caller reads what it needs to build it. Pass it in
// Target.Expected, and Cancel it when done, whether it proposed or not.
func (r *Repo) ExpectProposal() *Expected { return &Expected{r.proposals.expect()} }

// Cancel stops counting the announced proposal as coming, unless it
// arrived already. It does nothing on nil, and after the first call.
func (e *Expected) Cancel() {
	if e != nil {
		e.a.cancel()
	}
}

// arrival is a proposal on its way to the queue (expect).
type arrival struct {
	b    *proposer
	here bool // guarded by b.mu
}

// cancel stops counting the proposal as coming, unless it arrived.
func (a *arrival) cancel() {
	a.b.mu.Lock()
	defer a.b.mu.Unlock()
	a.arriveLocked()
}

// arriveLocked stops counting the proposal as coming and wakes the
// gathering proposal; the caller holds b.mu.
func (a *arrival) arriveLocked() {
	if a.here {
		return
	}
	a.here = true
	a.b.coming--
	select {
	case a.b.arrived <- struct{}{}:
	default:
	}
}

// expecting reports whether a proposal is on its way to the queue.
func (b *proposer) expecting() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.coming > 0
}

// proposal is one commit to push to a refs/for/ reference.
type proposal struct {
	target Target
	commit plumbing.Hash
	objs   *objectSet
	done   chan error // buffered: the pusher never waits for the proposer
}

// propose pushes commit (with the objects in objs) to target's refs/for/
// reference, in one push with the other proposals waiting at that moment.
// The first proposal of a burst gathers the burst and pushes it over ps
// (whose advertisement a proposal does not depend on); the others wait for
// their result or for ctx. The queue is empty whenever nobody is pushing.
// a, from expect, arrives as the proposal is queued.
func (r *Repo) propose(ctx context.Context, ps *pushSession, target Target, commit plumbing.Hash, objs *objectSet, a *arrival) error {
	p := &proposal{target: target, commit: commit, objs: objs, done: make(chan error, 1)}
	b := &r.proposals
	b.mu.Lock()
	b.queue = append(b.queue, p)
	a.arriveLocked()
	if b.pushing {
		b.mu.Unlock()
		select {
		case err := <-p.done:
			return err
		case <-ctx.Done():
			// The burst may still push it; a proposal pushed twice is one.
			return fmt.Errorf("propose %s: %w", target.ref(), ctx.Err())
		}
	}
	b.pushing = true
	b.mu.Unlock()
	gather(ctx, b.arrived, b.expecting, proposalQuiet, proposalGather)
	// The burst is pushed for every proposal in it, whatever becomes of
	// the context of the one pushing it.
	r.pushNext(context.WithoutCancel(ctx), ps)
	return <-p.done
}

// pushNext pushes the proposals waiting now in one push (over ps, or a new
// session if nil) and gives each its result. Those that came in meanwhile
// are pushed next, by a goroutine of their own: the proposal that pushed
// the burst returns as soon as its own push is done.
func (r *Repo) pushNext(ctx context.Context, ps *pushSession) {
	b := &r.proposals
	b.mu.Lock()
	batch, rest := takeProposals(b.queue)
	b.queue = rest
	b.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, r.timeout)
	errs := r.pushProposals(pctx, ps, batch)
	cancel()
	for i, q := range batch {
		q.done <- errs[i]
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		b.pushing = false
		return
	}
	go r.pushNext(ctx, nil)
}

// gather waits until no proposal has arrived for quietFor and none is
// coming, for at most atMost, or until ctx ends.
func gather(ctx context.Context, arrived <-chan struct{}, coming func() bool, quietFor, atMost time.Duration) {
	limit := time.NewTimer(atMost)
	defer limit.Stop()
	quiet := time.NewTimer(quietFor)
	defer quiet.Stop()
	calm := false // nothing arrived for quietFor
	for !calm || coming() {
		select {
		case <-arrived: // or one coming gave up
			calm = false
			quiet.Reset(quietFor)
		case <-quiet.C:
			calm = true
		case <-limit.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// takeProposals splits queue into the proposals one push can carry (one
// per reference: a second commit for the same topic waits for the next
// push) and the rest.
func takeProposals(queue []*proposal) (batch, rest []*proposal) {
	for _, p := range queue {
		if slices.ContainsFunc(batch, func(q *proposal) bool { return q.target.ref() == p.target.ref() }) {
			rest = append(rest, p)
		} else {
			batch = append(batch, p)
		}
	}
	return batch, rest
}

// pushProposals pushes batch in one receive-pack request, over ps or, if
// nil, a new session, and returns each proposal's result. Push options go
// with the push, not with a reference, so a push of several proposals
// carries only the options they all have; the caller sets what the others
// would have said (a pull request's title and body) through the API.
func (r *Repo) pushProposals(ctx context.Context, ps *pushSession, batch []*proposal) []error {
	errs := make([]error, len(batch))
	fail := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	if ps == nil {
		var err error
		if ps, err = r.openPush(ctx); err != nil {
			return fail(err)
		}
		defer ps.Close()
	}
	mem := &memory.NewStorage().ObjectStorage
	var news []plumbing.Hash
	for _, p := range batch {
		for _, h := range p.objs.news {
			if _, ok := mem.Objects[h]; !ok {
				mem.Objects[h] = p.objs.mem.Objects[h]
				news = append(news, h)
			}
		}
	}
	cmds := make([]*packp.Command, len(batch))
	for i, p := range batch {
		cmds[i] = &packp.Command{Name: p.target.ref(), Old: plumbing.ZeroHash, New: p.commit}
	}
	rs, err := ps.send(ctx, cmds, mem, news, sharedOptions(batch))
	if rs == nil || rs.UnpackStatus != "ok" {
		if err == nil {
			err = fmt.Errorf("no status report")
		}
		return fail(&PushRejectedError{Ref: batch[0].target.ref().String(), Reason: strings.TrimSpace(err.Error())})
	}
	status := map[plumbing.ReferenceName]string{}
	for _, c := range rs.CommandStatuses {
		status[c.ReferenceName] = c.Status
	}
	for i, p := range batch {
		ref := p.target.ref()
		switch st, ok := status[ref]; {
		case !ok:
			errs[i] = &PushRejectedError{Ref: ref.String(), Reason: "the server reported nothing for it"}
		case !proposed(st):
			errs[i] = &PushRejectedError{Ref: ref.String(), Reason: st}
		}
	}
	return errs
}

// sharedOptions are the push options every proposal in batch asks for.
func sharedOptions(batch []*proposal) []string {
	var out []string
	for _, o := range batch[0].target.PushOptions {
		if !slices.ContainsFunc(batch[1:], func(p *proposal) bool { return !slices.Contains(p.target.PushOptions, o) }) {
			out = append(out, o)
		}
	}
	return out
}

// proposed reports whether the server's status for a proposal means it is
// in place: "ok", or Gitea's and Forgejo's refusal of a commit the pull
// request already has as its head ("new commit is same with old commit"),
// which a proposal pushed again (a retry after a lost answer, two replicas
// during a hand-over) gets.
func proposed(status string) bool {
	return status == "ok" || strings.Contains(status, "same with old commit")
}

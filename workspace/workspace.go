package workspace

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/internal/keyed"
	"github.com/ensignbot/ensign/internal/prio"
	"github.com/ensignbot/ensign/policy"
)

// Workspace is one GitOps repository.
type Workspace struct {
	// Repo is the repository on Gitea.
	Repo forge.Repo
	// Git is the repository's local cache.
	Git *gitops.Repo
	// Branch is the branch Flux deploys from ("main").
	Branch string
	// PolicyFile is the policy's path in the repository (".ensign.yaml").
	PolicyFile string
	// Promotions bounds the promotions running at once (BeginPromotion);
	// 0 means DefaultPromotions.
	Promotions int

	lock  prio.Lock   // the repository's actions (Begin)
	apps  keyed.Mutex // promotions, one at a time per app (BeginPromotion)
	fetch coalescer   // ordinary fetches of Branch share one (Sync)

	slots     chan struct{} // one per running promotion
	slotsOnce sync.Once

	urgentMu   sync.Mutex
	urgentN    int           // urgent actions holding or waiting for the lock
	urgentDone chan struct{} // closed when urgentN drops to 0

	cacheMu   sync.Mutex
	cached    parsedPolicy
	lastValid lastValid
}

// parsedPolicy remembers the last policy file loaded, by content: parsing a
// large policy costs milliseconds and megabytes, and it rarely changes.
type parsedPolicy struct {
	sum [sha256.Size]byte
	pol *policy.Policy
	err error
}

// lastValid remembers, for the tip it was looked up at, the newest valid
// policy behind an invalid one.
type lastValid struct {
	tip    plumbing.Hash
	commit plumbing.Hash
	pol    *policy.Policy
}

// Snapshot is the state of the deploy branch an action starts from.
type Snapshot struct {
	// Tip is the branch's commit.
	Tip plumbing.Hash
	// Policy is the policy in force: the one at Tip; or, when the file at
	// Tip does not load (Invalid), the newest valid one on the branch, from
	// PolicyCommit; nil when the repository has no policy file, or none of
	// its recent versions loads.
	Policy *policy.Policy
	// PolicyCommit is the commit Policy was read at (Tip unless Invalid).
	PolicyCommit plumbing.Hash
	// Invalid, when not nil, says why the policy file at Tip does not load;
	// it wraps ErrInvalidPolicy and names the file, line and field.
	Invalid error
}

// ErrInvalidPolicy wraps a policy that does not load; its message names the
// file, line and field of every problem.
var ErrInvalidPolicy = errors.New("invalid policy")

// lookBack bounds how many versions of the policy file are read to find the
// last valid one behind an invalid tip.
const lookBack = 20

// Begin starts an action on the repository that must not interleave with
// the others (rollbacks, a person's /rollback, freezes): it waits for the
// actions before it to finish (urgent ones, such as a rollback, go before
// every ordinary waiter; ctx ending gives up the wait), then syncs the
// deploy branch and the policy. Promotions do not take this lock
// (BeginPromotion), so nothing they do on Gitea delays a rollback. Call
// done when the action is over, whatever the error.
func (w *Workspace) Begin(ctx context.Context, urgent bool) (snap Snapshot, done func(), err error) {
	if urgent {
		w.enterUrgent() // promotions yield from now on (Yield)
		ctx = gitops.Urgent(ctx)
	}
	release, err := w.lock.Acquire(ctx, urgent)
	if err != nil {
		if urgent {
			w.leaveUrgent()
		}
		return Snapshot{}, func() {}, fmt.Errorf("wait for the other actions on %s: %w", w.Repo, err)
	}
	done = release
	if urgent {
		var once sync.Once
		done = func() {
			release()
			once.Do(w.leaveUrgent)
		}
	}
	snap, err = w.Sync(ctx)
	return snap, done, err
}

// BeginPromotion starts a promotion of app: promotions of the same app run
// one at a time, at most Promotions of the repository at once (ctx ending
// gives up the wait), while rollbacks and freezes run alongside them. A
// promotion therefore works from a snapshot that may be overtaken; it
// re-checks what it depends on before it merges. Call done when the
// promotion is over, whatever the error.
func (w *Workspace) BeginPromotion(ctx context.Context, app string) (snap Snapshot, done func(), err error) {
	unlock, err := w.apps.LockContext(ctx, app)
	if err != nil {
		return Snapshot{}, func() {}, fmt.Errorf("wait for the other promotions of %s in %s: %w", app, w.Repo, err)
	}
	w.slotsOnce.Do(func() {
		n := w.Promotions
		if n <= 0 {
			n = DefaultPromotions
		}
		w.slots = make(chan struct{}, n)
	})
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		unlock()
		return Snapshot{}, func() {}, fmt.Errorf("wait for a promotion slot in %s: %w", w.Repo, ctx.Err())
	}
	var once sync.Once
	done = func() {
		once.Do(func() {
			<-w.slots
			unlock()
		})
	}
	snap, err = w.Sync(ctx)
	return snap, done, err
}

// Yield waits while an urgent action (a rollback) holds or waits for the
// repository's lock, or until ctx ends. Promotions call it before they
// merge a pull request, which moves the deploy branch the rollback is
// writing. Their proposals do not wait: a proposal moves no branch, and
// Gitea, which spends most of a one-pull-request push on work it does once
// per push, takes a proposal and a rollback's push sooner side by side
// than one after the other.
func (w *Workspace) Yield(ctx context.Context) error {
	w.urgentMu.Lock()
	if w.urgentN == 0 {
		w.urgentMu.Unlock()
		return nil
	}
	wait := w.urgentDone
	w.urgentMu.Unlock()
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the rollbacks of %s: %w", w.Repo, ctx.Err())
	}
}

func (w *Workspace) enterUrgent() {
	w.urgentMu.Lock()
	defer w.urgentMu.Unlock()
	if w.urgentN == 0 {
		w.urgentDone = make(chan struct{})
	}
	w.urgentN++
}

func (w *Workspace) leaveUrgent() {
	w.urgentMu.Lock()
	defer w.urgentMu.Unlock()
	if w.urgentN--; w.urgentN == 0 {
		close(w.urgentDone)
	}
}

// DefaultPromotions is how many promotions of one repository run at once
// unless Workspace.Promotions says otherwise. Their proposals, when they
// come together, go to Gitea in one push (gitops.Propose), which costs it
// less than one push each; many more at once would take the CPU a
// rollback's history walk needs.
const DefaultPromotions = 4

// Close stops the workspace's shared fetches, which run detached from the
// callers that asked for them, and waits for them to end; Sync fails after
// it. It does not close Git.
func (w *Workspace) Close() { w.fetch.close() }

// Sync fetches the deploy branch and reads the policy at its tip, without
// waiting for other actions (for reads such as status reports). An error
// means the branch could not be read; a policy that does not load is not an
// error here but Snapshot.Invalid, with the last valid policy in force.
//
// Concurrent ordinary calls share fetches: each waits for a fetch that
// started after it was called, so what it reads is at least as new as the
// branch was when it asked. An urgent context (gitops.Urgent) fetches on its
// own, ahead of the ordinary Git operations waiting.
func (w *Workspace) Sync(ctx context.Context) (Snapshot, error) {
	fetch := func(ctx context.Context) (map[string]plumbing.Hash, error) {
		return w.Git.Fetch(ctx, gitops.FetchOptions{Branches: []string{w.Branch}, Depth: 50})
	}
	var tips map[string]plumbing.Hash
	var err error
	if prio.Urgent(ctx) {
		tips, err = fetch(ctx)
	} else {
		tips, err = w.fetch.do(ctx, fetch)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("fetch %s of %s: %w", w.Branch, w.Repo, err)
	}
	tip, ok := tips[w.Branch]
	if !ok {
		return Snapshot{}, fmt.Errorf("branch %s of %s does not exist", w.Branch, w.Repo)
	}
	return w.snapshot(ctx, tip)
}

// snapshot reads the policy in force at tip.
func (w *Workspace) snapshot(ctx context.Context, tip plumbing.Hash) (Snapshot, error) {
	var err error
	snap := Snapshot{Tip: tip, PolicyCommit: tip}
	snap.Policy, err = w.PolicyAt(tip)
	if errors.Is(err, ErrInvalidPolicy) {
		snap.Invalid = err
		snap.PolicyCommit, snap.Policy, err = w.lastValidPolicy(ctx, tip)
	}
	return snap, err
}

// Peek returns the snapshot of the deploy branch as last fetched, without
// fetching (a Sync when nothing was fetched yet): enough to learn which app
// an event concerns before taking that app's lock, which then syncs.
func (w *Workspace) Peek(ctx context.Context) (Snapshot, error) {
	tip, ok, err := w.Git.Tip(w.Branch)
	if err != nil || !ok {
		return w.Sync(ctx)
	}
	return w.snapshot(ctx, tip)
}

// PolicyAt loads the policy file at a commit; nil if the file is absent.
func (w *Workspace) PolicyAt(commit plumbing.Hash) (*policy.Policy, error) {
	data, err := w.Git.ReadFile(commit, w.PolicyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", w.PolicyFile, commit, err)
	}
	p, err := w.load(data)
	if err != nil {
		return nil, fmt.Errorf("%w in %s at %s: %w", ErrInvalidPolicy, w.Repo, short(commit), err)
	}
	return p, nil
}

// lastValidPolicy finds the newest version of the policy file behind tip
// that loads (within lookBack changes of the file). The answer is kept for
// tip, so a run of events on an unchanged branch walks the history once.
func (w *Workspace) lastValidPolicy(ctx context.Context, tip plumbing.Hash) (plumbing.Hash, *policy.Policy, error) {
	w.cacheMu.Lock()
	if w.lastValid.tip == tip {
		lv := w.lastValid
		w.cacheMu.Unlock()
		return lv.commit, lv.pol, nil
	}
	w.cacheMu.Unlock()
	var found plumbing.Hash
	var pol *policy.Policy
	err := w.Git.Log(ctx, w.Branch, gitops.LogOptions{Path: w.PolicyFile, Max: lookBack}, func(c *gitops.CommitInfo) error {
		p, err := w.PolicyAt(c.Hash)
		switch {
		case errors.Is(err, ErrInvalidPolicy):
			return nil
		case err != nil:
			return err
		}
		found, pol = c.Hash, p // nil p: the file did not exist yet
		return gitops.ErrStopWalk
	})
	if err != nil {
		return plumbing.ZeroHash, nil, fmt.Errorf("look for the last valid %s of %s: %w", w.PolicyFile, w.Repo, err)
	}
	w.cacheMu.Lock()
	w.lastValid = lastValid{tip: tip, commit: found, pol: pol}
	w.cacheMu.Unlock()
	return found, pol, nil
}

// load parses a policy file, reusing the last result for the same content.
// A loaded Policy is read-only, so sharing it is safe.
func (w *Workspace) load(data []byte) (*policy.Policy, error) {
	sum := sha256.Sum256(data)
	w.cacheMu.Lock()
	defer w.cacheMu.Unlock()
	if w.cached.sum != sum || (w.cached.pol == nil && w.cached.err == nil) {
		p, err := policy.Load(w.PolicyFile, data)
		w.cached = parsedPolicy{sum: sum, pol: p, err: err}
	}
	return w.cached.pol, w.cached.err
}

func short(h plumbing.Hash) string { return h.String()[:7] }

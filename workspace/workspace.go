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
	"github.com/ensignbot/ensign/policy"
)

// Trailers ensign writes on its commits, besides gitops' Ensign-Reverts and
// Ensign-Promotion.
const (
	// TrailerRollback marks a revert ensign made for a failed canary or a
	// /rollback: "<app>/<stage>".
	TrailerRollback = "Ensign-Rollback"
	// TrailerFailure identifies the canary failure a revert answers:
	// "<cluster>/<namespace>/<name>@<RFC 3339 transition time>".
	TrailerFailure = "Ensign-Failure"
	// TrailerImage lists an image reference a commit promoted or reverted,
	// one trailer per image.
	TrailerImage = "Ensign-Image"
	// TrailerRequestedBy names the person who asked (/promote, /rollback, CLI).
	TrailerRequestedBy = "Ensign-Requested-By"
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

	lock priorityLock

	cacheMu sync.Mutex
	cached  parsedPolicy
}

// parsedPolicy remembers the last policy file loaded, by content: parsing a
// large policy costs milliseconds and megabytes, and it rarely changes.
type parsedPolicy struct {
	sum [sha256.Size]byte
	pol *policy.Policy
	err error
}

// Snapshot is the state of the deploy branch an action starts from.
type Snapshot struct {
	// Tip is the branch's commit.
	Tip plumbing.Hash
	// Policy is the policy at Tip; nil when the repository has none.
	Policy *policy.Policy
}

// ErrInvalidPolicy wraps a policy that does not load; its message names the
// file, line and field of every problem.
var ErrInvalidPolicy = errors.New("invalid policy")

// Begin starts an action on the repository: it waits for the actions before
// it to finish (urgent ones, such as a rollback while promotions pile up,
// go before every ordinary waiter), then syncs the deploy branch and the
// policy. Call done when the action is over, whatever the error.
func (w *Workspace) Begin(ctx context.Context, urgent bool) (snap Snapshot, done func(), err error) {
	done = w.lock.acquire(urgent)
	snap, err = w.Sync(ctx)
	return snap, done, err
}

// Sync fetches the deploy branch and loads the policy at its tip, without
// waiting for other actions (for reads such as status reports).
func (w *Workspace) Sync(ctx context.Context) (Snapshot, error) {
	tips, err := w.Git.Fetch(ctx, gitops.FetchOptions{Branches: []string{w.Branch}, Depth: 50})
	if err != nil {
		return Snapshot{}, fmt.Errorf("fetch %s of %s: %w", w.Branch, w.Repo, err)
	}
	tip, ok := tips[w.Branch]
	if !ok {
		return Snapshot{}, fmt.Errorf("branch %s of %s does not exist", w.Branch, w.Repo)
	}
	p, err := w.PolicyAt(tip)
	return Snapshot{Tip: tip, Policy: p}, err
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

package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/freeze"
	"github.com/ensignbot/ensign/gate"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/promote"
	"github.com/ensignbot/ensign/rollback"
	"github.com/ensignbot/ensign/status"
	"github.com/ensignbot/ensign/workspace"
)

// Repo is one managed repository and its services.
type Repo struct {
	Workspace *workspace.Workspace
	Promote   Promoter
	Rollback  RollingBack
	Status    Reporter
	Gate      Gatekeeper
	// Freeze may be nil: /freeze and /unfreeze then answer that they are
	// not available.
	Freeze Freezer
}

// Freezer freezes and unfreezes the stages of one repository;
// *freeze.Service implements it.
type Freezer interface {
	Freeze(ctx context.Context, req freeze.Request) (freeze.Outcome, error)
	Unfreeze(ctx context.Context, req freeze.Request) (freeze.Outcome, error)
}

// Gatekeeper keeps the window gate of one repository; *gate.Service
// implements it.
type Gatekeeper interface {
	RefreshAll(ctx context.Context) error
	Refresh(ctx context.Context, number int64) (gate.Verdict, error)
	Override(ctx context.Context, number int64, person string) (gate.Verdict, error)
	Allow(ctx context.Context, ref policy.CanaryRef) (bool, string, error)
}

// Promoter is the promotion service of one repository; *promote.Service
// implements it.
type Promoter interface {
	Succeeded(ctx context.Context, clusterName string, c *flaggerv1.Canary) ([]promote.Outcome, error)
	PromotePR(ctx context.Context, req promote.PRRequest) (promote.Outcome, error)
}

// RollingBack is the rollback service of one repository; *rollback.Service
// implements it.
type RollingBack interface {
	Failed(ctx context.Context, clusterName string, c *flaggerv1.Canary) (rollback.Outcome, error)
	RollbackPR(ctx context.Context, req rollback.PRRequest) (rollback.Outcome, error)
}

// Reporter builds status reports of one repository; *status.Reporter
// implements it.
type Reporter interface {
	ForPR(ctx context.Context, number int64) (status.Report, error)
}

// Events records ensign's events on canaries; *cluster.Set implements it.
type Events interface {
	RecordEvent(ctx context.Context, clusterName string, c *flaggerv1.Canary, n cluster.Note, now time.Time) error
}

// Statuses sets commit statuses; *forge.Client implements it.
type Statuses interface {
	SetCommitStatus(ctx context.Context, repo forge.Repo, sha string, st forge.CommitStatus) error
}

// Config wires a Router.
type Config struct {
	// Repos are the managed repositories, in ENSIGN_REPOS order: when two
	// policies name the same canary, the first repository owns it.
	Repos []*Repo
	// Events records the Warning event of a terminal error. Required.
	Events Events
	// Statuses, if set, gets the "ensign/policy" commit status.
	Statuses Statuses
	// Observe, if set, is told how each canary result's handling went.
	Observe func(Observation)
	// ActionTimeout bounds the handling of one canary result; 0 means 5m.
	ActionTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Observation is how the handling of one canary result went.
type Observation struct {
	// Kind is "promote" or "rollback".
	Kind string
	Took time.Duration
	Err  error
	// Result is when the canary reached its phase.
	Result time.Time
	// Rollback is what the rollback did; Promotions what each promotion did.
	Rollback   rollback.Action
	Promotions []promote.Action
}

// PolicyContext is the commit status context of the policy check.
const PolicyContext = "ensign/policy"

// Router sends events to the repository that owns them.
type Router struct {
	cfg   Config
	log   *slog.Logger
	order []forge.Repo
	repos map[forge.Repo]*Repo

	mu     sync.RWMutex
	states map[forge.Repo]policyState
	index  map[policy.CanaryRef]forge.Repo
}

// policyState is what the router last read of a repository's policy.
type policyState struct {
	pol     *policy.Policy
	tip     string
	invalid string // why the policy at tip does not load
	readErr error  // the last read failed (the rest is from before)
}

// New returns a Router with an empty index; Refresh fills it.
func New(cfg Config) (*Router, error) {
	if cfg.Events == nil || len(cfg.Repos) == 0 {
		return nil, errors.New("route: events and at least one repository are required")
	}
	r := &Router{cfg: cfg, log: cfg.Logger, repos: map[forge.Repo]*Repo{}, states: map[forge.Repo]policyState{}}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.cfg.Now == nil {
		r.cfg.Now = time.Now
	}
	if r.cfg.ActionTimeout <= 0 {
		r.cfg.ActionTimeout = 5 * time.Minute
	}
	for _, repo := range cfg.Repos {
		name := repo.Workspace.Repo
		if _, dup := r.repos[name]; dup {
			return nil, fmt.Errorf("route: repository %s given twice", name)
		}
		r.repos[name] = repo
		r.order = append(r.order, name)
	}
	r.index = map[policy.CanaryRef]forge.Repo{}
	return r, nil
}

// Repos lists the managed repositories in configuration order.
func (r *Router) Repos() []forge.Repo { return slices.Clone(r.order) }

// Repo returns a managed repository by "owner/name", or the only one when
// name is empty.
func (r *Router) Repo(name string) (*Repo, error) {
	if name == "" {
		if len(r.order) == 1 {
			return r.repos[r.order[0]], nil
		}
		return nil, fmt.Errorf("ensign manages %d repositories; choose one with --repo", len(r.order))
	}
	owner, n, _ := strings.Cut(name, "/")
	if repo, ok := r.lookup(forge.Repo{Owner: owner, Name: n}); ok {
		return repo, nil
	}
	return nil, fmt.Errorf("--repo %s: not in ENSIGN_REPOS", name)
}

// lookup finds a managed repository; Gitea's names are case-insensitive.
func (r *Router) lookup(repo forge.Repo) (*Repo, bool) {
	if s, ok := r.repos[repo]; ok {
		return s, true
	}
	for name, s := range r.repos {
		if strings.EqualFold(name.Owner, repo.Owner) && strings.EqualFold(name.Name, repo.Name) {
			return s, true
		}
	}
	return nil, false
}

// Manages reports whether ensign manages repo.
func (r *Router) Manages(repo forge.Repo) bool {
	_, ok := r.lookup(repo)
	return ok
}

// Refresh re-reads the policies of repos (all managed ones when none are
// given, refreshAtOnce at a time) and rebuilds the canary index. A
// repository whose policy cannot be read keeps what was read before; the
// error says which failed.
func (r *Router) Refresh(ctx context.Context, repos ...forge.Repo) error {
	if len(repos) == 0 {
		repos = r.order
	}
	errs := make([]error, len(repos))
	sem := make(chan struct{}, refreshAtOnce)
	var wg sync.WaitGroup
	for i, name := range repos {
		repo, ok := r.lookup(name)
		if !ok {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = r.refresh(ctx, repo)
		})
	}
	wg.Wait()
	r.reindex()
	return errors.Join(errs...)
}

// refreshAtOnce is how many repositories' policies Refresh reads at once:
// a hundred repositories read one after another took 30 s at start-up.
const refreshAtOnce = 8

// refresh reads one repository's policy and records what it found.
func (r *Router) refresh(ctx context.Context, repo *Repo) error {
	name := repo.Workspace.Repo
	log := r.log.With("repo", name.String())
	snap, err := repo.Workspace.Sync(ctx)
	r.mu.Lock()
	prev := r.states[name]
	if err != nil {
		prev.readErr = err
		r.states[name] = prev
		r.mu.Unlock()
		log.Warn("cannot read the policy; keeping the canaries it named before", "err", err)
		return fmt.Errorf("read the policy of %s: %w", name, err)
	}
	st := policyState{pol: snap.Policy, tip: snap.Tip.String()}
	if snap.Invalid != nil {
		st.invalid = snap.Invalid.Error()
	}
	r.states[name] = st
	r.mu.Unlock()
	switch {
	case snap.Invalid != nil && prev.invalid != st.invalid:
		log.Error("the policy on the deploy branch does not load; rollbacks follow the last valid one, promotions wait", "tip", st.tip, "last_valid", snap.PolicyCommit.String(), "err", snap.Invalid)
	case snap.Invalid == nil && prev.invalid != "":
		log.Info("the policy loads again", "tip", st.tip)
	case snap.Policy == nil && snap.Invalid == nil:
		log.Warn("repository has no policy file; nothing to watch", "file", repo.Workspace.PolicyFile)
	}
	if prev.tip != st.tip || prev.invalid != st.invalid {
		r.reportPolicy(ctx, name, st, snap)
	}
	return nil
}

// reportPolicy sets the policy's commit status on the tip.
func (r *Router) reportPolicy(ctx context.Context, name forge.Repo, st policyState, snap workspace.Snapshot) {
	if r.cfg.Statuses == nil || (snap.Policy == nil && snap.Invalid == nil) {
		return
	}
	cs := forge.CommitStatus{Context: PolicyContext, State: forge.StateSuccess, Description: "the policy loads"}
	if snap.Invalid != nil {
		cs.State = forge.StateFailure
		cs.Description = "invalid policy; rollbacks follow the last valid one, promotions wait: " + st.invalid
		if snap.Policy == nil {
			cs.Description = "invalid policy; no earlier valid one, ensign does nothing here: " + st.invalid
		}
	}
	if err := r.cfg.Statuses.SetCommitStatus(ctx, name, st.tip, cs); err != nil {
		r.log.Warn("set the policy's commit status", "repo", name.String(), "err", err)
	}
}

// reindex rebuilds the canary index from the policies in force.
func (r *Router) reindex() {
	r.mu.Lock()
	defer r.mu.Unlock()
	index := map[policy.CanaryRef]forge.Repo{}
	for _, name := range r.order {
		pol := r.states[name].pol
		if pol == nil {
			continue
		}
		for _, ref := range pol.Canaries() {
			if owner, taken := index[ref]; taken {
				if owner != name {
					r.log.Warn("two policies name the same canary; the first repository owns it", "canary", ref.String(), "owner", owner.String(), "ignored", name.String())
				}
				continue
			}
			index[ref] = name
		}
	}
	r.index = index
}

// Owner returns the repository whose policy names the canary.
func (r *Router) Owner(ref policy.CanaryRef) (forge.Repo, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	owner, ok := r.index[ref]
	return owner, ok
}

// Watched returns, per cluster, the sorted namespaces of the canaries the
// policies name.
func (r *Router) Watched() map[string][]string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	seen := map[string]map[string]bool{}
	for ref := range r.index {
		if seen[ref.Cluster] == nil {
			seen[ref.Cluster] = map[string]bool{}
		}
		seen[ref.Cluster][ref.Namespace] = true
	}
	out := map[string][]string{}
	for c, nss := range seen {
		for ns := range nss {
			out[c] = append(out[c], ns)
		}
		sort.Strings(out[c])
	}
	return out
}

// PolicyInForce returns the policy in force in a managed repository as the
// router last read it (nil if none), without reading Git.
func (r *Router) PolicyInForce(name forge.Repo) *policy.Policy {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.states[name].pol
}

// Degraded lists the repositories whose last policy read failed, with why.
func (r *Router) Degraded() map[forge.Repo]error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := map[forge.Repo]error{}
	for name, st := range r.states {
		if st.readErr != nil {
			out[name] = st.readErr
		}
	}
	return out
}

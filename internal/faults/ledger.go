package faults

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/vocab"
)

// failure is a canary failure the suite caused: ensign must revert it
// exactly once.
type failure struct {
	fleet *scenario.Fleet
	app   scenario.FleetApp
	tag   string
	// id is the failure's identity as ensign writes it in the revert's
	// Ensign-Failure trailer: cluster/namespace/name@transition time.
	id string
	at time.Time
	// byPR: the failing version came in by a pull request, on which
	// ensign must comment once.
	byPR bool
}

// promotion is a version a staging canary verified: ensign must open
// exactly one promotion pull request for it.
type promotion struct {
	fleet *scenario.Fleet
	app   scenario.FleetApp
	tag   string
}

// key names the promotion as promotedImages does: "app image".
func (p promotion) key() string {
	return p.app.Name + " " + scenario.Image + ":" + p.tag
}

// command is a comment command the suite posted: ensign must answer it
// exactly once.
type command struct {
	fleet *scenario.Fleet
	pr    int64
	id    int64
}

// ledger is what ensign must have done in one case.
type ledger struct {
	r          *rig
	mu         sync.Mutex
	failures   []failure
	promotions []promotion
	commands   []command
	// mark is how many failures earlier recoveries measured
	mark int
	// where each fleet's main is read from, opened on first use
	caches map[*scenario.Fleet]*gitops.Repo
}

func newLedger(r *rig) *ledger {
	return &ledger{r: r, caches: map[*scenario.Fleet]*gitops.Repo{}}
}

// failed records that an app's production canary failed on tag, reading
// the transition time Flagger (the suite) wrote.
func (l *ledger) failed(ctx context.Context, f *scenario.Fleet, a scenario.FleetApp, tag string, byPR bool) error {
	c, err := l.r.flagger.FlaggerV1beta1().Canaries(a.Production.Namespace).Get(ctx, a.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if c.Status.Phase != flaggerv1.CanaryPhaseFailed {
		return fmt.Errorf("canary %s/%s is %s, not Failed", a.Production.Namespace, a.Name, c.Status.Phase)
	}
	at := c.Status.LastTransitionTime.Time.UTC().Truncate(time.Second)
	id := a.Production.Cluster + "/" + a.Production.Namespace + "/" + a.Name + "@" + at.Format(time.RFC3339)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, failure{fleet: f, app: a, tag: tag, id: id, at: at, byPR: byPR})
	return nil
}

// verified records that an app's staging canary verified tag.
func (l *ledger) verified(f *scenario.Fleet, a scenario.FleetApp, tag string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.promotions = append(l.promotions, promotion{fleet: f, app: a, tag: tag})
}

// posted records a comment command.
func (l *ledger) posted(f *scenario.Fleet, pr, id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.commands = append(l.commands, command{fleet: f, pr: pr, id: id})
}

// latest keeps the last verified version of each app: ensign moves an
// app's open promotion pull request to a later verified version, so an
// earlier one has no pull request of its own once superseded.
func latest(ps []promotion) []promotion {
	var out []promotion
	for i, x := range ps {
		if !slices.ContainsFunc(ps[i+1:], func(y promotion) bool { return y.fleet == x.fleet && y.app.Name == x.app.Name }) {
			out = append(out, x)
		}
	}
	return out
}

// tally counts, for each kind of expected action, how many happened
// exactly once, not at all, and more than once.
type tally struct{ Once, Lost, Twice int }

// String renders the tally as "done exactly once/expected".
func (t tally) String() string {
	return fmt.Sprintf("%d/%d", t.Once, t.Once+t.Lost+t.Twice)
}

func (t *tally) add(n int) {
	switch {
	case n == 1:
		t.Once++
	case n == 0:
		t.Lost++
	default:
		t.Twice++
	}
}

// count is the state of Gitea against the ledger.
type count struct {
	Failures, Promotions, Commands tally
	// NotesWanted is how many rollback comments ensign must have written:
	// one per failure whose version came in by a pull request.
	NotesWanted int
}

// count reads Git and Gitea and counts what ensign did of what it must do.
func (l *ledger) count(ctx context.Context) (count, error) {
	l.mu.Lock()
	fs := append([]failure(nil), l.failures...)
	ps := latest(l.promotions)
	cs := append([]command(nil), l.commands...)
	l.mu.Unlock()
	var out count
	fc, err := l.r.forge()
	if err != nil {
		return out, err
	}
	for _, f := range l.r.fleets {
		reverts, err := l.reverts(ctx, f)
		if err != nil {
			return out, err
		}
		for _, x := range fs {
			if x.fleet == f {
				out.Failures.add(reverts[x.id])
				if x.byPR {
					out.NotesWanted++
				}
			}
		}
		var prs map[string]int
		for _, x := range ps {
			if x.fleet != f {
				continue
			}
			if prs == nil {
				if prs, err = promotionPRs(ctx, fc, f); err != nil {
					return out, err
				}
			}
			out.Promotions.add(prs[x.key()])
		}
	}
	replies := map[string]map[string]int{} // fleet org#pr -> marker -> count
	for _, x := range cs {
		key := fmt.Sprintf("%s#%d", x.fleet.Org, x.pr)
		if replies[key] == nil {
			if replies[key], err = botMarkers(ctx, fc, x.fleet, x.pr); err != nil {
				return out, err
			}
		}
		out.Commands.add(replies[key][vocab.ReplyMarker(x.id)])
	}
	return out, nil
}

// reverts counts ensign's reverts on a fleet's main by failure id.
func (l *ledger) reverts(ctx context.Context, f *scenario.Fleet) (map[string]int, error) {
	g := l.caches[f]
	if g == nil {
		var err error
		g, err = gitops.Open(ctx, gitops.Options{
			Dir: fmt.Sprintf("%s/%s/check-%s.git", l.r.dir, l.r.name, f.Org), URL: l.r.gitea.URL + f.Org + "/" + f.Repo + ".git",
			Token: f.Bot.Token, Timeout: 10 * time.Second,
		})
		if err != nil {
			return nil, err
		}
		l.caches[f] = g
	}
	if _, err := g.Fetch(ctx, gitops.FetchOptions{Branches: []string{"main"}}); err != nil {
		return nil, err
	}
	out := map[string]int{}
	err := g.Log(ctx, "main", gitops.LogOptions{}, func(c *gitops.CommitInfo) error {
		for _, id := range gitops.TrailerValues(c.Message, vocab.TrailerFailure) {
			out[id]++
		}
		return nil
	})
	return out, err
}

// pullWatch decides when the ledger lists a fleet's pull requests. An
// observer should not load what it measures, and listing pull requests
// costs Gitea more than a ref advertisement: Gitea loads each one's
// labels, poster and branches. (Listing them five times a second, as the
// ledger did, made no difference that stood out from the noise in the
// outage cases on this machine, 3 rounds each way.) So the ledger lists
// them while the refs under refs/pull/ (a pull request opened or its
// head moved) changed in the last pullsSettle, when ensign sets their
// titles and bodies, and otherwise every pullsEvery.
type pullWatch struct {
	refs            string
	changed, listed time.Time
}

const (
	pullsSettle = 3 * time.Second
	pullsEvery  = 2 * time.Second
)

// due reads the refs under refs/pull/ of fleet f's repository and reports
// whether its pull requests are to be listed now.
func (w *pullWatch) due(ctx context.Context, giteaURL string, f *scenario.Fleet) (bool, error) {
	refs, err := pullRefs(ctx, giteaURL+f.Org+"/"+f.Repo+".git", f)
	if err != nil {
		return false, err
	}
	now := time.Now()
	if refs != w.refs {
		w.refs, w.changed = refs, now
	}
	if now.Sub(w.changed) > pullsSettle && now.Sub(w.listed) < pullsEvery {
		return false, nil
	}
	w.listed = now
	return true, nil
}

// pullRefs lists the refs under refs/pull/ of the repository at url, as
// one string.
func pullRefs(ctx context.Context, url string, f *scenario.Fleet) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: &githttp.BasicAuth{Username: f.Bot.Name, Password: f.Bot.Token}})
	if err != nil {
		return "", fmt.Errorf("list the refs of %s: %w", url, err)
	}
	var out []string
	for _, r := range refs {
		if strings.HasPrefix(r.Name().String(), "refs/pull/") {
			out = append(out, r.String())
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n"), nil
}

// close releases the Git caches.
func (l *ledger) close() {
	for _, g := range l.caches {
		_ = g.Close()
	}
}

// recovery is how long after the end of a fault each part of Git was
// right.
type recovery struct {
	// Reverts has, for each failure fired since the previous recovery,
	// the time from the end of the fault until its revert was seen on main
	// (0 when it was there before).
	Reverts []time.Duration
	// Git is the time until every revert was on main and every promotion
	// pull request open; Commands until every command was answered.
	Git, Commands time.Duration
}

// waitRight polls Gitea until everything in the ledger (but the
// promotions, unless promotions) is done and
// returns how long after from each part was right. It reads only what it
// has not seen yet, so that its polling loads Gitea little.
func (l *ledger) waitRight(ctx context.Context, from time.Time, within time.Duration, promotions bool) (recovery, error) {
	var out recovery
	l.mu.Lock()
	fs := append([]failure(nil), l.failures...)
	var ps []promotion
	if promotions {
		ps = latest(l.promotions)
	}
	cs := append([]command(nil), l.commands...)
	measured := map[string]bool{}
	for _, x := range l.failures[l.mark:] {
		measured[x.id] = true
	}
	l.mark = len(l.failures)
	l.mu.Unlock()
	fc, err := l.r.forge()
	if err != nil {
		return out, err
	}
	tips := map[*scenario.Fleet]string{}
	pulls := map[*scenario.Fleet]*pullWatch{}
	deadline := time.Now().Add(within)
	gitDone, cmdDone := false, false
	var last error
	for {
		last = nil
		for _, f := range l.r.fleets {
			if !slices.ContainsFunc(fs, func(x failure) bool { return x.fleet == f }) {
				continue
			}
			tip, err := fc.BranchHead(ctx, f.ForgeRepo(), "main")
			if err != nil || tip == tips[f] {
				last = cmp.Or(err, last)
				continue
			}
			reverts, err := l.reverts(ctx, f)
			if err != nil {
				last = err
				continue
			}
			tips[f] = tip
			seen := max(time.Since(from), 0)
			fs = slices.DeleteFunc(fs, func(x failure) bool {
				done := x.fleet == f && reverts[x.id] > 0
				if done && measured[x.id] {
					out.Reverts = append(out.Reverts, seen)
				}
				return done
			})
		}
		for _, f := range l.r.fleets {
			if !slices.ContainsFunc(ps, func(x promotion) bool { return x.fleet == f }) {
				continue
			}
			w := pulls[f]
			if w == nil {
				w = &pullWatch{}
				pulls[f] = w
			}
			if list, err := w.due(ctx, l.r.gitea.URL, f); err != nil || !list {
				last = cmp.Or(err, last)
				continue
			}
			open, err := fc.ListOpenPullRequests(ctx, f.ForgeRepo(), "promotion")
			if err != nil {
				last = err
				continue
			}
			have := promotedImages(open, f)
			ps = slices.DeleteFunc(ps, func(x promotion) bool { return x.fleet == f && have[x.key()] > 0 })
		}
		replies := map[string]map[string]int{} // fleet org#pr -> marker -> count
		for _, x := range cs {
			key := fmt.Sprintf("%s#%d", x.fleet.Org, x.pr)
			if _, listed := replies[key]; listed {
				continue
			}
			m, err := botMarkers(ctx, fc, x.fleet, x.pr)
			if err != nil {
				last = err
				break
			}
			replies[key] = m
		}
		cs = slices.DeleteFunc(cs, func(x command) bool {
			return replies[fmt.Sprintf("%s#%d", x.fleet.Org, x.pr)][vocab.ReplyMarker(x.id)] > 0
		})
		now := max(time.Since(from), 0)
		if !gitDone && len(fs) == 0 && len(ps) == 0 {
			out.Git, gitDone = now, true
		}
		if !cmdDone && len(cs) == 0 {
			out.Commands, cmdDone = now, true
		}
		if gitDone && cmdDone {
			return out, nil
		}
		if time.Now().After(deadline) {
			err := fmt.Errorf("not right within %v: %d failures not reverted, %d versions not promoted, %d commands not answered",
				within, len(fs), len(ps), len(cs))
			if last != nil {
				err = fmt.Errorf("%w (last error: %w)", err, last)
			}
			return out, err
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

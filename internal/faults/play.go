package faults

import (
	"context"
	"fmt"
	"slices"
	"time"

	"code.gitea.io/sdk/gitea"
	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/vocab"
)

// This file plays CI, Flagger and people on a rig's fleets: bursts of
// canary results and comment commands, each written down in the ledger.

// burst is canary results prepared in Git and the cluster, waiting to be
// fired: verified versions on staging and failing ones in production.
type burst struct {
	f                  *scenario.Fleet
	promoting, failing []scenario.FleetApp
	tag                string
	// byPR names the failing apps whose version came in by a pull request.
	byPR []string
}

// apps returns the apps of fleet f a case may use: the promoting half but
// its first app (whose pull request takes the comment commands), and the
// failing half.
func apps(f *scenario.Fleet) (promoting, failing []scenario.FleetApp) {
	p, fl := f.LiveApps()
	return p[1:], fl
}

// prepare readies a burst on fleet f: CI releases a new version of each
// promoting app to staging (Flux applies it, Flagger promotes it to the
// primary) and a person pushes a new version of each failing app to
// production (Flux applies it to the target); each canary is Progressing.
func (r *rig) prepare(ctx context.Context, f *scenario.Fleet, promoting, failing []scenario.FleetApp) (*burst, error) {
	b := &burst{f: f, promoting: promoting, failing: failing, tag: r.nextTag()}
	for _, a := range promoting {
		if err := f.PrepareSuccess(ctx, a, b.tag); err != nil {
			return nil, err
		}
		if err := f.SetPhase(ctx, a, a.Staging, flaggerv1.CanaryPhaseProgressing); err != nil {
			return nil, err
		}
	}
	for i, a := range failing {
		// Every other failing version comes in by a merged pull request,
		// on which ensign comments; the others are pushed to main.
		if i%2 == 1 {
			if _, err := f.PrepareFailureByPR(ctx, a, b.tag); err != nil {
				return nil, err
			}
			b.byPR = append(b.byPR, a.Name)
		} else if err := f.PrepareFailure(ctx, a, b.tag); err != nil {
			return nil, err
		}
		if err := f.SetPhase(ctx, a, a.Production, flaggerv1.CanaryPhaseProgressing); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// prepareRound readies the two bursts of an outage round on fleet f: one
// promoting and two failing apps to fire before the fault, the rest to
// fire during or right after it.
func (r *rig) prepareRound(ctx context.Context, f *scenario.Fleet) (first, second *burst, err error) {
	promoting, failing := apps(f)
	if first, err = r.prepare(ctx, f, promoting[:1], failing[:2]); err != nil {
		return nil, nil, err
	}
	if second, err = r.prepare(ctx, f, promoting[1:], failing[2:]); err != nil {
		return nil, nil, err
	}
	return first, second, nil
}

// fire ends every analysis of the burst, failures first, and writes each
// result in the ledger. It needs only the API server.
func (r *rig) fire(ctx context.Context, b *burst) error {
	for _, a := range b.failing {
		if err := b.f.Fail(ctx, a); err != nil {
			return err
		}
		if err := r.book.failed(ctx, b.f, a, b.tag, slices.Contains(b.byPR, a.Name)); err != nil {
			return err
		}
	}
	for _, a := range b.promoting {
		if err := b.f.Succeed(ctx, a); err != nil {
			return err
		}
		r.book.verified(b.f, a, b.tag)
	}
	return nil
}

// play prepares and fires a burst.
func (r *rig) play(ctx context.Context, f *scenario.Fleet, promoting, failing []scenario.FleetApp) error {
	b, err := r.prepare(ctx, f, promoting, failing)
	if err != nil {
		return err
	}
	return r.fire(ctx, b)
}

// commandPR promotes the first promoting app of fleet f once and waits for
// its promotion pull request, the one comment commands go to; it returns
// its number.
func (r *rig) commandPR(ctx context.Context, f *scenario.Fleet) (int64, error) {
	p, _ := f.LiveApps()
	a := p[0]
	if err := r.play(ctx, f, []scenario.FleetApp{a}, nil); err != nil {
		return 0, err
	}
	fc, err := r.forge()
	if err != nil {
		return 0, err
	}
	var number int64
	err = scenario.Wait(ctx, time.Minute, "the promotion pull request of "+a.Name, func() (bool, error) {
		prs, err := fc.ListOpenPullRequests(ctx, f.ForgeRepo(), "promotion")
		for _, pr := range prs {
			if m, err := vocab.ParsePromotion(pr.Body); err == nil && m.App == a.Name {
				number = pr.Number
				return true, nil
			}
		}
		return false, err
	})
	return number, err
}

// command posts a comment command on pull request pr of fleet f as the
// developer, and writes it in the ledger.
func (r *rig) command(ctx context.Context, f *scenario.Fleet, pr int64, text string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	c, err := r.gitea.Client(ctx, f.Dev.Token)
	if err != nil {
		return err
	}
	cm, _, err := c.CreateIssueComment(f.Org, f.Repo, pr, gitea.CreateIssueCommentOption{Body: text})
	if err != nil {
		return fmt.Errorf("post %q on %s/%s#%d: %w", text, f.Org, f.Repo, pr, err)
	}
	r.book.posted(f, pr, cm.ID)
	return nil
}

// settleRight waits until the ledger is right (within a generous bound)
// and returns the times from `from`. With promotions false, it does not
// wait for the promotion pull requests.
func (r *rig) settleRight(ctx context.Context, from time.Time, promotions bool) (recovery, error) {
	rec, err := r.book.waitRight(ctx, from, 3*time.Minute, promotions)
	if err != nil {
		return rec, fmt.Errorf("%w\n%s", err, r.logTails(15))
	}
	return rec, nil
}

package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ensignbot/ensign/forge"
)

// protectBranches keeps, in every managed repository, a Gitea rule that
// lets only ensign's account push to the branches under
// ENSIGN_PROTECT_BRANCHES, so nobody can add commits to a promotion or
// revert branch behind ensign's back. It checks at start and again every
// resync period (a person may loosen the rule). A repository where Gitea
// refuses (the account is not an administrator) is reported and skipped
// until the next round; other errors are retried sooner. passed is called
// after each round (and at once when protection is off).
func (b *bot) protectBranches(ctx context.Context, passed func()) {
	defer passed()
	if b.cfg.ProtectBranches == "none" {
		b.log.Warn("ENSIGN_PROTECT_BRANCHES=none: protect ensign's branch prefix in Gitea yourself (see README, Security model)")
		return
	}
	rule := forge.BranchRule{Pattern: b.cfg.ProtectBranches + "**", Pushers: []string{b.login}}
	for {
		var wg sync.WaitGroup
		for _, repo := range b.order {
			wg.Go(func() { b.protectRepo(ctx, repo, rule) })
		}
		wg.Wait()
		passed()
		select {
		case <-ctx.Done():
			return
		case <-time.After(b.cfg.Resync):
		}
	}
}

// protectRepo ensures rule on one repository, retrying while Gitea fails
// with anything but a refusal.
func (b *bot) protectRepo(ctx context.Context, repo forge.Repo, rule forge.BranchRule) {
	log := b.log.With("repo", repo.String(), "rule", rule.Pattern)
	for delay := time.Second; ; delay = min(2*delay, time.Minute) {
		changed, err := b.forge.ProtectBranches(ctx, repo, rule)
		var refused *forge.StatusError
		switch {
		case err == nil:
			if changed {
				log.Info("protected ensign's branches: only ensign's account may push to them", "account", b.login)
			}
			return
		case errors.As(err, &refused) && refused.Code >= 400 && refused.Code < 500:
			log.Warn("cannot protect ensign's branches; give ensign's account admin on the repository or add the rule by hand (see README, Security model)", "err", err)
			return
		}
		log.Warn("protect ensign's branches; retrying", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

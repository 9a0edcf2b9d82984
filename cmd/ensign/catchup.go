package main

import (
	"context"
	"strings"
	"time"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/webhook"
)

// catchUpWindow is how far back ensign looks for comment commands whose
// delivery it missed.
const catchUpWindow = 24 * time.Hour

// catchUpRetry is how soon a catch-up that failed is tried again: a
// command whose handling failed while Gitea was unreachable is answered
// within this long of Gitea answering again.
const catchUpRetry = 3 * time.Second

// handleComment runs a delivered comment; when that fails (Gitea failed or
// was unreachable), the repository's comments are looked through again
// until that succeeds, since Gitea does not deliver the comment again.
func (d *daemon) handleComment(ctx context.Context, ev webhook.CommentEvent) error {
	err := d.disp.HandleComment(ctx, ev)
	if err != nil && ctx.Err() == nil {
		for _, repo := range d.bot.order {
			if strings.EqualFold(repo.Owner, ev.Owner) && strings.EqualFold(repo.Name, ev.Repo) {
				select {
				case d.catchUpNow <- repo:
				default: // a catch-up is already asked for
				}
			}
		}
	}
	return err
}

// catchUp answers missed comment commands when this replica starts to act
// (a fail-over or restart loses the deliveries in between; Gitea does not
// redeliver), again every resync period, and soon after a comment's
// handling failed. A catch-up that fails is retried every catchUpRetry
// until it succeeds. passed is called after each pass over the
// repositories.
func (d *daemon) catchUp(ctx context.Context, passed func()) {
	b := d.bot
	pending := map[forge.Repo]bool{}
	all := func() {
		for _, repo := range b.order {
			pending[repo] = true
		}
	}
	all()
	resync := time.NewTimer(b.cfg.Resync)
	defer resync.Stop()
	for {
		for _, repo := range b.order {
			if !pending[repo] {
				continue
			}
			n, err := d.disp.CatchUp(ctx, repo, time.Now().Add(-catchUpWindow))
			if err != nil {
				if ctx.Err() == nil {
					b.log.Warn("catch up on missed comment commands; will retry", "repo", repo.String(), "answered", n, "retry_in", catchUpRetry, "err", err)
				}
				continue
			}
			delete(pending, repo)
		}
		passed() // every repository tried once
		var retry <-chan time.Time
		if len(pending) > 0 {
			retry = time.After(catchUpRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-retry:
		case <-d.giteaBack:
		case repo := <-d.catchUpNow:
			pending[repo] = true
		case <-resync.C:
			all()
			resync.Reset(b.cfg.Resync)
		}
	}
}

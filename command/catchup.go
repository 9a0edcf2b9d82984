package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/internal/logctx"
	"github.com/ensignbot/ensign/vocab"
	"github.com/ensignbot/ensign/webhook"
)

// CatchUp answers the comment commands ensign missed in repo: deliveries
// that never arrived (ensign was down, failing over, or unreachable; Gitea
// does not redeliver on its own). On every open pull request, each comment
// written since since that holds a command and has no answer from ensign
// is handled as its delivery would have been, oldest first. It returns how
// many it handled. HandleComment's own checks make a comment that is being
// delivered at the same moment run once.
func (d *Dispatcher) CatchUp(ctx context.Context, repo forge.Repo, since time.Time) (int, error) {
	if !d.cfg.Repos.Manages(repo) {
		return 0, nil
	}
	log := logctx.From(ctx, d.log).With("repo", repo.String(), "catch_up_since", since)
	prs, err := d.cfg.Forge.ListOpenPullRequests(ctx, repo, "")
	if err != nil {
		return 0, fmt.Errorf("catch up on %s: %w", repo, err)
	}
	handled := 0
	var errs []error
	for _, pr := range prs {
		missed, err := d.missed(ctx, repo, pr.Number, since)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, cm := range missed {
			log.Info("answering a comment whose delivery was missed", "pr", pr.Number, "comment", cm.ID, "author", cm.Author)
			ev := webhook.CommentEvent{Delivery: "catch-up", Owner: repo.Owner, Repo: repo.Name, Number: pr.Number, CommentID: cm.ID, Author: cm.Author, Body: cm.Body}
			if err := d.HandleComment(ctx, ev); err != nil {
				errs = append(errs, err)
			}
			handled++
		}
	}
	return handled, errors.Join(errs...)
}

// missed returns the comments of pull request number written since since
// that hold a command, are not ensign's own and have no answer yet.
func (d *Dispatcher) missed(ctx context.Context, repo forge.Repo, number int64, since time.Time) ([]forge.Comment, error) {
	cs, err := d.cfg.Forge.ListComments(ctx, repo, number)
	if err != nil {
		return nil, fmt.Errorf("catch up on %s#%d: %w", repo, number, err)
	}
	answered := map[string]bool{}
	for _, c := range cs {
		if strings.EqualFold(c.Author, d.cfg.Bot) {
			marker, _, _ := strings.Cut(c.Body, "\n")
			answered[strings.TrimSpace(marker)] = true
		}
	}
	var out []forge.Comment
	for _, c := range cs {
		if c.Created.Before(since) || strings.EqualFold(c.Author, d.cfg.Bot) || answered[vocab.ReplyMarker(c.ID)] || len(Parse(c.Body)) == 0 {
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b forge.Comment) int { return int(a.ID - b.ID) })
	return out, nil
}

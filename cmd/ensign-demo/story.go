package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/vocab"
)

// The story's versions and window.
const (
	startTag   = "6.5.0"
	releaseTag = "6.5.1"
	windowName = "demo-window"
	windowLen  = time.Hour
)

// Bounds on each wait; the window wait is computed from when it opens.
const (
	buildTimeout    = 10 * time.Minute
	serversTimeout  = 2 * time.Minute
	readyTimeout    = time.Minute
	reactionTimeout = time.Minute      // ensign reacting to a canary or a window
	replyTimeout    = 30 * time.Second // ensign answering a comment, follow-ups
	mergeSlack      = time.Minute      // after the window opens
)

func (d *demo) release(ctx context.Context) error {
	sha, err := d.env.ReleaseToStaging(ctx, releaseTag)
	if err != nil {
		return err
	}
	d.n.say("%s pushed %s \"Release podinfo %s to staging\" to main.", d.env.CI.Name, short(sha), releaseTag)
	if _, err := d.env.FluxApply(ctx, d.env.Staging); err != nil {
		return err
	}
	img, err := d.env.Image(ctx, d.env.Staging, "podinfo")
	if err != nil {
		return err
	}
	d.n.say("Flux applied main@%s: deployment %s/podinfo runs %s.", short(sha), d.env.Staging.Namespace, img)
	d.n.look("commit", d.env.RepoURL()+"/commit/"+sha)
	return nil
}

func (d *demo) stagingSucceeds(ctx context.Context) error {
	if err := d.env.Analyse(ctx, d.env.Staging, true); err != nil {
		return err
	}
	img, err := d.env.Image(ctx, d.env.Staging, "podinfo-primary")
	if err != nil {
		return err
	}
	d.n.say("Canary %s/podinfo: Progressing -> Succeeded; the primary now runs %s.", d.env.Staging.Namespace, img)
	d.n.say("ensign watches canaries: a Succeeded staging canary means this exact version may go to production.")
	return nil
}

func (d *demo) queued(ctx context.Context) error {
	d.n.waiting(reactionTimeout, "ensign to open a promotion pull request labelled queued")
	err := d.waitFor(ctx, reactionTimeout, "a queued promotion pull request", func(ctx context.Context) (bool, error) {
		prs, err := d.env.PromotionPRs(ctx)
		if err != nil || len(prs) == 0 {
			return false, err
		}
		if len(prs) > 1 {
			return false, fmt.Errorf("%d promotion pull requests, want one", len(prs))
		}
		d.pr = prs[0]
		if d.pr.HasMerged {
			return false, giveUp{fmt.Errorf("#%d was merged before the demo saw it queued: the window (%s) opened too early; use a longer --window-lead", d.pr.Index, d.windowOpens.Format(time.RFC3339))}
		}
		return hasLabel(d.pr.Labels, "queued"), nil
	})
	if err != nil {
		return err
	}
	d.n.say("#%d %q by %s, labels %s.", d.pr.Index, d.pr.Title, d.pr.Poster.UserName, labelNames(d.pr.Labels))
	d.n.look("pull request", d.pr.HTMLURL)
	var line string
	err = d.waitFor(ctx, replyTimeout, "ensign's status comment saying when the window opens", func(ctx context.Context) (bool, error) {
		body, err := d.env.BotComment(ctx, d.pr.Index, "ensign:section:")
		line = lineWith(body, "Queued")
		return strings.Contains(line, d.windowOpens.Format(time.RFC3339)), err
	})
	if err != nil {
		return fmt.Errorf("%w (the comment says %q; the window opens %s)", err, line, d.windowOpens.Format(time.RFC3339))
	}
	d.n.say("ensign's status comment on #%d:", d.pr.Index)
	d.n.quote(line, 3)
	return d.expectPinned(ctx, d.env.Production, startTag, "production is still untouched")
}

func (d *demo) askStatus(ctx context.Context) error {
	id, err := d.env.Say(ctx, d.env.Dev, d.pr.Index, "/status")
	if err != nil {
		return err
	}
	d.n.say("%s commented \"/status\" on #%d. ensign checks the commenter's Gitea permission, then answers.", d.env.Dev.Name, d.pr.Index)
	d.n.waiting(replyTimeout, "ensign's answer")
	var reply string
	err = d.waitFor(ctx, replyTimeout, "ensign's answer to /status", func(ctx context.Context) (bool, error) {
		reply, err = d.env.BotComment(ctx, d.pr.Index, vocab.ReplyMarker(id))
		return reply != "", err
	})
	if err != nil {
		return err
	}
	if !strings.Contains(reply, "production") {
		return fmt.Errorf("ensign's answer to /status does not mention production:\n%s", reply)
	}
	d.n.quote(withoutMarkers(reply), 30)
	d.n.say("Other commands: /promote, /promote now, /rollback [sha], /hold, /unhold, /help.")
	return nil
}

func (d *demo) windowOpensAndMerges(ctx context.Context) error {
	timeout := time.Until(d.windowOpens) + mergeSlack
	d.n.waiting(timeout, "the window to open at %s UTC and ensign's scheduler to merge #%d (real clock)", d.windowOpens.Format("15:04:05"), d.pr.Index)
	next := time.Now()
	err := d.waitFor(ctx, timeout, fmt.Sprintf("the merge of #%d after the window opened", d.pr.Index), func(ctx context.Context) (bool, error) {
		if left := time.Until(d.windowOpens); left > 0 && time.Now().After(next) {
			d.n.say("... %s to go", left.Round(time.Second))
			next = time.Now().Add(15 * time.Second)
		}
		pr, err := d.env.PullRequest(ctx, d.pr.Index)
		if err != nil {
			return false, err
		}
		d.pr = pr
		return pr.HasMerged && !hasLabel(pr.Labels, "queued"), nil
	})
	if err != nil {
		return err
	}
	if d.pr.Merged != nil && d.pr.Merged.Before(d.windowOpens.Add(-time.Second)) {
		return fmt.Errorf("#%d was merged at %s, before the window opened at %s", d.pr.Index, d.pr.Merged.UTC().Format(time.RFC3339), d.windowOpens.Format(time.RFC3339))
	}
	d.mergeSHA = *d.pr.MergedCommitID
	by := "?"
	if d.pr.MergedBy != nil {
		by = d.pr.MergedBy.UserName
	}
	d.n.say("#%d merged at %s by %s: merge commit %s.", d.pr.Index, d.pr.Merged.UTC().Format("15:04:05"), by, short(d.mergeSHA))
	return d.expectPinned(ctx, d.env.Production, releaseTag, "the production overlay")
}

func (d *demo) productionFails(ctx context.Context) error {
	if _, err := d.env.FluxApply(ctx, d.env.Production); err != nil {
		return err
	}
	img, err := d.env.Image(ctx, d.env.Production, "podinfo")
	if err != nil {
		return err
	}
	d.n.say("Flux applied main@%s: deployment %s/podinfo runs %s.", short(d.mergeSHA), d.env.Production.Namespace, img)
	if err := d.env.Analyse(ctx, d.env.Production, false); err != nil {
		return err
	}
	warnings, err := d.env.CanaryEventsFrom(ctx, d.env.Production, "flagger")
	if err != nil {
		return err
	}
	primary, err := d.env.Image(ctx, d.env.Production, "podinfo-primary")
	if err != nil {
		return err
	}
	d.n.say("Canary %s/podinfo: Progressing -> Failed. Flagger's event:", d.env.Production.Namespace)
	for _, ev := range warnings {
		d.n.quote(fmt.Sprintf("%s %s: %s", ev.Type, ev.Reason, ev.Message), 1)
	}
	d.n.say("Flagger sent traffic back to the primary (%s). Git still says %s: ensign makes Git tell the truth again.", primary, releaseTag)
	return nil
}

func (d *demo) reverted(ctx context.Context) error {
	d.n.waiting(reactionTimeout, "ensign's revert of %s on main", short(d.mergeSHA))
	var msg string
	err := d.waitFor(ctx, reactionTimeout, "the revert commit on main", func(ctx context.Context) (bool, error) {
		c, err := d.env.HeadCommit(ctx)
		if err != nil {
			return false, err
		}
		d.revertSHA, msg = c.SHA, c.RepoCommit.Message
		return strings.Contains(msg, "This reverts commit "+d.mergeSHA), nil
	})
	if err != nil {
		return err
	}
	d.n.say("main is now %s:", short(d.revertSHA))
	d.n.quote(msg, 12)
	d.n.look("commit", d.env.RepoURL()+"/commit/"+d.revertSHA)
	return d.expectPinned(ctx, d.env.Production, startTag, "the production overlay")
}

func (d *demo) followUps(ctx context.Context) error {
	var comment string
	err := d.waitFor(ctx, replyTimeout, fmt.Sprintf("ensign's rollback comment on #%d", d.pr.Index), func(ctx context.Context) (bool, error) {
		var err error
		comment, err = d.env.BotComment(ctx, d.pr.Index, "<!-- ensign:rollback:"+d.mergeSHA+" -->")
		return comment != "", err
	})
	if err != nil {
		return err
	}
	d.n.say("Comment on #%d:", d.pr.Index)
	d.n.quote(withoutMarkers(comment), 12)
	if err := d.showReconcile(ctx); err != nil {
		return err
	}
	return d.showRollbackEvent(ctx)
}

func (d *demo) showReconcile(ctx context.Context) error {
	objs := [][2]string{{"GitRepository", "gitops"}, {"Kustomization", "podinfo-production"}}
	values := make([]string, len(objs))
	err := d.waitFor(ctx, replyTimeout, "the Flux reconcile requests", func(ctx context.Context) (bool, error) {
		for i, o := range objs {
			v, err := d.env.Annotation(ctx, o[0], o[1], fluxRequestedAt)
			if err != nil || v == "" {
				return false, err
			}
			values[i] = v
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	d.n.say("Flux is asked to reconcile now instead of at its 10m interval, source first:")
	for i, o := range objs {
		d.n.quote(fmt.Sprintf("%s %s/%s: %s=%s", o[0], d.env.FluxNamespace, o[1], fluxRequestedAt, values[i]), 1)
	}
	return nil
}

func (d *demo) showRollbackEvent(ctx context.Context) error {
	var line string
	err := d.waitFor(ctx, replyTimeout, "ensign's Rollback event on the production canary", func(ctx context.Context) (bool, error) {
		evs, err := d.env.CanaryEvents(ctx, d.env.Production)
		for _, ev := range evs {
			if ev.Reason == "Rollback" {
				line = fmt.Sprintf("%s %s: %s", ev.Type, ev.Reason, ev.Message)
				return true, nil
			}
		}
		return false, err
	})
	if err != nil {
		return err
	}
	d.n.say("Event on canary %s/podinfo (kubectl get events -n %s):", d.env.Production.Namespace, d.env.Production.Namespace)
	d.n.quote(line, 3)
	return nil
}

func (d *demo) summary(context.Context) error {
	g, e := d.gitea, d.env
	d.n.look("Gitea", g.URL)
	d.n.look("admin login", g.AdminUser+" / "+g.AdminPassword)
	d.n.look("dev login", e.Dev.Name+" / "+e.Dev.Password+"  (write access: may comment commands)")
	d.n.look("repository", e.RepoURL())
	d.n.look("promotion PR", fmt.Sprintf("#%d %s", d.pr.Index, d.pr.HTMLURL))
	d.n.look("merge, revert", short(d.mergeSHA)+", "+short(d.revertSHA)+"  "+e.RepoURL()+"/commits/branch/main")
	d.n.look("cluster", "KUBECONFIG="+d.kube.Kubeconfig+"  (namespaces "+e.Staging.Namespace+", "+e.Production.Namespace+", "+e.FluxNamespace+")")
	d.n.look("ensign's log", d.ensign.Log)
	if !d.opts.keep {
		d.n.say("All of it is removed when the demo exits.")
	}
	return nil
}

// expectPinned checks the version a stage's overlay pins at main's tip.
func (d *demo) expectPinned(ctx context.Context, s scenario.Stage, tag, what string) error {
	got, err := d.env.PinnedTag(ctx, s)
	if err != nil {
		return err
	}
	if got != tag {
		return fmt.Errorf("%s pins %s, want %s", s.Overlay, got, tag)
	}
	d.n.say("%s: %s/kustomization.yaml pins %s.", what, s.Overlay, got)
	return nil
}

func short(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}

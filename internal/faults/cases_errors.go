package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ensignbot/ensign/internal/ensignproc"
)

// The cases where Gitea answers errors for a while.

// pushDuring503 makes Gitea answer ensign 503 for o.Errors; a person's
// push to main (whose webhook makes ensign re-read the policy) and a
// canary failure happen during it, another failure right after it. Both
// must be reverted promptly: a read error is not an invalid policy.
func pushDuring503(ctx context.Context, s *servers, o Options, row *Row) error {
	row.Fault = fmt.Sprintf("Gitea answers ensign 503 for %v; a push webhook and two failures during it, two right after", o.Errors)
	r, p, err := s.openRig(ctx, "push-503", 1)
	if err != nil {
		return err
	}
	defer r.close()
	fl := r.fleets[0]
	pr, err := r.commandPR(ctx, fl)
	if err != nil {
		return err
	}
	if err := repeat(ctx, r, o, row, func() error { return errorsFault(ctx, r, o, row, p, pr) }); err != nil {
		return err
	}
	row.Notes = append(row.Notes, "/readyz after: "+readyz(p))
	return nil
}

// errorsFault plays one round of push-during-503.
func errorsFault(ctx context.Context, r *rig, o Options, row *Row, p *ensignproc.Proc, pr int64) error {
	fl := r.fleets[0]
	promoting, failing := apps(fl)
	during, err := r.prepare(ctx, fl, nil, failing[:2])
	if err != nil {
		return err
	}
	after, err := r.prepare(ctx, fl, promoting[:1], failing[2:])
	if err != nil {
		return err
	}
	r.say("Gitea answers 503")
	r.proxy.SetMode(Unavailable)
	start := time.Now()
	defer r.proxy.SetMode(Forward)
	// A person's push: Gitea delivers its webhook to ensign, which reads
	// the policy again (and cannot).
	if _, err := fl.Commit(ctx, fl.Dev, "Notes", map[string]string{"notes.md": "during the 503s, " + time.Now().String() + "\n"}); err != nil {
		return err
	}
	if err := r.command(ctx, fl, pr, "/status"); err != nil {
		return err
	}
	sleep(ctx, time.Second)
	if err := r.fire(ctx, during); err != nil {
		return err
	}
	sleep(ctx, o.Errors/2-time.Since(start))
	row.Notes = append(row.Notes, "/readyz during the 503s: "+readyz(p))
	sleep(ctx, o.Errors-time.Since(start))
	r.proxy.SetMode(Forward)
	end := time.Now()
	if err := r.fire(ctx, after); err != nil {
		return err
	}
	return recovered(ctx, r, row, end)
}

// invalidPolicy runs ensign on two repositories. A person merges an
// invalid policy into the first; then Gitea answers 503 for o.Errors/2
// while a canary of each repository fails. The healthy repository's
// rollback must go through at once, and the invalid one's too, under its
// last valid policy.
func invalidPolicy(ctx context.Context, s *servers, o Options, row *Row) error {
	row.Fault = fmt.Sprintf("invalid policy in repository A; Gitea answers 503 for %v while a canary of A and one of B fail", o.Errors/2)
	r, _, err := s.openRig(ctx, "invalid-policy", 2)
	if err != nil {
		return err
	}
	defer r.close()
	bad, good := r.fleets[0], r.fleets[1]
	pr, err := r.commandPR(ctx, good)
	if err != nil {
		return err
	}
	_, badFailing := apps(bad)
	goodPromoting, goodFailing := apps(good)
	badBurst, err := r.prepare(ctx, bad, nil, badFailing[:1])
	if err != nil {
		return err
	}
	goodBurst, err := r.prepare(ctx, good, goodPromoting[:1], goodFailing[:2])
	if err != nil {
		return err
	}
	if _, err := bad.Commit(ctx, bad.Dev, "Policy: a typo", map[string]string{".ensign.yaml": "apiVersion: ensign.dev/v1alpha1\napps:\n  - name: Not A Valid Name\n"}); err != nil {
		return err
	}
	sleep(ctx, 2*time.Second) // the push webhook makes ensign read it
	r.say("Gitea answers 503")
	r.proxy.SetMode(Unavailable)
	start := time.Now()
	defer r.proxy.SetMode(Forward)
	if err := r.fire(ctx, badBurst); err != nil {
		return err
	}
	if err := r.fire(ctx, goodBurst); err != nil {
		return err
	}
	if err := r.command(ctx, good, pr, "/status"); err != nil {
		return err
	}
	sleep(ctx, o.Errors/2-time.Since(start))
	r.proxy.SetMode(Forward)
	end := time.Now()
	if err := recovered(ctx, r, row, end); err != nil {
		return err
	}
	return finish(ctx, r, row)
}

// readyz returns ensign's /readyz answer: status code and first line.
func readyz(p *ensignproc.Proc) string {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + p.Addr + "/readyz")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
	return fmt.Sprintf("%d %s", resp.StatusCode, firstLine(strings.TrimSpace(string(body))))
}

package faults

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"code.gitea.io/sdk/gitea"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/vocab"
)

// promotionPRs counts ensign's promotion pull requests of a fleet, open
// or closed, by "app image" (one entry per verified image).
func promotionPRs(ctx context.Context, fc *forge.Client, f *scenario.Fleet) (map[string]int, error) {
	open, err := fc.ListOpenPullRequests(ctx, f.ForgeRepo(), "promotion")
	if err != nil {
		return nil, err
	}
	closed, err := fc.ListClosedPullRequests(ctx, f.ForgeRepo(), "promotion", 10000)
	if err != nil {
		return nil, err
	}
	return promotedImages(append(open, closed...), f), nil
}

// promotedImages counts the promotion pull requests among prs that
// ensign opened on fleet f, by "app image" (one entry per image).
func promotedImages(prs []forge.PullRequest, f *scenario.Fleet) map[string]int {
	out := map[string]int{}
	for _, pr := range prs {
		if !strings.EqualFold(pr.Author, f.Bot.Name) {
			continue
		}
		if m, err := vocab.ParsePromotion(pr.Body); err == nil {
			for _, img := range m.Images {
				out[m.App+" "+img]++
			}
		}
	}
	return out
}

// botMarkers counts the first lines (ensign's markers) of ensign's
// comments on issue or pull request number of fleet f.
func botMarkers(ctx context.Context, fc *forge.Client, f *scenario.Fleet, number int64) (map[string]int, error) {
	comments, err := fc.ListComments(ctx, f.ForgeRepo(), number)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, c := range comments {
		if strings.EqualFold(c.Author, f.Bot.Name) {
			out[strings.TrimSpace(firstLine(c.Body))]++
		}
	}
	return out, nil
}

// audit is what the suite finds wrong beyond the ledger's counts.
type audit struct {
	// Duplicates are comments ensign wrote twice (one marker, one issue or
	// pull request) and issues it opened twice (one rollback marker).
	Duplicates []string
	// OddEvents are failures whose Rollback events on the canary are not
	// exactly one "reverted" event.
	OddEvents []string
	// RollbackNotes counts ensign's rollback issues and comments.
	RollbackNotes int
}

// audit lists every issue and pull request of every fleet and the events
// of every failure, and reports what ensign wrote twice or recorded wrong.
func (l *ledger) audit(ctx context.Context) (audit, error) {
	var out audit
	fc, err := l.r.forge()
	if err != nil {
		return out, err
	}
	for _, f := range l.r.fleets {
		issueMarkers := map[string]int{}
		for page := 1; ; page++ {
			issues, err := l.r.issues(ctx, f, page)
			if err != nil {
				return out, err
			}
			for _, is := range issues {
				if is.Poster != nil && strings.EqualFold(is.Poster.UserName, f.Bot.Name) && is.PullRequest == nil {
					first := strings.TrimSpace(firstLine(is.Body))
					issueMarkers[first]++
					if strings.HasPrefix(first, rollbackPrefix) {
						out.RollbackNotes++
					}
				}
				if is.Comments == 0 {
					continue
				}
				markers, err := botMarkers(ctx, fc, f, is.Index)
				if err != nil {
					return out, err
				}
				for m, n := range markers {
					if strings.HasPrefix(m, rollbackPrefix) {
						out.RollbackNotes += n
					}
					if n > 1 && strings.HasPrefix(m, "<!-- ensign:") {
						out.Duplicates = append(out.Duplicates, fmt.Sprintf("%s/%s#%d: %d comments %s", f.Org, f.Repo, is.Index, n, m))
					}
				}
			}
			if len(issues) < 50 {
				break
			}
		}
		for m, n := range issueMarkers {
			if n > 1 && strings.HasPrefix(m, "<!-- ensign:") {
				out.Duplicates = append(out.Duplicates, fmt.Sprintf("%s/%s: %d issues %s", f.Org, f.Repo, n, m))
			}
		}
	}
	l.mu.Lock()
	fs := append([]failure(nil), l.failures...)
	l.mu.Unlock()
	for _, x := range fs {
		evs, err := l.r.kc.CoreV1().Events(x.app.Production.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return out, err
		}
		// ensign keys a failure's events by canary and failing images
		// (rollback.failure.eventKey).
		h := sha256.Sum256([]byte(x.app.Production.Cluster + "/" + x.app.Production.Namespace + "/" + x.app.Name + "\x00" + scenario.Image + ":" + x.tag))
		prefix := x.app.Name + ".ensign-rollback-" + hex.EncodeToString(h[:6]) + "-"
		var actions []string
		for _, ev := range evs.Items {
			if a, ok := strings.CutPrefix(ev.Name, prefix); ok {
				actions = append(actions, a)
			}
		}
		if len(actions) != 1 || actions[0] != "reverted" {
			out.OddEvents = append(out.OddEvents, fmt.Sprintf("%s: %v", x.id, actions))
		}
	}
	return out, nil
}

// callTimeout bounds each of the suite's own calls to Gitea's SDK and the
// API server, which have no timeout of their own.
const callTimeout = 30 * time.Second

// issues lists page (of 50) of fleet f's issues and pull requests, open and
// closed, as ensign's account.
func (r *rig) issues(ctx context.Context, f *scenario.Fleet, page int) ([]*gitea.Issue, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	c, err := r.gitea.Client(ctx, f.Bot.Token)
	if err != nil {
		return nil, err
	}
	issues, _, err := c.ListRepoIssues(f.Org, f.Repo, gitea.ListIssueOption{
		ListOptions: gitea.ListOptions{Page: page, PageSize: 50}, State: gitea.StateAll,
	})
	if err != nil {
		return nil, fmt.Errorf("list issues of %s/%s: %w", f.Org, f.Repo, err)
	}
	return issues, nil
}

// rollbackPrefix starts every rollback marker (vocab.RollbackMarker).
var rollbackPrefix = strings.TrimSuffix(vocab.RollbackMarker(""), " -->")

// settle waits a little after Git was right, so a late duplicate shows
// in the final count.
const settle = 3 * time.Second

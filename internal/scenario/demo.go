package scenario

import (
	"context"
	"fmt"
	"strings"
	"time"

	"code.gitea.io/sdk/gitea"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ensignbot/ensign/harness"
)

// readTimeout bounds each Gitea call made by the readers below.
const readTimeout = 15 * time.Second

// DailyWindow returns a policy windows list (for Options.Windows) with one
// allow window called name that opens every day at start's hour and minute
// in UTC and lasts d. Seconds in start are ignored: cron has minutes.
func DailyWindow(name string, start time.Time, d time.Duration) string {
	start = start.UTC()
	return fmt.Sprintf(`  - name: %s
    type: allow
    schedule: "%d %d * * *"
    duration: %s
    timezone: UTC
    description: Daily at %s UTC for %s
`, name, start.Minute(), start.Hour(), ShortDuration(d), start.Format("15:04"), ShortDuration(d))
}

// ShortDuration formats d like time.Duration.String without trailing zero
// units: 1h, 1h30m, 1m30s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// NextMinuteAfter returns the first full minute at or after t.
func NextMinuteAfter(t time.Time) time.Time {
	m := t.Truncate(time.Minute)
	if m.Before(t) {
		m = m.Add(time.Minute)
	}
	return m
}

// RepoURL returns the web address of the sample repository.
func (e *Env) RepoURL() string { return e.Gitea.URL + e.Org + "/" + e.Repo }

// client returns a Gitea client acting as user, bound to a per-call timeout.
func (e *Env) giteaAs(ctx context.Context, user harness.GiteaUser) (*gitea.Client, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	c, err := e.Gitea.Client(ctx, user.Token)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return c, cancel, nil
}

// PromotionPRs lists ensign's promotion pull requests in any state, newest
// first: those opened by the Bot user whose body carries the promotion marker.
func (e *Env) PromotionPRs(ctx context.Context) ([]*gitea.PullRequest, error) {
	c, cancel, err := e.giteaAs(ctx, e.Dev)
	if err != nil {
		return nil, err
	}
	defer cancel()
	prs, _, err := c.ListRepoPullRequests(e.Org, e.Repo, gitea.ListPullRequestsOptions{State: gitea.StateAll})
	if err != nil {
		return nil, fmt.Errorf("list pull requests of %s/%s: %w", e.Org, e.Repo, err)
	}
	var out []*gitea.PullRequest
	for _, pr := range prs {
		if pr.Poster != nil && pr.Poster.UserName == e.Bot.Name && strings.Contains(pr.Body, "<!-- ensign:promotion ") {
			out = append(out, pr)
		}
	}
	return out, nil
}

// PullRequest reads one pull request.
func (e *Env) PullRequest(ctx context.Context, number int64) (*gitea.PullRequest, error) {
	c, cancel, err := e.giteaAs(ctx, e.Dev)
	if err != nil {
		return nil, err
	}
	defer cancel()
	pr, _, err := c.GetPullRequest(e.Org, e.Repo, number)
	if err != nil {
		return nil, fmt.Errorf("read pull request #%d: %w", number, err)
	}
	return pr, nil
}

// BotComment returns the body of the Bot user's first comment on pull
// request number that contains marker, or "" if there is none yet.
func (e *Env) BotComment(ctx context.Context, number int64, marker string) (string, error) {
	c, cancel, err := e.giteaAs(ctx, e.Dev)
	if err != nil {
		return "", err
	}
	defer cancel()
	cs, _, err := c.ListIssueComments(e.Org, e.Repo, number, gitea.ListIssueCommentOptions{})
	if err != nil {
		return "", fmt.Errorf("list comments of #%d: %w", number, err)
	}
	for _, cm := range cs {
		if cm.Poster != nil && cm.Poster.UserName == e.Bot.Name && strings.Contains(cm.Body, marker) {
			return cm.Body, nil
		}
	}
	return "", nil
}

// Say posts body as a comment of user on pull request number, as a person
// would in the web UI, and returns the comment's id.
func (e *Env) Say(ctx context.Context, user harness.GiteaUser, number int64, body string) (int64, error) {
	c, cancel, err := e.giteaAs(ctx, user)
	if err != nil {
		return 0, err
	}
	defer cancel()
	cm, _, err := c.CreateIssueComment(e.Org, e.Repo, number, gitea.CreateIssueCommentOption{Body: body})
	if err != nil {
		return 0, fmt.Errorf("comment on #%d: %w", number, err)
	}
	return cm.ID, nil
}

// HeadCommit returns the commit at the tip of main with its full message.
func (e *Env) HeadCommit(ctx context.Context) (*gitea.Commit, error) {
	c, cancel, err := e.giteaAs(ctx, e.Dev)
	if err != nil {
		return nil, err
	}
	defer cancel()
	cs, _, err := c.ListRepoCommits(e.Org, e.Repo, gitea.ListCommitOptions{SHA: "main", ListOptions: gitea.ListOptions{PageSize: 1}})
	if err != nil {
		return nil, fmt.Errorf("read the tip of main: %w", err)
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("read the tip of main: no commits")
	}
	return cs[0], nil
}

// CanaryEventsFrom returns the events that component ("flagger", "ensign")
// recorded on a stage's canary, oldest first.
func (e *Env) CanaryEventsFrom(ctx context.Context, s Stage, component string) ([]corev1.Event, error) {
	list, err := e.kube.CoreV1().Events(s.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list events in %s: %w", s.Namespace, err)
	}
	var out []corev1.Event
	for _, ev := range list.Items {
		if ev.Source.Component == component && ev.InvolvedObject.Kind == "Canary" && ev.InvolvedObject.Name == "podinfo" {
			out = append(out, ev)
		}
	}
	return out, nil
}

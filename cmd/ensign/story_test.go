package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/metrics"
	"github.com/ensignbot/ensign/schedule"
)

const testSecret = "story-webhook-secret-0123456789"

// storyRig runs ensign in-process against the harness servers with a manual
// clock, and gives the test the scenario's actors.
type storyRig struct {
	t     *testing.T
	env   *scenario.Env
	clock *schedule.ManualClock
	cfg   *config
	stop  func()
	// metricsURL is the running ensign's /metrics.
	metricsURL string
}

func newStoryRig(t *testing.T, start time.Time, opts scenario.Options) *storyRig {
	t.Helper()
	g, k := harness.Gitea(t), harness.Kube(t)
	ctx := context.Background()
	if opts.Prefix == "" {
		opts.Prefix = harness.UniqueName("s") + "-"
	}
	env, err := scenario.Setup(ctx, g, k, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &storyRig{t: t, env: env, clock: schedule.NewManualClock(start)}
	r.cfg = testConfig(t, map[string]string{
		"ENSIGN_GITEA_URL": strings.TrimSuffix(g.URL, "/"), "ENSIGN_GITEA_TOKEN": env.Bot.Token,
		"ENSIGN_REPOS":       env.Org + "/" + env.Repo,
		"ENSIGN_KUBECONFIGS": "staging=" + k.Kubeconfig + ",production=" + k.Kubeconfig,
		"ENSIGN_LISTEN_ADDR": "127.0.0.1:0", "ENSIGN_LOG_LEVEL": "debug", "ENSIGN_WORKERS": "2",
	})
	r.start()
	t.Cleanup(func() { r.stop() })
	return r
}

// start runs a fresh ensign (new Git cache, new process state) and waits
// until its canary caches have synced.
func (r *storyRig) start() {
	t := r.t
	t.Helper()
	r.cfg.DataDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := newBot(ctx, r.cfg, log, r.clock.Now, metrics.New(metrics.Build{Version: "story", Commit: "story", GoVersion: "go"}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.metricsURL = "http://" + ln.Addr().String() + metrics.Path
	_, _, err = b.forge.EnsureWebhook(ctx, forge.Repo{Owner: r.env.Org, Name: r.env.Repo}, forge.Webhook{
		URL: "http://" + ln.Addr().String() + "/webhooks/gitea", Secret: testSecret,
		Events: []string{"pull_request_comment", "push"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	d := &daemon{bot: b, listener: ln, clock: r.clock, onReady: func() { close(ready) }}
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("ensign stopped before it was ready: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("ensign did not become ready")
	}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ensign run: %v", err)
		}
		b.close()
	}
}

// testWriter sends ensign's logs to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (r *storyRig) api() *gitea.Client {
	c, err := r.env.Gitea.Client(context.Background(), r.env.Dev.Token)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *storyRig) waitFor(what string, d time.Duration, cond func() (bool, error)) {
	r.t.Helper()
	if err := scenario.Wait(context.Background(), d, what, cond); err != nil {
		r.t.Fatal(err)
	}
}

// promotionPRs lists ensign's promotion pull requests (any state).
func (r *storyRig) promotionPRs() []*gitea.PullRequest {
	prs, _, err := r.api().ListRepoPullRequests(r.env.Org, r.env.Repo, gitea.ListPullRequestsOptions{State: gitea.StateAll})
	if err != nil {
		r.t.Fatal(err)
	}
	var out []*gitea.PullRequest
	for _, pr := range prs {
		if pr.Poster != nil && pr.Poster.UserName == r.env.Bot.Name && strings.Contains(pr.Body, "ensign:promotion") {
			out = append(out, pr)
		}
	}
	return out
}

func labelNames(pr *gitea.PullRequest) []string {
	var out []string
	for _, l := range pr.Labels {
		out = append(out, l.Name)
	}
	return out
}

func hasLabel(pr *gitea.PullRequest, name string) bool {
	for _, l := range pr.Labels {
		if l.Name == name {
			return true
		}
	}
	return false
}

func (r *storyRig) comments(number int64) []*gitea.Comment {
	cs, _, err := r.api().ListIssueComments(r.env.Org, r.env.Repo, number, gitea.ListIssueCommentOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	return cs
}

func (r *storyRig) commits(n int) []*gitea.Commit {
	cs, _, err := r.api().ListRepoCommits(r.env.Org, r.env.Repo, gitea.ListCommitOptions{SHA: "main", ListOptions: gitea.ListOptions{PageSize: n}})
	if err != nil {
		r.t.Fatal(err)
	}
	return cs
}

// TestStory runs ensign's main job end to end against a real Gitea and a real
// API server: staging Succeeded, promotion PR, window closed, queued, window
// opens, merged, production Failed, revert on main, comment on the PR, Flux
// asked to reconcile; then a restart that must not repeat anything, and the
// reverted version kept out of production until a person asks.
func TestStory(t *testing.T) {
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	saturday := time.Date(2026, 11, 28, 12, 0, 0, 0, ams)
	monday9 := time.Date(2026, 11, 30, 9, 0, 0, 0, ams)
	r := newStoryRig(t, saturday, scenario.Options{})
	env, ctx := r.env, context.Background()

	// CI releases 6.5.1 to staging; Flux applies it; Flagger verifies it.
	if _, err := env.ReleaseToStaging(ctx, "6.5.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.FluxApply(ctx, env.Staging); err != nil {
		t.Fatal(err)
	}
	stagingRev, _ := env.Tip(ctx)
	if err := env.Analyse(ctx, env.Staging, true); err != nil {
		t.Fatal(err)
	}

	// A promotion PR opens, queued: the window is closed on Saturday.
	var pr *gitea.PullRequest
	r.waitFor("a queued promotion pull request", 60*time.Second, func() (bool, error) {
		prs := r.promotionPRs()
		if len(prs) == 1 && hasLabel(prs[0], "queued") {
			pr = prs[0]
			return true, nil
		}
		return false, nil
	})
	if !hasLabel(pr, "promotion") || pr.State != gitea.StateOpen || pr.HasMerged {
		t.Fatalf("promotion PR #%d: labels %v state %s merged %v", pr.Index, labelNames(pr), pr.State, pr.HasMerged)
	}
	for _, want := range []string{"Promote podinfo from staging to production", "6.5.0", scenario.Image + ":6.5.1", stagingRev, "<!-- ensign:promotion "} {
		if !strings.Contains(pr.Body, want) {
			t.Fatalf("promotion PR body lacks %q:\n%s", want, pr.Body)
		}
	}
	r.waitFor("the status comment to say queued until Monday 09:00", 30*time.Second, func() (bool, error) {
		status := r.statusComment(pr.Index)
		return strings.Contains(status, "Queued") && strings.Contains(status, monday9.Format(time.RFC3339)), nil
	})
	if tag, _ := env.PinnedTag(ctx, env.Production); tag != "6.5.0" {
		t.Fatalf("production pins %s before the window opened; want 6.5.0", tag)
	}

	// Monday 09:00 Amsterdam: the window opens and the scheduler merges.
	r.clock.Set(monday9)
	r.waitFor("the queued promotion to merge", 60*time.Second, func() (bool, error) {
		p, _, err := r.api().GetPullRequest(env.Org, env.Repo, pr.Index)
		if err == nil && p.HasMerged {
			pr = p
		}
		return err == nil && p.HasMerged && !hasLabel(p, "queued"), err
	})
	if tag, _ := env.PinnedTag(ctx, env.Production); tag != "6.5.1" {
		t.Fatalf("production pins %s after the merge; want 6.5.1", tag)
	}
	mergeSHA := *pr.MergedCommitID

	// Flux applies production; Flagger's analysis fails and rolls traffic back.
	if _, err := env.FluxApply(ctx, env.Production); err != nil {
		t.Fatal(err)
	}
	if err := env.Analyse(ctx, env.Production, false); err != nil {
		t.Fatal(err)
	}

	// ensign reverts the merge on main.
	var revert *gitea.Commit
	r.waitFor("the revert on main", 60*time.Second, func() (bool, error) {
		cs := r.commits(1)
		if len(cs) == 1 && strings.Contains(cs[0].RepoCommit.Message, "This reverts commit "+mergeSHA) {
			revert = cs[0]
			return true, nil
		}
		if len(cs) == 1 {
			return false, fmt.Errorf("head is %s: %q", cs[0].SHA, cs[0].RepoCommit.Message)
		}
		return false, nil
	})
	msg := revert.RepoCommit.Message
	for _, want := range []string{`Revert "`, "Ensign-Reverts: " + mergeSHA, "Ensign-Rollback: podinfo/production", "Ensign-Failure: production/" + env.Production.Namespace + "/podinfo@", "Ensign-Image: " + scenario.Image + ":6.5.1"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("revert message lacks %q:\n%s", want, msg)
		}
	}
	if tag, _ := env.PinnedTag(ctx, env.Production); tag != "6.5.0" {
		t.Fatalf("production pins %s after the revert; want 6.5.0", tag)
	}
	// The PR that introduced it is told what failed.
	r.waitFor("the rollback comment on the promotion PR", 30*time.Second, func() (bool, error) {
		return r.rollbackComments(pr.Index, mergeSHA) == 1, nil
	})
	c := r.rollbackComment(pr.Index, mergeSHA)
	for _, want := range []string{"Failed", "success rate 61.20%", revert.SHA, scenario.Image + ":6.5.1"} {
		if !strings.Contains(c, want) {
			t.Fatalf("rollback comment lacks %q:\n%s", want, c)
		}
	}
	// Flux is asked to reconcile now, source first.
	for _, obj := range [][2]string{{"Kustomization", "podinfo-production"}, {"GitRepository", "gitops"}} {
		if v, err := env.Annotation(ctx, obj[0], obj[1], flux.RequestedAtAnnotation); err != nil || v == "" {
			t.Fatalf("%s %s has no %s annotation (err %v)", obj[0], obj[1], flux.RequestedAtAnnotation, err)
		}
	}
	if v, _ := env.Annotation(ctx, "Kustomization", "podinfo-staging", flux.RequestedAtAnnotation); v != "" {
		t.Fatalf("the staging Kustomization was asked to reconcile too: %s", v)
	}
	r.waitFor("a Rollback event on the production canary", 30*time.Second, func() (bool, error) {
		return r.countEvents(env.Production, "Rollback", "reverted") == 1, nil
	})

	// Restart: a new ensign with an empty cache sees both canaries in their
	// final phases again. It must not revert again nor comment again, and
	// must not promote the reverted 6.5.1 into production on its own.
	r.stop()
	headBefore := r.commits(1)[0].SHA
	r.start()
	var again *gitea.PullRequest
	r.waitFor("the re-promotion of the reverted version, left for a person", 60*time.Second, func() (bool, error) {
		for _, p := range r.promotionPRs() {
			if p.Index != pr.Index && p.State == gitea.StateOpen && strings.Contains(r.statusComment(p.Index), "rolled back") {
				again = p
				return true, nil
			}
		}
		return false, nil
	})
	r.waitFor("the restarted ensign to look at the failed canary", 30*time.Second, func() (bool, error) {
		return r.countEvents(env.Production, "Rollback", "reverted") == 1, nil
	})
	if head := r.commits(1)[0].SHA; head != headBefore {
		t.Fatalf("main moved after the restart (%s -> %s); nothing should have been written", headBefore, head)
	}
	if n := r.rollbackComments(pr.Index, mergeSHA); n != 1 {
		t.Fatalf("%d rollback comments on #%d after the restart, want 1", n, pr.Index)
	}
	if hasLabel(again, "queued") || again.HasMerged {
		t.Fatalf("re-promotion #%d of a reverted version is queued or merged: %v", again.Index, labelNames(again))
	}

	// A person asks for it: /promote merges (the window is open on Monday).
	if _, _, err := r.personClient(env.Dev).CreateIssueComment(env.Org, env.Repo, again.Index, gitea.CreateIssueCommentOption{Body: "Fixed the probe; trying again.\n/promote"}); err != nil {
		t.Fatal(err)
	}
	r.waitFor("the person's /promote to merge", 60*time.Second, func() (bool, error) {
		p, _, err := r.api().GetPullRequest(env.Org, env.Repo, again.Index)
		return err == nil && p.HasMerged, err
	})
	if tag, _ := env.PinnedTag(ctx, env.Production); tag != "6.5.1" {
		t.Fatalf("production pins %s after /promote; want 6.5.1", tag)
	}
	head := r.commits(1)[0].RepoCommit.Message
	if !strings.Contains(head, "Ensign-Requested-By: "+env.Dev.Name) {
		t.Fatalf("the merge commit does not record who asked:\n%s", head)
	}

	// The restarted ensign's /metrics moved as the story did: it looked at
	// the failed production canary (finishing the rollback), answered the
	// /promote, and is ready. The answer is written after the merge, so the
	// counters may trail it a moment.
	wants := []string{
		`ensign_actions_total{kind="rollback",outcome="done"}`,
		`ensign_action_duration_seconds_count{kind="rollback"}`,
		`ensign_commands_total{command="promote",result="done"}`,
		`ensign_webhook_deliveries_total{event="issue_comment",result="accepted"}`,
		`ensign_git_operations_total{operation="fetch",result="ok"}`,
		`ensign_gitea_requests_total{code="200"`,
		`ensign_rollback_latency_seconds_count{mode="push"}`,
		"ensign_ready 1", "ensign_leader 1", "ensign_build_info{",
	}
	window := `ensign_window_open{app="podinfo",repo="` + env.Org + "/" + env.Repo + `",stage="production"}`
	var scraped string
	missing := func() []string {
		scraped = r.scrapeMetrics()
		var out []string
		for _, want := range wants {
			if !metricAtLeastOne(scraped, want) {
				out = append(out, want+" >= 1")
			}
		}
		if !strings.Contains(scraped, window) {
			out = append(out, window)
		}
		return out
	}
	if err := scenario.Wait(ctx, 15*time.Second, "the metrics", func() (bool, error) { return len(missing()) == 0, nil }); err != nil {
		t.Errorf("/metrics lacks %v after the story:\n%s", missing(), scraped)
	}
}

// scrapeMetrics reads the running ensign's /metrics.
func (r *storyRig) scrapeMetrics() string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.metricsURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("scrape %s: %v", r.metricsURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		r.t.Fatalf("scrape %s: %d %v", r.metricsURL, resp.StatusCode, err)
	}
	return string(body)
}

// metricAtLeastOne says whether a line of the scrape starts with series and
// carries a value of at least 1.
func metricAtLeastOne(scrape, series string) bool {
	for _, line := range strings.Split(scrape, "\n") {
		if !strings.HasPrefix(line, series) {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil && v >= 1 {
			return true
		}
	}
	return false
}

func (r *storyRig) personClient(u harness.GiteaUser) *gitea.Client {
	c, err := r.env.Gitea.Client(context.Background(), u.Token)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// statusComment returns the bot's status comment on a pull request.
func (r *storyRig) statusComment(number int64) string {
	for _, c := range r.comments(number) {
		if c.Poster != nil && c.Poster.UserName == r.env.Bot.Name && strings.Contains(c.Body, "ensign:section:") {
			return c.Body
		}
	}
	return ""
}

func (r *storyRig) rollbackComment(number int64, sha string) string {
	for _, c := range r.comments(number) {
		if strings.Contains(c.Body, "<!-- ensign:rollback:"+sha+" -->") {
			return c.Body
		}
	}
	return ""
}

func (r *storyRig) rollbackComments(number int64, sha string) int {
	n := 0
	for _, c := range r.comments(number) {
		if strings.Contains(c.Body, "<!-- ensign:rollback:"+sha+" -->") {
			n++
		}
	}
	return n
}

func (r *storyRig) countEvents(s scenario.Stage, reason, prefix string) int {
	evs, err := r.env.CanaryEvents(context.Background(), s)
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Reason == reason && strings.HasPrefix(e.Message, prefix) {
			n++
		}
	}
	return n
}

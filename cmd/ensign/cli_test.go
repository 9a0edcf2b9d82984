package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/promote"
	"github.com/ensignbot/ensign/rollback"
	"github.com/ensignbot/ensign/status"
)

// leapDayWindow is an allow window that is closed whenever these tests run
// (it opens for one hour on 29 February), so the CLI's real clock does not
// matter.
const leapDayWindow = `  - name: leap-day
    type: allow
    schedule: "0 0 29 2 *"
    duration: 1h
    timezone: UTC
`

// cli runs an ensign command the way a pipeline does: configuration from
// the environment, output on stdout, an exit code.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestPipelineCommands(t *testing.T) {
	g, k := harness.Gitea(t), harness.Kube(t)
	ctx := context.Background()
	env, err := scenario.Setup(ctx, g, k, scenario.Options{
		Prefix: harness.UniqueName("cli") + "-", Windows: leapDayWindow, ProductionWindows: []string{"leap-day"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ENSIGN_GITEA_URL", strings.TrimSuffix(g.URL, "/"))
	t.Setenv("ENSIGN_GITEA_TOKEN", env.Bot.Token)
	t.Setenv("ENSIGN_REPOS", env.Org+"/"+env.Repo)
	t.Setenv("ENSIGN_KUBECONFIGS", env.Kubeconfigs())
	t.Setenv("ENSIGN_DATA_DIR", t.TempDir())
	t.Setenv("ENSIGN_LOG_LEVEL", "warn")
	t.Setenv("USER", "release-pipeline")

	// Nothing verified yet: the staging canary is only Initialized.
	code, _, stderr := cli(t, "promote", "--app", "podinfo", "--to", "production")
	if code != exitBlocked || !strings.Contains(stderr, "not Succeeded") {
		t.Fatalf("promote before verification: exit %d, %s; want 3 and 'not Succeeded'", code, stderr)
	}
	if code, _, _ := cli(t, "promote", "--app", "nope", "--to", "production"); code != exitUsage {
		t.Fatalf("promote of an unknown app: exit %d, want 2", code)
	}
	if code, _, _ := cli(t, "promote", "--app", "podinfo"); code != exitUsage {
		t.Fatalf("promote without --to: exit %d, want 2", code)
	}

	if _, err := env.ReleaseToStaging(ctx, "6.5.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.FluxApply(ctx, env.Staging); err != nil {
		t.Fatal(err)
	}
	if err := env.Analyse(ctx, env.Staging, true); err != nil {
		t.Fatal(err)
	}

	// The window is closed: queued is success without --wait...
	code, stdout, stderr := cli(t, "promote", "--app", "podinfo", "--to", "production", "-o", "json")
	var out promote.Outcome
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("promote -o json printed %q (%s): %v", stdout, stderr, err)
	}
	if code != exitOK || out.Action != "queued" || out.PR == 0 || out.Until.IsZero() {
		t.Fatalf("promote in a closed window: exit %d, %+v; want 0, queued with the next opening", code, out)
	}
	// ...and not landed with --wait.
	code, stdout, _ = cli(t, "promote", "--app", "podinfo", "--to", "production", "--wait", "--timeout", "3s")
	if code != exitBlocked || !strings.Contains(stdout, "queued") {
		t.Fatalf("promote --wait in a closed window: exit %d, %q; want 3", code, stdout)
	}
	// --now merges the same PR.
	code, stdout, _ = cli(t, "promote", "--app", "podinfo", "--to", "production", "--now", "-o", "json")
	out = promote.Outcome{}
	_ = json.Unmarshal([]byte(stdout), &out)
	if code != exitOK || out.Action != "merged" {
		t.Fatalf("promote --now: exit %d, %s", code, stdout)
	}
	if tag, _ := env.PinnedTag(ctx, env.Production); tag != "6.5.1" {
		t.Fatalf("production pins %s after promote --now", tag)
	}
	// Promoting again is a no-op.
	code, stdout, _ = cli(t, "promote", "--app", "podinfo", "--to", "production", "-o", "json")
	if code != exitOK || !strings.Contains(stdout, `"already-promoted"`) {
		t.Fatalf("second promote: exit %d, %s", code, stdout)
	}

	// status shows it.
	code, stdout, _ = cli(t, "status", "-o", "json")
	var rep status.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != exitOK {
		t.Fatalf("status -o json: exit %d, %q: %v", code, stdout, err)
	}
	if len(rep.Apps) != 1 || len(rep.Apps[0].Stages) != 2 {
		t.Fatalf("status: %+v", rep)
	}
	prod := rep.Apps[0].Stages[1]
	if prod.Name != "production" || prod.WindowOpen || prod.NextOpen.IsZero() || len(prod.Pinned) != 1 || !strings.HasSuffix(prod.Pinned[0], ":6.5.1") {
		t.Fatalf("status of production: %+v", prod)
	}
	if staging := rep.Apps[0].Stages[0]; staging.Phase != "Succeeded" || len(staging.Running) != 1 || !strings.HasSuffix(staging.Running[0], ":6.5.1") {
		t.Fatalf("status of staging: %+v", staging)
	}

	// A pipeline rolls production back: the newest change is the promotion.
	code, stdout, stderr = cli(t, "rollback", "--app", "podinfo", "--stage", "production", "-o", "json")
	var rb rollback.Outcome
	if err := json.Unmarshal([]byte(stdout), &rb); err != nil {
		t.Fatalf("rollback -o json printed %q (%s): %v", stdout, stderr, err)
	}
	if code != exitOK || rb.Action != "reverted" || rb.Commit == "" {
		t.Fatalf("rollback: exit %d, %+v", code, rb)
	}
	if tag, _ := env.PinnedTag(ctx, env.Production); tag != "6.5.0" {
		t.Fatalf("production pins %s after rollback", tag)
	}
	head, err := env.Tip(ctx)
	if err != nil || head != rb.Commit {
		t.Fatalf("main is at %s, want the revert %s", head, rb.Commit)
	}
	// Again: already reverted, nothing written.
	code, stdout, _ = cli(t, "rollback", "--app", "podinfo", "--stage", "production", "--commit", rb.Reverted[:10], "-o", "json")
	if code != exitOK || !strings.Contains(stdout, `"already-reverted"`) {
		t.Fatalf("second rollback: exit %d, %s", code, stdout)
	}
	if again, _ := env.Tip(ctx); again != head {
		t.Fatalf("a second rollback moved main")
	}
	if code, _, _ := cli(t, "rollback", "--app", "podinfo", "--stage", "production", "--commit", "zzz"); code != exitUsage {
		t.Fatalf("rollback of a bad sha: exit %d, want 2", code)
	}
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	t.Setenv("ENSIGN_GITEA_URL", "gitea.example.com")
	t.Setenv("ENSIGN_GITEA_TOKEN", "secret-token-value")
	t.Setenv("ENSIGN_REPOS", "acme/gitops")
	code, _, stderr := cli(t, "run")
	if code != exitUsage || !strings.Contains(stderr, "ENSIGN_GITEA_URL") || strings.Contains(stderr, "secret-token-value") {
		t.Fatalf("run with a bad URL: exit %d, %q", code, stderr)
	}
	t.Setenv("ENSIGN_GITEA_URL", "https://gitea.example.com")
	code, _, stderr = cli(t, "run")
	if code != exitUsage || !strings.Contains(stderr, "ENSIGN_WEBHOOK_SECRET") {
		t.Fatalf("run without a webhook secret: exit %d, %q", code, stderr)
	}
}

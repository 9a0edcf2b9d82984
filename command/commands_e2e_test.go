package command_test

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/forge/forgetest"
	"github.com/ensignbot/ensign/vocab"
	"github.com/ensignbot/ensign/webhook"
)

func TestHoldAndUnholdByWriter(t *testing.T) {
	e := forgetest.New(t)
	r := newRig(t, e, true)
	alice := e.User(t, "alice", "write")
	pr := e.OpenPR(t, "ensign/promote", "apps/podinfo.yaml", "image: podinfo:6.5.1\n")

	hold := e.Comment(t, alice, pr.Number, "Latency looks odd.\n\n/hold flaky canary in eu-west")
	r.waitHandled(t, hold, 1)
	if got := e.Labels(t, pr.Number); !slices.Equal(got, []string{"hold"}) {
		t.Fatalf("labels %v, want [hold]", got)
	}
	mustContain(t, "answer to /hold", reply(t, e, pr.Number, hold), "@"+alice.Name, "/hold flaky canary in eu-west", "now on hold")
	st := statusComments(t, e, pr.Number)
	if len(st) != 1 {
		t.Fatalf("%d status comments, want 1", len(st))
	}
	mustContain(t, "status comment", vocab.Section(strings.TrimPrefix(st[0].Body, vocab.StatusMarker+"\n"), "hold"),
		"On hold", "@"+alice.Name, "flaky canary in eu-west")

	unhold := e.Comment(t, alice, pr.Number, "/unhold")
	r.waitHandled(t, unhold, 1)
	if got := e.Labels(t, pr.Number); len(got) != 0 {
		t.Fatalf("labels after /unhold %v", got)
	}
	mustContain(t, "answer to /unhold", reply(t, e, pr.Number, unhold), "hold is lifted")
	st = statusComments(t, e, pr.Number)
	if len(st) != 1 || vocab.Section(st[0].Body, "hold") != "" {
		t.Fatalf("status comments after /unhold: %v", bodiesOf(st))
	}

	// Gitea also delivered the bot's own comments; none reached the
	// dispatcher.
	botComments := e.Comments(t, pr.Number, e.Bot.Name)
	forgetest.Eventually(t, 10*time.Second, func() (bool, string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		n := 0
		for _, d := range r.deliveries {
			if ev, ok, _ := webhook.DecodeComment("", d.body); ok && ev.Author == e.Bot.Name {
				n++
			}
		}
		return n >= len(botComments), "not all bot comments were delivered yet"
	})
	for _, c := range botComments {
		if n := r.timesHandled(c.ID); n != 0 {
			t.Fatalf("the bot's own comment %d was handled %d times", c.ID, n)
		}
	}
}

func bodiesOf(cs []*gitea.Comment) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Body)
	}
	return out
}

func TestHoldRefusedForReader(t *testing.T) {
	e := forgetest.New(t)
	r := newRig(t, e, true)
	rita := e.User(t, "rita", "read")
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")

	id := e.Comment(t, rita, pr.Number, "/hold")
	r.waitHandled(t, id, 1)
	mustContain(t, "answer", reply(t, e, pr.Number, id), "@"+rita.Name, "needs write permission on "+e.Repo.String(), "Nothing was done")
	if got := e.Labels(t, pr.Number); len(got) != 0 {
		t.Fatalf("labels %v after a refused /hold", got)
	}
	if st := statusComments(t, e, pr.Number); len(st) != 0 {
		t.Fatalf("status comment written for a refused command: %v", bodiesOf(st))
	}
}

func TestForgedSignatureRejected(t *testing.T) {
	e := forgetest.New(t)
	r := newRig(t, e, false) // no Gitea hook: this test delivers by hand
	alice := e.User(t, "alice", "write")
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")
	id := e.Comment(t, alice, pr.Number, "/hold")

	body := commentPayload(t, e, pr.Number, id, alice.Name, "/hold")
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("X-Gitea-Event", "issue_comment")
	header.Set("X-Gitea-Event-Type", "pull_request_comment")
	header.Set("X-Gitea-Delivery", "forged-1")
	for name, sig := range map[string]string{
		"wrong secret": webhook.Sign([]byte("guessed"), body),
		"missing":      "",
		"garbage":      "not-hex",
	} {
		h := header.Clone()
		if sig != "" {
			h.Set("X-Gitea-Signature", sig)
		}
		if code, msg := post(t, r.srv.URL, h, body); code != http.StatusUnauthorized {
			t.Fatalf("%s signature: %d %s, want 401", name, code, msg)
		}
	}
	// The very same request correctly signed does act, so the 401s above
	// are what stopped it.
	time.Sleep(500 * time.Millisecond)
	if n := r.timesHandled(id); n != 0 || len(e.Labels(t, pr.Number)) != 0 || len(e.Comments(t, pr.Number, e.Bot.Name)) != 0 {
		t.Fatalf("forged deliveries had effects: handled %d, labels %v", n, e.Labels(t, pr.Number))
	}
	header.Set("X-Gitea-Signature", webhook.Sign([]byte(hookSecret), body))
	if code, msg := post(t, r.srv.URL, header, body); code != http.StatusAccepted {
		t.Fatalf("signed: %d %s", code, msg)
	}
	r.waitHandled(t, id, 1)
	if got := e.Labels(t, pr.Number); !slices.Equal(got, []string{"hold"}) {
		t.Fatalf("labels %v after the signed delivery, want [hold]", got)
	}
}

// commentPayload builds an issue_comment payload for an existing comment
// from one captured from Gitea.
func commentPayload(t *testing.T, e *forgetest.Env, number, id int64, author, body string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../webhook/testdata/pull_request_comment.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	obj := func(v any) map[string]any { return v.(map[string]any) }
	obj(obj(m["repository"])["owner"])["login"] = e.Repo.Owner
	obj(m["repository"])["name"] = e.Repo.Name
	obj(m["issue"])["number"] = number
	c := obj(m["comment"])
	c["id"], c["body"] = id, body
	obj(c["user"])["login"] = author
	obj(m["sender"])["login"] = author
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ev, ok, err := webhook.DecodeComment("", out)
	if err != nil || !ok || ev.CommentID != id || ev.Number != number || ev.Owner != e.Repo.Owner || ev.Body != body {
		t.Fatalf("forged payload decodes to %+v, %v, %v", ev, ok, err)
	}
	return out
}

func TestSameDeliveryTwiceActsOnce(t *testing.T) {
	e := forgetest.New(t)
	r := newRig(t, e, true)
	alice := e.User(t, "alice", "write")
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")

	hold := e.Comment(t, alice, pr.Number, "/hold")
	r.waitHandled(t, hold, 1)
	d := r.delivery(t, hold)
	if code, msg := post(t, r.srv.URL, d.header, d.body); code != http.StatusAccepted || !strings.Contains(msg, "duplicate") {
		t.Fatalf("replay: %d %q, want 202 duplicate", code, msg)
	}

	// The hold is lifted; then ensign "restarts" (a new receiver and
	// dispatcher, with no memory of deliveries) and the old /hold delivery
	// arrives again. It must not put the hold back, nor answer twice.
	unhold := e.Comment(t, alice, pr.Number, "/unhold")
	r.waitHandled(t, unhold, 1)
	before := len(e.Comments(t, pr.Number, e.Bot.Name))
	restarted := newRig(t, e, false)
	if code, msg := post(t, restarted.srv.URL, d.header, d.body); code != http.StatusAccepted || msg != "accepted" {
		t.Fatalf("replay after restart: %d %q, want 202 accepted", code, msg)
	}
	restarted.waitHandled(t, hold, 1)
	if n := r.timesHandled(hold); n != 1 {
		t.Fatalf("first receiver handled the /hold %d times, want 1", n)
	}
	if got := e.Labels(t, pr.Number); len(got) != 0 {
		t.Fatalf("labels %v: the replayed /hold acted again", got)
	}
	if after := len(e.Comments(t, pr.Number, e.Bot.Name)); after != before {
		t.Fatalf("bot comments went from %d to %d on replay", before, after)
	}
}

func TestQuotedAndCodeCommandsDoNothing(t *testing.T) {
	e := forgetest.New(t)
	r := newRig(t, e, true)
	alice := e.User(t, "alice", "write")
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")

	for _, body := range []string{
		"> /hold\n\nQuoting bob: no need to hold.",
		"Run this to stop it:\n\n```\n/hold\n```",
		"Near misses: `/hold`\n/holdx\n/ hold",
	} {
		id := e.Comment(t, alice, pr.Number, body)
		r.waitHandled(t, id, 1)
	}
	if got := e.Labels(t, pr.Number); len(got) != 0 {
		t.Fatalf("labels %v", got)
	}
	if cs := e.Comments(t, pr.Number, e.Bot.Name); len(cs) != 0 {
		t.Fatalf("bot answered: %v", bodiesOf(cs))
	}
}

func TestBotCommentUpdatedInPlace(t *testing.T) {
	e := forgetest.New(t)
	r := newRig(t, e, true)
	alice := e.User(t, "alice", "write")
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")

	first := e.Comment(t, alice, pr.Number, "/hold waiting for QA")
	r.waitHandled(t, first, 1)
	st := statusComments(t, e, pr.Number)
	if len(st) != 1 {
		t.Fatalf("%d status comments, want 1", len(st))
	}
	statusID := st[0].ID

	second := e.Comment(t, alice, pr.Number, "/hold waiting for the SRE review")
	r.waitHandled(t, second, 1)
	st = statusComments(t, e, pr.Number)
	if len(st) != 1 || st[0].ID != statusID {
		t.Fatalf("status comments %d (first id %d), want the one comment %d updated", len(st), st[0].ID, statusID)
	}
	hold := vocab.Section(st[0].Body, "hold")
	mustContain(t, "status", hold, "waiting for the SRE review")
	if strings.Contains(hold, "waiting for QA") {
		t.Fatalf("old reason still shown: %s", hold)
	}
	mustContain(t, "second answer", reply(t, e, pr.Number, second), "already on hold")
	if n := len(e.Comments(t, pr.Number, e.Bot.Name)); n != 3 {
		t.Fatalf("%d bot comments, want 3 (status + one answer per command comment)", n)
	}
	if got := e.Labels(t, pr.Number); !slices.Equal(got, []string{"hold"}) {
		t.Fatalf("labels %v", got)
	}
}

func TestSeveralCommandsAnsweredInOrder(t *testing.T) {
	e := forgetest.New(t)
	r := newRig(t, e, true)
	alice := e.User(t, "alice", "write")
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")

	id := e.Comment(t, alice, pr.Number, "/hold a\n/promote now\n/promote\n/rollback\n/status\n/hodl\n/promote later")
	r.waitHandled(t, id, 1)
	answer := reply(t, e, pr.Number, id)
	t.Logf("answer:\n%s", answer)
	want := []string{
		"/hold a", "now on hold",
		"/promote now", "needs admin permission",
		"/promote", "services are not running",
		"/rollback", "services are not running",
		"/status", "services are not running",
		"/hodl", "has no command", "| Who may use it |",
		"/promote later", "Usage: /promote",
	}
	at := 0
	for _, w := range want {
		i := strings.Index(answer[at:], w)
		if i < 0 {
			t.Fatalf("answer lacks %q after position %d:\n%s", w, at, answer)
		}
		at += i + len(w)
	}
	if got := e.Labels(t, pr.Number); !slices.Equal(got, []string{"hold"}) {
		t.Fatalf("labels %v", got)
	}
}

func TestPolicyTeamsAndInvalidPolicy(t *testing.T) {
	e := forgetest.New(t)
	r := newRig(t, e, true)
	rita := e.User(t, "rita", "read")
	will := e.User(t, "will", "write")
	ctx := forgetest.Ctx(t)
	if err := e.G.CreateTeam(ctx, e.Org, "release", "read", rita.Name); err != nil {
		t.Fatal(err)
	}
	e.AddOwner(t, e.Bot.Name)
	e.CommitFile(t, "main", ".ensign.yaml", onePolicyApp+`commands:
  hold: {teams: [`+e.Org+`/release]}
labels: {hold: on-hold}
`)
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")

	refused := e.Comment(t, will, pr.Number, "/hold")
	r.waitHandled(t, refused, 1)
	mustContain(t, "answer to writer", reply(t, e, pr.Number, refused), "needs membership in team "+e.Org+"/release")
	if got := e.Labels(t, pr.Number); len(got) != 0 {
		t.Fatalf("labels %v after refused /hold", got)
	}

	allowed := e.Comment(t, rita, pr.Number, "/hold")
	r.waitHandled(t, allowed, 1)
	if got := e.Labels(t, pr.Number); !slices.Equal(got, []string{"on-hold"}) {
		t.Fatalf("labels %v, want the policy's hold label", got)
	}

	// A policy that does not load stops everything, and says why.
	e.CommitFile(t, "main", ".ensign.yaml", "apiVersion: ensign.dev/v1alpha1\ncommands:\n  unhold: {level: boss}\n")
	bad := e.Comment(t, rita, pr.Number, "/unhold")
	if err := r.waitHandledErr(t, bad, 1); err == nil || !strings.Contains(err.Error(), "invalid policy") {
		t.Fatalf("handler error %v, want the policy error reported", err)
	}
	mustContain(t, "answer under a broken policy", reply(t, e, pr.Number, bad), "policy is invalid", ".ensign.yaml", "boss", "Nothing was done")
	if got := e.Labels(t, pr.Number); !slices.Equal(got, []string{"on-hold"}) {
		t.Fatalf("labels %v changed under a broken policy", got)
	}
}

// onePolicyApp is the smallest valid policy head: one app with one stage;
// tests append the commands they need.
const onePolicyApp = `apiVersion: ensign.dev/v1alpha1
apps:
  - name: podinfo
    stages:
      - name: staging
        overlay: apps/podinfo/staging
        canary: {namespace: podinfo}
`

// Comments whose delivery never arrived (no webhook here at all) are
// answered by CatchUp, each once, oldest first; comments that are not
// commands, older than the look-back, or already answered are left alone.
func TestCatchUpAnswersMissedCommandsOnce(t *testing.T) {
	e := forgetest.New(t)
	r := newRig(t, e, false)
	alice := e.User(t, "alice", "write")
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")
	old := e.Comment(t, alice, pr.Number, "/hold too old")
	time.Sleep(1100 * time.Millisecond) // Gitea keeps whole seconds
	since := time.Now().Truncate(time.Second)
	first := e.Comment(t, alice, pr.Number, "/hold missed while ensign was down")
	_ = e.Comment(t, alice, pr.Number, "just a remark")
	second := e.Comment(t, alice, pr.Number, "/unhold")
	ctx := forgetest.Ctx(t)
	n, err := r.disp.CatchUp(ctx, e.Repo, since)
	if err != nil || n != 2 {
		t.Fatalf("CatchUp = %d, %v; want the 2 missed commands", n, err)
	}
	mustContain(t, "first answer", reply(t, e, pr.Number, first), "now on hold")
	mustContain(t, "second answer", reply(t, e, pr.Number, second), "hold is lifted")
	if got := reply(t, e, pr.Number, old); got != "" {
		t.Fatalf("a comment older than the look-back was answered: %s", got)
	}
	if n, err := r.disp.CatchUp(ctx, e.Repo, since); err != nil || n != 0 {
		t.Fatalf("a second CatchUp = %d, %v; want nothing left", n, err)
	}
	if got := e.Labels(t, pr.Number); len(got) != 0 {
		t.Fatalf("labels %v; /hold then /unhold, in order, leaves none", got)
	}
}

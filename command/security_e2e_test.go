package command_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ensignbot/ensign/command"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/forge/forgetest"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/webhook"
)

// deliver signs and posts a comment delivery made up by the test.
func deliver(t *testing.T, r *rig, id string, body []byte) {
	t.Helper()
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("X-Gitea-Event", "issue_comment")
	header.Set("X-Gitea-Event-Type", "pull_request_comment")
	header.Set("X-Gitea-Delivery", id)
	header.Set("X-Gitea-Signature", webhook.Sign([]byte(hookSecret), body))
	if code, msg := post(t, r.srv.URL, header, body); code != http.StatusAccepted {
		t.Fatalf("signed delivery %s: %d %s", id, code, msg)
	}
}

// A signed body is signed by the webhook secret, not by the comment's
// author: whoever holds the secret (or a replayed, edited capture) must not
// be able to speak as someone else. ensign acts on Gitea's comment.
func TestCommandActsOnGiteasCommentNotThePayload(t *testing.T) {
	e := forgetest.New(t)
	r := newRig(t, e, false) // deliveries by hand only
	alice := e.User(t, "alice", "admin")
	rita := e.User(t, "rita", "read")
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")

	// rita's comment says nothing to ensign; the payload claims the admin
	// wrote /hold.
	quiet := e.Comment(t, rita, pr.Number, "looks fine to me")
	deliver(t, r, "forged-author-1", commentPayload(t, e, pr.Number, quiet, alice.Name, "/hold"))
	r.waitHandled(t, quiet, 1)

	// rita's /hold, claimed to be the admin's.
	hold := e.Comment(t, rita, pr.Number, "/hold")
	deliver(t, r, "forged-author-2", commentPayload(t, e, pr.Number, hold, alice.Name, "/hold"))
	r.waitHandled(t, hold, 1)
	if got := e.Labels(t, pr.Number); len(got) != 0 {
		t.Fatalf("labels %v: a forged author's /hold took effect", got)
	}
	if got := reply(t, e, pr.Number, quiet); got != "" {
		t.Fatalf("answered a comment that has no command in Gitea:\n%s", got)
	}
	mustContain(t, "answer to rita's /hold", reply(t, e, pr.Number, hold), "@"+rita.Name, "needs write permission", "Nothing was done")
	if strings.Contains(reply(t, e, pr.Number, hold), "@"+alice.Name) {
		t.Fatal("the answer addresses the author the payload claimed")
	}

	// A delivery naming another pull request than the comment's is ignored.
	other := e.OpenPR(t, "feature-2", "b.yaml", "b: 1\n")
	mine := e.Comment(t, alice, pr.Number, "/hold moved")
	deliver(t, r, "forged-number-1", commentPayload(t, e, other.Number, mine, alice.Name, "/hold moved"))
	r.waitHandled(t, mine, 1)
	if got := e.Labels(t, other.Number); len(got) != 0 {
		t.Fatalf("labels %v on the pull request the payload named", got)
	}
	if got := e.Labels(t, pr.Number); len(got) != 0 {
		t.Fatalf("labels %v on the comment's pull request from a delivery that named another", got)
	}
}

func TestCommentsOnUnmanagedRepositoriesAreIgnored(t *testing.T) {
	e := forgetest.New(t)
	r := newRig(t, e, true, func(c *command.Config) {
		c.Repos = routerFor(t, e, forge.Repo{Owner: e.Repo.Owner, Name: e.Repo.Name + "-other"})
	})
	alice := e.User(t, "alice", "write")
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")
	for _, body := range []string{"/hold", "/help"} {
		id := e.Comment(t, alice, pr.Number, body)
		r.waitHandled(t, id, 1)
		if got := reply(t, e, pr.Number, id); got != "" {
			t.Fatalf("%s on an unmanaged repository was answered:\n%s", body, got)
		}
	}
	if got := e.Labels(t, pr.Number); len(got) != 0 {
		t.Fatalf("labels %v on an unmanaged repository", got)
	}
}

// The policy file cannot grant more than the operator's floor: a write
// user who lowers /promote now (or /hold) in .ensign.yaml gains nothing.
func TestPolicyCannotLowerTheOperatorsFloor(t *testing.T) {
	e := forgetest.New(t)
	r := newRig(t, e, true, func(c *command.Config) {
		c.Floors = map[string]policy.Level{policy.CommandHold: policy.LevelWrite, policy.CommandPromoteNow: policy.LevelAdmin}
	})
	rita := e.User(t, "rita", "read")
	will := e.User(t, "will", "write")
	e.CommitFile(t, "main", ".ensign.yaml", onePolicyApp+`commands:
  hold: {level: read}
  promote-now: {level: write}
`)
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")

	refused := e.Comment(t, rita, pr.Number, "/hold")
	r.waitHandled(t, refused, 1)
	mustContain(t, "answer to a reader under a lowered policy", reply(t, e, pr.Number, refused), "needs write permission", "Nothing was done")
	if got := e.Labels(t, pr.Number); len(got) != 0 {
		t.Fatalf("labels %v: the policy lowered the floor", got)
	}
	// Raising the level stays possible, and what is above the floor works.
	allowed := e.Comment(t, will, pr.Number, "/hold")
	r.waitHandled(t, allowed, 1)
	if got := e.Labels(t, pr.Number); !slices.Equal(got, []string{"hold"}) {
		t.Fatalf("labels %v, want [hold]", got)
	}
	// /help shows what is in force, floors included.
	help := e.Comment(t, will, pr.Number, "/help")
	r.waitHandled(t, help, 1)
	mustContain(t, "help", reply(t, e, pr.Number, help),
		"| `/hold [reason]` | stop ensign from merging or promoting this pull request | write permission |",
		"| `/promote now` | merge it now, even outside the promotion window | admin permission |")
}

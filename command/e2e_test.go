package command_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"
	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/command"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/forge/forgetest"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/route"
	"github.com/ensignbot/ensign/vocab"
	"github.com/ensignbot/ensign/webhook"
	"github.com/ensignbot/ensign/workspace"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

const hookSecret = "e2e-webhook-secret"

// rig is ensign's Gitea front end as cmd/ensign wires it: a webhook receiver
// on loopback that real Gitea delivers to, feeding a command dispatcher that
// acts through a forge.Client. It records every delivery and every handled
// comment so tests can wait for them and replay them.
type rig struct {
	e    *forgetest.Env
	srv  *httptest.Server
	hook *webhook.Server
	disp *command.Dispatcher

	mu         sync.Mutex
	deliveries []recorded
	handled    map[int64]int   // comment ID -> times HandleComment ran
	errs       map[int64]error // comment ID -> last HandleComment error
	changed    chan struct{}
}

type recorded struct {
	header http.Header
	body   []byte
}

// newRig starts the rig on a repository whose policy is onePolicyApp
// (tests commit their own on top); opts adjust the dispatcher's
// configuration.
func newRig(t *testing.T, e *forgetest.Env, installHook bool, opts ...func(*command.Config)) *rig {
	t.Helper()
	e.CommitFile(t, "main", ".ensign.yaml", onePolicyApp)
	r := &rig{e: e, handled: map[int64]int{}, errs: map[int64]error{}, changed: make(chan struct{}, 1000)}
	cfg := command.Config{
		Forge:  e.Client,
		Repos:  routerFor(t, e, e.Repo),
		Bot:    e.Bot.Name,
		Logger: testLogger(t),
	}
	for _, o := range opts {
		o(&cfg)
	}
	d, err := command.NewDispatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.disp = d
	r.hook, err = webhook.New(webhook.Config{
		Secret:   []byte(hookSecret),
		BotLogin: e.Bot.Name,
		Handlers: webhook.Handlers{Comment: func(ctx context.Context, ev webhook.CommentEvent) error {
			err := d.HandleComment(ctx, ev)
			r.mu.Lock()
			r.handled[ev.CommentID]++
			r.errs[ev.CommentID] = err
			r.mu.Unlock()
			r.changed <- struct{}{}
			return err
		}},
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.record))
	t.Cleanup(func() {
		r.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.hook.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	if installHook {
		_, _, err := e.Client.EnsureWebhook(forgetest.Ctx(t), e.Repo, forge.Webhook{
			URL: r.srv.URL + webhook.Path, Secret: hookSecret, Events: []string{"pull_request_comment"},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// routerFor is the router of ensign managing repo (on e's Gitea), as
// cmd/ensign wires it, without services: the dispatcher reads the policy
// through it from a Git cache of the repository.
func routerFor(t *testing.T, e *forgetest.Env, repo forge.Repo) *route.Router {
	t.Helper()
	g, err := gitops.Open(forgetest.Ctx(t), gitops.Options{Dir: t.TempDir(), URL: e.G.URL + repo.Owner + "/" + repo.Name + ".git", Token: e.Bot.Token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	ws := &workspace.Workspace{Repo: repo, Git: g, Branch: "main", PolicyFile: ".ensign.yaml"}
	r, err := route.New(route.Config{Repos: []*route.Repo{{Workspace: ws}}, Events: noEvents{}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// noEvents records nothing: these tests hand the router no canaries.
type noEvents struct{}

func (noEvents) RecordEvent(context.Context, string, *flaggerv1.Canary, cluster.Note, time.Time) error {
	return nil
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// record keeps a copy of each delivery before the receiver sees it.
func (r *rig) record(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.deliveries = append(r.deliveries, recorded{header: req.Header.Clone(), body: body})
	r.mu.Unlock()
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.hook.ServeHTTP(w, req)
}

// delivery returns the recorded delivery of comment id.
func (r *rig) delivery(t *testing.T, id int64) recorded {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.deliveries {
		ev, ok, err := webhook.DecodeComment("", d.body)
		if err == nil && ok && ev.CommentID == id {
			return d
		}
	}
	t.Fatalf("no delivery recorded for comment %d", id)
	return recorded{}
}

func (r *rig) timesHandled(id int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.handled[id]
}

// waitHandled waits until the dispatcher has handled comment id n times
// and fails the test if the last time returned an error.
func (r *rig) waitHandled(t *testing.T, id int64, n int) {
	t.Helper()
	if err := r.waitHandledErr(t, id, n); err != nil {
		t.Fatalf("handle comment %d: %v", id, err)
	}
}

// waitHandledErr waits like waitHandled and returns the handler's error.
func (r *rig) waitHandledErr(t *testing.T, id int64, n int) error {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for r.timesHandled(id) < n {
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("comment %d handled %d times, want %d (is Gitea delivering webhooks to %s?)", id, r.timesHandled(id), n, r.srv.URL)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errs[id]
}

// post sends a recorded (or forged) delivery to the receiver.
func post(t *testing.T, url string, header http.Header, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+webhook.Path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(msg))
}

// reply returns the bot's answer to comment id, or "".
func reply(t *testing.T, e *forgetest.Env, number, id int64) string {
	t.Helper()
	var found []string
	for _, c := range e.Comments(t, number, e.Bot.Name) {
		if strings.HasPrefix(c.Body, vocab.ReplyMarker(id)+"\n") {
			found = append(found, c.Body)
		}
	}
	if len(found) > 1 {
		t.Fatalf("%d answers to comment %d, want at most one", len(found), id)
	}
	if len(found) == 0 {
		return ""
	}
	return found[0]
}

func statusComments(t *testing.T, e *forgetest.Env, number int64) []*gitea.Comment {
	t.Helper()
	var out []*gitea.Comment
	for _, c := range e.Comments(t, number, e.Bot.Name) {
		if strings.HasPrefix(c.Body, vocab.StatusMarker+"\n") {
			out = append(out, c)
		}
	}
	return out
}

func mustContain(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Fatalf("%s does not contain %q:\n%s", what, p, s)
		}
	}
}

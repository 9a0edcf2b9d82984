package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/freeze"
	"github.com/ensignbot/ensign/gate"
	"github.com/ensignbot/ensign/internal/keyed"
	"github.com/ensignbot/ensign/internal/logctx"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/promote"
	"github.com/ensignbot/ensign/rollback"
	"github.com/ensignbot/ensign/status"
	"github.com/ensignbot/ensign/vocab"
	"github.com/ensignbot/ensign/webhook"
)

// Forge is the part of the Gitea client the dispatcher uses; *forge.Client
// implements it.
type Forge interface {
	RepoPermission(ctx context.Context, repo forge.Repo, user string) (string, error)
	TeamMember(ctx context.Context, org, team, user string) (bool, error)
	AddLabel(ctx context.Context, repo forge.Repo, number int64, want forge.Label) (bool, error)
	RemoveLabel(ctx context.Context, repo forge.Repo, number int64, name string) (bool, error)
	SetStatusSection(ctx context.Context, repo forge.Repo, number int64, section, text string) error
	FindComment(ctx context.Context, repo forge.Repo, number int64, marker string) (forge.Comment, bool, error)
	UpsertComment(ctx context.Context, repo forge.Repo, number int64, marker, text string) (forge.Comment, bool, error)
	GetComment(ctx context.Context, repo forge.Repo, id int64) (forge.Comment, int64, error)
	ListOpenPullRequests(ctx context.Context, repo forge.Repo, label string) ([]forge.PullRequest, error)
	ListComments(ctx context.Context, repo forge.Repo, number int64) ([]forge.Comment, error)
}

// Repos are the repositories ensign manages and their policies; the
// router implements it, reading each policy from the repository's Git
// cache as the services do.
type Repos interface {
	// Manages reports whether ensign manages repo (ENSIGN_REPOS).
	Manages(repo forge.Repo) bool
	// Policy returns repo's policy: nil with a nil error when the
	// repository has no policy file; an error wrapping
	// workspace.ErrInvalidPolicy when the file does not load; any other
	// error when it could not be read (Gitea or the network failed).
	Policy(ctx context.Context, repo forge.Repo) (*policy.Policy, error)
}

// Services run the commands that act on promotions and rollbacks, in the
// repository's own services; the router implements it. They return typed
// outcomes, which the dispatcher renders.
type Services interface {
	PromotePR(ctx context.Context, repo forge.Repo, req promote.PRRequest) (promote.Outcome, error)
	RollbackPR(ctx context.Context, repo forge.Repo, req rollback.PRRequest) (rollback.Outcome, error)
	StatusPR(ctx context.Context, repo forge.Repo, number int64) (status.Report, error)
	GateRefresh(ctx context.Context, repo forge.Repo, number int64) (gate.Verdict, error)
	GateOverride(ctx context.Context, repo forge.Repo, number int64, person string) (gate.Verdict, error)
	Freeze(ctx context.Context, repo forge.Repo, req freeze.Request) (freeze.Outcome, error)
	Unfreeze(ctx context.Context, repo forge.Repo, req freeze.Request) (freeze.Outcome, error)
}

// Config wires a Dispatcher. Forge, Repos and Bot are required; without
// Services, /promote, /rollback and /status answer that they are not
// available.
type Config struct {
	Forge Forge
	Repos Repos
	// Bot is ensign's own login; its comments are never run.
	Bot string
	// Floors are the operator's minimum levels per command name
	// (policy.CommandHold, ...), which no policy file can lower.
	Floors   map[string]policy.Level
	Services Services
	Logger   *slog.Logger
	// Observe, if set, is told how each command ended: its name (as
	// written, for an unknown one) and the Result.
	Observe func(name string, r Result)
}

// Result is how one comment command ended, for Config.Observe.
type Result string

// Command results.
const (
	ResultDone    Result = "done"    // carried out, or nothing to do
	ResultRefused Result = "refused" // not allowed, unknown or malformed; answered
	ResultFailed  Result = "failed"  // an error; answered
)

// Dispatcher turns pull request comments into authorized actions and
// answers. Safe for concurrent use.
type Dispatcher struct {
	cfg   Config
	log   *slog.Logger
	locks keyed.Mutex // one comment per pull request at a time
}

// NewDispatcher validates cfg and returns a Dispatcher.
func NewDispatcher(cfg Config) (*Dispatcher, error) {
	if cfg.Forge == nil || cfg.Repos == nil {
		return nil, errors.New("command dispatcher: forge and repos are required")
	}
	if cfg.Bot == "" {
		return nil, errors.New("command dispatcher: bot login is empty")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Dispatcher{cfg: cfg, log: log}, nil
}

// HandleComment runs the commands in a newly created pull request comment and
// posts one answer to it, keyed by the comment's ID. A comment already
// answered (a redelivery, or a restart after answering) is skipped. Comments
// on one pull request are handled one at a time within this process. The
// error reports what failed; the answer in the pull request already says so.
func (d *Dispatcher) HandleComment(ctx context.Context, ev webhook.CommentEvent) error {
	repo := forge.Repo{Owner: ev.Owner, Name: ev.Repo}
	base := logctx.From(ctx, d.log)
	if !d.cfg.Repos.Manages(repo) {
		base.Debug("comment on a repository ensign does not manage", "repo", repo.String(), "comment", ev.CommentID)
		return nil
	}
	if len(Parse(ev.Body)) == 0 {
		return nil // nothing that looks like a command: no Gitea call
	}
	log := base.With("repo", repo.String(), "pr", ev.Number, "comment", ev.CommentID)
	ctx = logctx.With(ctx, log)
	unlock := d.locks.Lock(fmt.Sprintf("%s#%d", repo, ev.Number))
	defer unlock()

	// The payload is signed by the webhook secret, not by the author: act
	// on the comment as Gitea has it (its author, its body, its pull request).
	cm, number, err := d.cfg.Forge.GetComment(ctx, repo, ev.CommentID)
	if errors.Is(err, forge.ErrNotFound) {
		log.Info("comment deleted before it was handled")
		return nil
	}
	if err != nil {
		return fmt.Errorf("handle comment %d on %s#%d: %w", ev.CommentID, repo, ev.Number, err)
	}
	if number != ev.Number {
		log.Warn("delivery names another pull request than Gitea's comment; ignored", "gitea_pr", number)
		return nil
	}
	if strings.EqualFold(cm.Author, d.cfg.Bot) {
		return nil
	}
	if cm.Author != ev.Author || cm.Body != ev.Body {
		log.Info("comment differs from the delivery; acting on Gitea's", "delivery_author", bound(ev.Author, 40), "author", cm.Author)
	}
	ev.Author, ev.Body = cm.Author, cm.Body
	log = log.With("author", ev.Author)
	ctx = logctx.With(ctx, log)
	cmds := Parse(ev.Body)
	if len(cmds) == 0 {
		return nil
	}

	marker := vocab.ReplyMarker(ev.CommentID)
	if _, done, err := d.cfg.Forge.FindComment(ctx, repo, ev.Number, marker); err != nil {
		return fmt.Errorf("handle comment %d on %s#%d: %w", ev.CommentID, repo, ev.Number, err)
	} else if done {
		log.Info("comment already answered")
		return nil
	}

	run := &run{d: d, ctx: ctx, repo: repo, ev: ev, log: log}
	run.pol, run.polErr = d.cfg.Repos.Policy(ctx, repo)
	answers := make([]string, len(cmds))
	for i, cmd := range cmds {
		errs := len(run.errs)
		run.refused = false
		answers[i] = run.one(cmd)
		result := ResultDone
		switch {
		case len(run.errs) > errs:
			result = ResultFailed
		case run.refused || cmd.Unknown || cmd.Problem != "":
			result = ResultRefused
		}
		if d.cfg.Observe != nil {
			d.cfg.Observe(cmd.Name, result)
		}
		log.Info("command handled", "command", cmd.Text, "result", result, "answer", firstLine(answers[i]))
	}
	if _, _, err := d.cfg.Forge.UpsertComment(ctx, repo, ev.Number, marker, render(ev.Author, cmds, answers)); err != nil {
		run.errs = append(run.errs, fmt.Errorf("post answer: %w", err))
	}
	if err := errors.Join(run.errs...); err != nil {
		return fmt.Errorf("handle comment %d on %s#%d: %w", ev.CommentID, repo, ev.Number, err)
	}
	return nil
}

// render builds the answer comment: a mention, then each command with its
// answer, in order. Commands are shown as inline code so the answer itself
// never contains a command line.
func render(author string, cmds []Command, answers []string) string {
	var b strings.Builder
	b.WriteString("@" + author)
	for i, cmd := range cmds {
		b.WriteString("\n\n")
		if cmd.Text != "" {
			b.WriteString("**" + vocab.Code(cmd.Text) + "**: ")
		}
		b.WriteString(answers[i])
	}
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/webhook"
)

// Forge is the part of the Gitea client the dispatcher uses; *forge.Client
// implements it.
type Forge interface {
	RepoPermission(ctx context.Context, repo forge.Repo, user string) (policy.Level, error)
	TeamMember(ctx context.Context, team policy.TeamRef, user string) (bool, error)
	AddLabel(ctx context.Context, repo forge.Repo, number int64, want forge.Label) (bool, error)
	RemoveLabel(ctx context.Context, repo forge.Repo, number int64, name string) (bool, error)
	SetStatusSection(ctx context.Context, repo forge.Repo, number int64, section, text string) error
	FindComment(ctx context.Context, repo forge.Repo, number int64, marker string) (forge.Comment, bool, error)
	UpsertComment(ctx context.Context, repo forge.Repo, number int64, marker, text string) (forge.Comment, bool, error)
	GetComment(ctx context.Context, repo forge.Repo, id int64) (forge.Comment, int64, error)
}

// PolicySource returns the policy that governs a repository. A nil policy
// with a nil error means the defaults. An error means the policy is unusable;
// the dispatcher then runs nothing and says so.
type PolicySource interface {
	Policy(ctx context.Context, repo forge.Repo) (*policy.Policy, error)
}

// Request is what a service gets for a command. Services must be idempotent:
// the same request can arrive again after a restart.
type Request struct {
	Repo forge.Repo
	// PR is the pull request the command was written on.
	PR        int64
	CommentID int64
	// Commenter is the login of the authorized user who asked.
	Commenter string
	// Now is set for "/promote now": promote even if the window is closed.
	Now bool
	// SHA is the commit named by "/rollback <sha>", lowercase; empty means
	// the service decides (the pull request's own change).
	SHA string
}

// Promoter runs /promote and /promote now. The returned text (Markdown) is
// posted as the answer; an error is reported as a failure.
type Promoter interface {
	Promote(ctx context.Context, req Request) (string, error)
}

// RollingBack runs /rollback. The returned text is posted as the answer.
type RollingBack interface {
	Rollback(ctx context.Context, req Request) (string, error)
}

// Reporter answers /status with Markdown text.
type Reporter interface {
	Status(ctx context.Context, req Request) (string, error)
}

// Config wires a Dispatcher. Forge is required; nil services make their
// commands answer that they are not available yet.
type Config struct {
	Forge Forge
	// Repos are the repositories ensign manages; comments elsewhere are
	// ignored. Nil means every repository (tests of one repository).
	Repos []forge.Repo
	// Bot is ensign's own login; its comments are never run. Required.
	Bot string
	// Floors are the operator's minimum levels per command name
	// (policy.CommandHold, ...), which no policy file can lower.
	Floors      map[string]policy.Level
	Policies    PolicySource
	Promoter    Promoter
	RollingBack RollingBack
	Reporter    Reporter
	Logger      *slog.Logger
}

// Dispatcher turns pull request comments into authorized actions and
// answers. Safe for concurrent use.
type Dispatcher struct {
	cfg   Config
	log   *slog.Logger
	mu    sync.Mutex
	locks map[string]*prLock
}

type prLock struct {
	mu   sync.Mutex
	refs int
}

// NewDispatcher validates cfg and returns a Dispatcher.
func NewDispatcher(cfg Config) (*Dispatcher, error) {
	if cfg.Forge == nil {
		return nil, errors.New("command dispatcher: forge is nil")
	}
	if cfg.Bot == "" {
		return nil, errors.New("command dispatcher: bot login is empty")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Dispatcher{cfg: cfg, log: log, locks: make(map[string]*prLock)}, nil
}

// HandleComment runs the commands in a newly created pull request comment and
// posts one answer to it, keyed by the comment's ID. A comment already
// answered (a redelivery, or a restart after answering) is skipped. Comments
// on one pull request are handled one at a time within this process. The
// error reports what failed; the answer in the pull request already says so.
func (d *Dispatcher) HandleComment(ctx context.Context, ev webhook.CommentEvent) error {
	repo := forge.Repo{Owner: ev.Owner, Name: ev.Repo}
	if !d.manages(repo) {
		d.log.Debug("comment on a repository ensign does not manage", "repo", repo.String(), "comment", ev.CommentID)
		return nil
	}
	if len(Parse(ev.Body)) == 0 {
		return nil // nothing that looks like a command: no Gitea call
	}
	log := d.log.With("repo", repo.String(), "pr", ev.Number, "comment", ev.CommentID)
	unlock := d.lock(fmt.Sprintf("%s#%d", repo, ev.Number))
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
	cmds := Parse(ev.Body)
	if len(cmds) == 0 {
		return nil
	}

	marker := forge.ReplyMarker(ev.CommentID)
	if _, done, err := d.cfg.Forge.FindComment(ctx, repo, ev.Number, marker); err != nil {
		return fmt.Errorf("handle comment %d on %s#%d: %w", ev.CommentID, repo, ev.Number, err)
	} else if done {
		log.Info("comment already answered")
		return nil
	}

	run := &run{d: d, ctx: ctx, repo: repo, ev: ev, log: log}
	run.pol, run.polErr = d.policy(ctx, repo)
	answers := make([]string, len(cmds))
	for i, cmd := range cmds {
		answers[i] = run.one(cmd)
		log.Info("command handled", "command", cmd.Text, "answer", firstLine(answers[i]))
	}
	if _, _, err := d.cfg.Forge.UpsertComment(ctx, repo, ev.Number, marker, render(ev.Author, cmds, answers)); err != nil {
		run.errs = append(run.errs, fmt.Errorf("post answer: %w", err))
	}
	if err := errors.Join(run.errs...); err != nil {
		return fmt.Errorf("handle comment %d on %s#%d: %w", ev.CommentID, repo, ev.Number, err)
	}
	return nil
}

// manages reports whether repo is one of the configured repositories.
func (d *Dispatcher) manages(repo forge.Repo) bool {
	if d.cfg.Repos == nil {
		return true
	}
	for _, r := range d.cfg.Repos {
		if strings.EqualFold(r.Owner, repo.Owner) && strings.EqualFold(r.Name, repo.Name) {
			return true
		}
	}
	return false
}

func (d *Dispatcher) policy(ctx context.Context, repo forge.Repo) (*policy.Policy, error) {
	if d.cfg.Policies == nil {
		return nil, nil
	}
	return d.cfg.Policies.Policy(ctx, repo)
}

func (d *Dispatcher) lock(key string) func() {
	d.mu.Lock()
	l := d.locks[key]
	if l == nil {
		l = &prLock{}
		d.locks[key] = l
	}
	l.refs++
	d.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		d.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(d.locks, key)
		}
		d.mu.Unlock()
	}
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
			b.WriteString("**" + code(cmd.Text) + "**: ")
		}
		b.WriteString(answers[i])
	}
	return b.String()
}

// code renders s as inline code, whatever backticks it contains.
func code(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if len(fence) > 1 || strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") {
		// CommonMark strips one space on each side of padded code.
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

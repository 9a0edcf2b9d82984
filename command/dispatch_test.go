package command

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/webhook"
)

func TestRender(t *testing.T) {
	cmds := Parse("/hold x\n/status\n" + strings.Repeat("/help\n", MaxCommands))
	answers := make([]string, len(cmds))
	for i := range answers {
		answers[i] = "answer"
	}
	got := render("alice", cmds, answers)
	if !strings.HasPrefix(got, "@alice\n\n**`/hold x`**: answer\n\n**`/status`**: answer") {
		t.Fatalf("render:\n%s", got)
	}
	// The note about skipped commands has no command to quote.
	if !strings.HasSuffix(got, "\n\nanswer") {
		t.Fatalf("render does not end with the bare note:\n%s", got)
	}
	// The answer never contains a command line of its own.
	if cmds := Parse(got); len(cmds) != 0 {
		t.Fatalf("the answer parses as commands: %+v", cmds)
	}
}

func TestHelpTextFollowsPolicy(t *testing.T) {
	pol := &policy.Policy{Commands: map[string]policy.Permission{
		policy.CommandHold: {Teams: []policy.TeamRef{{Org: "acme", Team: "release"}}},
	}}
	help := helpText(pol, nil)
	for _, want := range []string{
		"| `/hold [reason]` | stop ensign from merging or promoting this pull request | membership in team acme/release |",
		"| `/promote now` | merge it now, even outside the promotion window | admin permission |",
	} {
		if !strings.Contains(help, want) {
			t.Fatalf("help lacks %q:\n%s", want, help)
		}
	}
	if cmds := Parse(help); len(cmds) != 0 {
		t.Fatalf("help parses as commands: %+v", cmds)
	}
}

// accessFake answers permission questions; every other Forge method panics,
// since authorized must not call them.
type accessFake struct {
	Forge
	level      policy.Level
	members    map[string]bool
	levelCalls int
	teamCalls  []string
	teamErr    error
}

func (f *accessFake) RepoPermission(ctx context.Context, repo forge.Repo, user string) (string, error) {
	f.levelCalls++
	return f.level.String(), nil
}

func (f *accessFake) TeamMember(ctx context.Context, org, team, user string) (bool, error) {
	name := org + "/" + team
	f.teamCalls = append(f.teamCalls, name)
	if f.teamErr != nil {
		return false, f.teamErr
	}
	return f.members[name], nil
}

// TestAuthorizedLooksUpOnlyWhatItNeeds checks the lookups around Authorize:
// the level once per comment, teams only when the level does not decide,
// and a team that does not exist counts as no membership.
func TestAuthorizedLooksUpOnlyWhatItNeeds(t *testing.T) {
	release := policy.TeamRef{Org: "acme", Team: "release"}
	sre := policy.TeamRef{Org: "acme", Team: "sre"}
	tests := []struct {
		name      string
		level     policy.Level
		members   map[string]bool
		teamErr   error
		needs     []policy.Permission
		want      []bool
		teamCalls []string
		wantErr   bool
	}{
		{"level decides, no team lookups", policy.LevelWrite, nil, nil,
			[]policy.Permission{{Level: policy.LevelWrite, Teams: []policy.TeamRef{release}}, {Level: policy.LevelRead}},
			[]bool{true, true}, nil, false},
		{"teams looked up once each", policy.LevelRead, map[string]bool{"acme/sre": true}, nil,
			[]policy.Permission{{Teams: []policy.TeamRef{release, sre}}, {Teams: []policy.TeamRef{sre}}, {Teams: []policy.TeamRef{release}}},
			[]bool{true, true, false}, []string{"acme/release", "acme/sre"}, false},
		{"missing team is no membership", policy.LevelRead, nil, forge.ErrNotFound,
			[]policy.Permission{{Teams: []policy.TeamRef{release}}},
			[]bool{false}, []string{"acme/release"}, false},
		{"lookup failure is an error", policy.LevelRead, nil, errors.New("gitea down"),
			[]policy.Permission{{Teams: []policy.TeamRef{release}}},
			[]bool{false}, []string{"acme/release"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &accessFake{level: tt.level, members: tt.members, teamErr: tt.teamErr}
			d, err := NewDispatcher(Config{Forge: f, Repos: noRepos{}, Bot: "ensign", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			r := &run{d: d, ctx: context.Background(), ev: webhook.CommentEvent{Author: "u"}, log: d.log}
			for i, need := range tt.needs {
				got, err := r.authorized(need)
				if (err != nil) != tt.wantErr {
					t.Fatalf("need %d: err = %v, wantErr %v", i, err, tt.wantErr)
				}
				if got != tt.want[i] {
					t.Fatalf("need %d: authorized = %v, want %v", i, got, tt.want[i])
				}
			}
			if f.levelCalls != 1 {
				t.Fatalf("level looked up %d times, want 1", f.levelCalls)
			}
			if strings.Join(f.teamCalls, ",") != strings.Join(tt.teamCalls, ",") {
				t.Fatalf("team lookups %v, want %v", f.teamCalls, tt.teamCalls)
			}
		})
	}
}

// noRepos manages nothing; authorized never asks it.
type noRepos struct{}

func (noRepos) Manages(forge.Repo) bool { return false }
func (noRepos) Policy(context.Context, forge.Repo) (*policy.Policy, error) {
	return nil, nil
}

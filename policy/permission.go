package policy

import (
	"fmt"
	"strings"
)

// Level is a Gitea repository permission level, ordered from least to most
// privileged, so levels compare with < and >=.
type Level int

// Gitea repository permission levels, as reported by
// GET /repos/{owner}/{repo}/collaborators/{user}/permission.
const (
	LevelNone Level = iota
	LevelRead
	LevelWrite
	LevelAdmin
	LevelOwner
)

var levelNames = [...]string{"none", "read", "write", "admin", "owner"}

// ParseLevel parses a Gitea permission name: "none", "read", "write", "admin"
// or "owner". It is case-sensitive, like Gitea's API.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if s == n {
			return Level(i), nil
		}
	}
	return LevelNone, fmt.Errorf("unknown permission level %q (want one of none, read, write, admin, owner)", s)
}

// String returns the Gitea name of the level, or "Level(n)" for a value out
// of range.
func (l Level) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// TeamRef names an organization team, written "org/team" in the policy file.
type TeamRef struct{ Org, Team string }

// ParseTeamRef parses "org/team". Both parts must be non-empty and free of
// further slashes and spaces.
func ParseTeamRef(s string) (TeamRef, error) {
	org, team, ok := strings.Cut(s, "/")
	if !ok || org == "" || team == "" || strings.ContainsAny(team, "/") ||
		strings.ContainsAny(s, " \t\r\n") {
		return TeamRef{}, fmt.Errorf("invalid team %q (want org/team)", s)
	}
	return TeamRef{Org: org, Team: team}, nil
}

// String returns the "org/team" form.
func (t TeamRef) String() string { return t.Org + "/" + t.Team }

// Permission says who may run a command: users whose repository permission is
// at least Level, or members of any of Teams.
//
// Level LevelNone means that no user qualifies by permission level, so a
// Permission{Level: LevelNone, Teams: ...} admits only the listed teams' members,
// and a zero Permission admits nobody (the command is disabled). Use
// GrantsLevel rather than comparing levels by hand so that rule is kept.
//
// Floor is the operator's minimum for the command, from ensign's own
// configuration rather than the repository: whatever Level and Teams say, a
// user holding less than Floor never qualifies. The policy file cannot lower
// it, so write access to the policy does not grant more than the operator
// allows.
type Permission struct {
	Level Level
	Teams []TeamRef
	Floor Level
}

// GrantsLevel reports whether a user holding repository permission have
// qualifies through the level part of p alone (team membership is the
// caller's to check).
func (p Permission) GrantsLevel(have Level) bool {
	return p.Level != LevelNone && have >= p.Level && have >= p.Floor
}

// Admits reports whether a user holding have clears the floor at all;
// a team member below it does not qualify.
func (p Permission) Admits(have Level) bool { return have >= p.Floor }

// Command names understood by ensign, as used in the policy's commands map.
const (
	CommandHelp       = "help"
	CommandStatus     = "status"
	CommandHold       = "hold"
	CommandUnhold     = "unhold"
	CommandPromote    = "promote"
	CommandPromoteNow = "promote-now"
	CommandRollback   = "rollback"
	CommandFreeze     = "freeze"
	CommandUnfreeze   = "unfreeze"
)

// CommandNames returns every command name in a stable order.
func CommandNames() []string {
	return []string{CommandHelp, CommandStatus, CommandHold, CommandUnhold,
		CommandPromote, CommandPromoteNow, CommandRollback, CommandFreeze, CommandUnfreeze}
}

// DefaultPermissions returns the permission each command has when the policy
// does not override it: help and status need read; hold, unhold, promote and
// rollback need write; promote-now (which bypasses windows), freeze and
// unfreeze (which change the policy) need admin. The
// map is a fresh copy on every call.
func DefaultPermissions() map[string]Permission {
	return map[string]Permission{
		CommandHelp:       {Level: LevelRead},
		CommandStatus:     {Level: LevelRead},
		CommandHold:       {Level: LevelWrite},
		CommandUnhold:     {Level: LevelWrite},
		CommandPromote:    {Level: LevelWrite},
		CommandPromoteNow: {Level: LevelAdmin},
		CommandRollback:   {Level: LevelWrite},
		CommandFreeze:     {Level: LevelAdmin},
		CommandUnfreeze:   {Level: LevelAdmin},
	}
}

// CommandPermission returns the permission for the named command: the
// policy's override if it has one, else the default. An unknown name gets the
// zero Permission, which admits nobody. A nil *Policy yields the defaults.
func (p *Policy) CommandPermission(name string) Permission {
	if p != nil {
		if perm, ok := p.Commands[name]; ok {
			return perm
		}
	}
	return DefaultPermissions()[name]
}

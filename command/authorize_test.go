package command

import (
	"testing"

	"github.com/ensignbot/ensign/policy"
)

func TestAuthorize(t *testing.T) {
	release := policy.TeamRef{Org: "acme", Team: "release"}
	sre := policy.TeamRef{Org: "acme", Team: "sre"}
	defaults := policy.DefaultPermissions()
	tests := []struct {
		name     string
		need     policy.Permission
		have     policy.Level
		memberOf []policy.TeamRef
		want     bool
	}{
		{"help by reader", defaults[policy.CommandHelp], policy.LevelRead, nil, true},
		{"help by nobody", defaults[policy.CommandHelp], policy.LevelNone, nil, false},
		{"status by reader", defaults[policy.CommandStatus], policy.LevelRead, nil, true},
		{"hold by reader", defaults[policy.CommandHold], policy.LevelRead, nil, false},
		{"hold by writer", defaults[policy.CommandHold], policy.LevelWrite, nil, true},
		{"hold by owner", defaults[policy.CommandHold], policy.LevelOwner, nil, true},
		{"unhold by writer", defaults[policy.CommandUnhold], policy.LevelWrite, nil, true},
		{"promote by writer", defaults[policy.CommandPromote], policy.LevelWrite, nil, true},
		{"rollback by reader", defaults[policy.CommandRollback], policy.LevelRead, nil, false},
		{"promote now by writer", defaults[policy.CommandPromoteNow], policy.LevelWrite, nil, false},
		{"promote now by admin", defaults[policy.CommandPromoteNow], policy.LevelAdmin, nil, true},
		{"promote now by owner", defaults[policy.CommandPromoteNow], policy.LevelOwner, nil, true},
		{"level or team: team member with read", policy.Permission{Level: policy.LevelAdmin, Teams: []policy.TeamRef{release}},
			policy.LevelRead, []policy.TeamRef{release}, true},
		{"level or team: admin outside team", policy.Permission{Level: policy.LevelAdmin, Teams: []policy.TeamRef{release}},
			policy.LevelAdmin, nil, true},
		{"level or team: writer outside team", policy.Permission{Level: policy.LevelAdmin, Teams: []policy.TeamRef{release}},
			policy.LevelWrite, []policy.TeamRef{sre}, false},
		{"teams only: owner outside team", policy.Permission{Teams: []policy.TeamRef{release}},
			policy.LevelOwner, nil, false},
		{"teams only: member", policy.Permission{Teams: []policy.TeamRef{release, sre}},
			policy.LevelNone, []policy.TeamRef{sre}, true},
		{"team names case-insensitive", policy.Permission{Teams: []policy.TeamRef{release}},
			policy.LevelRead, []policy.TeamRef{{Org: "ACME", Team: "Release"}}, true},
		{"same team name other org", policy.Permission{Teams: []policy.TeamRef{release}},
			policy.LevelRead, []policy.TeamRef{{Org: "other", Team: "release"}}, false},
		{"disabled command", policy.Permission{}, policy.LevelOwner, []policy.TeamRef{release}, false},
		{"unknown command name", (*policy.Policy)(nil).CommandPermission("deploy"), policy.LevelOwner, nil, false},
		// The operator's floor holds whatever the policy file says.
		{"policy lowers promote now below the floor", policy.Permission{Level: policy.LevelWrite, Floor: policy.LevelAdmin},
			policy.LevelWrite, nil, false},
		{"admin clears the floor", policy.Permission{Level: policy.LevelWrite, Floor: policy.LevelAdmin},
			policy.LevelAdmin, nil, true},
		{"team member below the floor", policy.Permission{Teams: []policy.TeamRef{release}, Floor: policy.LevelWrite},
			policy.LevelRead, []policy.TeamRef{release}, false},
		{"team member at the floor", policy.Permission{Teams: []policy.TeamRef{release}, Floor: policy.LevelWrite},
			policy.LevelWrite, []policy.TeamRef{release}, true},
		{"floor above the policy's level", policy.Permission{Level: policy.LevelRead, Floor: policy.LevelWrite},
			policy.LevelRead, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Authorize(tt.need, tt.have, tt.memberOf); got != tt.want {
				t.Fatalf("Authorize(%+v, %s, %v) = %v, want %v", tt.need, tt.have, tt.memberOf, got, tt.want)
			}
		})
	}
}

func TestRequirement(t *testing.T) {
	release := policy.TeamRef{Org: "acme", Team: "release"}
	sre := policy.TeamRef{Org: "acme", Team: "sre"}
	tests := []struct {
		name string
		need policy.Permission
		want string
	}{
		{"level", policy.Permission{Level: policy.LevelWrite}, "write permission"},
		{"team", policy.Permission{Teams: []policy.TeamRef{release}}, "membership in team acme/release"},
		{"level or teams", policy.Permission{Level: policy.LevelAdmin, Teams: []policy.TeamRef{release, sre}},
			"admin permission or membership in one of the teams acme/release, acme/sre"},
		{"disabled", policy.Permission{}, "nobody (the command is disabled by the policy)"},
		{"floor raises the level", policy.Permission{Level: policy.LevelWrite, Floor: policy.LevelAdmin}, "admin permission"},
		{"floor on teams", policy.Permission{Teams: []policy.TeamRef{release}, Floor: policy.LevelWrite},
			"membership in team acme/release with at least write permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Requirement(tt.need); got != tt.want {
				t.Fatalf("Requirement = %q, want %q", got, tt.want)
			}
		})
	}
}

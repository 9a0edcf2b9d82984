package command

import (
	"strings"

	"github.com/ensignbot/ensign/policy"
)

// Authorize decides whether a user may run a command that needs permission
// need, given the user's permission level on the repository and the teams
// (among need.Teams) the user was found to be a member of. It is pure: the
// caller looks the facts up.
//
// A user qualifies by level (see policy.Permission.GrantsLevel) or by being a
// member of any of need.Teams; team names compare case-insensitively, as
// Gitea's do. A zero Permission admits nobody, and nobody below need.Floor
// (the operator's minimum) qualifies.
func Authorize(need policy.Permission, have policy.Level, memberOf []policy.TeamRef) bool {
	if !need.Admits(have) {
		return false
	}
	if need.GrantsLevel(have) {
		return true
	}
	for _, want := range need.Teams {
		for _, got := range memberOf {
			if strings.EqualFold(want.Org, got.Org) && strings.EqualFold(want.Team, got.Team) {
				return true
			}
		}
	}
	return false
}

// Requirement describes need for a reply, e.g. "write permission",
// "membership in team acme/release", or "admin permission or membership in
// team acme/release or acme/sre".
func Requirement(need policy.Permission) string {
	var parts []string
	if need.Level != policy.LevelNone {
		parts = append(parts, max(need.Level, need.Floor).String()+" permission")
	}
	if len(need.Teams) > 0 {
		names := make([]string, len(need.Teams))
		for i, t := range need.Teams {
			names[i] = t.String()
		}
		word := "team "
		if len(names) > 1 {
			word = "one of the teams "
		}
		member := "membership in " + word + strings.Join(names, ", ")
		if need.Floor > policy.LevelNone {
			member += " with at least " + need.Floor.String() + " permission"
		}
		parts = append(parts, member)
	}
	if len(parts) == 0 {
		return "nobody (the command is disabled by the policy)"
	}
	return strings.Join(parts, " or ")
}

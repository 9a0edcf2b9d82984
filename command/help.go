package command

import (
	"strings"

	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
)

// usage lists the commands in the order help shows them.
var usage = []struct{ name, syntax, does string }{
	{policy.CommandPromote, "/promote", "merge this promotion pull request when its window is open"},
	{policy.CommandPromoteNow, "/promote now", "merge it now, even outside the promotion window"},
	{policy.CommandRollback, "/rollback [sha]", "revert this pull request's change (or the given commit)"},
	{policy.CommandHold, "/hold [reason]", "stop ensign from merging or promoting this pull request"},
	{policy.CommandUnhold, "/unhold", "lift the hold"},
	{policy.CommandFreeze, "/freeze [app/]stage DURATION reason", "emergency freeze: merge nothing into the stage for DURATION (4h, 2d)"},
	{policy.CommandUnfreeze, "/unfreeze [app/]stage", "lift the stage's emergency freezes"},
	{policy.CommandStatus, "/status", "show what ensign knows about this pull request"},
	{policy.CommandHelp, "/help", "show this help"},
}

// helpText is the command reference as a Markdown table, with who may use
// each command under p (nil means the defaults) and the operator's floors.
func helpText(p *policy.Policy, floors map[string]policy.Level) string {
	var b strings.Builder
	b.WriteString("Commands go at the start of a line in a pull request comment:\n\n")
	b.WriteString("| Command | What it does | Who may use it |\n|---|---|---|\n")
	for _, u := range usage {
		b.WriteString("| " + vocab.Code(u.syntax) + " | " + u.does + " | " + Requirement(floored(p, floors, u.name)) + " |\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// floored is the permission a command needs under p and the floors.
func floored(p *policy.Policy, floors map[string]policy.Level, name string) policy.Permission {
	need := p.CommandPermission(name)
	need.Floor = floors[name]
	return need
}

package command

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ensignbot/ensign/policy"
)

// Bounds on what one comment can ask for.
const (
	// MaxCommands is how many commands of one comment are run; the rest are
	// answered with a note and not run.
	MaxCommands = 10
	// maxReasonRunes bounds a /hold reason.
	maxReasonRunes = 200
	// maxTextRunes bounds the command text quoted back in replies.
	maxTextRunes = 80
	// maxWordLen bounds the words considered as possible typos of commands.
	maxWordLen = 20
)

// Command is one command line found in a comment.
type Command struct {
	// Name is the policy command name (policy.CommandHold, ...,
	// policy.CommandPromoteNow for "/promote now"), or the word as written
	// (lowercased) when Unknown.
	Name string
	// Arg is the /hold or /freeze reason or the /rollback SHA
	// (lowercase); empty otherwise.
	Arg string
	// Scope is what /freeze and /unfreeze name: "stage" (every app) or
	// "app/stage"; For is how long /freeze lasts.
	Scope string
	For   time.Duration
	// Text is the command line as written, trimmed and bounded, for quoting
	// in replies.
	Text string
	// Unknown marks a /word that is not a command but looks meant for ensign
	// (a likely typo, or addressed as /ensign); it is answered with help.
	Unknown bool
	// Problem, when not empty, says why a known command is malformed; it is
	// answered with this and not run.
	Problem string
}

// verbs maps the word after "/" to the command it names.
var verbs = map[string]string{
	"help":     policy.CommandHelp,
	"status":   policy.CommandStatus,
	"hold":     policy.CommandHold,
	"unhold":   policy.CommandUnhold,
	"promote":  policy.CommandPromote,
	"rollback": policy.CommandRollback,
	"freeze":   policy.CommandFreeze,
	"unfreeze": policy.CommandUnfreeze,
}

// Parse returns the commands in a comment body, in order. A command is a line
// that starts (after at most three spaces) with "/" and a command word,
// followed by whitespace or the end of the line. Lines in fenced code blocks,
// indented code, block quotes and HTML comments never count, nor do words
// glued to other characters ("/holdx", "/hold.", "/etc/passwd") or a slash
// followed by a space ("/ hold"). At most MaxCommands commands are returned,
// plus one Problem entry noting the rest were not run.
//
// Parse does work linear in len(body) and never panics.
func Parse(body string) []Command {
	var (
		out     []Command
		fence   string // the open code fence ("```" or "~~~..."), if any
		comment bool   // inside a multi-line HTML comment
		rawEnd  string // the closing tag of an open <pre>-like HTML block
		quote   bool   // a block quote's paragraph is open: lines continue it lazily
		extra   int
	)
	for len(body) > 0 {
		line := body
		body = ""
		// CommonMark ends lines at \n, \r\n or a lone \r.
		if i := strings.IndexAny(line, "\r\n"); i >= 0 {
			next := i + 1
			if line[i] == '\r' && next < len(line) && line[next] == '\n' {
				next++
			}
			line, body = line[:i], line[next:]
		}
		if comment {
			if strings.Contains(line, "-->") {
				comment = false
			}
			continue
		}
		if rawEnd != "" {
			if strings.Contains(strings.ToLower(line), rawEnd) {
				rawEnd = ""
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			quote = false
			continue
		}
		indent := leadingSpaces(line)
		if indent < 0 || indent > 3 {
			continue // indented code (or a tab)
		}
		rest := line[indent:]
		if fence != "" {
			if isFenceClose(rest, fence) {
				fence = ""
			}
			continue
		}
		if f := fenceOpen(rest); f != "" {
			fence = f
			continue
		}
		if opensComment(rest) {
			comment = true
		}
		if end := rawBlockOpen(rest); end != "" {
			if !strings.Contains(strings.ToLower(rest), end) {
				rawEnd = end
			}
			continue
		}
		if strings.HasPrefix(rest, ">") {
			// Gitea renders the next lines as part of this quote until a
			// blank line (CommonMark's lazy continuation), so a command
			// there is quoted too.
			quote = strings.TrimSpace(strings.TrimLeft(rest, "> ")) != ""
			continue
		}
		if quote || !strings.HasPrefix(rest, "/") {
			continue
		}
		cmd, ok := parseLine(rest)
		if !ok {
			continue
		}
		if len(out) >= MaxCommands {
			extra++
			continue
		}
		out = append(out, cmd)
	}
	if extra > 0 {
		out = append(out, Command{
			Problem: "only the first " + strconv.Itoa(MaxCommands) + " commands of a comment are run; " + strconv.Itoa(extra) + " more were not run",
		})
	}
	return out
}

// leadingSpaces counts leading spaces; a tab before the first non-space
// character means indented code and yields -1.
func leadingSpaces(line string) int {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case ' ':
		case '\t':
			return -1
		default:
			return i
		}
	}
	return len(line)
}

// fenceOpen returns the fence a line opens ("```", "~~~~", ...), or "".
func fenceOpen(s string) string {
	if len(s) < 3 || (s[0] != '`' && s[0] != '~') {
		return ""
	}
	n := 0
	for n < len(s) && s[n] == s[0] {
		n++
	}
	if n < 3 {
		return ""
	}
	// A backtick fence's info string may not contain backticks.
	if s[0] == '`' && strings.Contains(s[n:], "`") {
		return ""
	}
	return s[:n]
}

// isFenceClose reports whether s closes fence: at least as many of the same
// character and nothing else but spaces.
func isFenceClose(s, fence string) bool {
	n := 0
	for n < len(s) && s[n] == fence[0] {
		n++
	}
	return n >= len(fence) && strings.TrimSpace(s[n:]) == ""
}

// rawBlockOpen returns the closing tag of the HTML block s opens whose
// content Gitea shows verbatim (<pre>, <script>, <style>, <textarea>), or "".
func rawBlockOpen(s string) string {
	lower := strings.ToLower(s)
	for _, tag := range []string{"pre", "script", "style", "textarea"} {
		rest, ok := strings.CutPrefix(lower, "<"+tag)
		if ok && (rest == "" || rest[0] == ' ' || rest[0] == '>' || rest[0] == '\t') {
			return "</" + tag + ">"
		}
	}
	return ""
}

// opensComment reports whether s leaves an HTML comment open at its end.
func opensComment(s string) bool {
	i := strings.LastIndex(s, "<!--")
	return i >= 0 && !strings.Contains(s[i+4:], "-->")
}

// parseLine parses a line starting with "/". ok is false for lines that are
// not meant for ensign.
func parseLine(line string) (Command, bool) {
	word, args, _ := strings.Cut(line[1:], " ")
	if w, a, found := strings.Cut(word, "\t"); found {
		word, args = w, a+" "+args
	}
	args = strings.TrimSpace(args)
	if word == "" || !isWord(word) {
		return Command{}, false
	}
	word = strings.ToLower(word)
	text := bound(strings.TrimSpace(line), maxTextRunes)
	name, known := verbs[word]
	if !known {
		if word == "ensign" || likelyTypo(word) {
			return Command{Name: bound(word, maxWordLen), Text: text, Unknown: true}, true
		}
		return Command{}, false
	}
	cmd := Command{Name: name, Text: text}
	switch name {
	case policy.CommandHelp:
		// Anything after /help is ignored: help is always the same.
	case policy.CommandStatus, policy.CommandUnhold:
		if args != "" {
			cmd.Problem = "/" + word + " takes no arguments"
		}
	case policy.CommandHold:
		cmd.Arg = bound(args, maxReasonRunes)
	case policy.CommandPromote:
		switch {
		case args == "":
		case strings.EqualFold(args, "now"):
			cmd.Name = policy.CommandPromoteNow
		default:
			cmd.Problem = "usage: /promote, or /promote now to override a closed promotion window"
		}
	case policy.CommandRollback:
		switch {
		case args == "":
		case isSHA(args):
			cmd.Arg = strings.ToLower(args)
		default:
			cmd.Problem = "usage: /rollback, or /rollback <commit sha> (7 to 40 hex digits)"
		}
	case policy.CommandFreeze:
		fields := strings.Fields(args)
		if len(fields) < 3 || !isScope(fields[0]) {
			cmd.Problem = "usage: /freeze [app/]stage DURATION reason, for example /freeze podinfo/production 4h database migration"
			break
		}
		d, err := policy.ParseDays(fields[1])
		if err != nil || d <= 0 {
			cmd.Problem = "usage: /freeze [app/]stage DURATION reason; the duration is like 4h, 90m or 2d"
			break
		}
		cmd.Scope, cmd.For = strings.ToLower(fields[0]), d
		cmd.Arg = bound(strings.Join(fields[2:], " "), maxReasonRunes)
	case policy.CommandUnfreeze:
		if fields := strings.Fields(args); len(fields) != 1 || !isScope(fields[0]) {
			cmd.Problem = "usage: /unfreeze [app/]stage, for example /unfreeze production (every app) or /unfreeze podinfo/production"
		} else {
			cmd.Scope = strings.ToLower(fields[0])
		}
	}
	return cmd, true
}

// isWord reports whether w is made only of ASCII letters, digits, '-' and
// '_', so that "/hold." or "/etc/passwd" are not commands.
func isWord(w string) bool {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isScope reports whether s looks like "stage" or "app/stage".
func isScope(s string) bool {
	app, stage, found := strings.Cut(s, "/")
	if !found {
		stage, app = app, "stage"
	}
	return app != "" && stage != "" && isWord(app) && isWord(stage) && len(s) <= 127
}

func isSHA(s string) bool {
	if len(s) < 7 || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// likelyTypo reports whether an unknown word is probably a mistyped command:
// within two edits of one, but not a command with more glued on ("/holdx",
// "/promoted"), which is more likely another tool's command.
func likelyTypo(w string) bool {
	if len(w) < 3 || len(w) > maxWordLen {
		return false
	}
	for verb := range verbs {
		if strings.HasPrefix(w, verb) {
			return false
		}
	}
	for verb := range verbs {
		if policy.EditDistance(w, verb) <= 2 {
			return true
		}
	}
	return false
}

// bound cuts s to at most n runes, marking a cut with "…", and drops
// invalid UTF-8.
func bound(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n {
			break
		}
		count++
	}
	return s[:i] + "…"
}

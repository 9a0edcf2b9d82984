package command

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ensignbot/ensign/policy"
)

func TestParse(t *testing.T) {
	hold := func(text, reason string) Command {
		return Command{Name: policy.CommandHold, Arg: reason, Text: text}
	}
	tests := []struct {
		name string
		body string
		want []Command
	}{
		{"plain hold", "/hold", []Command{hold("/hold", "")}},
		{"hold with reason", "/hold flaky canary in eu-west", []Command{hold("/hold flaky canary in eu-west", "flaky canary in eu-west")}},
		{"hold after text", "Looks risky.\n/hold wait for QA\nthanks", []Command{hold("/hold wait for QA", "wait for QA")}},
		{"crlf", "hi\r\n/hold\r\n", []Command{hold("/hold", "")}},
		{"three spaces indent", "   /hold", []Command{hold("/hold", "")}},
		{"uppercase", "/HOLD", []Command{hold("/HOLD", "")}},
		{"tab separates reason", "/hold\tlater", []Command{hold("/hold\tlater", "later")}},
		{"trailing spaces", "/unhold   ", []Command{{Name: policy.CommandUnhold, Text: "/unhold"}}},
		{"promote", "/promote", []Command{{Name: policy.CommandPromote, Text: "/promote"}}},
		{"promote now", "/promote now", []Command{{Name: policy.CommandPromoteNow, Text: "/promote now"}}},
		{"promote NOW spaced", "/promote   NOW ", []Command{{Name: policy.CommandPromoteNow, Text: "/promote   NOW"}}},
		{"promote bad arg", "/promote later", []Command{{Name: policy.CommandPromote, Text: "/promote later",
			Problem: "usage: /promote, or /promote now to override a closed promotion window"}}},
		{"rollback", "/rollback", []Command{{Name: policy.CommandRollback, Text: "/rollback"}}},
		{"rollback sha", "/rollback 0123ABCdef", []Command{{Name: policy.CommandRollback, Arg: "0123abcdef", Text: "/rollback 0123ABCdef"}}},
		{"rollback bad sha", "/rollback main", []Command{{Name: policy.CommandRollback, Text: "/rollback main",
			Problem: "usage: /rollback, or /rollback <commit sha> (7 to 40 hex digits)"}}},
		{"rollback short sha", "/rollback abc12", []Command{{Name: policy.CommandRollback, Text: "/rollback abc12",
			Problem: "usage: /rollback, or /rollback <commit sha> (7 to 40 hex digits)"}}},
		{"status", "/status", []Command{{Name: policy.CommandStatus, Text: "/status"}}},
		{"freeze every app", "/freeze Production 4h db migration", []Command{{Name: policy.CommandFreeze, Scope: "production", For: 4 * time.Hour,
			Arg: "db migration", Text: "/freeze Production 4h db migration"}}},
		{"freeze one app", "/freeze podinfo/production 1d12h  incident  42", []Command{{Name: policy.CommandFreeze, Scope: "podinfo/production", For: 36 * time.Hour,
			Arg: "incident 42", Text: "/freeze podinfo/production 1d12h  incident  42"}}},
		{"freeze without reason", "/freeze production 4h", []Command{{Name: policy.CommandFreeze, Text: "/freeze production 4h",
			Problem: "usage: /freeze [app/]stage DURATION reason, for example /freeze podinfo/production 4h database migration"}}},
		{"freeze bad duration", "/freeze production soon because", []Command{{Name: policy.CommandFreeze, Text: "/freeze production soon because",
			Problem: "usage: /freeze [app/]stage DURATION reason; the duration is like 4h, 90m or 2d"}}},
		{"freeze bad scope", "/freeze a/b/c 4h why", []Command{{Name: policy.CommandFreeze, Text: "/freeze a/b/c 4h why",
			Problem: "usage: /freeze [app/]stage DURATION reason, for example /freeze podinfo/production 4h database migration"}}},
		{"unfreeze", "/unfreeze podinfo/production", []Command{{Name: policy.CommandUnfreeze, Scope: "podinfo/production", Text: "/unfreeze podinfo/production"}}},
		{"unfreeze nothing", "/unfreeze", []Command{{Name: policy.CommandUnfreeze, Text: "/unfreeze",
			Problem: "usage: /unfreeze [app/]stage, for example /unfreeze production (every app) or /unfreeze podinfo/production"}}},
		{"status with args", "/status please", []Command{{Name: policy.CommandStatus, Text: "/status please", Problem: "/status takes no arguments"}}},
		{"unhold with args", "/unhold now", []Command{{Name: policy.CommandUnhold, Text: "/unhold now", Problem: "/unhold takes no arguments"}}},
		{"help ignores args", "/help promote", []Command{{Name: policy.CommandHelp, Text: "/help promote"}}},
		{"several in order", "/hold a\n/unhold\n/status", []Command{
			hold("/hold a", "a"),
			{Name: policy.CommandUnhold, Text: "/unhold"},
			{Name: policy.CommandStatus, Text: "/status"},
		}},

		// Adversarial: none of these are commands.
		{"quoted", "> /hold", nil},
		{"quoted indented", "  > /hold", nil},
		{"nested quote", ">> /hold", nil},
		{"glued suffix", "/holdx", nil},
		{"glued punctuation", "/hold.", nil},
		{"glued promote", "/promoted", nil},
		{"unhold glued", "/unholdall", nil},
		{"space after slash", "/ hold", nil},
		{"double slash", "//hold", nil},
		{"mid line", "please /hold this", nil},
		{"inline code", "`/hold`", nil},
		{"inline code after text", "run `/hold` to stop it", nil},
		{"four spaces is code", "    /hold", nil},
		{"tab is code", "\t/hold", nil},
		{"fenced code", "```\n/hold\n```", nil},
		{"fenced with info", "```sh\n/hold\n```\n", nil},
		{"tilde fence", "~~~\n/hold\n~~~", nil},
		{"longer fence needs longer close", "````\n```\n/hold\n````", nil},
		{"unclosed fence swallows rest", "```\n/hold\n/unhold", nil},
		{"html comment", "<!--\n/hold\n-->", nil},
		{"html comment inline", "<!-- /hold -->", nil},
		{"path", "/etc/passwd is readable", nil},
		{"url path", "/api/v1/repos", nil},
		{"other bot command", "/retest", nil},
		{"lgtm", "/lgtm", nil},
		{"slash only", "/", nil},
		{"empty", "", nil},

		// Commands around the ignored constructs still count.
		{"after fence", "```\n/hold\n```\n/unhold", []Command{{Name: policy.CommandUnhold, Text: "/unhold"}}},
		{"after html comment", "<!--\n/hold\n-->\n/status", []Command{{Name: policy.CommandStatus, Text: "/status"}}},
		// A line right after a quote continues it lazily: Gitea shows it quoted.
		{"lazy quote continuation", "> /hold\n/hold real", nil},
		{"lazy continuation of quoted text", "> please do not\n/hold", nil},
		{"after quote and a blank line", "> /hold\n\n/hold real", []Command{hold("/hold real", "real")}},
		{"after an empty quote line", ">\n/hold real", []Command{hold("/hold real", "real")}},
		{"pre block", "<pre>\n/hold\n</pre>", nil},
		{"pre block with attributes", "<PRE class=x>\n/hold\n</PRE>\n/unhold", []Command{{Name: policy.CommandUnhold, Text: "/unhold"}}},
		{"one-line pre", "<pre>/hold</pre>\n/hold real", []Command{hold("/hold real", "real")}},
		{"textarea block", "<textarea>\n/hold\n</textarea>", nil},
		{"not a pre tag", "<prelude>\n/hold", []Command{hold("/hold", "")}},
		{"backtick line with backtick info is not a fence", "``` a ` b\n/hold", []Command{hold("/hold", "")}},

		// Unknown words that look meant for ensign get help.
		{"typo", "/hodl", []Command{{Name: "hodl", Text: "/hodl", Unknown: true}}},
		{"typo promote", "/promte", []Command{{Name: "promte", Text: "/promte", Unknown: true}}},
		{"truncated", "/unhol", []Command{{Name: "unhol", Text: "/unhol", Unknown: true}}},
		{"addressed", "/ensign deploy", []Command{{Name: "ensign", Text: "/ensign deploy", Unknown: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(tt.body)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q):\n got %#v\nwant %#v", tt.body, got, tt.want)
			}
		})
	}
}

func TestParseBounds(t *testing.T) {
	t.Run("too many commands", func(t *testing.T) {
		got := Parse(strings.Repeat("/status\n", MaxCommands+5))
		if len(got) != MaxCommands+1 {
			t.Fatalf("got %d commands, want %d", len(got), MaxCommands+1)
		}
		last := got[MaxCommands]
		if last.Name != "" || !strings.Contains(last.Problem, "5 more were not run") {
			t.Fatalf("last entry = %#v, want a note about 5 commands not run", last)
		}
	})
	t.Run("long reason is cut", func(t *testing.T) {
		got := Parse("/hold " + strings.Repeat("é", 500))
		if len(got) != 1 {
			t.Fatalf("got %d commands", len(got))
		}
		if n := utf8.RuneCountInString(got[0].Arg); n != maxReasonRunes+1 || !strings.HasSuffix(got[0].Arg, "…") {
			t.Fatalf("reason has %d runes (%q...), want %d ending in …", n, got[0].Arg[:10], maxReasonRunes+1)
		}
		if n := utf8.RuneCountInString(got[0].Text); n != maxTextRunes+1 {
			t.Fatalf("text has %d runes, want %d", n, maxTextRunes+1)
		}
	})
	t.Run("invalid utf8 dropped", func(t *testing.T) {
		got := Parse("/hold bad\xffbyte")
		if len(got) != 1 || got[0].Arg != "badbyte" {
			t.Fatalf("got %#v", got)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"/hold", "/hold reason", "> /hold", "```\n/hold\n```", "<!--\n/hold\n-->",
		"/promote now", "/rollback abcdef0", "/holdx", "/ hold", "/hodl", "    /hold",
		"/hold\r\n/unhold", strings.Repeat("/status\n", 20), "/ensign x", "~~~~\n/hold\n~~~",
	} {
		f.Add(seed)
	}
	known := map[string]bool{}
	for _, n := range policy.CommandNames() {
		known[n] = true
	}
	f.Fuzz(func(t *testing.T, body string) {
		got := Parse(body)
		if len(got) > MaxCommands+1 {
			t.Fatalf("%d commands returned, bound is %d", len(got), MaxCommands+1)
		}
		for i, c := range got {
			if i == MaxCommands {
				if c.Problem == "" || c.Name != "" {
					t.Fatalf("entry past the bound is not a note: %#v", c)
				}
				continue
			}
			switch {
			case c.Unknown:
				if known[c.Name] {
					t.Fatalf("known command %q marked unknown", c.Name)
				}
			case !known[c.Name]:
				t.Fatalf("unknown command name %q not marked Unknown", c.Name)
			}
			if strings.ContainsAny(c.Text, "\r\n") || strings.ContainsAny(c.Arg, "\r\n") {
				t.Fatalf("text or arg spans lines: %#v", c)
			}
			if !utf8.ValidString(c.Text) || !utf8.ValidString(c.Arg) {
				t.Fatalf("invalid utf-8 in %#v", c)
			}
			if utf8.RuneCountInString(c.Arg) > maxReasonRunes+1 || utf8.RuneCountInString(c.Text) > maxTextRunes+1 {
				t.Fatalf("unbounded text or arg: %#v", c)
			}
			if !strings.HasPrefix(c.Text, "/") {
				t.Fatalf("command text %q does not start with /", c.Text)
			}
		}
		if !reflect.DeepEqual(got, Parse(body)) {
			t.Fatalf("Parse is not deterministic for %q", body)
		}
	})
}

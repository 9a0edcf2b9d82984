package vocab

import (
	"strings"
	"time"
)

// Status comment sections that record a person's decision about a pull
// request, written by ensign after it checked the person's permission.
const (
	// SectionHold holds /hold's who and why.
	SectionHold = "hold"
	// SectionOverride holds /promote now's who, when and for which head.
	SectionOverride = "override"
)

// WindowContext is the commit status context of ensign's window gate, to
// be made a required check in the deploy branch's protection.
const WindowContext = "ensign/window"

// HoldText is the hold section's text: who put the pull request on hold
// (label label) and why.
func HoldText(label, by, reason string) string {
	if reason == "" {
		reason = "no reason given"
	}
	return "⏸️ **On hold** (label " + Code(label) + "), set by @" + by + ": " + oneLine(reason) +
		"\n\nensign will not merge or promote this pull request until someone with permission comments " + Code("/unhold") + "."
}

// ParseHold reads who put a pull request on hold and why from HoldText's
// text; ok is false for anything else.
func ParseHold(text string) (by, reason string, ok bool) {
	_, rest, found := strings.Cut(text, "), set by @")
	if !found {
		return "", "", false
	}
	line, _, _ := strings.Cut(rest, "\n")
	by, reason, ok = strings.Cut(line, ": ")
	return by, reason, ok && by != ""
}

// Override is a person's /promote now on a pull request: the window gate
// lets that head through, whatever the windows say.
type Override struct {
	By   string
	At   time.Time
	Head string
}

// OverrideText is the override section's text.
func OverrideText(o Override) string {
	return "⏩ **Let through outside the windows** by @" + o.By + " at " + o.At.UTC().Format(time.RFC3339) +
		" for head " + Code(o.Head) + "."
}

// ParseOverride reads OverrideText's text; ok is false for anything else.
func ParseOverride(text string) (o Override, ok bool) {
	_, rest, found := strings.Cut(text, "outside the windows** by @")
	if !found {
		return o, false
	}
	by, rest, _ := strings.Cut(rest, " at ")
	at, rest, _ := strings.Cut(rest, " for head ")
	t, err := time.Parse(time.RFC3339, at)
	head := strings.Trim(strings.TrimSuffix(strings.TrimSpace(rest), "."), "`")
	if err != nil || by == "" || head == "" {
		return o, false
	}
	return Override{By: by, At: t, Head: head}, true
}

// oneLine folds text to one line of at most 200 bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:197], "") + "..."
	}
	return s
}

package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxFreezeDuration bounds a freeze: an emergency freeze must end, and one
// longer than a month belongs in the windows as a deny window.
const MaxFreezeDuration = 31 * 24 * time.Hour

// MaxFreezeReasonRunes bounds a freeze's reason.
const MaxFreezeReasonRunes = 200

// Freeze is an emergency freeze: a deny window from From to Until over one
// stage of some apps (every app that has the stage when Apps is empty). It
// is written into the policy file by `ensign freeze` or /freeze and removed
// by ensign once it has ended, so it is reviewed and reverted like any other
// change of the policy.
type Freeze struct {
	// Stage is the stage frozen.
	Stage string
	// Apps are the apps whose Stage is frozen, sorted; empty: all of them.
	Apps []string
	// From and Until bound the freeze: it is active on [From, Until).
	From, Until time.Time
	// By is who asked for it.
	By string
	// Reason says why, for everyone who meets the freeze.
	Reason string
}

// Covers reports whether the freeze applies to the stage of the app.
func (f Freeze) Covers(app, stage string) bool {
	return f.Stage == stage && (len(f.Apps) == 0 || slices.Contains(f.Apps, app))
}

// Active reports whether the freeze holds at now.
func (f Freeze) Active(now time.Time) bool {
	return !now.Before(f.From) && now.Before(f.Until)
}

// Ended reports whether the freeze is over at now.
func (f Freeze) Ended(now time.Time) bool { return !now.Before(f.Until) }

// Scope is "production of every app" or "production of podinfo, web".
func (f Freeze) Scope() string {
	if len(f.Apps) == 0 {
		return f.Stage + " of every app"
	}
	return f.Stage + " of " + strings.Join(f.Apps, ", ")
}

// Window is the freeze as a deny window (IsFreeze is true), named after who froze and until
// when, for evaluating it with a stage's other windows.
func (f Freeze) Window() Window {
	name := "emergency freeze"
	if f.By != "" {
		name += " by " + f.By
	}
	name += " until " + f.Until.UTC().Format("2006-01-02 15:04 UTC")
	return Window{Name: name, Type: Deny, Duration: f.Until.Sub(f.From.UTC().Truncate(time.Second)), Timezone: DefaultWindowTimezone,
		Description: f.Reason, loc: time.UTC, once: f.From.UTC().Truncate(time.Second)}
}

// Check reports what is wrong with a freeze on its own, or nil: a stage,
// an end after its start, at most MaxFreezeDuration long, and a one-line
// reason of at most MaxFreezeReasonRunes.
func (f Freeze) Check() error {
	switch {
	case checkName(f.Stage) != "":
		return fmt.Errorf("stage: %s", checkName(f.Stage))
	case f.From.IsZero() || f.Until.IsZero():
		return fmt.Errorf("a freeze needs a start and an end")
	case !f.Until.After(f.From):
		return fmt.Errorf("the freeze ends (%s) before it starts (%s)", stamp(f.Until), stamp(f.From))
	case f.Until.Sub(f.From) > MaxFreezeDuration:
		d := f.Until.Sub(f.From)
		return fmt.Errorf("the freeze lasts %dd%dh; at most 31 days (744h): a freeze must end; a longer one belongs in the windows",
			int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	case strings.TrimSpace(f.Reason) == "":
		return fmt.Errorf("a freeze needs a reason")
	case utf8.RuneCountInString(f.Reason) > MaxFreezeReasonRunes:
		return fmt.Errorf("the reason is %d characters long; at most %d", utf8.RuneCountInString(f.Reason), MaxFreezeReasonRunes)
	case strings.ContainsAny(f.Reason, "\r\n") || strings.ContainsAny(f.By, "\r\n"):
		return fmt.Errorf("the reason and who asked must be one line each")
	}
	for _, a := range f.Apps {
		if msg := checkName(a); msg != "" {
			return fmt.Errorf("app: %s", msg)
		}
	}
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// StageFreezes returns the freezes that cover s, in file order.
func (p *Policy) StageFreezes(s *Stage) []Freeze {
	if len(p.Freezes) == 0 {
		return nil
	}
	app := p.appOf(s)
	var out []Freeze
	for _, f := range p.Freezes {
		if f.Covers(app, s.Name) {
			out = append(out, f)
		}
	}
	return out
}

// ActiveFreezes returns the freezes that hold s at now.
func (p *Policy) ActiveFreezes(s *Stage, now time.Time) []Freeze {
	var out []Freeze
	for _, f := range p.StageFreezes(s) {
		if f.Active(now) {
			out = append(out, f)
		}
	}
	return out
}

// appOf names the app s belongs to: the one holding s itself, or else the
// stage of that name and overlay (s may be a copy).
func (p *Policy) appOf(s *Stage) string {
	for ai := range p.Apps {
		for si := range p.Apps[ai].Stages {
			if t := &p.Apps[ai].Stages[si]; t == s || (t.Name == s.Name && t.Overlay == s.Overlay) {
				return p.Apps[ai].Name
			}
		}
	}
	return ""
}

// ParseDays parses a duration that may start with whole days: "2d",
// "1d12h", "90m", "4h30m". The days are at most 3660.
func ParseDays(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 3660 {
			return 0, fmt.Errorf("invalid days in %q", s)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q (want for example 4h, 90m, 2d or 1d12h)", s)
	}
	return days + d, nil
}

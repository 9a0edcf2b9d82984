package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ensignbot/ensign/policy"
)

const windowsUsage = `usage: ensign windows [--policy FILE] [--from TIME] [--to TIME|DURATION] [--tz ZONE]
                      [--app APP] [--stage STAGE]

Prints the policy's windows, then for each set of stages that share the same
windows the open and closed periods between --from and --to.

TIME is RFC 3339 (2025-06-13T09:00:00+02:00), "2006-01-02 15:04",
"2006-01-02T15:04", "2006-01-02" (in --tz) or "now". --to may also be a
duration after --from: 36h, 7d, 2d12h.
`

// runWindows implements "ensign windows".
func runWindows(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("windows", windowsUsage)
	file := fs.String("policy", policy.DefaultFilename, "policy file")
	fromS := fs.String("from", "now", "start of the range")
	toS := fs.String("to", "7d", "end of the range, or its length")
	tz := fs.String("tz", "Local", "time zone to display times in, and for TIMEs without an offset")
	app := fs.String("app", "", "only this app")
	stage := fs.String("stage", "", "only stages with this name")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ensign windows: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return usageErr("--tz: unknown time zone %q", *tz)
	}
	now := time.Now().In(loc)
	from, err := parseTime(*fromS, now, loc)
	if err != nil {
		return usageErr("--from: %v", err)
	}
	to, err := parseTime(*toS, now, loc)
	if err != nil {
		d, derr := policy.ParseDays(*toS)
		if derr != nil {
			return usageErr("--to: want a time or a duration, got %q", *toS)
		}
		to = from.Add(d)
	}
	if !to.After(from) {
		return usageErr("--to (%s) must be after --from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}

	p, code := loadPolicyFile(*file, stdout, stderr)
	if p == nil {
		return code
	}
	groups := groupStages(p, *app, *stage)
	if len(groups) == 0 {
		fmt.Fprintf(stderr, "ensign windows: no stage matches --app %q --stage %q\n", *app, *stage)
		return 1
	}
	fmt.Fprintf(stdout, "Promotion windows from %s to %s (%s)\n\n", stamp(from), stamp(to), loc)
	printWindowDefs(stdout, p.Windows)
	for _, g := range groups {
		fmt.Fprintf(stdout, "\n%s\n", strings.Join(g.stages, ", "))
		if len(g.windows) == 0 {
			fmt.Fprintln(stdout, "  always open: no windows apply")
			continue
		}
		fmt.Fprintf(stdout, "  windows: %s\n", strings.Join(g.names, ", "))
		if err := printPeriods(stdout, from, to, loc, g.windows); err != nil {
			fmt.Fprintf(stderr, "ensign windows: %v\n", err)
			return 1
		}
	}
	return 0
}

// stageGroup is the stages that share one list of windows.
type stageGroup struct {
	stages  []string
	names   []string
	windows []policy.Window
}

func groupStages(p *policy.Policy, app, stage string) []*stageGroup {
	var groups []*stageGroup
	byKey := map[string]*stageGroup{}
	for ai := range p.Apps {
		a := &p.Apps[ai]
		if app != "" && a.Name != app {
			continue
		}
		for si := range a.Stages {
			s := &a.Stages[si]
			if stage != "" && s.Name != stage {
				continue
			}
			key := p.WindowsKey(s)
			g := byKey[key]
			if g == nil {
				ws := p.StageWindows(s)
				names := make([]string, len(ws))
				for i, w := range ws {
					names[i] = w.Name
				}
				g = &stageGroup{names: names, windows: ws}
				byKey[key] = g
				groups = append(groups, g)
			}
			g.stages = append(g.stages, a.Name+"/"+s.Name)
		}
	}
	return groups
}

func printWindowDefs(w io.Writer, ws []policy.Window) {
	if len(ws) == 0 {
		fmt.Fprintln(w, "The policy defines no windows.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WINDOW\tTYPE\tSCHEDULE\tDURATION\tTIMEZONE\tDESCRIPTION")
	for _, win := range ws {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", win.Name, win.Type, win.Schedule, human(win.Duration), win.Timezone, win.Description)
	}
	tw.Flush()
}

// printPeriods prints the periods in [from, to), with the first and last
// period's real start and end (which may lie outside the range), and the
// windows active during each within the range.
func printPeriods(w io.Writer, from, to time.Time, loc *time.Location, ws []policy.Window) error {
	periods, err := policy.Periods(from, to, ws)
	if err != nil {
		return err
	}
	starts := make([]time.Time, len(periods))
	ends := make([]time.Time, len(periods))
	for i, pr := range periods {
		starts[i], ends[i] = pr.Start, pr.End
	}
	starts[0] = policy.Evaluate(from, ws).Since
	ends[len(ends)-1] = policy.Evaluate(periods[len(periods)-1].Start, ws).Until
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	types := map[string]policy.WindowType{}
	for _, win := range ws {
		types[win.Name] = win.Type
	}
	fmt.Fprintln(tw, "  STATE\tFROM\tUNTIL\tFOR\tWINDOWS ACTIVE DURING IT")
	for i, pr := range periods {
		state := "closed"
		if pr.Open {
			state = "open"
		}
		length := "-"
		if !starts[i].IsZero() && !ends[i].IsZero() {
			length = human(ends[i].Sub(starts[i]))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", state, stampOr(starts[i], loc, "(long before)"),
			stampOr(ends[i], loc, "(long after)"), length, activeList(pr.Active, types))
	}
	return tw.Flush()
}

// activeList lists deny windows first, as they decide a closed period.
func activeList(active []string, types map[string]policy.WindowType) string {
	var deny, allow []string
	for _, n := range active {
		if types[n] == policy.Deny {
			deny = append(deny, n)
		} else {
			allow = append(allow, n)
		}
	}
	var parts []string
	if len(deny) > 0 {
		parts = append(parts, "deny: "+strings.Join(deny, ", "))
	}
	if len(allow) > 0 {
		parts = append(parts, "allow: "+strings.Join(allow, ", "))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

func stamp(t time.Time) string { return t.Format("Mon 2006-01-02 15:04 MST") }

func stampOr(t time.Time, loc *time.Location, zero string) string {
	if t.IsZero() {
		return zero
	}
	return stamp(t.In(loc))
}

// human formats a duration as days, hours and minutes: "2d15h", "8h", "45m".
func human(d time.Duration) string {
	if d < time.Minute {
		return d.String()
	}
	d = d.Round(time.Minute)
	days, d := d/(24*time.Hour), d%(24*time.Hour)
	hours, mins := d/time.Hour, (d%time.Hour)/time.Minute
	var b strings.Builder
	if days > 0 {
		fmt.Fprintf(&b, "%dd", days)
	}
	if hours > 0 {
		fmt.Fprintf(&b, "%dh", hours)
	}
	if mins > 0 {
		fmt.Fprintf(&b, "%dm", mins)
	}
	return b.String()
}

// parseTime reads a --from/--to TIME; zone-less forms are in loc.
func parseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(loc), nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q (want RFC 3339, \"2006-01-02 15:04\", \"2006-01-02\" or now)", s)
}

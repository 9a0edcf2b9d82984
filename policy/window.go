package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // windows must evaluate the same on every host, including ones without zoneinfo

	"github.com/robfig/cron/v3"
)

// WindowType says whether a window permits or forbids merges.
type WindowType string

// Window types.
const (
	// Allow windows open a stage: if a stage has any, it is open only inside
	// one of them.
	Allow WindowType = "allow"
	// Deny windows close a stage while active, whatever the allow windows say.
	Deny WindowType = "deny"
)

// Window is a named, recurring period: it starts at every time its cron
// Schedule matches in its time zone and lasts Duration of elapsed time.
//
// Start times follow the wall clock of the zone, so "0 9 * * 1-5" starts at
// 09:00 local time on both sides of a DST change. Because Duration is elapsed
// time, a window that spans a DST change ends an hour earlier or later on
// the wall clock (a 22:00 start with 8h ends at 05:00 or 07:00 that night).
// A start that falls in the hour skipped when clocks go forward happens at
// the first instant after the gap; a start in the hour repeated when clocks
// go back happens once, the first time.
//
// Only Load and NewWindow make usable Windows; Evaluate treats any other
// Window as an active deny window (it fails closed).
type Window struct {
	Name        string
	Type        WindowType
	Schedule    string
	Duration    time.Duration
	Timezone    string
	Description string

	loc  *time.Location
	spec *cron.SpecSchedule
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronEpoch is the fixed instant from which "does this schedule ever start"
// is checked; any instant works because 5-field schedules repeat.
var cronEpoch = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// NewWindow checks and compiles a window. The schedule is a 5-field cron
// expression (minute hour day-of-month month day-of-week) or one of the
// descriptors @yearly, @annually, @monthly, @weekly, @daily, @midnight and
// @hourly. Duration must be positive, at most MaxWindowDuration and a whole
// number of seconds. Timezone is an IANA zone name; empty means UTC.
func NewWindow(name string, typ WindowType, schedule string, d time.Duration, timezone string) (Window, error) {
	w := Window{Name: name, Type: typ, Schedule: schedule, Duration: d, Timezone: timezone}
	if typ != Allow && typ != Deny {
		return Window{}, fmt.Errorf("unknown window type %q (want allow or deny)", typ)
	}
	if err := checkDuration(d, d.String()); err != nil {
		return Window{}, err
	}
	loc, err := loadZone(timezone)
	if err != nil {
		return Window{}, err
	}
	spec, err := parseSchedule(schedule, loc)
	if err != nil {
		return Window{}, err
	}
	if w.Timezone == "" {
		w.Timezone = DefaultWindowTimezone
	}
	w.loc, w.spec = loc, spec
	return w, nil
}

// Location returns the window's time zone, or nil for a Window not made by
// Load or NewWindow.
func (w Window) Location() *time.Location { return w.loc }

func (w Window) valid() bool { return w.spec != nil && w.loc != nil && w.Duration > 0 }

// checkDuration checks a window duration; shown is how the user wrote it.
func checkDuration(d time.Duration, shown string) error {
	switch {
	case d <= 0:
		return fmt.Errorf("duration must be positive, got %s", shown)
	case d > MaxWindowDuration:
		return fmt.Errorf("duration %s is longer than 7 days (168h)", shown)
	case d%time.Second != 0:
		return fmt.Errorf("duration %s is not a whole number of seconds", shown)
	}
	return nil
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, errors.New(`time zone "Local" depends on the host; name an IANA zone such as Europe/Amsterdam`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as Europe/Amsterdam)", name)
	}
	return loc, nil
}

func parseSchedule(s string, loc *time.Location) (*cron.SpecSchedule, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, errors.New("schedule is empty")
	case strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ="):
		return nil, errors.New("schedule must not set a time zone; use the window's timezone field")
	case strings.HasPrefix(s, "@every"):
		return nil, errors.New("@every is not allowed; windows start at calendar times")
	}
	if !strings.HasPrefix(s, "@") && len(strings.Fields(s)) != 5 {
		return nil, fmt.Errorf("invalid cron schedule %q: want 5 fields (minute hour day-of-month month day-of-week)", s)
	}
	sched, err := cronParser.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid cron schedule %q: %w", s, err)
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("invalid cron schedule %q", s)
	}
	spec.Location = loc
	if spec.Next(cronEpoch).IsZero() {
		return nil, fmt.Errorf("cron schedule %q never starts (no matching date)", s)
	}
	return spec, nil
}

// next returns the window's first start strictly after t, or the zero time if
// none within cron's five-year search. It corrects robfig/cron's DST
// behaviour (see Window): starts inside a spring-forward gap move to the end
// of the gap, and a wall-clock time repeated in autumn starts only once.
func (w Window) next(t time.Time) time.Time {
	a := w.spec.Next(t)
	for !a.IsZero() && repeatedWallClock(a.In(w.loc)) {
		a = w.spec.Next(a)
	}
	limit := a
	if limit.IsZero() {
		limit = t.AddDate(5, 0, 0)
	}
	if g, ok := w.gapStart(t, limit); ok && (a.IsZero() || g.Before(a)) {
		return g
	}
	return a
}

// repeatedWallClock reports whether t's wall-clock reading already happened
// earlier, because clocks went back shortly before t.
func repeatedWallClock(t time.Time) bool {
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return false
	}
	_, before := start.Add(-time.Nanosecond).Zone()
	_, after := start.Zone()
	back := time.Duration(before-after) * time.Second
	return back > 0 && t.Sub(start) < back
}

// gapStart returns the end of the first spring-forward gap in (t, limit]
// whose skipped wall-clock minutes include a start of the schedule.
func (w Window) gapStart(t, limit time.Time) (time.Time, bool) {
	z := t.In(w.loc)
	for i := 0; i < 32; i++ { // five years of twice-yearly changes, with room
		_, end := z.ZoneBounds()
		if end.IsZero() || end.After(limit) {
			return time.Time{}, false
		}
		_, before := end.Add(-time.Nanosecond).Zone()
		_, after := end.Zone()
		if skipped := time.Duration(after-before) * time.Second; skipped > 0 && end.After(t) {
			if w.matchesWallRange(end.Add(-time.Nanosecond).In(w.loc), skipped) {
				return end.In(t.Location()), true
			}
		}
		z = end
	}
	return time.Time{}, false
}

// matchesWallRange reports whether the schedule matches a whole minute of the
// wall-clock span of length skipped that ends just after last (the final
// instant before a gap, in the zone before the gap).
func (w Window) matchesWallRange(last time.Time, skipped time.Duration) bool {
	// Wall clock of the first skipped minute, as a zone-free UTC reading.
	y, mo, d := last.Date()
	h, mi, _ := last.Clock()
	first := time.Date(y, mo, d, h, mi, 0, 0, time.UTC).Add(time.Minute)
	for m := time.Duration(0); m < skipped; m += time.Minute {
		if specMatches(w.spec, first.Add(m)) {
			return true
		}
	}
	return false
}

// starBit is robfig/cron's marker for a field written as "*".
const starBit = 1 << 63

// specMatches reports whether wall (a wall-clock reading held in UTC) is a
// start of spec, following cron's day-of-month/day-of-week rule.
func specMatches(spec *cron.SpecSchedule, wall time.Time) bool {
	bit := func(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }
	if !bit(spec.Second, wall.Second()) || !bit(spec.Minute, wall.Minute()) ||
		!bit(spec.Hour, wall.Hour()) || !bit(spec.Month, int(wall.Month())) {
		return false
	}
	dom, dow := bit(spec.Dom, wall.Day()), bit(spec.Dow, int(wall.Weekday()))
	if spec.Dom&starBit != 0 || spec.Dow&starBit != 0 {
		return dom && dow
	}
	return dom || dow
}

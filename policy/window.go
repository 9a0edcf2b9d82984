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
	// once, for a freeze's window, is its only start (spec is nil).
	once time.Time
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
	spec, err := parseSchedule(schedule)
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

// ActiveAt reports whether w is active at t: a start s of w has
// s <= t < s+Duration.
func (w Window) ActiveAt(t time.Time) bool {
	if !w.valid() {
		return false
	}
	s := w.next(t.Add(-w.Duration))
	return !s.IsZero() && !s.After(t)
}

// IsFreeze reports whether w is an emergency freeze's window (see
// Freeze.Window); its Description is the freeze's reason.
func (w Window) IsFreeze() bool { return !w.once.IsZero() }

func (w Window) valid() bool {
	return (w.spec != nil || !w.once.IsZero()) && w.loc != nil && w.Duration > 0
}

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

func parseSchedule(s string) (*cron.SpecSchedule, error) {
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
	// Schedules run on wall-clock readings held in UTC; see Window.next.
	spec.Location = time.UTC
	if spec.Next(cronEpoch).IsZero() {
		return nil, fmt.Errorf("cron schedule %q never starts (no matching date)", s)
	}
	return spec, nil
}

// next returns the window's first start strictly after t, or the zero time if
// none within cron's five-year search.
//
// robfig/cron steps through local time by adding hours and days, which
// skips starts in DST gaps and goes wrong in zones whose DST shift is not
// one hour (Australia/Lord_Howe moves 30 minutes: a weekly "@weekly" there
// loses a whole week each April). So the schedule runs on the wall-clock
// reading held in UTC, where no day is longer or shorter than another, and
// each matching wall time is mapped back to an instant in the zone: its
// first occurrence when the clocks went back, or the end of the gap when
// the clocks skipped it. Mapping preserves order, so the first mapped
// start after t is the answer.
func (w Window) next(t time.Time) time.Time {
	if w.spec == nil {
		if w.once.After(t) {
			return w.once.In(t.Location())
		}
		return time.Time{}
	}
	wall := wallClock(t.In(w.loc))
	for range 10000 { // each turn moves wall forward; repeats span at most hours
		c := w.spec.Next(wall)
		if c.IsZero() {
			return c
		}
		if u := w.instantOf(c); u.After(t) {
			return u.In(t.Location())
		}
		wall = c
	}
	return time.Time{}
}

// wallClock returns t's wall-clock reading as a UTC time.
func wallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// instantOf returns the first instant whose wall-clock reading in the
// window's zone is c (a wall-clock reading held in UTC), or, if the clocks
// skipped c, the instant the skip ended.
func (w Window) instantOf(c time.Time) time.Time {
	naive := time.Date(c.Year(), c.Month(), c.Day(), c.Hour(), c.Minute(), c.Second(), c.Nanosecond(), w.loc)
	var first time.Time
	// Offsets in force within a few hours either side cover every
	// transition (the largest DST shift is 2h).
	for _, probe := range []time.Time{naive.Add(-3 * time.Hour), naive, naive.Add(3 * time.Hour)} {
		_, off := probe.Zone()
		u := c.Add(-time.Duration(off) * time.Second)
		if wallClock(u.In(w.loc)).Equal(c) && (first.IsZero() || u.Before(first)) {
			first = u
		}
	}
	if !first.IsZero() {
		return first
	}
	// c fell in a gap: read with the offset before the gap, it lands in the
	// new zone, which starts where the gap ends.
	_, before := naive.Add(-3 * time.Hour).Zone()
	start, _ := c.Add(-time.Duration(before) * time.Second).In(w.loc).ZoneBounds()
	return start
}

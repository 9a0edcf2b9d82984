package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// narrator prints the story for a person watching the demo. It only
// formats; it never decides anything.
type narrator struct {
	w     io.Writer
	start time.Time
}

func newNarrator(w io.Writer) *narrator { return &narrator{w: w, start: time.Now()} }

// step starts step i of n.
func (n *narrator) step(i, total int, title string) {
	fmt.Fprintf(n.w, "\n[%d/%d] %s  (%s)\n", i, total, title, n.elapsed())
}

// say prints a line of the story.
func (n *narrator) say(format string, args ...any) {
	fmt.Fprintf(n.w, "      %s\n", fmt.Sprintf(format, args...))
}

// look tells where to see what just happened.
func (n *narrator) look(what, where string) {
	fmt.Fprintf(n.w, "      look: %-14s %s\n", what, where)
}

// waiting announces a bounded wait.
func (n *narrator) waiting(d time.Duration, format string, args ...any) {
	fmt.Fprintf(n.w, "      ... waiting up to %s for %s\n", d.Round(time.Second), fmt.Sprintf(format, args...))
}

// quote prints text indented, at most maxLines of it.
func (n *narrator) quote(text string, maxLines int) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	more := 0
	if maxLines > 0 && len(lines) > maxLines {
		lines, more = lines[:maxLines], len(lines)-maxLines
	}
	for _, l := range lines {
		fmt.Fprintf(n.w, "        | %s\n", l)
	}
	if more > 0 {
		fmt.Fprintf(n.w, "        | ... (%d more lines)\n", more)
	}
}

// plain prints a line without indentation.
func (n *narrator) plain(format string, args ...any) {
	fmt.Fprintf(n.w, "%s\n", fmt.Sprintf(format, args...))
}

func (n *narrator) elapsed() string {
	return "+" + time.Since(n.start).Round(100*time.Millisecond).String()
}

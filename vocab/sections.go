package vocab

import (
	"regexp"
	"strings"
)

var sectionNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// ValidSection reports whether name can name a section of the status
// comment: 1 to 32 lowercase letters, digits, '_' and '-'.
func ValidSection(name string) bool { return sectionNameRE.MatchString(name) }

// statusHeader opens every status comment.
const statusHeader = "**ensign**"

// noSections is shown when a status comment has no sections left.
const noSections = "_Nothing pending._"

type section struct{ name, text string }

func sectionStart(name string) string { return "<!-- ensign:section:" + name + " -->" }
func sectionEnd(name string) string   { return "<!-- ensign:end:" + name + " -->" }

// parseSections returns the named sections of a status comment body in order.
// Text outside sections is dropped; an unterminated section runs to the end.
func parseSections(body string) []section {
	var out []section
	var cur *section
	var lines []string
	for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		if cur == nil {
			name, ok := strings.CutPrefix(line, "<!-- ensign:section:")
			if ok {
				name, ok = strings.CutSuffix(name, " -->")
			}
			if ok && sectionNameRE.MatchString(name) {
				cur, lines = &section{name: name}, lines[:0]
			}
			continue
		}
		if line == sectionEnd(cur.name) {
			cur.text = strings.Join(lines, "\n")
			out = append(out, *cur)
			cur = nil
			continue
		}
		lines = append(lines, line)
	}
	if cur != nil {
		cur.text = strings.Join(lines, "\n")
		out = append(out, *cur)
	}
	return out
}

// Section returns the text of the named section of a status comment body.
func Section(body, name string) string {
	for _, s := range parseSections(body) {
		if s.name == name {
			return s.text
		}
	}
	return ""
}

// SetSection returns body with the named section set to text, or removed
// when text is empty. Other sections keep their text and order; a new
// section goes last. Text cannot forge section markers: "<!--" in it is
// escaped.
func SetSection(body, name, text string) string {
	text = strings.TrimRight(strings.ReplaceAll(text, "<!--", "&lt;!--"), "\n")
	secs := parseSections(body)
	found := false
	kept := secs[:0]
	for _, s := range secs {
		if s.name == name {
			found = true
			if text == "" {
				continue
			}
			s.text = text
		}
		kept = append(kept, s)
	}
	if !found && text != "" {
		kept = append(kept, section{name: name, text: text})
	}
	var b strings.Builder
	b.WriteString(statusHeader)
	if len(kept) == 0 {
		b.WriteString("\n\n" + noSections)
	}
	for _, s := range kept {
		b.WriteString("\n\n" + sectionStart(s.name) + "\n" + s.text + "\n" + sectionEnd(s.name))
	}
	return b.String()
}

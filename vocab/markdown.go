package vocab

import "strings"

// Code renders s as Markdown inline code that nothing in s can break out
// of: control characters become spaces and the fence is longer than any run
// of backticks in s.
func Code(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if len(fence) > 1 || strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") {
		// CommonMark strips one space on each side of padded code.
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// CodeBlock renders lines as a fenced code block whose fence no line can
// close, so text from outside (events, errors) shown in it cannot link,
// embed or mention.
func CodeBlock(lines []string) string {
	fence := "```"
	for _, l := range lines {
		for strings.Contains(l, fence) {
			fence += "`"
		}
	}
	return fence + "text\n" + strings.Join(lines, "\n") + "\n" + fence + "\n"
}

// UpperFirst returns s with its first letter in upper case (ASCII only).
func UpperFirst(s string) string {
	if s != "" && 'a' <= s[0] && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

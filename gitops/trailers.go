package gitops

import (
	"strings"
)

// Trailer is one "Key: value" line of a commit message's trailer block.
type Trailer struct {
	Key   string
	Value string
}

// String renders the trailer as a message line (without the newline).
func (t Trailer) String() string { return t.Key + ": " + t.Value }

// git's generated prefixes make a mixed last paragraph count as trailers.
var gitGeneratedPrefixes = []string{"Signed-off-by: ", "(cherry picked from commit "}

// ParseTrailers returns the trailers of a commit message the way
// `git interpret-trailers --parse --no-divider` reads them: only the last
// paragraph counts, never the title paragraph, continuation lines are folded
// into one space, keys and values are trimmed. Lines inside the block that are
// not trailers are skipped.
func ParseTrailers(msg string) []Trailer {
	block := trailerBlock(msg)
	if block == "" {
		return nil
	}
	// Join continuation lines onto the trailer before them, as git does.
	var items []string
	last := -1
	for _, line := range splitLinesKeepNL(block) {
		if last >= 0 && isGitSpace(line[0]) {
			items[last] += line
			continue
		}
		items = append(items, line)
		last = -1
		if findSeparator(line) >= 1 {
			last = len(items) - 1
		}
	}
	var out []Trailer
	for _, it := range items {
		if it[0] == '#' {
			continue
		}
		sep := findSeparator(it)
		if sep < 1 {
			continue
		}
		out = append(out, Trailer{
			Key:   trimGitSpace(it[:sep]),
			Value: unfold(trimGitSpace(it[sep+1:])),
		})
	}
	return out
}

// TrailerValues returns the values of every trailer with the given key
// (compared case-insensitively, as git compares trailer keys).
func TrailerValues(msg, key string) []string {
	var vals []string
	for _, t := range ParseTrailers(msg) {
		if strings.EqualFold(t.Key, key) {
			vals = append(vals, t.Value)
		}
	}
	return vals
}

// AppendTrailers returns msg with the trailers added as git would add them:
// to the existing trailer block if the message ends with one, otherwise as a
// new last paragraph. The result ends with a newline. Keys must be tokens of
// letters, digits and '-'; values must be one line (callers build both).
func AppendTrailers(msg string, trailers ...Trailer) string {
	msg = strings.TrimRight(msg, " \t\r\n")
	if len(trailers) == 0 {
		return msg + "\n"
	}
	var b strings.Builder
	b.WriteString(msg)
	if trailerBlock(msg+"\n") != "" {
		b.WriteString("\n")
	} else {
		b.WriteString("\n\n")
	}
	for _, t := range trailers {
		b.WriteString(t.String())
		b.WriteString("\n")
	}
	return b.String()
}

// trailerBlock returns the text of the trailer block of msg, or "".
func trailerBlock(msg string) string {
	end := len(msg) - ignoredTail(msg)
	buf := msg[:end]

	// The first paragraph is the title and cannot hold trailers.
	endOfTitle := len(buf)
	for s := 0; s < len(buf); s = nextLine(buf, s) {
		if buf[s] == '#' {
			continue
		}
		if isBlankLine(buf[s:]) {
			endOfTitle = s
			break
		}
	}

	onlySpaces := true
	recognized := false
	trailerLines, nonTrailerLines, possibleCont := 0, 0, 0
	start := -1
	for l := lastLine(buf, len(buf)); l >= endOfTitle && l >= 0; l = lastLine(buf, l) {
		line := buf[l:]
		if buf[l] == '#' {
			nonTrailerLines += possibleCont
			possibleCont = 0
			continue
		}
		if isBlankLine(line) {
			if onlySpaces {
				continue
			}
			nonTrailerLines += possibleCont
			if (recognized && trailerLines*3 >= nonTrailerLines) || (trailerLines > 0 && nonTrailerLines == 0) {
				start = nextLine(buf, l)
			}
			break
		}
		onlySpaces = false
		generated := false
		for _, p := range gitGeneratedPrefixes {
			if strings.HasPrefix(line, p) {
				generated = true
				break
			}
		}
		switch {
		case generated:
			trailerLines++
			possibleCont = 0
			recognized = true
		case findSeparator(line) >= 1 && !isGitSpace(line[0]):
			trailerLines++
			possibleCont = 0
		case isGitSpace(line[0]):
			possibleCont++
		default:
			nonTrailerLines++
			nonTrailerLines += possibleCont
			possibleCont = 0
		}
	}
	if start < 0 {
		return ""
	}
	return buf[start:]
}

// ignoredTail is the length of trailing comment lines, blank lines and an old
// "Conflicts:" block that git ignores after a message (ignore_non_trailer).
func ignoredTail(buf string) int {
	boc, inConflicts := -1, false
	for bol := 0; bol < len(buf); bol = nextLine(buf, bol) {
		switch {
		case buf[bol] == '#' || buf[bol] == '\n':
			if boc < 0 {
				boc = bol
			}
		case strings.HasPrefix(buf[bol:], "Conflicts:\n"):
			inConflicts = true
			if boc < 0 {
				boc = bol
			}
		case inConflicts && buf[bol] == '\t':
		case boc >= 0:
			boc, inConflicts = -1, false
		}
	}
	if boc < 0 {
		return 0
	}
	return len(buf) - boc
}

// findSeparator returns the index of the ':' ending a trailer token at the
// start of line, or -1 (git's find_separator with separators ":").
func findSeparator(line string) int {
	spaceSeen := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\n' {
			break
		}
		if c == ':' {
			return i
		}
		if !spaceSeen && (isAlnum(c) || c == '-') {
			continue
		}
		if i != 0 && (c == ' ' || c == '\t') {
			spaceSeen = true
			continue
		}
		break
	}
	return -1
}

func unfold(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); {
		c := v[i]
		i++
		if c == '\n' {
			for i < len(v) && isGitSpace(v[i]) {
				i++
			}
			b.WriteByte(' ')
			continue
		}
		b.WriteByte(c)
	}
	return trimGitSpace(b.String())
}

func isBlankLine(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return true
		}
		if !isGitSpace(s[i]) {
			return false
		}
	}
	return true
}

// lastLine returns the start of the line before the one starting at end
// (git's last_line), or -1.
func lastLine(buf string, end int) int {
	if end == 0 {
		return -1
	}
	if end == 1 {
		return 0
	}
	i := end - 2 // skip the newline ending the previous line
	for i >= 0 && buf[i] != '\n' {
		i--
	}
	return i + 1
}

func nextLine(buf string, s int) int {
	if i := strings.IndexByte(buf[s:], '\n'); i >= 0 {
		return s + i + 1
	}
	return len(buf)
}

func splitLinesKeepNL(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// isGitSpace is git's isspace: space, tab, newline, carriage return.
func isGitSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func trimGitSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isGitSpace(s[i]) {
		i++
	}
	for j > i && isGitSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

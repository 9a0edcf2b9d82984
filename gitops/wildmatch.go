package gitops

import "strings"

// wildmatch matches a gitattributes (or gitignore) pattern against a path
// the way git's wildmatch does. With pathname set, '*' and '?' do not match
// '/', and "**" between slashes (or at either end) matches any number of
// directories; without it, '*' matches anything. Classes are "[...]" with
// '!' or '^' for negation, ranges, backslash escapes and POSIX classes
// such as "[:alpha:]"; a backslash makes the next character literal.
func wildmatch(pattern, text string, pathname bool) bool {
	return wildAt(pattern, 0, text, pathname) == wmMatch
}

type wmResult int

const (
	wmNoMatch wmResult = iota
	wmMatch
	wmAbortAll       // nothing later in the text can match either
	wmAbortToDoubled // a single '*' met a '/': let an enclosing "**" go on
)

func wildAt(pat string, pi int, text string, pathname bool) wmResult {
	ti := 0
	for ; pi < len(pat); pi, ti = pi+1, ti+1 {
		pc := pat[pi]
		if ti >= len(text) && pc != '*' {
			return wmAbortAll
		}
		var tc byte
		if ti < len(text) {
			tc = text[ti]
		}
		switch pc {
		case '\\':
			pi++
			if pi >= len(pat) || tc != pat[pi] {
				return wmNoMatch
			}
		case '?':
			if pathname && tc == '/' {
				return wmNoMatch
			}
		case '*':
			return starAt(pat, pi, text[ti:], pathname)
		case '[':
			next, r := classAt(pat, pi, tc, pathname)
			if r != wmMatch {
				return r
			}
			pi = next
		default:
			if tc != pc {
				return wmNoMatch
			}
		}
	}
	if ti < len(text) {
		return wmNoMatch
	}
	return wmMatch
}

// starAt matches a run of '*' starting at pat[pi] against text.
func starAt(pat string, pi int, text string, pathname bool) wmResult {
	start := pi
	for pi < len(pat) && pat[pi] == '*' {
		pi++
	}
	matchSlash := !pathname
	if pi-start >= 2 && pathname {
		atStart := start == 0 || pat[start-1] == '/'
		atEnd := pi == len(pat) || pat[pi] == '/' || (pat[pi] == '\\' && pi+1 < len(pat) && pat[pi+1] == '/')
		if atStart && atEnd {
			// "**/" may also match no directory at all.
			if pi < len(pat) && pat[pi] == '/' && wildAt(pat, pi+1, text, pathname) == wmMatch {
				return wmMatch
			}
			matchSlash = true
		}
	}
	if pi == len(pat) {
		if !matchSlash && strings.Contains(text, "/") {
			return wmNoMatch
		}
		return wmMatch
	}
	if !matchSlash && pat[pi] == '/' {
		// One '*' then '/': the rest starts at the next slash.
		if i := strings.IndexByte(text, '/'); i >= 0 {
			return wildAt(pat, pi, text[i:], pathname)
		}
		return wmNoMatch
	}
	for ti := 0; ti < len(text); ti++ {
		if c := pat[pi]; !isGlobSpecial(c) {
			// The '*' must take everything up to the literal that follows.
			for ti < len(text) && (matchSlash || text[ti] != '/') && text[ti] != c {
				ti++
			}
			if ti >= len(text) || text[ti] != c {
				return wmNoMatch
			}
		}
		r := wildAt(pat, pi, text[ti:], pathname)
		if r != wmNoMatch {
			if !matchSlash || r != wmAbortToDoubled {
				return r
			}
		} else if !matchSlash && text[ti] == '/' {
			return wmAbortToDoubled
		}
	}
	return wmAbortAll
}

func isGlobSpecial(c byte) bool {
	return c == '*' || c == '?' || c == '[' || c == '\\'
}

// classAt matches the bracket expression at pat[pi] against c; it returns
// the index of the closing ']'.
func classAt(pat string, pi int, c byte, pathname bool) (int, wmResult) {
	pi++
	if pi >= len(pat) {
		return pi, wmAbortAll
	}
	negated := pat[pi] == '!' || pat[pi] == '^'
	if negated {
		pi++
	}
	matched := false
	var prev byte
	for first := true; first || pi < len(pat) && pat[pi] != ']'; first = false {
		if pi >= len(pat) {
			return pi, wmAbortAll
		}
		pc := pat[pi]
		switch {
		case pc == '\\':
			pi++
			if pi >= len(pat) {
				return pi, wmAbortAll
			}
			pc = pat[pi]
			if c == pc {
				matched = true
			}
		case pc == '-' && prev != 0 && pi+1 < len(pat) && pat[pi+1] != ']':
			pi++
			hi := pat[pi]
			if hi == '\\' {
				pi++
				if pi >= len(pat) {
					return pi, wmAbortAll
				}
				hi = pat[pi]
			}
			if c >= prev && c <= hi {
				matched = true
			}
			pc = 0
		case pc == '[' && pi+1 < len(pat) && pat[pi+1] == ':':
			end := pi + 2
			for end < len(pat) && pat[end] != ']' {
				end++
			}
			if end >= len(pat) {
				return pi, wmAbortAll
			}
			if end-(pi+2) < 1 || pat[end-1] != ':' {
				// not "[:name:]": a literal '['
				if c == '[' {
					matched = true
				}
				break
			}
			ok, known := posixClass(pat[pi+2:end-1], c)
			if !known {
				return pi, wmAbortAll
			}
			if ok {
				matched = true
			}
			pi = end
			pc = 0
		default:
			if c == pc {
				matched = true
			}
		}
		prev = pc
		pi++
	}
	if pi >= len(pat) {
		return pi, wmAbortAll
	}
	if matched == negated || (pathname && c == '/') {
		return pi, wmNoMatch
	}
	return pi, wmMatch
}

func posixClass(name string, c byte) (match, known bool) {
	isUpper, isLower := c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z'
	isDigit := c >= '0' && c <= '9'
	isAlpha := isUpper || isLower
	isPunct := c > ' ' && c < 0x7f && !isAlpha && !isDigit
	switch name {
	case "alnum":
		return isAlpha || isDigit, true
	case "alpha":
		return isAlpha, true
	case "blank":
		return c == ' ' || c == '\t', true
	case "cntrl":
		return c < ' ' || c == 0x7f, true
	case "digit":
		return isDigit, true
	case "graph":
		return c > ' ' && c < 0x7f, true
	case "lower":
		return isLower, true
	case "print":
		return c >= ' ' && c < 0x7f, true
	case "punct":
		return isPunct, true
	case "space":
		return c == ' ' || (c >= '\t' && c <= '\r'), true
	case "upper":
		return isUpper, true
	case "xdigit":
		return isDigit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'), true
	}
	return false, false
}

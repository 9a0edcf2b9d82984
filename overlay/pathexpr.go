package overlay

import (
	"fmt"
	"strconv"
	"strings"
)

// segKind tells what a path segment selects.
type segKind uint8

const (
	segKey   segKind = iota // a mapping key
	segIndex                // a sequence index
	segMatch                // the sequence item whose matchKey equals matchValue
)

// segment is one step of a parsed YAML path.
type segment struct {
	kind       segKind
	key        string // segKey: key; segMatch: key to compare
	value      string // segMatch: value to compare
	index      int    // segIndex
	text       string // the path up to and including this segment
	parentText string // the path before this segment
}

// parsePath parses a YAML path such as `spec.values.image.tag`,
// `spec.containers[0].image`, `spec.containers[name=app].image` or
// `metadata.annotations["example.com/x"]`. Bracketed keys and match values
// may be quoted with "..." (backslash escapes) or '...' (” escapes).
func parsePath(p string) ([]segment, error) {
	var segs []segment
	bad := func(i int, why string) error {
		return fmt.Errorf("path %q at %d: %s: %w", p, i, why, ErrInvalid)
	}
	i := 0
	for {
		start := i
		for i < len(p) && p[i] != '.' && p[i] != '[' && p[i] != ']' {
			i++
		}
		if i > start {
			segs = append(segs, segment{kind: segKey, key: p[start:i], text: p[:i]})
		} else if !(i < len(p) && p[i] == '[' && start == 0) {
			return nil, bad(i, "empty key")
		}
		for i < len(p) && p[i] == '[' {
			i++
			var s segment
			if i < len(p) && (p[i] == '"' || p[i] == '\'') {
				key, n, err := unquote(p[i:])
				if err != nil {
					return nil, bad(i, err.Error())
				}
				i += n
				s = segment{kind: segKey, key: key}
			} else {
				j := strings.IndexByte(p[i:], ']')
				eq := strings.IndexByte(p[i:], '=')
				switch {
				case j < 0:
					return nil, bad(i, "missing ]")
				case eq >= 0 && eq < j:
					s = segment{kind: segMatch, key: p[i : i+eq]}
					i += eq + 1
					if i < len(p) && (p[i] == '"' || p[i] == '\'') {
						v, n, err := unquote(p[i:])
						if err != nil {
							return nil, bad(i, err.Error())
						}
						s.value = v
						i += n
					} else {
						j = strings.IndexByte(p[i:], ']')
						s.value = p[i : i+j]
						i += j
					}
					if s.key == "" {
						return nil, bad(i, "empty match key")
					}
				default:
					n, err := strconv.Atoi(p[i : i+j])
					if err != nil || n < 0 || p[i] == '+' {
						return nil, bad(i, "index is not a non-negative number")
					}
					s = segment{kind: segIndex, index: n}
					i += j
				}
			}
			if i >= len(p) || p[i] != ']' {
				return nil, bad(i, "missing ]")
			}
			i++
			s.text = p[:i]
			segs = append(segs, s)
		}
		if i == len(p) {
			break
		}
		if p[i] != '.' {
			return nil, bad(i, "unexpected "+strconv.QuoteRune(rune(p[i])))
		}
		i++
	}
	for k := range segs {
		if k > 0 {
			segs[k].parentText = segs[k-1].text
		}
	}
	return segs, nil
}

// unquote reads a quoted string at the start of s and returns it with the
// number of bytes consumed.
func unquote(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case q == '"' && c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i++
			b.WriteByte('\'')
		case c == q:
			return b.String(), i + 1, nil
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated quote")
}

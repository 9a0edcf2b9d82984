package overlay

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

const tagStr = "!!str"

// render returns the YAML text for a scalar with value v and resolved tag
// tag. old is the style of the text being replaced (so a quoted value stays
// quoted the same way), flow tells whether the scalar sits in a flow
// collection and tagged whether an explicit !!str tag precedes it.
func render(v, tag string, old byte, flow, tagged bool) (string, error) {
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("value is not utf-8: %w", ErrInvalid)
	}
	if tag != tagStr {
		if tagged || !plainReadsAs(v, tag, flow, false) {
			return "", fmt.Errorf("cannot write %q as %s: %w", v, tag, ErrUnsupported)
		}
		return v, nil
	}
	switch old {
	case styleDouble:
		return doubleQuote(v), nil
	case styleSingle:
		if s, ok := singleQuote(v); ok {
			return s, nil
		}
		return doubleQuote(v), nil
	}
	if plainReadsAs(v, tagStr, flow, tagged) {
		return v, nil
	}
	return doubleQuote(v), nil
}

// plainReadsAs reports whether v written as a plain scalar in the given
// context reads back as exactly v with tag tag. It asks yaml.v3 itself, so
// the answer matches the parser that checks every edit.
func plainReadsAs(v, tag string, flow, tagged bool) bool {
	if v == "" || isBlank(v[0]) || isBlank(v[len(v)-1]) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7F || breakLen([]byte(v), i) > 0 {
			return false
		}
	}
	if strings.ContainsRune(v, '\uFEFF') || (tag == tagStr && !tagged && yaml11Typed(v)) {
		return false
	}
	prefix := ""
	if tagged {
		prefix = "!!str "
	}
	docs := []string{"k: " + prefix + v + "\n"}
	if flow {
		docs = []string{"{k: " + prefix + v + "}", "[" + prefix + v + "]"}
	}
	for _, d := range docs {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(d), &n); err != nil || len(n.Content) != 1 {
			return false
		}
		c := n.Content[0]
		var s *yaml.Node
		switch {
		case c.Kind == yaml.MappingNode && len(c.Content) == 2:
			s = c.Content[1]
		case c.Kind == yaml.SequenceNode && len(c.Content) == 1:
			s = c.Content[0]
		default:
			return false
		}
		if s.Kind != yaml.ScalarNode || s.Style&^yaml.TaggedStyle != 0 || s.Value != v || s.Tag != tag {
			return false
		}
	}
	return true
}

// singleQuote returns v single-quoted, or false if v holds characters that
// a single-quoted scalar cannot carry on one line.
func singleQuote(v string) (string, bool) {
	for _, r := range v {
		if !rawOK(r) {
			return "", false
		}
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'", true
}

// rawOK reports whether r may appear unescaped inside a quoted scalar on
// one line.
func rawOK(r rune) bool {
	switch {
	case r >= 0x20 && r <= 0x7E:
		return true
	case r == 0xFEFF:
		return false
	case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return r != 0x2028 && r != 0x2029
	}
	return false
}

// doubleQuote returns v as a one-line double-quoted scalar.
func doubleQuote(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for _, r := range v {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\0`)
		case 0x85:
			b.WriteString(`\N`)
		case 0x2028:
			b.WriteString(`\L`)
		case 0x2029:
			b.WriteString(`\P`)
		default:
			switch {
			case rawOK(r):
				b.WriteRune(r)
			case r <= 0xFF:
				fmt.Fprintf(&b, `\x%02X`, r)
			case r <= 0xFFFF:
				fmt.Fprintf(&b, `\u%04X`, r)
			default:
				fmt.Fprintf(&b, `\U%08X`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// yaml11Bool matches the plain scalars YAML 1.1 reads as booleans or null.
var yaml11Bool = regexp.MustCompile(`^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|~|null|Null|NULL)$`)

// yaml11Sexagesimal matches YAML 1.1 base-60 numbers such as 1:20 or 1:20.5.
var yaml11Sexagesimal = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$`)

// yaml11Typed reports whether a YAML 1.1 parser (yaml.v2, and so Helm
// values and sigs.k8s.io/yaml) would read plain v as something other than
// a string, although yaml.v3 may not: "yes", "on", "0777", "1_000", "1:20".
// Such values must be quoted for the file to mean the same to every
// consumer.
func yaml11Typed(v string) bool {
	if yaml11Bool.MatchString(v) || yaml11Sexagesimal.MatchString(v) {
		return true
	}
	if c := v[0]; !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.') {
		return false
	}
	plain := strings.ReplaceAll(v, "_", "")
	parsed := func(err error) bool { return err == nil || errors.Is(err, strconv.ErrRange) }
	if _, err := strconv.ParseInt(plain, 0, 64); parsed(err) {
		return true
	}
	if _, err := strconv.ParseFloat(plain, 64); parsed(err) {
		return true
	}
	lower := strings.ToLower(v)
	return strings.HasSuffix(lower, ".inf") || strings.HasSuffix(lower, ".nan")
}

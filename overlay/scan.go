package overlay

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Scalar text styles as found in the bytes.
const (
	stylePlain  = 'p'
	styleEmpty  = 'e' // an empty plain scalar (implicit null), zero width
	styleDouble = '"'
	styleSingle = '\''
	styleBlock  = '|' // literal or folded block scalar
	styleAlias  = '*'
)

// span is the byte extent of a node's text.
type span struct {
	props int  // start of properties (anchor, tag) or of the text
	start int  // start of the text itself
	end   int  // one past the last byte of the text
	style byte // one of the style constants
}

// start returns the byte offset of the node's position (its properties, if
// it has any).
func (f *File) start(n *yaml.Node) int { return f.offset(n.Line, n.Column) }

// col0 returns the 0-based column (in characters) of byte offset off.
func (f *File) col0(off int) int {
	ls := f.lines[f.lineOf(off)-1]
	return utf8.RuneCount(f.data[ls:off])
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// skipBlanks skips spaces and tabs.
func (f *File) skipBlanks(off int) int {
	for off < len(f.data) && isBlank(f.data[off]) {
		off++
	}
	return off
}

// skipSpace skips blanks, line breaks and comments, returning the offset of
// the next token.
func (f *File) skipSpace(off int) int {
	for off < len(f.data) {
		c := f.data[off]
		switch {
		case isBlank(c):
			off++
		case c == '#':
			off = f.lineEnd(off)
		default:
			n := breakLen(f.data, off)
			if n == 0 {
				return off
			}
			off += n
		}
	}
	return off
}

// lineEnd returns the offset of the line break ending the line that holds
// off (or len(data)).
func (f *File) lineEnd(off int) int {
	for off < len(f.data) && breakLen(f.data, off) == 0 {
		off++
	}
	return off
}

// nextLine returns the offset just after the line break ending the line that
// holds off, and whether there was a break (false at the end of a file with
// no final newline).
func (f *File) nextLine(off int) (int, bool) {
	e := f.lineEnd(off)
	if e == len(f.data) {
		return e, false
	}
	return e + breakLen(f.data, e), true
}

// lineStart returns the offset of the first byte of the line holding off.
func (f *File) lineStart(off int) int { return f.lines[f.lineOf(off)-1] }

// tokenEnd returns the end of a property or alias token starting at off.
func (f *File) tokenEnd(off int, flow bool) int {
	if off+1 < len(f.data) && f.data[off] == '!' && f.data[off+1] == '<' {
		if i := strings.IndexByte(string(f.data[off:]), '>'); i >= 0 {
			return off + i + 1
		}
	}
	for off < len(f.data) {
		c := f.data[off]
		if isBlank(c) || breakLen(f.data, off) > 0 || flow && strings.IndexByte(",[]{}", c) >= 0 {
			break
		}
		off++
	}
	return off
}

// content returns where the node's own text starts: after its anchor and
// tag, and, when the node is not empty, after the blanks, comments and line
// breaks that may follow them. It also returns the end of the properties.
func (f *File) content(n *yaml.Node, flow bool) (text, propsEnd int) {
	off := f.start(n)
	propsEnd = off
	for off < len(f.data) && (f.data[off] == '&' || f.data[off] == '!') {
		propsEnd = f.tokenEnd(off, flow)
		off = f.skipBlanks(propsEnd)
	}
	if propsEnd == f.start(n) {
		return off, propsEnd
	}
	if n.Kind == yaml.ScalarNode && n.Value == "" && (off >= len(f.data) || !strings.ContainsRune("\"'|>", rune(f.data[off]))) {
		return propsEnd, propsEnd
	}
	return f.skipSpace(off), propsEnd
}

// scalarSpan locates a scalar or alias node's text. parentIndent is the
// indentation of the enclosing block collection (-1 at document level),
// needed to find where a block scalar ends.
func (f *File) scalarSpan(n *yaml.Node, parentIndent int, flow bool) (span, error) {
	text, propsEnd := f.content(n, flow)
	s := span{props: f.start(n), start: text}
	if n.Kind == yaml.AliasNode {
		s.style, s.end = styleAlias, f.tokenEnd(text, flow)
		return s, nil
	}
	if text >= len(f.data) {
		s.style, s.start, s.end = styleEmpty, propsEnd, propsEnd
		return s, nil
	}
	switch c := f.data[text]; c {
	case '"':
		s.style = styleDouble
		for i := text + 1; i < len(f.data); i++ {
			switch f.data[i] {
			case '\\':
				i++
			case '"':
				s.end = i + 1
				return s, nil
			}
		}
		return s, f.lineErr(text, ErrParse, "unterminated double-quoted scalar")
	case '\'':
		s.style = styleSingle
		for i := text + 1; i < len(f.data); i++ {
			if f.data[i] == '\'' {
				if i+1 < len(f.data) && f.data[i+1] == '\'' {
					i++
					continue
				}
				s.end = i + 1
				return s, nil
			}
		}
		return s, f.lineErr(text, ErrParse, "unterminated single-quoted scalar")
	case '|', '>':
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			s.style, s.end = styleBlock, f.blockEnd(text, parentIndent)
			return s, nil
		}
	}
	if n.Value == "" {
		s.style, s.start, s.end = styleEmpty, text, text
		if propsEnd == f.start(n) {
			// Position of an implicit null is where the parser was.
			s.start, s.end = s.props, s.props
		}
		return s, nil
	}
	if !strings.HasPrefix(string(f.data[text:min(len(f.data), text+len(n.Value))]), n.Value) {
		return s, f.lineErr(text, ErrUnsupported, "multi-line plain scalar")
	}
	s.style, s.end = stylePlain, text+len(n.Value)
	return s, nil
}

// blockEnd returns the end of the block scalar whose indicator is at off:
// the end of its last content line, or of its last trailing blank line when
// the chomping indicator is "+". It follows libyaml's indentation rules.
func (f *File) blockEnd(off, parentIndent int) int {
	i := off + 1
	keep, increment := false, 0
	for ; i < len(f.data); i++ {
		c := f.data[i]
		if c == '+' {
			keep = true
		} else if c >= '1' && c <= '9' {
			increment = int(c - '0')
		} else if c != '-' {
			break
		}
	}
	end := f.lineEnd(i)
	pos, ok := f.nextLine(i)
	if !ok {
		return end
	}
	indent := 0
	if increment > 0 {
		indent = max(parentIndent, 0) + increment
	} else {
		// Auto-detect: the widest leading blank line or the first content line.
		maxIndent := 0
		for p := pos; p < len(f.data); {
			sp := 0
			for p+sp < len(f.data) && f.data[p+sp] == ' ' {
				sp++
			}
			maxIndent = max(maxIndent, sp)
			if p+sp < len(f.data) && breakLen(f.data, p+sp) > 0 {
				p += sp + breakLen(f.data, p+sp)
				continue
			}
			break
		}
		indent = max(maxIndent, parentIndent+1, 1)
	}
	for p := pos; p < len(f.data); {
		sp := 0
		for p+sp < len(f.data) && sp < indent && f.data[p+sp] == ' ' {
			sp++
		}
		q := p + sp
		if q >= len(f.data) {
			break
		}
		if breakLen(f.data, q) > 0 { // blank line
			if keep {
				end = q
			}
			p = q + breakLen(f.data, q)
			continue
		}
		if sp < indent {
			break
		}
		end = f.lineEnd(q)
		next, ok := f.nextLine(q)
		if !ok {
			break
		}
		p = next
	}
	return end
}

// nodeEnd returns one past the last byte of n's text. parentIndent is as for
// scalarSpan; flow tells whether n is inside a flow collection.
func (f *File) nodeEnd(n *yaml.Node, parentIndent int, flow bool) (int, error) {
	switch n.Kind {
	case yaml.ScalarNode, yaml.AliasNode:
		s, err := f.scalarSpan(n, parentIndent, flow)
		return s.end, err
	case yaml.MappingNode, yaml.SequenceNode:
		if n.Style&yaml.FlowStyle != 0 {
			return f.flowEnd(n)
		}
		if len(n.Content) == 0 {
			return 0, f.nodeErr(n, ErrUnsupported, "empty block collection")
		}
		return f.nodeEnd(n.Content[len(n.Content)-1], f.indent(n), false)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return f.start(n), nil
		}
		return f.nodeEnd(n.Content[0], -1, false)
	}
	return 0, f.nodeErr(n, ErrUnsupported, "node kind %v", n.Kind)
}

// indent returns the indentation of a block collection: the column of its
// keys or of its "-" indicators.
func (f *File) indent(n *yaml.Node) int {
	if n.Kind == yaml.MappingNode {
		return n.Content[0].Column - 1
	}
	text, _ := f.content(n, false)
	return f.col0(text)
}

// flowOpen returns the offset of a flow collection's opening bracket.
func (f *File) flowOpen(n *yaml.Node) int {
	text, _ := f.content(n, true)
	return text
}

// flowEnd returns one past the closing bracket of a flow collection.
func (f *File) flowEnd(n *yaml.Node) (int, error) {
	p := f.flowOpen(n) + 1
	if len(n.Content) > 0 {
		var err error
		if p, err = f.nodeEnd(n.Content[len(n.Content)-1], -1, true); err != nil {
			return 0, err
		}
	}
	for p < len(f.data) {
		p = f.skipSpace(p)
		if p < len(f.data) && f.data[p] == ',' {
			p++
			continue
		}
		break
	}
	if p < len(f.data) && (f.data[p] == ']' || f.data[p] == '}') {
		return p + 1, nil
	}
	return 0, f.nodeErr(n, ErrUnsupported, "cannot find end of flow collection")
}

// nodeErr builds an *Error positioned at n.
func (f *File) nodeErr(n *yaml.Node, sentinel error, format string, args ...any) *Error {
	return newErr(f.name, n.Line, "", sentinel, format, args...)
}

// lineErr builds an *Error positioned at byte offset off.
func (f *File) lineErr(off int, sentinel error, format string, args ...any) *Error {
	return newErr(f.name, f.lineOf(off), "", sentinel, format, args...)
}

// describe names a node kind for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("the scalar %q", n.Value)
	}
	return "a document"
}

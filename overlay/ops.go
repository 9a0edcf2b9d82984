package overlay

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// lookup returns the index in m.Content of the key node named key, or -1.
// A key defined twice is ambiguous; a missing key in a mapping that uses a
// merge key ("<<") may be inherited, which this package does not follow.
func (f *File) lookup(m *yaml.Node, key, keyPath string) (int, error) {
	found, merge := -1, false
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if k.Value == "<<" && k.Tag == "!!merge" {
			merge = true
		}
		if k.Value != key {
			continue
		}
		if found >= 0 {
			return -1, newErr(f.name, k.Line, keyPath, ErrAmbiguous, "key also defined at line %d", m.Content[found].Line)
		}
		found = i
	}
	if found < 0 && merge {
		return -1, newErr(f.name, m.Line, keyPath, ErrUnsupported, "mapping uses a merge key (<<)")
	}
	return found, nil
}

// setScalar replaces the text of scalar or alias n with value v of tag tag.
// parentIndent and flow describe n's position (see scalarSpan).
func (e *editor) setScalar(n *yaml.Node, parentIndent int, flow bool, v, tag string) error {
	f := e.f
	s, err := f.scalarSpan(n, parentIndent, flow)
	if err != nil {
		return err
	}
	tagged := false
	if s.start > s.props && n.Kind == yaml.ScalarNode && strings.Contains(string(f.data[s.props:s.start]), "!") {
		if n.Tag != tagStr {
			return f.nodeErr(n, ErrUnsupported, "value has explicit tag %s", n.Tag)
		}
		tagged = true
	}
	var text string
	switch s.style {
	case styleBlock:
		return f.nodeErr(n, ErrUnsupported, "value is a block scalar")
	case styleEmpty:
		prev := s.start - 1
		for prev >= 0 && isBlank(f.data[prev]) {
			prev--
		}
		if s.start == s.props && (prev < 0 || f.data[prev] != ':' && f.data[prev] != '-') {
			return f.nodeErr(n, ErrUnsupported, "cannot place a value here")
		}
		if text, err = render(v, tag, stylePlain, flow, tagged); err != nil {
			return f.nodeErr(n, ErrInvalid, "%v", err)
		}
		if s.start == 0 || !isBlank(f.data[s.start-1]) {
			text = " " + text
		}
	case styleAlias:
		if text, err = render(v, tag, stylePlain, flow, false); err != nil {
			return f.nodeErr(n, ErrInvalid, "%v", err)
		}
	default:
		if text, err = render(v, tag, s.style, flow, tagged); err != nil {
			return f.nodeErr(n, ErrInvalid, "%v", err)
		}
	}
	e.add(s.start, s.end, text, func() {
		n.Kind, n.Alias, n.Content = yaml.ScalarNode, nil, nil
		n.Value, n.Tag = v, tag
	})
	return nil
}

// keyIndex returns the position of key node k in m.Content.
func keyIndex(m, k *yaml.Node) int {
	for i := 0; i < len(m.Content); i += 2 {
		if m.Content[i] == k {
			return i
		}
	}
	return -1
}

// removePair deletes the pair whose key is m.Content[i].
func (e *editor) removePair(m *yaml.Node, i int, flow bool) error {
	f := e.f
	if len(m.Content) <= 2 && !flow {
		return f.nodeErr(m, ErrUnsupported, "cannot remove the only key of a block mapping")
	}
	k, v := m.Content[i], m.Content[i+1]
	mut := func() {
		j := keyIndex(m, k)
		m.Content = slices.Delete(m.Content, j, j+2)
	}
	kStart := f.start(k)
	if flow {
		vEnd, err := f.nodeEnd(v, -1, true)
		if err != nil {
			return err
		}
		switch {
		case i > 0:
			prevEnd, err := f.nodeEnd(m.Content[i-1], -1, true)
			if err != nil {
				return err
			}
			e.add(prevEnd, vEnd, "", mut)
		case len(m.Content) > 2:
			e.add(kStart, f.start(m.Content[2]), "", mut)
		default:
			e.add(kStart, vEnd, "", mut)
		}
		return nil
	}
	vEnd, err := f.nodeEnd(v, f.indent(m), false)
	if err != nil {
		return err
	}
	ls := f.lineStart(kStart)
	before := string(f.data[ls:kStart])
	switch {
	case strings.TrimLeft(before, " ") == "":
		end, ok := f.nextLine(vEnd)
		if !ok && ls > 0 {
			// Last line without a newline: take the previous break instead.
			ls = f.lines[f.lineOf(ls)-2]
			ls = f.lineEnd(ls)
		}
		e.add(ls, end, "", mut)
	case strings.TrimRight(strings.TrimLeft(before, " "), " ") == "-" && i+2 < len(m.Content):
		// First key of a sequence item: pull the next key up onto the dash line.
		e.add(kStart, f.start(m.Content[i+2]), "", mut)
	default:
		return f.nodeErr(k, ErrUnsupported, "key does not start its line")
	}
	return nil
}

// insertPair adds key: value to mapping m. In the text it goes right after
// the pair whose key is posKey (nil: at the start of an empty flow mapping);
// in the tree right after prevKey, which differs from posKey only when an
// earlier insertPair of the same edit put a pair at the same place. Block
// mappings get a new line at the indentation of the existing keys. It
// returns the new key node.
func (e *editor) insertPair(m, prevKey, posKey *yaml.Node, p pair, flow bool) (*yaml.Node, error) {
	f := e.f
	lines, err := renderPairs([]pair{p}, flow)
	if err != nil {
		return nil, f.nodeErr(m, ErrInvalid, "%v", err)
	}
	keyNode := scalarNode(p.key, tagStr)
	mut := func() {
		j := 0
		if prevKey != nil {
			j = keyIndex(m, prevKey) + 2
		}
		m.Content = slices.Insert(m.Content, j, keyNode, scalarNode(p.value, p.valueTag()))
	}
	if posKey == nil {
		if !flow || len(m.Content) > 0 {
			return nil, f.nodeErr(m, ErrUnsupported, "cannot insert at the start of a mapping")
		}
		open := f.flowOpen(m)
		e.add(open+1, open+1, lines[0], mut)
		return keyNode, nil
	}
	val := m.Content[keyIndex(m, posKey)+1]
	if flow {
		end, err := f.nodeEnd(val, -1, true)
		if err != nil {
			return nil, err
		}
		e.add(end, end, ", "+lines[0], mut)
		return keyNode, nil
	}
	end, err := f.nodeEnd(val, f.indent(m), false)
	if err != nil {
		return nil, err
	}
	e.linesAfter(end, []string{strings.Repeat(" ", f.indent(m)) + lines[0]}, mut)
	return keyNode, nil
}

// lastKey returns the key node of m's last pair, or nil.
func lastKey(m *yaml.Node) *yaml.Node {
	if len(m.Content) < 2 {
		return nil
	}
	return m.Content[len(m.Content)-2]
}

// seqStyle is how a block sequence of mappings is laid out.
type seqStyle struct {
	dash int // column of "-"
	gap  int // columns from "-" to the first key
}

// itemLines renders one mapping as block sequence item lines.
func itemLines(st seqStyle, rendered []string) []string {
	out := make([]string, len(rendered))
	for i, r := range rendered {
		if i == 0 {
			out[i] = strings.Repeat(" ", st.dash) + "-" + strings.Repeat(" ", st.gap-1) + r
		} else {
			out[i] = strings.Repeat(" ", st.dash+st.gap) + r
		}
	}
	return out
}

// flowItems renders mappings as flow mappings joined by ", ".
func flowItems(items [][]pair) (string, []*yaml.Node, error) {
	var parts []string
	var nodes []*yaml.Node
	for _, it := range items {
		r, err := renderPairs(it, true)
		if err != nil {
			return "", nil, err
		}
		parts = append(parts, "{"+strings.Join(r, ", ")+"}")
		nodes = append(nodes, mappingNode(it))
	}
	return strings.Join(parts, ", "), nodes, nil
}

// blockItems renders mappings as block sequence items.
func blockItems(st seqStyle, items [][]pair) ([]string, []*yaml.Node, error) {
	var lines []string
	var nodes []*yaml.Node
	for _, it := range items {
		r, err := renderPairs(it, false)
		if err != nil {
			return nil, nil, err
		}
		lines = append(lines, itemLines(st, r)...)
		nodes = append(nodes, mappingNode(it))
	}
	return lines, nodes, nil
}

// appendItems appends mappings to sequence seq, in flow or block form
// matching the sequence.
func (e *editor) appendItems(seq *yaml.Node, st seqStyle, items [][]pair) error {
	f := e.f
	if seq.Style&yaml.FlowStyle != 0 {
		text, nodes, err := flowItems(items)
		if err != nil {
			return f.nodeErr(seq, ErrInvalid, "%v", err)
		}
		mut := func() { seq.Content = append(seq.Content, nodes...) }
		if len(seq.Content) == 0 {
			open := f.flowOpen(seq)
			e.add(open+1, open+1, text, mut)
			return nil
		}
		end, err := f.nodeEnd(seq.Content[len(seq.Content)-1], -1, true)
		if err != nil {
			return err
		}
		e.add(end, end, ", "+text, mut)
		return nil
	}
	lines, nodes, err := blockItems(st, items)
	if err != nil {
		return f.nodeErr(seq, ErrInvalid, "%v", err)
	}
	end, err := f.nodeEnd(seq, -1, false)
	if err != nil {
		return err
	}
	e.linesAfter(end, lines, func() { seq.Content = append(seq.Content, nodes...) })
	return nil
}

// setSequence makes the value of key m.Content[i] (absent when i < 0) a new
// sequence of the given mappings. A present value must be null.
func (e *editor) setSequence(m *yaml.Node, i int, key string, st seqStyle, items [][]pair) error {
	f := e.f
	flow := m.Style&yaml.FlowStyle != 0
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	text, nodes, err := flowItems(items)
	if err != nil {
		return f.nodeErr(m, ErrInvalid, "%v", err)
	}
	seq.Content = nodes
	if i >= 0 {
		v := m.Content[i+1]
		mut := func() { m.Content[keyIndex(m, m.Content[i])+1] = seq }
		s, err := f.scalarSpan(v, f.indentOr(m, flow), flow)
		if err != nil {
			return err
		}
		if flow || s.start != s.props || s.style != styleEmpty && s.style != stylePlain {
			if s.style == styleBlock || s.style == styleAlias {
				return f.nodeErr(v, ErrUnsupported, "cannot replace this null")
			}
			prefix := ""
			if s.style == styleEmpty {
				prefix = " "
			}
			e.add(s.start, s.end, prefix+"["+text+"]", mut)
			return nil
		}
		lines, _, err := blockItems(st, items)
		if err != nil {
			return f.nodeErr(m, ErrInvalid, "%v", err)
		}
		// Drop an explicit "~" or "null" and the blanks before it.
		from := s.start
		for from > 0 && isBlank(f.data[from-1]) {
			from--
		}
		if s.style == stylePlain {
			e.add(from, s.end, "", nil)
		}
		e.linesAfter(s.end, lines, mut)
		return nil
	}
	k, err := render(key, tagStr, 0, flow, false)
	if err != nil {
		return f.nodeErr(m, ErrInvalid, "%v", err)
	}
	keyNode := scalarNode(key, tagStr)
	mut := func() { m.Content = append(m.Content, keyNode, seq) }
	if flow {
		entry := k + ": [" + text + "]"
		if len(m.Content) == 0 {
			open := f.flowOpen(m)
			e.add(open+1, open+1, entry, mut)
			return nil
		}
		end, err := f.nodeEnd(m.Content[len(m.Content)-1], -1, true)
		if err != nil {
			return err
		}
		e.add(end, end, ", "+entry, mut)
		return nil
	}
	lines, _, err := blockItems(st, items)
	if err != nil {
		return f.nodeErr(m, ErrInvalid, "%v", err)
	}
	end, err := f.nodeEnd(m, -1, false)
	if err != nil {
		return err
	}
	lines = append([]string{strings.Repeat(" ", f.indent(m)) + k + ":"}, lines...)
	e.linesAfter(end, lines, mut)
	return nil
}

// indentOr returns the indentation of block collection n, or -1 when flow.
func (f *File) indentOr(n *yaml.Node, flow bool) int {
	if flow || len(n.Content) == 0 {
		return -1
	}
	return f.indent(n)
}

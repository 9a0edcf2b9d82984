package overlay

import (
	"bytes"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// splice replaces data[start:end] with text.
type splice struct {
	start, end int
	text       string
}

// editor collects the splices of one edit together with the changes they
// are meant to make to the node tree, then applies and verifies them as a
// unit. Splices are computed against the File's current bytes; several may
// share an insertion offset and are then applied in the order given.
type editor struct {
	f       *File
	splices []splice
	mutate  []func()
}

func (f *File) editor() *editor { return &editor{f: f} }

// add records a splice and the tree change it should cause.
func (e *editor) add(start, end int, text string, mut func()) {
	e.splices = append(e.splices, splice{start, end, text})
	if mut != nil {
		e.mutate = append(e.mutate, mut)
	}
}

// commit applies the splices, parses the result and checks that it equals
// the old tree with the recorded changes applied (ignoring styles, comments
// and positions). On success the File holds the new bytes; on failure it is
// unchanged. It reports whether the bytes changed.
func (e *editor) commit() (bool, error) {
	if len(e.splices) == 0 {
		return false, nil
	}
	f := e.f
	// Pure insertions go before a range that starts at the same offset.
	slices.SortStableFunc(e.splices, func(a, b splice) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return min(a.end-a.start, 1) - min(b.end-b.start, 1)
	})
	var buf bytes.Buffer
	buf.Grow(len(f.data) + 64)
	last := 0
	for _, s := range e.splices {
		if s.start < last {
			return false, newErr(f.name, f.lineOf(s.start), "", ErrUnsupported, "overlapping edits")
		}
		buf.Write(f.data[last:s.start])
		buf.WriteString(s.text)
		last = s.end
	}
	buf.Write(f.data[last:])
	out := buf.Bytes()
	if bytes.Equal(out, f.data) {
		return false, nil
	}
	docs, err := parseDocs(out)
	if err == nil {
		for _, m := range e.mutate {
			m()
		}
		if !sameDocs(f.docs, docs) {
			err = errVerify
		}
	}
	if err != nil {
		// The old tree may have been mutated; rebuild it from the old bytes.
		old, perr := parseDocs(f.data)
		if perr == nil {
			f.docs = old
		}
		return false, &Error{File: f.name, Err: err}
	}
	f.data, f.docs = out, docs
	f.lines = lineStarts(out)
	return true, nil
}

// errVerify reports a splice whose result does not read back as intended.
// It means the input uses a construct this package mis-handles; the edit is
// refused rather than written.
var errVerify = &verifyError{}

type verifyError struct{}

func (*verifyError) Error() string {
	return "edit did not read back as intended; file left unchanged: " + ErrUnsupported.Error()
}
func (*verifyError) Unwrap() error { return ErrUnsupported }

func sameDocs(a, b []*yaml.Node) bool {
	return slices.EqualFunc(a, b, sameTree)
}

// sameTree compares two node trees by kind, tag, value, anchor and
// children; styles, comments and positions are ignored.
func sameTree(a, b *yaml.Node) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Kind != b.Kind || a.Anchor != b.Anchor || len(a.Content) != len(b.Content) {
		return false
	}
	switch a.Kind {
	case yaml.ScalarNode:
		if a.Tag != b.Tag || a.Value != b.Value {
			return false
		}
	case yaml.AliasNode:
		if a.Value != b.Value {
			return false
		}
	case yaml.MappingNode, yaml.SequenceNode:
		if a.Tag != b.Tag {
			return false
		}
	}
	for i := range a.Content {
		if !sameTree(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

// aliased returns the nodes that some alias in the file refers to.
func (f *File) aliased() map[*yaml.Node]bool {
	m := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			m[n.Alias] = true
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for _, d := range f.docs {
		walk(d)
	}
	return m
}

// scalarNode builds the tree form of a string scalar written by an edit.
func scalarNode(v, tag string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}
}

// pair is a key and value to write into a mapping; style is the preferred
// quoting of the value (0 means plain when safe) and tag its resolved YAML
// tag ("" means a string).
type pair struct {
	key, value string
	style      byte
	tag        string
}

// valueTag returns the pair's value tag.
func (p pair) valueTag() string {
	if p.tag == "" {
		return tagStr
	}
	return p.tag
}

// mappingNode builds the tree form of a mapping written by an edit.
func mappingNode(pairs []pair) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, p := range pairs {
		m.Content = append(m.Content, scalarNode(p.key, tagStr), scalarNode(p.value, p.valueTag()))
	}
	return m
}

// renderPairs renders pairs as "k: v" strings.
func renderPairs(pairs []pair, flow bool) ([]string, error) {
	out := make([]string, len(pairs))
	for i, p := range pairs {
		k, err := render(p.key, tagStr, 0, flow, false)
		if err != nil {
			return nil, err
		}
		v, err := render(p.value, p.valueTag(), p.style, flow, false)
		if err != nil {
			return nil, err
		}
		out[i] = k + ": " + v
	}
	return out, nil
}

// linesAfter returns the splice that inserts lines after the line holding
// byte offset end, keeping a missing final newline missing.
func (e *editor) linesAfter(end int, lines []string, mut func()) {
	eol := e.f.eol
	pos, ok := e.f.nextLine(end)
	text := strings.Join(lines, eol)
	if ok {
		text += eol
	} else {
		text = eol + text
	}
	e.add(pos, pos, text, mut)
}

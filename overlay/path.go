package overlay

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// Selector picks one document of a (possibly multi-document) file by its
// Kubernetes identity. Empty fields match anything; the zero Selector
// matches a file's only document.
type Selector struct {
	APIVersion string
	Kind       string
	Namespace  string // metadata.namespace
	Name       string // metadata.name
}

// String renders the selector as "Kind/namespace/name"-like text for
// messages.
func (s Selector) String() string {
	var parts []string
	for _, kv := range [][2]string{{"apiVersion", s.APIVersion}, {"kind", s.Kind}, {"namespace", s.Namespace}, {"name", s.Name}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if len(parts) == 0 {
		return "any document"
	}
	return strings.Join(parts, ",")
}

// PathChange is the result of [File.SetPath] or [SyncPath].
type PathChange struct {
	Path    string // the YAML path as given
	Old     string // previous value ("" when Created)
	New     string // value now in the file
	Created bool   // the leaf key did not exist and was added
	changed bool
}

// Changed reports whether the file was modified.
func (c PathChange) Changed() bool { return c.changed }

// String renders the change as "path: old → new".
func (c PathChange) String() string {
	if c.Created {
		return c.Path + ": added " + c.New
	}
	return c.Path + ": " + c.Old + " → " + c.New
}

// document returns the root node of the one document matching sel.
func (f *File) document(sel Selector) (*yaml.Node, error) {
	var match []*yaml.Node
	for _, d := range f.docs {
		if len(d.Content) != 1 {
			continue
		}
		r := d.Content[0]
		if r.Kind == yaml.ScalarNode && r.Tag == "!!null" {
			continue
		}
		if sel == (Selector{}) || f.matches(r, sel) {
			match = append(match, r)
		}
	}
	switch len(match) {
	case 0:
		return nil, newErr(f.name, 0, "", ErrNotFound, "no document matches %s", sel)
	case 1:
		return match[0], nil
	}
	return nil, newErr(f.name, match[1].Line, "", ErrAmbiguous, "%d documents match %s", len(match), sel)
}

// matches reports whether document root r has the identity sel asks for.
func (f *File) matches(r *yaml.Node, sel Selector) bool {
	if r.Kind != yaml.MappingNode {
		return false
	}
	get := MappingValue
	eq := func(n *yaml.Node, want string) bool {
		return want == "" || n != nil && n.Kind == yaml.ScalarNode && n.Value == want
	}
	meta := get(r, "metadata")
	return eq(get(r, "apiVersion"), sel.APIVersion) && eq(get(r, "kind"), sel.Kind) &&
		eq(get(meta, "name"), sel.Name) && eq(get(meta, "namespace"), sel.Namespace)
}

// located is the result of walking a path.
type located struct {
	leaf         *yaml.Node   // nil when only the last key is missing
	parent       *yaml.Node   // the collection holding leaf
	chain        []*yaml.Node // every collection from the document root to parent
	flow         bool         // leaf sits inside a flow collection
	parentIndent int          // indentation of parent (see scalarSpan)
	last         segment
	viaAlias     bool // the walk passed through an alias
}

// walk follows segs from root. A missing last key is not an error: the
// result then has a nil leaf and the mapping that would hold it.
func (f *File) walk(root *yaml.Node, segs []segment) (*located, error) {
	loc := &located{parentIndent: -1}
	cur := root
	for i, s := range segs {
		if cur.Kind == yaml.AliasNode {
			cur, loc.viaAlias = cur.Alias, true
		}
		loc.chain = append(loc.chain, cur)
		loc.parent, loc.last = cur, s
		loc.flow = loc.flow || cur.Style&yaml.FlowStyle != 0
		loc.parentIndent = f.indentOr(cur, loc.flow)
		var next *yaml.Node
		switch s.kind {
		case segKey:
			if cur.Kind != yaml.MappingNode {
				return nil, newErr(f.name, cur.Line, s.parentText, ErrType, "found %s, want a mapping with key %q", describe(cur), s.key)
			}
			j, err := f.lookup(cur, s.key, s.text)
			if err != nil {
				return nil, err
			}
			if j < 0 {
				if i == len(segs)-1 {
					return loc, nil
				}
				return nil, newErr(f.name, cur.Line, s.text, ErrNotFound, "no key %q", s.key)
			}
			next = cur.Content[j+1]
		case segIndex:
			if cur.Kind != yaml.SequenceNode {
				return nil, newErr(f.name, cur.Line, s.parentText, ErrType, "found %s, want a list", describe(cur))
			}
			if s.index >= len(cur.Content) {
				return nil, newErr(f.name, cur.Line, s.text, ErrNotFound, "list has %d items", len(cur.Content))
			}
			next = cur.Content[s.index]
		case segMatch:
			if cur.Kind != yaml.SequenceNode {
				return nil, newErr(f.name, cur.Line, s.parentText, ErrType, "found %s, want a list", describe(cur))
			}
			for _, item := range cur.Content {
				m := item
				if m.Kind == yaml.AliasNode {
					m = m.Alias
				}
				if m.Kind != yaml.MappingNode {
					continue
				}
				j, err := f.lookup(m, s.key, s.text)
				if err != nil {
					return nil, err
				}
				if j >= 0 && m.Content[j+1].Kind == yaml.ScalarNode && m.Content[j+1].Value == s.value {
					if next != nil {
						return nil, newErr(f.name, item.Line, s.text, ErrAmbiguous, "also matched at line %d", next.Line)
					}
					next = item
				}
			}
			if next == nil {
				return nil, newErr(f.name, cur.Line, s.text, ErrNotFound, "no item with %s=%s", s.key, s.value)
			}
		}
		cur = next
	}
	loc.leaf = cur
	return loc, nil
}

// resolve parses path and walks it in the document chosen by sel.
func (f *File) resolve(sel Selector, path string) (*located, error) {
	segs, err := parsePath(path)
	if err != nil {
		return nil, &Error{File: f.name, Err: err}
	}
	root, err := f.document(sel)
	if err != nil {
		return nil, err
	}
	return f.walk(root, segs)
}

// GetPath returns the scalar at path in the document chosen by sel, as
// text (null reads as ""). Aliases are followed.
func (f *File) GetPath(sel Selector, path string) (string, error) {
	n, err := f.getScalar(sel, path)
	if err != nil {
		return "", err
	}
	if n.Tag == "!!null" {
		return "", nil
	}
	return n.Value, nil
}

// getScalar returns the scalar node at path.
func (f *File) getScalar(sel Selector, path string) (*yaml.Node, error) {
	loc, err := f.resolve(sel, path)
	if err != nil {
		return nil, err
	}
	if loc.leaf == nil {
		return nil, newErr(f.name, loc.parent.Line, path, ErrNotFound, "no key %q", loc.last.key)
	}
	n := loc.leaf
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return nil, newErr(f.name, n.Line, path, ErrType, "found %s, want a scalar", describe(n))
	}
	return n, nil
}

// SetPath sets the scalar at path, in the document chosen by sel, to the
// string value. The value is written so that it reads back as a string:
// quoted in the old value's quote style if it was quoted, plain when that
// is unambiguous, double-quoted otherwise (e.g. "1.10", "true", "yes").
//
// Every collection on the path must exist; when only the last key is
// missing from an existing mapping, it is added at the end of that mapping
// (Created in the result). Replacing a mapping or list, a block scalar, or
// a value shared through an anchor is an error; a leaf alias is replaced by
// the literal value.
func (f *File) SetPath(sel Selector, path, value string) (PathChange, error) {
	return f.setPath(sel, path, value, tagStr)
}

// SyncPath copies the scalar at path in src's document chosen by sel to
// the same path in dst, keeping its YAML type (a string stays a string, an
// integer an integer). It is the "yamlPath" promotion strategy. When dst
// already holds the same value nothing is written.
func SyncPath(src, dst *File, sel Selector, path string) (PathChange, error) {
	n, err := src.getScalar(sel, path)
	if err != nil {
		return PathChange{Path: path}, err
	}
	switch n.Tag {
	case tagStr, "!!int", "!!float", "!!bool":
	default:
		return PathChange{Path: path}, newErr(src.name, n.Line, path, ErrUnsupported, "cannot copy a %s value", n.Tag)
	}
	return dst.setPath(sel, path, n.Value, n.Tag)
}

// setPath implements SetPath for a value of the given resolved tag.
func (f *File) setPath(sel Selector, path, value, tag string) (PathChange, error) {
	ch := PathChange{Path: path, New: value}
	loc, err := f.resolve(sel, path)
	if err != nil {
		return ch, err
	}
	refs := f.aliased()
	if loc.viaAlias {
		return ch, newErr(f.name, loc.parent.Line, path, ErrUnsupported, "path goes through an alias")
	}
	for _, n := range append(loc.chain, loc.leaf) {
		if n != nil && refs[n] {
			return ch, newErr(f.name, n.Line, path, ErrUnsupported, "value is shared through an anchor and alias")
		}
	}
	e := f.editor()
	if loc.leaf == nil {
		ch.Created = true
		if loc.last.kind != segKey {
			return ch, newErr(f.name, loc.parent.Line, path, ErrNotFound, "missing")
		}
		if _, err := e.insertPair(loc.parent, lastKey(loc.parent), lastKey(loc.parent), pair{key: loc.last.key, value: value, tag: tag}, loc.flow); err != nil {
			return ch, withKey(err, path)
		}
	} else {
		leaf := loc.leaf
		if leaf.Kind == yaml.AliasNode && leaf.Alias.Kind != yaml.ScalarNode || leaf.Kind != yaml.AliasNode && leaf.Kind != yaml.ScalarNode {
			return ch, newErr(f.name, leaf.Line, path, ErrType, "found %s, want a scalar to replace", describe(leaf))
		}
		old := leaf
		if old.Kind == yaml.AliasNode {
			old = old.Alias
		}
		if old.Tag != "!!null" {
			ch.Old = old.Value
		}
		if leaf.Kind == yaml.ScalarNode && old.Value == value && old.Tag == tag {
			return ch, nil
		}
		if err := e.setScalar(leaf, loc.parentIndent, loc.flow, value, tag); err != nil {
			return ch, withKey(err, path)
		}
	}
	changed, err := e.commit()
	if err != nil {
		return ch, withKey(err, path)
	}
	ch.changed = changed
	return ch, nil
}

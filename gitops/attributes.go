package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// ErrUnsupportedAttribute is wrapped by an *AttributeError: a path the
// revert has to merge has a .gitattributes setting ensign does not carry
// out.
var ErrUnsupportedAttribute = errors.New("unsupported .gitattributes setting")

// AttributeError names the file and the attribute that made a revert
// decline rather than produce a tree git would not.
type AttributeError struct {
	Path      string // the file being merged (or the .gitattributes file)
	Attribute string // e.g. "merge"
	Value     string // e.g. "union" or a custom driver's name
	Reason    string
}

// Error says which file, which attribute and why.
func (e *AttributeError) Error() string {
	return fmt.Sprintf("%s: .gitattributes %s=%s: %s", e.Path, e.Attribute, e.Value, e.Reason)
}

// Unwrap returns ErrUnsupportedAttribute.
func (e *AttributeError) Unwrap() error { return ErrUnsupportedAttribute }

// Merge drivers, as the merge attribute selects them.
const (
	mergeDriverText   = "text"
	mergeDriverBinary = "binary"
)

// attrReader answers the .gitattributes questions a revert has, from the
// .gitattributes files of one tree: the branch tip's, which is what git
// revert reads in its freshly checked-out worktree. Files are read on
// first use. $GIT_DIR/info/attributes and core.attributesFile do not exist
// for ensign and are not read.
type attrReader struct {
	objs  *objectSet
	tree  func(plumbing.Hash) ([]entry, error) // the merge's cached tree reads
	files map[string]*attrFile                 // by directory; nil entry: none there
	dirs  map[string]plumbing.Hash             // by directory; zero: not a directory
}

func newAttrReader(objs *objectSet, tree func(plumbing.Hash) ([]entry, error), root plumbing.Hash) *attrReader {
	return &attrReader{objs: objs, tree: tree, files: map[string]*attrFile{}, dirs: map[string]plumbing.Hash{"": root}}
}

// Attribute values besides a string: set, unset ("-name") and explicitly
// unspecified ("!name").
const (
	attrTrue  = "\x00true"
	attrFalse = "\x00false"
	attrUnset = "\x00unset"
)

// builtinMacros is git's built-in macro.
var builtinMacros = map[string][]attrState{
	"binary": {{"diff", attrFalse}, {"merge", attrFalse}, {"text", attrFalse}},
}

// diffBinary reports whether the diff attribute forces path to be treated
// as binary ("-diff", or "binary"), as rename detection's chunk counting
// needs to know.
func (a *attrReader) diffBinary(path string) (forced, binary bool) {
	v, err := a.lookup(path, "diff")
	if err != nil || v != attrFalse {
		return false, false
	}
	return true, true
}

// mergeDriver names the merge driver git would use for path. Drivers ensign
// cannot run (union, custom ones) give an *AttributeError.
func (a *attrReader) mergeDriver(path string) (string, error) {
	v, err := a.lookup(path, "merge")
	if err != nil {
		return "", err
	}
	switch v {
	case attrTrue, attrUnset, "", mergeDriverText:
		return mergeDriverText, nil
	case attrFalse, mergeDriverBinary:
		return mergeDriverBinary, nil
	case "union":
		return "", &AttributeError{Path: path, Attribute: "merge", Value: v,
			Reason: "the union merge driver is not implemented; revert by hand"}
	}
	return "", &AttributeError{Path: path, Attribute: "merge", Value: v,
		Reason: "a custom merge driver (configured outside the repository) would merge this file; ensign does not run merge drivers"}
}

// lookup returns the value of attribute name for path (attrUnset if nothing
// sets it), following git's precedence: deeper .gitattributes files first,
// later lines first, the first setting wins; a macro set to true sets its
// attributes in turn.
func (a *attrReader) lookup(path, name string) (string, error) {
	dirs := []string{""}
	for i := 0; i < len(path); i++ {
		if path[i] == '/' {
			dirs = append(dirs, path[:i])
		}
	}
	files := make([]*attrFile, len(dirs))
	for i, d := range dirs {
		f, err := a.file(d)
		if err != nil {
			return "", err
		}
		files[i] = f
	}
	macros := builtinMacros
	if files[0] != nil && len(files[0].macros) > 0 {
		macros = map[string][]attrState{}
		for k, v := range builtinMacros {
			macros[k] = v
		}
		for k, v := range files[0].macros {
			macros[k] = v
		}
	}
	found := map[string]string{}
	var fill func(states []attrState)
	fill = func(states []attrState) {
		for i := len(states) - 1; i >= 0; i-- {
			s := states[i]
			if _, done := found[s.name]; done {
				continue
			}
			found[s.name] = s.value
			if m, ok := macros[s.name]; ok && s.value == attrTrue {
				fill(m)
			}
		}
	}
	base := baseName(path)
	for i := len(dirs) - 1; i >= 0; i-- {
		f := files[i]
		if f == nil {
			continue
		}
		for j := len(f.rules) - 1; j >= 0; j-- {
			if f.rules[j].matches(path, base, dirs[i]) {
				fill(f.rules[j].states)
			}
		}
	}
	if v, ok := found[name]; ok {
		return v, nil
	}
	return attrUnset, nil
}

// file returns the parsed .gitattributes of directory dir in the tree.
func (a *attrReader) file(dir string) (*attrFile, error) {
	if f, ok := a.files[dir]; ok {
		return f, nil
	}
	f, err := a.readFile(dir)
	if err != nil {
		return nil, err
	}
	a.files[dir] = f
	return f, nil
}

func (a *attrReader) readFile(dir string) (*attrFile, error) {
	h, err := a.dirTree(dir)
	if err != nil || h.IsZero() {
		return nil, err
	}
	e, err := a.entry(h, ".gitattributes")
	if err != nil || e == nil || e.isTree() {
		return nil, err
	}
	p := joinPath(dir, ".gitattributes")
	if e.mode == filemode.Symlink {
		return nil, &AttributeError{Path: p, Attribute: "(file)", Value: "symlink",
			Reason: "a .gitattributes that is a symbolic link is read by git from the index in a way ensign does not copy"}
	}
	data, err := a.objs.blob(e.hash)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return parseAttributes(data, dir == ""), nil
}

// dirTree returns the tree of directory dir, or zero if the tree has no
// such directory; it starts from the parent's, which lookup asked for
// first.
func (a *attrReader) dirTree(dir string) (plumbing.Hash, error) {
	if h, ok := a.dirs[dir]; ok {
		return h, nil
	}
	parent, err := a.dirTree(dirName(dir))
	if err != nil || parent.IsZero() {
		return plumbing.ZeroHash, err
	}
	e, err := a.entry(parent, baseName(dir))
	if err != nil {
		return plumbing.ZeroHash, err
	}
	var h plumbing.Hash
	if e != nil && e.isTree() {
		h = e.hash
	}
	a.dirs[dir] = h
	return h, nil
}

func (a *attrReader) entry(tree plumbing.Hash, name string) (*entry, error) {
	ents, err := a.tree(tree)
	if err != nil {
		return nil, err
	}
	for i := range ents {
		if ents[i].name == name {
			return &ents[i], nil
		}
	}
	return nil, nil
}

// attrFile is one parsed .gitattributes file.
type attrFile struct {
	rules  []attrRule
	macros map[string][]attrState // only in the top-level file
}

type attrState struct {
	name, value string
}

type attrRule struct {
	pattern   string
	noDir     bool // no '/' in the pattern: matches the base name anywhere
	mustBeDir bool // trailing '/': never matches a file
	states    []attrState
}

func (r attrRule) matches(path, base, dir string) bool {
	switch {
	case r.mustBeDir:
		return false
	case r.noDir:
		return wildmatch(r.pattern, base, false)
	}
	rel := path
	if dir != "" {
		if !strings.HasPrefix(path, dir+"/") {
			return false
		}
		rel = path[len(dir)+1:]
	}
	return wildmatch(strings.TrimPrefix(r.pattern, "/"), rel, true)
}

// Limits git puts on attribute files.
const (
	attrMaxLine = 2048
	attrMaxFile = 100 << 20
)

const attrBlank = " \t\r\n"

// parseAttributes parses a .gitattributes file as git does; lines git
// would ignore (with a warning) are ignored. Macro definitions are only
// honoured in the top-level file.
func parseAttributes(data []byte, top bool) *attrFile {
	f := &attrFile{}
	if len(data) >= attrMaxFile {
		return f
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for _, raw := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(raw, 0); i >= 0 {
			raw = raw[:i]
		}
		if len(raw) >= attrMaxLine {
			continue
		}
		line := strings.TrimLeft(raw, attrBlank)
		if line == "" || line[0] == '#' {
			continue
		}
		pattern, rest, ok := cutPattern(line)
		if !ok {
			continue
		}
		states, ok := parseStates(rest)
		if !ok {
			continue
		}
		if name, isMacro := strings.CutPrefix(pattern, "[attr]"); isMacro && name != "" {
			name = strings.TrimLeft(name, attrBlank)
			if !top || !validAttrName(name) {
				continue
			}
			if f.macros == nil {
				f.macros = map[string][]attrState{}
			}
			f.macros[name] = states
			continue
		}
		if strings.HasPrefix(pattern, "!") {
			continue // negative patterns are not allowed
		}
		r := attrRule{pattern: pattern, states: states}
		if strings.HasSuffix(r.pattern, "/") {
			r.pattern, r.mustBeDir = strings.TrimSuffix(r.pattern, "/"), true
		}
		r.noDir = !strings.Contains(r.pattern, "/")
		f.rules = append(f.rules, r)
	}
	return f
}

// cutPattern splits off the pattern: up to the first blank, or a C-quoted
// string.
func cutPattern(line string) (pattern, rest string, ok bool) {
	if line[0] == '"' {
		if p, r, ok := unquoteC(line); ok {
			return p, r, true
		}
	}
	i := strings.IndexAny(line, attrBlank)
	if i < 0 {
		return line, "", true
	}
	return line[:i], line[i:], true
}

// parseStates parses "a -b !c d=v" (git rejects the whole line if any name
// is invalid).
func parseStates(s string) ([]attrState, bool) {
	var out []attrState
	for s = strings.TrimLeft(s, attrBlank); s != ""; s = strings.TrimLeft(s, attrBlank) {
		tok := s
		if i := strings.IndexAny(s, attrBlank); i >= 0 {
			tok, s = s[:i], s[i:]
		} else {
			s = ""
		}
		// The name ends at '=' (for "-a=b" too, where git ignores the
		// value).
		name, value, hasValue := strings.Cut(tok, "=")
		st := attrState{name: name, value: attrTrue}
		switch {
		case tok[0] == '-':
			st.name, st.value = name[1:], attrFalse
		case tok[0] == '!':
			st.name, st.value = name[1:], attrUnset
		case hasValue:
			st.value = value
		}
		if !validAttrName(st.name) {
			return nil, false
		}
		out = append(out, st)
	}
	return out, true
}

func validAttrName(n string) bool {
	if n == "" || n[0] == '-' {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c == '-' || c == '.' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// unquoteC reads a C-style quoted string at the start of s (git's
// unquote_c_style) and returns it and what follows.
func unquoteC(s string) (string, string, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			i++
			if i >= len(s) {
				return "", "", false
			}
			switch e := s[i]; e {
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'v':
				b.WriteByte('\v')
			case '\\', '"':
				b.WriteByte(e)
			case '0', '1', '2', '3':
				if i+2 >= len(s) || !isOctal(s[i+1]) || !isOctal(s[i+2]) {
					return "", "", false
				}
				b.WriteByte((e-'0')<<6 | (s[i+1]-'0')<<3 | (s[i+2] - '0'))
				i += 2
			default:
				return "", "", false
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a policy file.
type Problem struct {
	File string
	// Line and Column are 1-based; Column is 0 when only the line is known
	// (YAML syntax errors), and both are 0 when neither is.
	Line, Column int
	// Path is the field, such as apps[0].stages[1].overlay; empty for the
	// file as a whole.
	Path    string
	Message string
}

// String formats the problem as "file:line:col: path: message", leaving out
// the parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is returned by Load for an invalid policy. It lists every problem
// found, ordered by position.
type Error struct {
	Problems []Problem
}

// Error returns one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// maxNodes bounds the YAML nodes Load visits, counting each alias expansion,
// so a small file of nested aliases cannot make it do unbounded work.
const maxNodes = 100000

// maxProblems bounds the problems an Error lists; a last entry counts the
// rest.
const maxProblems = 100

// Load parses and validates a policy file. filename is used only in error
// messages. Decoding is strict: unknown fields, wrong types and every rule
// in the schema documentation are reported together in an *Error, each
// problem with its line, column and field path. On success every default is
// filled in and the returned Policy passes all invariants.
func Load(filename string, data []byte) (p *Policy, err error) {
	if len(data) > MaxFileBytes {
		return nil, &Error{Problems: []Problem{{File: filename, Message: fmt.Sprintf("the file is %d bytes; a policy may be at most %d", len(data), MaxFileBytes)}}}
	}
	d := &decoder{file: filename, pos: map[string]position{}, windowNames: map[string]bool{}}
	defer func() {
		// yaml.v3 has panicked on malformed input before; report it as a
		// problem with the file rather than crashing the bot.
		if r := recover(); r != nil {
			p, err = nil, &Error{Problems: []Problem{{File: filename, Message: fmt.Sprintf("cannot parse YAML: %v", r)}}}
		}
	}()
	root := d.parse(data)
	if root != nil {
		p = d.policy(root)
		if !d.aborted {
			d.check(p)
		}
	}
	if len(d.problems) > 0 {
		sort.SliceStable(d.problems, func(i, j int) bool {
			a, b := d.problems[i], d.problems[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		if n := len(d.problems); n > maxProblems {
			d.problems = append(d.problems[:maxProblems], Problem{File: filename,
				Message: fmt.Sprintf("%d more problems not shown", n-maxProblems)})
		}
		return nil, &Error{Problems: d.problems}
	}
	return p, nil
}

type position struct{ line, col int }

// decoder walks the YAML node tree, recording problems and the position of
// every field it meets (keyed by field path) for later cross-checks.
type decoder struct {
	file     string
	problems []Problem
	pos      map[string]position
	nodes    int
	aborted  bool // the node budget ran out; nothing more is decoded
	// windowNames holds every declared window name, valid or not, so a
	// broken window is reported once, not again at each use.
	windowNames map[string]bool
	windowOrder []string
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse returns the document's root node, or nil after recording why not.
func (d *decoder) parse(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.failAt(position{}, "", "file is empty; it needs at least apiVersion and apps")
			return nil
		}
		d.syntax(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.fail(&extra, "", "only one YAML document is allowed")
		return nil
	} else if !errors.Is(err, io.EOF) {
		d.syntax(err)
		return nil
	}
	if len(doc.Content) == 0 {
		d.failAt(position{}, "", "file is empty; it needs at least apiVersion and apps")
		return nil
	}
	return doc.Content[0]
}

func (d *decoder) syntax(err error) {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.failAt(position{line: line}, "", "invalid YAML: %s", m[2])
		return
	}
	d.failAt(position{}, "", "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

func at(n *yaml.Node) position { return position{n.Line, n.Column} }

func (d *decoder) failAt(p position, path, format string, args ...any) {
	if d.aborted && len(d.problems) > 0 {
		return
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: p.line, Column: p.col, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.failAt(at(n), path, format, args...)
}

// required reports a missing field of the mapping at path.
func (d *decoder) required(path, field string) {
	d.failAt(d.pos[path], join(path, field), "required")
}

// failPath reports a problem at the recorded position of path.
func (d *decoder) failPath(path, format string, args ...any) {
	d.failAt(d.pos[path], path, format, args...)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func (d *decoder) has(path string) bool { _, ok := d.pos[path]; return ok }

// resolve follows aliases and charges the node budget; nil means stop.
func (d *decoder) resolve(n *yaml.Node, path string) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > 100 {
			d.fail(n, path, "alias chain too long")
			return nil
		}
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	if d.aborted {
		return nil
	}
	d.nodes++
	if d.nodes > maxNodes {
		// Everything after this would be noise: report only this.
		d.aborted = true
		d.problems = d.problems[:0]
		d.fail(n, path, "document too large or too deeply aliased (over %d nodes)", maxNodes)
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "another kind of node"
}

// fields decodes the mapping n: set[key] handles each known key's value.
// Unknown and repeated keys are problems; "<<" merge keys are refused.
// It returns false if n is not a mapping (null counts as an empty one).
func (d *decoder) fields(n *yaml.Node, path string, set map[string]func(v *yaml.Node, path string)) bool {
	d.pos[path] = at(n)
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", kindName(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "mapping keys must be plain strings")
			continue
		}
		fp := join(path, key)
		if key == "<<" {
			d.fail(k, path, "merge keys (<<) are not supported")
			continue
		}
		if line, dup := seen[key]; dup {
			d.fail(k, fp, "repeated field (first set on line %d)", line)
			continue
		}
		seen[key] = k.Line
		h, ok := set[key]
		if !ok {
			d.fail(k, fp, "unknown field%s", suggest(key, set))
			continue
		}
		v = d.resolve(v, fp)
		if v == nil {
			continue
		}
		d.pos[fp] = at(v)
		h(v, fp)
	}
	return true
}

// suggest returns ` (did you mean "x"?)` for a close known key.
func suggest(key string, set map[string]func(*yaml.Node, string)) string {
	best, bestD := "", 3
	for k := range set {
		if dist := EditDistance(strings.ToLower(key), strings.ToLower(k)); dist < bestD || (dist == bestD && k < best) {
			best, bestD = k, dist
		}
	}
	if best == "" || bestD > 2 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// EditDistance is the Levenshtein distance of two short strings, counted
// in bytes; strings over 64 bytes are never close (it returns 99).
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Bounds on a policy file, so a pushed file cannot make ensign use
// unbounded memory or write unbounded text into commits and comments.
const (
	// MaxFileBytes bounds the policy file.
	MaxFileBytes = 256 << 10
	// MaxStringBytes bounds every string value in it.
	MaxStringBytes = 1024
)

// str decodes a scalar as a string; null is "". ok is false after a problem.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want a string, got %s", kindName(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	if len(n.Value) > MaxStringBytes {
		d.fail(n, path, "%d bytes long; at most %d", len(n.Value), MaxStringBytes)
		return "", false
	}
	return n.Value, true
}

// boolean decodes true or false.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		switch strings.ToLower(n.Value) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	d.fail(n, path, "want true or false, got %q", n.Value)
	return false, false
}

// seq returns the items of a list (null is empty), resolving aliases.
func (d *decoder) seq(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, got %s", kindName(n))
		return nil, false
	}
	items := make([]*yaml.Node, 0, len(n.Content))
	for i, it := range n.Content {
		ip := index(path, i)
		it = d.resolve(it, ip)
		if it == nil {
			return nil, false
		}
		d.pos[ip] = at(it)
		items = append(items, it)
	}
	return items, true
}

// strList decodes a list of strings.
func (d *decoder) strList(n *yaml.Node, path string) []string {
	items, ok := d.seq(n, path)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		if s, ok := d.str(it, index(path, i)); ok {
			out = append(out, s)
		}
	}
	return out
}

// enum decodes a string that must be one of allowed (empty keeps def).
func (d *decoder) enum(n *yaml.Node, path, def string, allowed ...string) string {
	s, ok := d.str(n, path)
	if !ok {
		return def
	}
	if s == "" {
		d.fail(n, path, "must not be empty (want %s)", orList(allowed))
		return def
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	d.fail(n, path, "unknown value %q (want %s)", s, orList(allowed))
	return def
}

func orList(xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

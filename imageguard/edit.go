package imageguard

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ensignbot/ensign/overlay"
)

// ErrCannotEdit means an ImageRepository manifest is written in a way the
// guard will not edit line by line (flow style, anchors, multi-line
// entries): a person must exclude the tag.
var ErrCannotEdit = errors.New("cannot edit the ImageRepository manifest")

// ErrListFull means the exclusionList already holds the most entries the
// ImageRepository CRD allows.
var ErrListFull = errors.New("the ImageRepository's exclusionList is full")

// DefaultExclusions is what Flux's ImageRepository uses when its
// exclusionList is absent (the CRD's default): the guard keeps it when it
// adds the list, so that only the failed tag changes Flux's behaviour.
var DefaultExclusions = []string{`^.*\.sig$`}

// MaxExclusions is the CRD's maxItems for spec.exclusionList.
const MaxExclusions = 25

// commentPrefix starts the trailing comment of the guard's own entries.
const commentPrefix = "# ensign:"

// Pattern is the exclusionList entry that excludes exactly tag.
func Pattern(tag string) string { return "^" + regexp.QuoteMeta(tag) + "$" }

// TagOf is the tag a Pattern excludes; ok is false for any other regex.
func TagOf(pattern string) (string, bool) {
	inner, okPrefix := strings.CutPrefix(pattern, "^")
	inner, okSuffix := strings.CutSuffix(inner, "$")
	if !okPrefix || !okSuffix {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\\' && i+1 < len(inner) {
			i++
		}
		b.WriteByte(inner[i])
	}
	tag := b.String()
	return tag, tag != "" && regexp.QuoteMeta(tag) == inner
}

// AddPattern is list with pattern added: present says whether the object
// has a list at all (without one, Flux's default is kept first). It
// reports whether anything changed, and ErrListFull when there is no room.
func AddPattern(list []string, present bool, pattern string) ([]string, bool, error) {
	if !present {
		list = DefaultExclusions
	}
	if slices.Contains(list, pattern) {
		return list, !present, nil
	}
	if len(list) >= MaxExclusions {
		return list, false, fmt.Errorf("%w (%d entries)", ErrListFull, len(list))
	}
	return append(slices.Clone(list), pattern), true, nil
}

// addExclusion returns data with pattern appended to the exclusionList of
// the doc'th document's spec, followed by a trailing "# ensign: note"
// comment; every other byte stays. changed is false when the list already
// holds pattern.
func addExclusion(data []byte, doc int, pattern, note string) (out []byte, changed bool, err error) {
	e, err := openList(data, doc)
	if err != nil {
		return nil, false, err
	}
	entry := quote(pattern) + " " + commentPrefix + " " + oneLine(note)
	var insert []string
	at := 0
	if e.list == nil {
		ind := e.childIndent
		insert = []string{ind + "exclusionList:"}
		for _, d := range DefaultExclusions {
			insert = append(insert, ind+"  - "+quote(d))
		}
		insert = append(insert, ind+"  - "+entry)
		at = e.specKey.Line // right after the `spec:` line
	} else {
		if slices.Contains(e.values(), pattern) {
			return data, false, nil
		}
		if len(e.list.Content) >= MaxExclusions {
			return nil, false, fmt.Errorf("%w (%d entries)", ErrListFull, len(e.list.Content))
		}
		last := e.list.Content[len(e.list.Content)-1]
		line := e.lines[last.Line-1]
		ind := line[:len(line)-len(strings.TrimLeft(line, " "))]
		insert = []string{ind + "- " + entry}
		at = last.Line
	}
	want, _, _ := AddPattern(e.values(), e.list != nil, pattern)
	out = e.splice(at, insert)
	return out, true, verify(data, out, doc, want)
}

// removeExclusion returns data without the guard's own entries of pattern
// (those with an "# ensign:" comment) in the doc'th document's
// exclusionList. changed is false when there are none.
func removeExclusion(data []byte, doc int, pattern string) (out []byte, changed bool, err error) {
	e, err := openList(data, doc)
	if err != nil || e.list == nil {
		return data, false, err
	}
	var keep []string
	var drop []int // 0-based lines, descending
	for _, it := range e.list.Content {
		if it.Value == pattern && strings.HasPrefix(it.LineComment, commentPrefix) {
			drop = append([]int{it.Line - 1}, drop...)
			continue
		}
		keep = append(keep, it.Value)
	}
	if len(drop) == 0 {
		return data, false, nil
	}
	for _, l := range drop {
		e.lines = append(e.lines[:l:l], e.lines[l+1:]...)
	}
	if len(keep) == 0 { // the key alone would be null: remove it too
		l := e.listKey.Line - 1
		e.lines = append(e.lines[:l:l], e.lines[l+1:]...)
	}
	out = []byte(strings.Join(e.lines, ""))
	return out, true, verify(data, out, doc, keep)
}

// listEdit is one document's exclusionList, located for a line edit.
type listEdit struct {
	lines            []string
	nl               string
	specKey, listKey *yaml.Node
	list             *yaml.Node // nil when absent
	childIndent      string     // indentation of spec's keys
}

func (e listEdit) values() []string {
	var v []string
	if e.list != nil {
		for _, it := range e.list.Content {
			v = append(v, it.Value)
		}
	}
	return v
}

// splice inserts lines at 0-based line index at.
func (e listEdit) splice(at int, insert []string) []byte {
	var b bytes.Buffer
	for _, l := range e.lines[:at] {
		b.WriteString(l)
	}
	if at > 0 && !strings.HasSuffix(e.lines[at-1], "\n") {
		b.WriteString(e.nl)
	}
	for _, l := range insert {
		b.WriteString(l + e.nl)
	}
	for _, l := range e.lines[at:] {
		b.WriteString(l)
	}
	return b.Bytes()
}

func openList(data []byte, doc int) (listEdit, error) {
	docs, err := overlay.Documents(data)
	if err != nil {
		return listEdit{}, fmt.Errorf("%w: %w", ErrCannotEdit, err)
	}
	if doc < 0 || doc >= len(docs) || len(docs[doc].Content) != 1 {
		return listEdit{}, fmt.Errorf("%w: no document %d", ErrCannotEdit, doc)
	}
	if hasAnchors(docs[doc]) {
		return listEdit{}, fmt.Errorf("%w: it uses YAML anchors or aliases", ErrCannotEdit)
	}
	root := docs[doc].Content[0]
	e := listEdit{lines: slices.Collect(strings.Lines(string(data))), nl: "\n", specKey: lookupKey(root, "spec")}
	if bytes.Contains(data, []byte("\r\n")) {
		e.nl = "\r\n"
	}
	spec := overlay.MappingValue(root, "spec")
	if root.Style&yaml.FlowStyle != 0 || spec == nil || spec.Kind != yaml.MappingNode || spec.Style&yaml.FlowStyle != 0 || len(spec.Content) == 0 {
		return listEdit{}, fmt.Errorf("%w: its spec is not a block mapping", ErrCannotEdit)
	}
	first := spec.Content[0]
	line := e.lines[first.Line-1]
	e.childIndent = line[:first.Column-1]
	if strings.TrimLeft(e.childIndent, " ") != "" || first.Line <= e.specKey.Line {
		return listEdit{}, fmt.Errorf("%w: cannot tell the indentation of its spec", ErrCannotEdit)
	}
	e.listKey, e.list = lookupKey(spec, "exclusionList"), overlay.MappingValue(spec, "exclusionList")
	if e.list == nil {
		return e, nil
	}
	if e.list.Kind != yaml.SequenceNode || e.list.Style&yaml.FlowStyle != 0 || len(e.list.Content) == 0 {
		return listEdit{}, fmt.Errorf("%w: its exclusionList is not a block list (write it as `- entry` lines)", ErrCannotEdit)
	}
	prev := e.listKey.Line
	for _, it := range e.list.Content {
		l := strings.TrimLeft(e.lines[it.Line-1], " ")
		if it.Kind != yaml.ScalarNode || it.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || it.Line <= prev || !strings.HasPrefix(l, "- ") {
			return listEdit{}, fmt.Errorf("%w: its exclusionList has an entry that is not one `- entry` line", ErrCannotEdit)
		}
		prev = it.Line
	}
	return e, nil
}

// verify checks that after differs from before only in the doc'th
// document's exclusionList, which must now be want.
func verify(before, after []byte, doc int, want []string) error {
	b, errB := plain(before)
	a, errA := plain(after)
	if errB != nil || errA != nil || len(a) != len(b) {
		return fmt.Errorf("%w: the edited file does not parse the same (%v)", ErrCannotEdit, errors.Join(errB, errA))
	}
	spec, _ := a[doc].(map[string]any)["spec"].(map[string]any)
	got, _ := spec["exclusionList"].([]any)
	if len(got) != len(want) {
		return fmt.Errorf("%w: the edited exclusionList is %v, not %v", ErrCannotEdit, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("%w: the edited exclusionList is %v, not %v", ErrCannotEdit, got, want)
		}
	}
	for _, docs := range [][]any{a, b} {
		if s, ok := docs[doc].(map[string]any)["spec"].(map[string]any); ok {
			delete(s, "exclusionList")
		}
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Errorf("%w: the edit would change more than the exclusionList", ErrCannotEdit)
	}
	return nil
}

func plain(data []byte) ([]any, error) {
	docs, err := overlay.Documents(data)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(docs))
	for i, d := range docs {
		if err := d.Decode(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func hasAnchors(n *yaml.Node) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return true
	}
	return slices.ContainsFunc(n.Content, hasAnchors)
}

// quote writes s as a single-quoted YAML scalar (no escapes inside).
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// oneLine makes note safe for a trailing comment: one line, bounded.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

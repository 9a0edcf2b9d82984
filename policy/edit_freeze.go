package policy

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrCannotEdit is returned by SetFreezes for a policy file it cannot edit
// line by line and keep as the person wrote it (a flow-style document, or
// one whose freezes other keys refer to by anchor).
var ErrCannotEdit = errors.New("cannot edit the policy file")

// SetFreezes returns the policy file data with its freezes replaced by fs,
// every other line kept byte for byte: the `freezes:` block is rewritten
// in place (removed when fs is empty), or appended at the end of the file.
// The result is loaded again and must hold exactly fs, so an edit can never
// change anything else. name is the file's name for error messages.
func SetFreezes(name string, data []byte, fs []Freeze) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrCannotEdit, name, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w %s: the document is not a mapping", ErrCannotEdit, name)
	}
	root := doc.Content[0]
	if root.Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("%w %s: the document is written in flow style ({...}); write it as a block mapping", ErrCannotEdit, name)
	}
	nl := "\n"
	if bytes.Contains(data, []byte("\r\n")) {
		nl = "\r\n"
	}
	lines := slices.Collect(strings.Lines(string(data)))
	start, end := -1, -1 // the block's lines [start, end), 0-based
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "freezes" {
			continue
		}
		start = root.Content[i].Line - 1
		end = trimTail(lines, len(lines))
		if i+2 < len(root.Content) {
			end = trimTail(lines, root.Content[i+2].Line-1)
		}
		if root.Content[i].Column != 1 || end <= start {
			return nil, fmt.Errorf("%w %s: cannot find where its freezes end", ErrCannotEdit, name)
		}
	}
	block := renderFreezes(fs, nl)
	var out bytes.Buffer
	switch {
	case start >= 0:
		for _, l := range lines[:start] {
			out.WriteString(l)
		}
		out.WriteString(block)
		for _, l := range lines[end:] {
			out.WriteString(l)
		}
	default:
		at := trimTail(lines, len(lines))
		if at < len(lines) && strings.TrimSpace(lines[at]) != "..." {
			at = len(lines) // comments and blank lines at the end stay before
		}
		for _, l := range lines[:at] {
			out.WriteString(l)
		}
		if at > 0 && !strings.HasSuffix(lines[at-1], "\n") {
			out.WriteString(nl)
		}
		out.WriteString(block)
		for _, l := range lines[at:] {
			out.WriteString(l)
		}
	}
	p, err := Load(name, out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%w %s: the edited file does not load: %w", ErrCannotEdit, name, err)
	}
	if !sameFreezes(p.Freezes, fs) {
		return nil, fmt.Errorf("%w %s: the edited file does not hold the freezes written (are they referred to by anchor?)", ErrCannotEdit, name)
	}
	return out.Bytes(), nil
}

// trimTail backs end off over the blank, comment-only and document-end
// lines before it: those belong to what follows the block.
func trimTail(lines []string, end int) int {
	for end > 0 {
		t := strings.TrimSpace(lines[end-1])
		if t != "" && !strings.HasPrefix(t, "#") && t != "..." {
			break
		}
		end--
	}
	return end
}

// renderFreezes writes the freezes block; none renders nothing.
func renderFreezes(fs []Freeze, nl string) string {
	if len(fs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("freezes:" + nl)
	for _, f := range fs {
		b.WriteString("  - stage: " + f.Stage + nl)
		if len(f.Apps) > 0 {
			b.WriteString("    apps: [" + strings.Join(f.Apps, ", ") + "]" + nl)
		}
		b.WriteString("    from: " + strconv.Quote(f.From.UTC().Format(time.RFC3339)) + nl)
		b.WriteString("    until: " + strconv.Quote(f.Until.UTC().Format(time.RFC3339)) + nl)
		if f.By != "" {
			b.WriteString("    by: " + strconv.Quote(f.By) + nl)
		}
		b.WriteString("    reason: " + strconv.Quote(f.Reason) + nl)
	}
	return b.String()
}

// sameFreezes compares freezes as the file holds them: whole seconds, UTC.
func sameFreezes(got, want []Freeze) bool {
	norm := func(fs []Freeze) []Freeze {
		out := make([]Freeze, len(fs))
		for i, f := range fs {
			f.From, f.Until = f.From.UTC().Truncate(time.Second), f.Until.UTC().Truncate(time.Second)
			if len(f.Apps) == 0 {
				f.Apps = nil
			}
			out[i] = f
		}
		return out
	}
	return reflect.DeepEqual(norm(got), norm(want))
}

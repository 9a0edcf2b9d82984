package overlay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// File is one parsed YAML file: its exact bytes plus the yaml.v3 node trees
// used to locate what to edit. Edits change the bytes in place of the edited
// node only; on any error the File keeps its previous content.
type File struct {
	name  string
	data  []byte
	docs  []*yaml.Node // DocumentNodes in stream order
	lines []int        // byte offset of the start of each line; lines[0] is line 1
	eol   string       // line ending used for inserted lines
}

// Parse parses data as a YAML stream (one or more documents). name is used
// only in error messages, typically the file's path in the repository. data
// is not copied; the caller must not modify it afterwards.
func Parse(name string, data []byte) (*File, error) {
	f := &File{name: name}
	if err := f.load(data); err != nil {
		return nil, err
	}
	return f, nil
}

// Name returns the name given to [Parse].
func (f *File) Name() string { return f.name }

// Bytes returns the current content. The slice must not be modified; it
// stays valid after further edits (edits allocate new slices).
func (f *File) Bytes() []byte { return f.data }

// Documents returns the number of documents in the stream (an empty file
// has none).
func (f *File) Documents() int { return len(f.docs) }

// load parses data and replaces f's content with it.
func (f *File) load(data []byte) error {
	docs, err := parseDocs(data)
	if err != nil {
		return &Error{File: f.name, Err: err}
	}
	f.data, f.docs = data, docs
	f.lines = lineStarts(data)
	f.eol = detectEOL(data)
	return nil
}

// Documents parses every document of a YAML stream the way overlay files
// are parsed, for other readers of repository files: UTF-8 only, and a
// panic of the YAML parser on hostile input comes back as an error
// wrapping ErrParse instead of taking the bot down.
func Documents(data []byte) ([]*yaml.Node, error) { return parseDocs(data) }

// MappingValue returns the value of key in mapping m, or nil when m is nil,
// not a mapping, or has no such key.
func MappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// parseDocs decodes every document of a stream into nodes.
func parseDocs(data []byte) (docs []*yaml.Node, err error) {
	if len(data) >= 2 && (data[0] == 0xFE && data[1] == 0xFF || data[0] == 0xFF && data[1] == 0xFE) {
		return nil, fmt.Errorf("utf-16 input: %w", ErrParse)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("input is not utf-8: %w", ErrParse)
	}
	// yaml.v3 is outside input's first reader here; a panic inside it must
	// become an error, not take the bot down.
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, fmt.Errorf("yaml parser panic: %v: %w", r, ErrParse)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrParse, err)
		}
		docs = append(docs, &n)
	}
}

// lineStarts returns the offset of the first byte of every line, counting
// line breaks the way yaml.v3 does (CRLF, CR, LF, NEL, LS, PS) and starting
// after a UTF-8 byte order mark, which yaml.v3 does not count as a column.
func lineStarts(data []byte) []int {
	start := 0
	if bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")) {
		start = 3
	}
	lines := []int{start}
	for i := start; i < len(data); {
		if n := breakLen(data, i); n > 0 {
			i += n
			lines = append(lines, i)
			continue
		}
		i++
	}
	return lines
}

// breakLen returns the length of the line break at data[i], or 0.
func breakLen(data []byte, i int) int {
	switch c := data[i]; {
	case c == '\r':
		if i+1 < len(data) && data[i+1] == '\n' {
			return 2
		}
		return 1
	case c == '\n':
		return 1
	case c == 0xC2 && i+1 < len(data) && data[i+1] == 0x85:
		return 2
	case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xA8 || data[i+2] == 0xA9):
		return 3
	}
	return 0
}

// detectEOL returns the file's first line break: "\r\n", "\r", or "\n" (also
// for NEL, LS and PS breaks).
func detectEOL(data []byte) string {
	for i := range data {
		switch n := breakLen(data, i); {
		case n == 2 && data[i] == '\r':
			return "\r\n"
		case n == 1 && data[i] == '\r':
			return "\r"
		case n > 0:
			return "\n"
		}
	}
	return "\n"
}

// offset converts a yaml.v3 1-based line and column (counted in characters)
// into a byte offset.
func (f *File) offset(line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(f.lines) {
		return len(f.data)
	}
	off := f.lines[line-1]
	for c := 1; c < col && off < len(f.data); c++ {
		_, w := utf8.DecodeRune(f.data[off:])
		off += w
	}
	return off
}

// lineOf returns the 1-based line containing byte offset off.
func (f *File) lineOf(off int) int {
	lo, hi := 0, len(f.lines)
	for lo < hi {
		m := (lo + hi) / 2
		if f.lines[m] <= off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

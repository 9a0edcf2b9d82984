package imageguard

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/overlay"
)

// Reader reads a repository tree (files and lists of files, as overlay
// edits read it); *gitops.TreeEditor implements it.
type Reader = overlay.Reader

// Tree reads and writes a repository tree; *gitops.TreeEditor implements it.
type Tree interface {
	Reader
	// WriteFile creates or replaces a file.
	WriteFile(name string, data []byte) error
}

// maxFile bounds the YAML files the guard reads; manifests are far smaller.
const maxFile = 1 << 20

// Setter is one field of a YAML file marked with a setter marker.
type Setter struct {
	Marker
	// File is the file's path in the repository; Line is 1-based.
	File string
	Line int
	// Value is the field's value.
	Value string
	// Image is the image name the field belongs to, when the file says:
	// the value's name for a whole-reference marker, the value for a
	// :name marker, and for :tag and :digest a sibling newName, name,
	// repository (with registry) or image; "" when unknown.
	Image string
}

// Setters returns the marked fields of the YAML files under dir, in file
// and line order. A file that does not parse is skipped, as Flux's
// automation skips it too.
func Setters(t Reader, dir string) ([]Setter, error) {
	files, err := t.List(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []Setter
	for _, f := range files {
		if !isYAML(f) {
			continue
		}
		p := path.Join(dir, f)
		data, err := t.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		if len(data) > maxFile || !bytes.Contains(data, []byte(SetterKey)) {
			continue
		}
		docs, err := overlay.Documents(data)
		if err != nil {
			continue
		}
		for _, d := range docs {
			walk(d, nil, func(s Setter) {
				s.File = p
				out = append(out, s)
			})
		}
	}
	return out, nil
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// walk calls found for every scalar carrying a marker; parent is the
// mapping the scalar is a value of (nil in a sequence).
func walk(n, parent *yaml.Node, found func(Setter)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind == yaml.ScalarNode {
				check(c, nil, nil, found)
				continue
			}
			walk(c, nil, found)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.ScalarNode {
				check(v, k, n, found)
				continue
			}
			walk(v, n, found)
		}
	}
}

func check(v, k, parent *yaml.Node, found func(Setter)) {
	comments := []string{v.LineComment, v.HeadComment}
	if k != nil {
		comments = append(comments, k.LineComment, k.HeadComment)
	}
	for _, c := range comments {
		m, ok := ParseMarker(c)
		if !ok {
			continue
		}
		s := Setter{Marker: m, Line: v.Line, Value: v.Value}
		switch m.Field {
		case "":
			if r, err := imageref.Parse(v.Value); err == nil {
				s.Image = r.Name
			}
		case "name":
			s.Image = v.Value
		default:
			s.Image = siblingImage(parent)
		}
		found(s)
		return
	}
}

// siblingImage is the image name a tag or digest field's mapping gives:
// Kustomize's newName or name, Helm values' [registry/]repository, or an
// image without tag.
func siblingImage(m *yaml.Node) string {
	if m == nil {
		return ""
	}
	get := func(key string) string {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.ScalarNode {
				return m.Content[i+1].Value
			}
		}
		return ""
	}
	if n := get("newName"); n != "" {
		return n
	}
	if n := get("name"); n != "" {
		return n
	}
	if n := get("repository"); n != "" {
		if r := get("registry"); r != "" {
			return r + "/" + n
		}
		return n
	}
	if r, err := imageref.Parse(get("image")); err == nil {
		return r.Name
	}
	return ""
}

// SameImage reports whether two image names name the same repository,
// Docker Hub's implicit "docker.io/" and "library/" aside.
func SameImage(a, b string) bool {
	return canonical(a) == canonical(b)
}

func canonical(n string) string {
	n = strings.TrimPrefix(strings.TrimPrefix(n, "index.docker.io/"), "docker.io/")
	return strings.TrimPrefix(n, "library/")
}

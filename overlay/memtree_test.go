package overlay

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
)

// memTree is a map-backed Tree for tests: path -> content.
type memTree struct {
	files map[string]string
	// failWrite makes WriteFile fail for this path.
	failWrite string
	// links are paths that are symbolic links (their content is the target).
	links map[string]bool
}

func newMemTree(files map[string]string) *memTree {
	return &memTree{files: maps.Clone(files)}
}

func (m *memTree) ReadFile(name string) ([]byte, error) {
	if m.links[name] {
		return nil, fmt.Errorf("read %s: %w", name, ErrSymlink)
	}
	d, ok := m.files[name]
	if !ok {
		return nil, fmt.Errorf("read %s: %w", name, fs.ErrNotExist)
	}
	return []byte(d), nil
}

func (m *memTree) List(dir string) ([]string, error) {
	prefix := dir + "/"
	if dir == "." {
		prefix = ""
	}
	var out []string
	for p := range m.files {
		if rel, ok := strings.CutPrefix(p, prefix); ok {
			out = append(out, rel)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("list %s: %w", dir, fs.ErrNotExist)
	}
	slices.Sort(out)
	return out, nil
}

func (m *memTree) WriteFile(name string, data []byte) error {
	if name == m.failWrite {
		return fmt.Errorf("disk full")
	}
	m.files[name] = string(data)
	return nil
}

func (m *memTree) Remove(name string) error {
	if _, ok := m.files[name]; !ok {
		return fmt.Errorf("remove %s: %w", name, fs.ErrNotExist)
	}
	delete(m.files, name)
	return nil
}

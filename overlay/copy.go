package overlay

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Reader reads files of a repository tree. Paths are slash-separated and
// relative to the tree's root.
type Reader interface {
	// ReadFile returns a file's content, or an error wrapping
	// fs.ErrNotExist when there is no such file and one wrapping
	// ErrSymlink when the path is a symbolic link.
	ReadFile(name string) ([]byte, error)
	// List returns the paths, relative to dir, of every file under dir at
	// any depth, in any order. A missing dir gives an error wrapping
	// fs.ErrNotExist.
	List(dir string) ([]string, error)
}

// Tree is a writable repository tree, e.g. a staged git tree. Changes made
// through it are only kept if the caller commits them, so a failed copy can
// be discarded with the tree.
type Tree interface {
	Reader
	// WriteFile creates or replaces a file, creating parent directories.
	WriteFile(name string, data []byte) error
	// Remove deletes a file; empty parent directories disappear with it.
	Remove(name string) error
}

// FileOp is what a copy did to one target file.
type FileOp uint8

// File operations reported by [CopyFiles] and [SyncDir].
const (
	FileAdded FileOp = iota + 1
	FileModified
	FileRemoved
)

// String returns "added", "modified" or "removed".
func (o FileOp) String() string {
	switch o {
	case FileAdded:
		return "added"
	case FileModified:
		return "modified"
	case FileRemoved:
		return "removed"
	}
	return fmt.Sprintf("FileOp(%d)", uint8(o))
}

// FileChange is one target file changed by a copy.
type FileChange struct {
	Path string // slash-separated path of the target file in the tree
	Op   FileOp
}

// String renders the change as "modified apps/prod/deploy.yaml".
func (c FileChange) String() string { return c.Op.String() + " " + c.Path }

// CleanPath checks that p is a clean, slash-separated, relative path that
// stays inside the tree and does not enter a .git directory, and returns it.
// "" and "." name the tree's root.
func CleanPath(p string) (string, error) {
	if p == "" || p == "." {
		return ".", nil
	}
	switch {
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("path %q is absolute: %w", p, ErrInvalid)
	case strings.ContainsAny(p, "\\\x00"):
		return "", fmt.Errorf("path %q contains a backslash or NUL: %w", p, ErrInvalid)
	case path.Clean(p) != p:
		return "", fmt.Errorf("path %q is not clean (want %q): %w", p, path.Clean(p), ErrInvalid)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", fmt.Errorf("path %q leaves the tree: %w", p, ErrInvalid)
		}
		if strings.EqualFold(el, ".git") {
			return "", fmt.Errorf("path %q enters .git: %w", p, ErrInvalid)
		}
	}
	return p, nil
}

// cleanRel is CleanPath for a file path, which cannot be the root.
func cleanRel(p string) (string, error) {
	rel, err := CleanPath(p)
	if err == nil && rel == "." {
		err = fmt.Errorf("empty file path: %w", ErrInvalid)
	}
	return rel, err
}

// join joins a clean directory and a clean relative path.
func join(dir, rel string) string {
	if dir == "." {
		return rel
	}
	return dir + "/" + rel
}

// within reports whether p is dir or lies under it.
func within(p, dir string) bool {
	return dir == "." || p == dir || strings.HasPrefix(p, dir+"/")
}

// CopyFiles copies the listed files, given relative to srcDir, to the same
// relative paths under dstDir. A listed file missing from src is an error.
// Files already equal are not rewritten. It returns the target files that
// changed. All inputs are checked and read before anything is written.
func CopyFiles(src Reader, dst Tree, srcDir, dstDir string, files []string) ([]FileChange, error) {
	srcDir, dstDir, err := checkDirs(srcDir, dstDir)
	if err != nil {
		return nil, err
	}
	var plan []planned
	seen := map[string]bool{}
	for _, f := range files {
		rel, err := cleanRel(f)
		if err != nil {
			return nil, &Error{File: f, Err: fmt.Errorf("listed file: %w", err)}
		}
		if seen[rel] {
			continue
		}
		seen[rel] = true
		data, err := src.ReadFile(join(srcDir, rel))
		if err != nil {
			return nil, readErr(join(srcDir, rel), err)
		}
		plan = append(plan, planned{rel: rel, data: data})
	}
	return apply(dst, dstDir, plan, nil)
}

// SyncDir makes dstDir hold exactly the files of srcDir: files are added or
// overwritten, and files under dstDir that srcDir lacks are removed. Paths
// matching an exclude pattern (relative to the directories) are neither
// copied nor removed, so the target keeps its own version of them. Patterns
// follow .gitignore habits: one without "/" (e.g. "*.env",
// "kustomization.yaml") matches a file's base name at any depth, one with
// "/" is a path.Match pattern on the whole relative path
// ("patches/*.yaml"), and "dir/**" matches everything under dir. It returns
// the target files that changed.
func SyncDir(src Reader, dst Tree, srcDir, dstDir string, exclude []string) ([]FileChange, error) {
	srcDir, dstDir, err := checkDirs(srcDir, dstDir)
	if err != nil {
		return nil, err
	}
	for _, p := range exclude {
		if _, err := path.Match(strings.TrimSuffix(p, "/**"), ""); err != nil || p == "" {
			return nil, &Error{Key: p, Err: fmt.Errorf("bad exclude pattern %q: %w", p, ErrInvalid)}
		}
	}
	excluded := func(rel string) bool {
		for _, p := range exclude {
			if d, ok := strings.CutSuffix(p, "/**"); ok {
				if m, _ := path.Match(d, rel); m {
					return true
				}
				for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
					if m, _ := path.Match(d, dir); m {
						return true
					}
				}
			} else if m, _ := path.Match(p, rel); m {
				return true
			} else if m, _ := path.Match(p, path.Base(rel)); m && !strings.Contains(p, "/") {
				return true
			}
		}
		return false
	}
	srcFiles, err := src.List(srcDir)
	if err != nil {
		return nil, readErr(srcDir, err)
	}
	var plan []planned
	keep := map[string]bool{}
	for _, f := range srcFiles {
		rel, err := cleanRel(f)
		if err != nil {
			return nil, &Error{File: join(srcDir, f), Err: fmt.Errorf("listed by source tree: %w", err)}
		}
		if excluded(rel) {
			continue
		}
		data, err := src.ReadFile(join(srcDir, rel))
		if err != nil {
			return nil, readErr(join(srcDir, rel), err)
		}
		keep[rel] = true
		plan = append(plan, planned{rel: rel, data: data})
	}
	dstFiles, err := dst.List(dstDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, readErr(dstDir, err)
	}
	var remove []string
	for _, f := range dstFiles {
		rel, err := cleanRel(f)
		if err != nil {
			return nil, &Error{File: join(dstDir, f), Err: fmt.Errorf("listed by target tree: %w", err)}
		}
		if !keep[rel] && !excluded(rel) {
			remove = append(remove, rel)
		}
	}
	return apply(dst, dstDir, plan, remove)
}

// planned is one file to write.
type planned struct {
	rel  string
	data []byte
}

// apply writes and removes files under dstDir, skipping identical ones.
// Every target is read before the first write, so a target that cannot be
// read (a symbolic link, say) leaves the tree as it was.
func apply(dst Tree, dstDir string, plan []planned, remove []string) ([]FileChange, error) {
	var writes []FileChange
	var data [][]byte
	for _, p := range plan {
		name := join(dstDir, p.rel)
		old, err := dst.ReadFile(name)
		op := FileModified
		switch {
		case errors.Is(err, fs.ErrNotExist):
			op = FileAdded
		case err != nil:
			return nil, readErr(name, err)
		case bytes.Equal(old, p.data):
			continue
		}
		writes = append(writes, FileChange{Path: name, Op: op})
		data = append(data, p.data)
	}
	var changes []FileChange
	for i, w := range writes {
		if err := dst.WriteFile(w.Path, data[i]); err != nil {
			return changes, &Error{File: w.Path, Err: fmt.Errorf("write: %w", err)}
		}
		changes = append(changes, w)
	}
	slices.Sort(remove)
	for _, rel := range remove {
		name := join(dstDir, rel)
		if err := dst.Remove(name); err != nil {
			return changes, &Error{File: name, Err: fmt.Errorf("remove: %w", err)}
		}
		changes = append(changes, FileChange{Path: name, Op: FileRemoved})
	}
	slices.SortFunc(changes, func(a, b FileChange) int { return strings.Compare(a.Path, b.Path) })
	return changes, nil
}

// checkDirs validates a source and target directory pair.
func checkDirs(srcDir, dstDir string) (string, string, error) {
	s, err := CleanPath(srcDir)
	if err != nil {
		return "", "", &Error{File: srcDir, Err: fmt.Errorf("source dir: %w", err)}
	}
	d, err := CleanPath(dstDir)
	if err != nil {
		return "", "", &Error{File: dstDir, Err: fmt.Errorf("target dir: %w", err)}
	}
	if within(s, d) || within(d, s) {
		return "", "", &Error{File: dstDir, Err: fmt.Errorf("source %q and target %q overlap: %w", s, d, ErrInvalid)}
	}
	return s, d, nil
}

// readErr wraps a tree read error, mapping a missing file to ErrNotFound.
func readErr(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &Error{File: name, Err: fmt.Errorf("%w: %w", ErrNotFound, err)}
	}
	if errors.Is(err, ErrSymlink) {
		return &Error{File: name, Err: ErrSymlink}
	}
	return &Error{File: name, Err: fmt.Errorf("read: %w", err)}
}

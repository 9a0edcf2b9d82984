package gitops

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// objectSet reads objects from the repository and keeps the objects an
// operation creates in memory, so that a push sends exactly those and a lost
// race leaves nothing behind in the cache. Not safe for concurrent use.
type objectSet struct {
	repo *Repo
	mem  *memory.ObjectStorage
	news []plumbing.Hash // created objects, in creation order
}

func newObjectSet(r *Repo) *objectSet {
	return &objectSet{repo: r, mem: &memory.NewStorage().ObjectStorage}
}

func (s *objectSet) read(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	if o, ok := s.mem.Objects[h]; ok {
		rd, err := o.Reader()
		if err != nil {
			return 0, nil, err
		}
		defer rd.Close()
		b := make([]byte, o.Size())
		if _, err := readFull(rd, b); err != nil {
			return 0, nil, err
		}
		return o.Type(), b, nil
	}
	return s.repo.readObject(h)
}

// view calls fn with object h's type and content, which fn must not keep
// (see Repo.viewObject).
func (s *objectSet) view(h plumbing.Hash, fn func(plumbing.ObjectType, []byte) error) error {
	if _, ok := s.mem.Objects[h]; ok {
		t, b, err := s.read(h)
		if err != nil {
			return err
		}
		return fn(t, b)
	}
	return s.repo.viewObject(h, fn)
}

func (s *objectSet) has(h plumbing.Hash) bool {
	if _, ok := s.mem.Objects[h]; ok {
		return true
	}
	return s.repo.hasObject(h)
}

func (s *objectSet) tree(h plumbing.Hash) ([]entry, error) {
	if h.IsZero() || h == emptyTreeHash {
		return nil, nil
	}
	t, b, err := s.read(h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.TreeObject {
		return nil, fmt.Errorf("object %s is a %s, not a tree", h, t)
	}
	ents, err := parseTree(b)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", h, err)
	}
	return ents, nil
}

func (s *objectSet) blob(h plumbing.Hash) ([]byte, error) {
	t, b, err := s.read(h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.BlobObject {
		return nil, fmt.Errorf("object %s is a %s, not a blob", h, t)
	}
	return b, nil
}

func (s *objectSet) putBlob(data []byte) plumbing.Hash {
	return s.put(plumbing.BlobObject, data)
}

// put stores a new object unless the repository already has it.
func (s *objectSet) put(t plumbing.ObjectType, data []byte) plumbing.Hash {
	h := plumbing.ComputeHash(t, data)
	if s.has(h) {
		return h
	}
	o := &plumbing.MemoryObject{}
	o.SetType(t)
	o.SetSize(int64(len(data)))
	_, _ = o.Write(data)
	_, _ = s.mem.SetEncodedObject(o)
	s.news = append(s.news, h)
	return h
}

// persist writes the created objects into the repository's store (after a
// successful push, so the next fetch need not bring them back).
func (s *objectSet) persist() error {
	s.repo.mu.Lock()
	defer s.repo.mu.Unlock()
	for _, h := range s.news {
		o := s.mem.Objects[h]
		if _, err := s.repo.st.SetEncodedObject(o); err != nil {
			return fmt.Errorf("store object %s: %w", h, err)
		}
		if s.repo.loose >= 0 {
			s.repo.loose++
		}
	}
	s.repo.maybeRepack()
	return nil
}

func readFull(rd interface{ Read([]byte) (int, error) }, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := rd.Read(b[n:])
		n += m
		if err != nil {
			if n == len(b) {
				return n, nil
			}
			return n, err
		}
	}
	return n, nil
}

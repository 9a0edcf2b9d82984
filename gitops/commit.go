package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Identity is who authors and commits ensign's commits (from the policy file).
type Identity struct {
	Name  string
	Email string
}

func (id Identity) validate() error {
	if strings.TrimSpace(id.Name) == "" || strings.TrimSpace(id.Email) == "" {
		return errors.New("identity needs a name and an email")
	}
	if strings.ContainsAny(id.Name+id.Email, "<>\n") {
		return fmt.Errorf("identity %q <%s> contains '<', '>' or a newline", id.Name, id.Email)
	}
	return nil
}

// CommitMeta is the message and identity of a commit to write.
type CommitMeta struct {
	Message   string    // full message; trailers are appended after it
	Trailers  []Trailer // e.g. Ensign-Promotion
	Author    Identity
	Committer Identity  // zero value means the same as Author
	When      time.Time // zero means time.Now()
}

func (m CommitMeta) validate() error {
	if err := m.Author.validate(); err != nil {
		return fmt.Errorf("author: %w", err)
	}
	if m.Committer != (Identity{}) {
		if err := m.Committer.validate(); err != nil {
			return fmt.Errorf("committer: %w", err)
		}
	}
	if strings.TrimSpace(m.Message) == "" {
		return errors.New("empty commit message")
	}
	for _, t := range m.Trailers {
		if findSeparator(t.Key+":") != len(t.Key) || strings.ContainsAny(t.Value, "\n\r") {
			return fmt.Errorf("bad trailer %q", t.String())
		}
	}
	return nil
}

// buildCommit stores a commit object for tree with the given parents.
func buildCommit(objs *objectSet, tree plumbing.Hash, parents []plumbing.Hash, m CommitMeta) (plumbing.Hash, error) {
	when := m.When
	if when.IsZero() {
		when = time.Now()
	}
	committer := m.Committer
	if committer == (Identity{}) {
		committer = m.Author
	}
	c := &object.Commit{
		Author:       object.Signature{Name: m.Author.Name, Email: m.Author.Email, When: when},
		Committer:    object.Signature{Name: committer.Name, Email: committer.Email, When: when},
		Message:      AppendTrailers(m.Message, m.Trailers...),
		TreeHash:     tree,
		ParentHashes: parents,
	}
	mo := &plumbing.MemoryObject{}
	if err := c.Encode(mo); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode commit: %w", err)
	}
	rd, err := mo.Reader()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return objs.put(plumbing.CommitObject, b), nil
}

// CommitInfo is a parsed commit.
type CommitInfo struct {
	Hash      plumbing.Hash
	Tree      plumbing.Hash
	Parents   []plumbing.Hash
	Author    object.Signature
	Committer object.Signature
	Message   string
}

// Subject is the first line of the message.
func (c *CommitInfo) Subject() string {
	s, _, _ := strings.Cut(c.Message, "\n")
	return s
}

// Trailers parses the message's trailer block.
func (c *CommitInfo) Trailers() []Trailer { return ParseTrailers(c.Message) }

func (s *objectSet) commit(h plumbing.Hash) (*CommitInfo, error) {
	t, b, err := s.read(h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.CommitObject {
		return nil, fmt.Errorf("object %s is a %s, not a commit", h, t)
	}
	return decodeCommit(h, b)
}

func decodeCommit(h plumbing.Hash, b []byte) (*CommitInfo, error) {
	mo := &plumbing.MemoryObject{}
	mo.SetType(plumbing.CommitObject)
	if _, err := mo.Write(b); err != nil {
		return nil, err
	}
	var c object.Commit
	if err := c.Decode(mo); err != nil {
		return nil, fmt.Errorf("decode commit %s: %w", h, err)
	}
	if !bytes.HasPrefix(b, []byte("tree ")) {
		return nil, fmt.Errorf("decode commit %s: no tree", h)
	}
	return &CommitInfo{Hash: h, Tree: c.TreeHash, Parents: c.ParentHashes, Author: c.Author, Committer: c.Committer, Message: c.Message}, nil
}

// Commit reads a commit from the cache.
func (r *Repo) Commit(h plumbing.Hash) (*CommitInfo, error) {
	return newObjectSet(r).commit(h)
}

// ReadFile returns the content of a file at a commit; a missing file gives
// an error wrapping fs.ErrNotExist.
func (r *Repo) ReadFile(commit plumbing.Hash, path string) ([]byte, error) {
	objs := newObjectSet(r)
	c, err := objs.commit(commit)
	if err != nil {
		return nil, err
	}
	return newTreeEditor(objs, c.Tree).ReadFile(path)
}

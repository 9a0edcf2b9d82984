package imageref

import (
	"errors"
	"fmt"
	"strings"
)

// Ref is a parsed image reference. Name keeps the registry and path exactly
// as written (no "docker.io/library/" is added), because Kustomize matches
// image names literally.
type Ref struct {
	Name   string // registry/path, e.g. "ghcr.io/acme/app"
	Tag    string // e.g. "1.2.3"; empty if absent
	Digest string // e.g. "sha256:<64 hex>"; empty if absent
}

// ErrInvalid marks a reference that cannot be parsed.
var ErrInvalid = errors.New("invalid image reference")

// maxRefLen bounds what Parse accepts; real references are far shorter.
const maxRefLen = 4096

// Parse parses name[:tag][@digest]. A tag is the part after the last ':'
// that follows the last '/', so a registry port ("localhost:5000/app") is
// part of the name.
func Parse(s string) (Ref, error) {
	if s == "" || len(s) > maxRefLen || strings.TrimSpace(s) != s || strings.ContainsAny(s, " \t\r\n") {
		return Ref{}, fmt.Errorf("%w: %q", ErrInvalid, s)
	}
	var r Ref
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if err := checkDigest(r.Digest); err != nil {
			return Ref{}, fmt.Errorf("%w: %q: %v", ErrInvalid, s, err)
		}
	}
	slash := strings.LastIndexByte(rest, '/')
	if i := strings.LastIndexByte(rest, ':'); i > slash {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if !validTag(r.Tag) {
			return Ref{}, fmt.Errorf("%w: %q: bad tag %q", ErrInvalid, s, r.Tag)
		}
	}
	r.Name = rest
	if !validName(r.Name) {
		return Ref{}, fmt.Errorf("%w: %q: bad name %q", ErrInvalid, s, r.Name)
	}
	return r, nil
}

// String renders the reference as name[:tag][@digest].
func (r Ref) String() string {
	s := r.Name
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Version is the tag or digest part that identifies the version: the digest
// when there is one (it is what runs), else the tag, else "latest".
func (r Ref) Version() string {
	switch {
	case r.Digest != "":
		return r.Digest
	case r.Tag != "":
		return r.Tag
	}
	return "latest"
}

func checkDigest(d string) error {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || alg == "" || hex == "" {
		return fmt.Errorf("bad digest %q", d)
	}
	for _, c := range alg {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("bad digest algorithm %q", alg)
		}
	}
	if len(hex) < 32 {
		return fmt.Errorf("digest %q is too short", d)
	}
	for _, c := range hex {
		if !(c >= 'a' && c <= 'f' || c >= '0' && c <= '9') {
			return fmt.Errorf("digest %q is not lowercase hex", d)
		}
	}
	return nil
}

func validTag(t string) bool {
	if t == "" || len(t) > 128 || t[0] == '.' || t[0] == '-' {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func validName(n string) bool {
	if n == "" || strings.HasPrefix(n, "/") || strings.HasSuffix(n, "/") || strings.Contains(n, "//") {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-/:", c)) {
			return false
		}
	}
	return true
}

package imageref

import "github.com/ensignbot/ensign/overlay"

// Result is the image reference a Kustomize images: entry makes resources run.
func Result(e overlay.Image) Ref {
	r := Ref{Name: e.Name, Tag: e.NewTag, Digest: e.Digest}
	if e.NewName != "" {
		r.Name = e.NewName
	}
	return r
}

// Find returns the index of the entry that produces images named like r (by
// its newName, or by its name when it has none), or -1.
func Find(entries []overlay.Image, r Ref) int {
	for i, e := range entries {
		if Result(e).Name == r.Name {
			return i
		}
	}
	return -1
}

// Pins reports whether the entry makes resources run exactly r: the same
// name and digest when r has a digest, else the same tag and no digest.
func Pins(e overlay.Image, r Ref) bool {
	got := Result(e)
	if got.Name != r.Name {
		return false
	}
	if r.Digest != "" {
		return got.Digest == r.Digest
	}
	return got.Digest == "" && got.Tag == r.Tag
}

// Pin returns e changed to make resources run r: name and newName kept (the
// caller found e with Find, so r's name already matches), tag and digest set
// from r, an absent part cleared.
func Pin(e overlay.Image, r Ref) overlay.Image {
	e.NewTag = r.Tag
	e.Digest = r.Digest
	return e
}

package promote

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/overlay"
	"github.com/ensignbot/ensign/policy"
)

// Change is one change a promotion makes, as the pull request shows it.
type Change struct {
	What string `json:"what"` // an image name, a file, or file#path
	Old  string `json:"old"`
	New  string `json:"new"`
}

// ErrNothingMatched means none of the verified images is managed by the
// target or source overlay, so there is nothing a promotion could change.
var ErrNothingMatched = errors.New("no verified image is listed in the overlays")

// ErrUnverifiedRevision means a strategy that copies files needs the
// revision the source stage runs, and it could not be found.
var ErrUnverifiedRevision = errors.New("the revision the source stage verified is unknown")

// kustomizationNames are the file names kustomize accepts, in its order.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// kustomizationFile finds the kustomization file of an overlay directory.
func kustomizationFile(r overlay.Reader, dir string) (string, []byte, error) {
	for _, n := range kustomizationNames {
		p := path.Join(dir, n)
		data, err := r.ReadFile(p)
		if err == nil {
			return p, data, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", nil, err
		}
	}
	return "", nil, fmt.Errorf("no kustomization file in %s: %w", dir, fs.ErrNotExist)
}

// overlayEntries returns the images: entries of an overlay's kustomization.
func overlayEntries(r overlay.Reader, dir string) ([]imageref.Entry, error) {
	name, data, err := kustomizationFile(r, dir)
	if err != nil {
		return nil, err
	}
	f, err := overlay.Parse(name, data)
	if err != nil {
		return nil, err
	}
	imgs, err := f.Images()
	if err != nil {
		return nil, err
	}
	out := make([]imageref.Entry, len(imgs))
	for i, im := range imgs {
		out[i] = imageref.Entry{Name: im.Name, NewName: im.NewName, NewTag: im.NewTag, Digest: im.Digest}
	}
	return out, nil
}

// promotion is one edit to make: from a verified source stage into a target.
type promotion struct {
	from, to *policy.Stage
	// verified are the images the source canary verified, filtered by the
	// target's promotion.images list.
	verified []imageref.Ref
	// source reads the repository at the verified revision; nil if unknown.
	source overlay.Reader
}

// apply edits the target overlay in t and returns what changed.
func (p promotion) apply(t overlay.Tree) ([]Change, error) {
	switch p.to.Promotion.Strategy {
	case policy.StrategyCopy:
		return p.copyFiles(t)
	case policy.StrategyYAMLPath:
		return p.yamlPaths(t)
	default:
		return p.images(t)
	}
}

func (p promotion) images(t overlay.Tree) ([]Change, error) {
	name, data, err := kustomizationFile(t, p.to.Overlay)
	if err != nil {
		return nil, err
	}
	f, err := overlay.Parse(name, data)
	if err != nil {
		return nil, err
	}
	imgs, err := f.Images()
	if err != nil {
		return nil, err
	}
	target := make([]imageref.Entry, len(imgs))
	for i, im := range imgs {
		target[i] = imageref.Entry{Name: im.Name, NewName: im.NewName, NewTag: im.NewTag, Digest: im.Digest}
	}
	// The source overlay tells how to add an image the target lacks.
	var source []imageref.Entry
	if p.source != nil {
		source, _ = overlayEntries(p.source, p.from.Overlay)
	}
	var changes []Change
	matched := 0
	for _, r := range p.verified {
		var e imageref.Entry
		fields := overlay.FieldNewTag | overlay.FieldDigest
		if i := imageref.Find(target, r); i >= 0 {
			e = imageref.Pin(target[i], r)
		} else if i := imageref.Find(source, r); i >= 0 {
			e = imageref.Pin(source[i], r)
			fields |= overlay.FieldNewName
		} else {
			continue // not managed through images: (a sidecar, say)
		}
		matched++
		ch, err := f.SetImage(overlay.Image{Name: e.Name, NewName: e.NewName, NewTag: e.NewTag, Digest: e.Digest}, fields)
		if err != nil {
			return nil, err
		}
		if ch.Changed() {
			old := ""
			if ch.Old.Name != "" {
				old = imageref.Entry{Name: ch.Old.Name, NewName: ch.Old.NewName, NewTag: ch.Old.NewTag, Digest: ch.Old.Digest}.Result().String()
			}
			changes = append(changes, Change{What: r.Name, Old: old, New: r.String()})
		}
	}
	if matched == 0 {
		return nil, fmt.Errorf("%w: %s is not in the images: of %s or %s", ErrNothingMatched, refList(p.verified), p.to.Overlay, p.from.Overlay)
	}
	if len(changes) > 0 {
		if err := t.WriteFile(name, f.Bytes()); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

func (p promotion) copyFiles(t overlay.Tree) ([]Change, error) {
	if p.source == nil {
		return nil, fmt.Errorf("%w: stage %s copies files from %s, so ensign needs the revision %s's Flux Kustomization last applied (set flux.kustomization for stage %s)",
			ErrUnverifiedRevision, p.to.Name, p.from.Name, p.from.Name, p.from.Name)
	}
	var fc []overlay.FileChange
	var err error
	if len(p.to.Promotion.Files) > 0 {
		fc, err = overlay.CopyFiles(p.source, t, p.from.Overlay, p.to.Overlay, p.to.Promotion.Files)
	} else {
		fc, err = overlay.SyncDir(p.source, t, p.from.Overlay, p.to.Overlay, p.to.Promotion.Exclude)
	}
	if err != nil {
		return nil, err
	}
	changes := make([]Change, len(fc))
	for i, c := range fc {
		changes[i] = Change{What: c.Path, New: c.String()}
	}
	return changes, nil
}

func (p promotion) yamlPaths(t overlay.Tree) ([]Change, error) {
	if p.source == nil {
		return nil, fmt.Errorf("%w: stage %s copies YAML values from %s, so ensign needs the revision %s's Flux Kustomization last applied (set flux.kustomization for stage %s)",
			ErrUnverifiedRevision, p.to.Name, p.from.Name, p.from.Name, p.from.Name)
	}
	var changes []Change
	written := map[string]*overlay.File{}
	for _, fld := range p.to.Promotion.Fields {
		srcPath, dstPath := path.Join(p.from.Overlay, fld.File), path.Join(p.to.Overlay, fld.File)
		srcData, err := p.source.ReadFile(srcPath)
		if err != nil {
			return nil, err
		}
		src, err := overlay.Parse(srcPath, srcData)
		if err != nil {
			return nil, err
		}
		dst := written[dstPath]
		if dst == nil {
			data, err := t.ReadFile(dstPath)
			if err != nil {
				return nil, err
			}
			if dst, err = overlay.Parse(dstPath, data); err != nil {
				return nil, err
			}
		}
		sel := overlay.Selector{APIVersion: fld.Document.APIVersion, Kind: fld.Document.Kind, Namespace: fld.Document.Namespace, Name: fld.Document.Name}
		ch, err := overlay.SyncPath(src, dst, sel, fld.Path)
		if err != nil {
			return nil, err
		}
		if ch.Changed() {
			written[dstPath] = dst
			changes = append(changes, Change{What: fld.File + "#" + fld.Path, Old: ch.Old, New: ch.New})
		}
	}
	for name, f := range written {
		if err := t.WriteFile(name, f.Bytes()); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

func refList(refs []imageref.Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

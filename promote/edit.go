package promote

import (
	"errors"
	"fmt"
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

// overlayImages returns the images: entries of an overlay's kustomization.
func overlayImages(r overlay.Reader, dir string) ([]overlay.Image, error) {
	f, err := overlay.FindKustomization(r, dir)
	if err != nil {
		return nil, err
	}
	return f.Images()
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

// apply edits the target overlay in t and returns what changed. A
// promotion that changes the overlay also lifts ensign's exclusions of the
// promoted tags from Flux's image automation (liftExclusions).
func (p promotion) apply(t overlay.Tree) ([]Change, error) {
	changes, err := p.edit(t)
	if err != nil || len(changes) == 0 {
		return changes, err
	}
	return p.liftExclusions(t, changes)
}

func (p promotion) edit(t overlay.Tree) ([]Change, error) {
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
	f, err := overlay.FindKustomization(t, p.to.Overlay)
	if err != nil {
		return nil, err
	}
	target, err := f.Images()
	if err != nil {
		return nil, err
	}
	// The source overlay tells how to add an image the target lacks.
	var source []overlay.Image
	if p.source != nil {
		source, _ = overlayImages(p.source, p.from.Overlay)
	}
	var changes []Change
	matched := 0
	for _, r := range p.verified {
		var e overlay.Image
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
		ch, err := f.SetImage(e, fields)
		if err != nil {
			return nil, err
		}
		if ch.Changed() {
			old := ""
			if ch.Old.Name != "" {
				old = imageref.Result(ch.Old).String()
			}
			changes = append(changes, Change{What: r.Name, Old: old, New: r.String()})
		}
	}
	if matched == 0 {
		return nil, fmt.Errorf("%w: %s is not in the images: of %s or %s", ErrNothingMatched, refList(p.verified), p.to.Overlay, p.from.Overlay)
	}
	if len(changes) > 0 {
		if err := t.WriteFile(f.Name(), f.Bytes()); err != nil {
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

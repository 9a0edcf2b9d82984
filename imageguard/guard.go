package imageguard

import (
	"fmt"
	"sort"

	"github.com/ensignbot/ensign/imageref"
)

// Exclusion is one tag kept from an image automation.
type Exclusion struct {
	// Policy is the ImagePolicy ("namespace/name") whose setter marks the
	// overlay's image line.
	Policy string `json:"policy"`
	// Repository is the ImageRepository ("namespace/name") whose
	// exclusionList holds the entry.
	Repository string `json:"repository"`
	// File is the manifest's path in the repository; "" in the cluster.
	File    string `json:"file,omitempty"`
	Tag     string `json:"tag"`
	Pattern string `json:"pattern"`
	// Note is the entry's comment (why and when ensign added it).
	Note string `json:"note,omitempty"`
}

// Remote is an ImagePolicy a setter names whose manifest (or whose
// ImageRepository's) is not in the repository: the cluster holds it.
type Remote struct {
	// Namespace and Name of the ImagePolicy.
	Namespace, Name string
	// Image is the failing (or promoted) image: the ImageRepository in the
	// cluster must scan it, or it is not the one to edit.
	Image imageref.Ref
	// Verified is set when the overlay itself ties the setter to Image;
	// otherwise only the ImageRepository's spec.image can.
	Verified bool
}

// Result is what Exclude or Lift did in the tree, and what is left for
// the cluster.
type Result struct {
	// Changed are the entries added (Exclude) or removed (Lift) in the tree.
	Changed []Exclusion
	// Present are entries Exclude found already there.
	Present []Exclusion
	// Remote are the policies to handle in the cluster.
	Remote []Remote
	// Skipped says why a marked image was left alone.
	Skipped []string
}

// driver is an ImagePolicy whose setter marks a line of the failing image.
type driver struct {
	Marker
	verified bool
}

// drivers returns the policies whose setters in dir belong to image r.
func drivers(t Reader, dir string, r imageref.Ref) ([]driver, error) {
	setters, err := Setters(t, dir)
	if err != nil {
		return nil, err
	}
	byPolicy := map[string]*driver{}
	var order []string
	for _, s := range setters {
		verified := s.Image != "" && SameImage(s.Image, r.Name)
		if s.Image != "" && !verified {
			continue // another image's line
		}
		if s.Image == "" && s.Field != "tag" && s.Field != "digest" {
			continue
		}
		k := s.Namespace + "/" + s.Name
		d, ok := byPolicy[k]
		if !ok {
			d = &driver{Marker: Marker{Namespace: s.Namespace, Name: s.Name}}
			byPolicy[k] = d
			order = append(order, k)
		}
		d.verified = d.verified || verified
	}
	out := make([]driver, len(order))
	for i, k := range order {
		out[i] = *byPolicy[k]
	}
	return out, nil
}

// target is the ImageRepository manifest a driver's policy scans.
type target struct {
	policy, repo object
}

// resolve finds each driver's ImageRepository in objs; a driver whose
// objects are not all there goes to res.Remote.
func resolve(objs []object, ds []driver, r imageref.Ref, res *Result) []target {
	var out []target
	for _, d := range ds {
		p, ok := find(objs, KindImagePolicy, d.Namespace, d.Name)
		var repo object
		if ok {
			repo, ok = find(objs, KindImageRepository, p.RefNamespace, p.RefName)
		}
		if !ok {
			res.Remote = append(res.Remote, Remote{Namespace: d.Namespace, Name: d.Name, Image: r, Verified: d.verified})
			continue
		}
		if repo.Image != "" && !SameImage(repo.Image, r.Name) || repo.Image == "" && !d.verified {
			res.Skipped = append(res.Skipped, fmt.Sprintf("ImagePolicy %s scans %q, not %s", p.key(), repo.Image, r.Name))
			continue
		}
		out = append(out, target{policy: p, repo: repo})
	}
	return out
}

// Exclude excludes the tag of each failing image in the ImageRepository
// manifests behind the setters of the overlay dir, as edits of t with the
// note as each entry's comment. Policies whose manifests are not in t come
// back as Remote. An image without a tag, or a manifest the guard cannot
// edit, is skipped with the reason (a revert must not fail over it).
func Exclude(t Tree, dir string, failing []imageref.Ref, note string) (Result, error) {
	return apply(t, dir, failing, func(data []byte, doc int, pattern string) ([]byte, bool, error) {
		return addExclusion(data, doc, pattern, note)
	}, note)
}

// Lift removes ensign's exclusions of the tags of refs from the
// ImageRepository manifests behind the setters of the overlay dir, as
// edits of t; entries people wrote stay. Policies whose manifests are not
// in t come back as Remote.
func Lift(t Tree, dir string, refs []imageref.Ref) (Result, error) {
	return apply(t, dir, refs, removeExclusion, "")
}

func apply(t Tree, dir string, refs []imageref.Ref, edit func([]byte, int, string) ([]byte, bool, error), note string) (Result, error) {
	var res Result
	var objs []object
	for _, r := range refs {
		if r.Tag == "" {
			res.Skipped = append(res.Skipped, r.String()+" has no tag to exclude")
			continue
		}
		ds, err := drivers(t, dir, r)
		if err != nil || len(ds) == 0 {
			if err != nil {
				return res, err
			}
			continue
		}
		if objs == nil {
			if objs, err = objects(t); err != nil {
				return res, err
			}
		}
		done := map[string]bool{}
		for _, tg := range resolve(objs, ds, r, &res) {
			if done[tg.repo.key()] {
				continue
			}
			done[tg.repo.key()] = true
			pattern := Pattern(r.Tag)
			ex := Exclusion{Policy: tg.policy.key(), Repository: tg.repo.key(), File: tg.repo.File, Tag: r.Tag, Pattern: pattern, Note: oneLine(note)}
			data, err := t.ReadFile(tg.repo.File)
			if err != nil {
				return res, fmt.Errorf("read %s: %w", tg.repo.File, err)
			}
			out, changed, err := edit(data, tg.repo.Doc, pattern)
			if err != nil {
				res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", tg.repo.File, err))
				continue
			}
			if !changed {
				if note != "" {
					res.Present = append(res.Present, ex)
				}
				continue
			}
			if err := t.WriteFile(tg.repo.File, out); err != nil {
				return res, fmt.Errorf("write %s: %w", tg.repo.File, err)
			}
			res.Changed = append(res.Changed, ex)
		}
	}
	return res, nil
}

// InForce lists ensign's exclusions in the ImageRepository manifests
// behind the setters of the overlay dir, and the policies whose manifests
// the repository does not hold (their exclusions are in the cluster).
func InForce(t Reader, dir string) ([]Exclusion, []Remote, error) {
	setters, err := Setters(t, dir)
	if err != nil || len(setters) == 0 {
		return nil, nil, err
	}
	objs, err := objects(t)
	if err != nil {
		return nil, nil, err
	}
	var out []Exclusion
	var remote []Remote
	seen := map[string]bool{}
	for _, s := range setters {
		if seen[s.Policy()] {
			continue
		}
		seen[s.Policy()] = true
		p, ok := find(objs, KindImagePolicy, s.Namespace, s.Name)
		var repo object
		if ok {
			repo, ok = find(objs, KindImageRepository, p.RefNamespace, p.RefName)
		}
		if !ok {
			remote = append(remote, Remote{Namespace: s.Namespace, Name: s.Name})
			continue
		}
		if seen["repo:"+repo.key()] {
			continue
		}
		seen["repo:"+repo.key()] = true
		data, err := t.ReadFile(repo.File)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", repo.File, err)
		}
		e, err := openList(data, repo.Doc)
		if err != nil || e.list == nil {
			continue
		}
		for _, it := range e.list.Content {
			note, ok := cutNote(it.LineComment)
			tag, isTag := TagOf(it.Value)
			if ok && isTag {
				out = append(out, Exclusion{Policy: p.key(), Repository: repo.key(), File: repo.File, Tag: tag, Pattern: it.Value, Note: note})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Repository < out[j].Repository })
	return out, remote, nil
}

func cutNote(comment string) (string, bool) {
	if len(comment) < len(commentPrefix) || comment[:len(commentPrefix)] != commentPrefix {
		return "", false
	}
	return oneLine(comment[len(commentPrefix):]), true
}

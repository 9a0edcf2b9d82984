package overlay

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Image is one entry of a kustomization's `images:` list. An empty field
// means the key is absent (or null) in the file.
type Image struct {
	Name    string // image name to match in resources; required
	NewName string // replacement repository, if any
	NewTag  string // replacement tag, if any
	Digest  string // replacement digest ("sha256:..."), if any
}

// Ref returns the image reference Kustomize produces for resources using
// this entry: the new name (or Name), then ":tag" and "@digest" if set.
func (i Image) Ref() string {
	s := i.Name
	if i.NewName != "" {
		s = i.NewName
	}
	if i.NewTag != "" {
		s += ":" + i.NewTag
	}
	if i.Digest != "" {
		s += "@" + i.Digest
	}
	return s
}

// Field selects fields of an [Image] for [File.SetImage].
type Field uint8

// Fields of an Image that SetImage can set or remove.
const (
	FieldNewName Field = 1 << iota
	FieldNewTag
	FieldDigest
	// FieldsAll makes the entry's newName, newTag and digest exactly equal
	// to the given image's.
	FieldsAll = FieldNewName | FieldNewTag | FieldDigest
)

// imageKeys lists the image keys in the order new entries are written.
var imageKeys = []struct {
	key   string
	field Field
}{{"name", 0}, {"newName", FieldNewName}, {"newTag", FieldNewTag}, {"digest", FieldDigest}}

func (i *Image) get(f Field) string {
	switch f {
	case FieldNewName:
		return i.NewName
	case FieldNewTag:
		return i.NewTag
	case FieldDigest:
		return i.Digest
	}
	return i.Name
}

func (i *Image) set(f Field, v string) {
	switch f {
	case FieldNewName:
		i.NewName = v
	case FieldNewTag:
		i.NewTag = v
	case FieldDigest:
		i.Digest = v
	default:
		i.Name = v
	}
}

// ImageChange is one image entry changed by an edit, for reports such as a
// pull request body.
type ImageChange struct {
	Old Image // the entry before; zero Name when the entry was added
	New Image // the entry after
}

// Changed reports whether the edit changed the entry.
func (c ImageChange) Changed() bool { return c.Old != c.New }

// String renders the change as "name: oldref → newref" or
// "name: added newref".
func (c ImageChange) String() string {
	if c.Old.Name == "" {
		return c.New.Name + ": added " + c.New.Ref()
	}
	return c.New.Name + ": " + c.Old.Ref() + " → " + c.New.Ref()
}

// imageEntry is one parsed entry of the images list.
type imageEntry struct {
	img  Image
	item *yaml.Node // the sequence item as written (possibly an alias)
	m    *yaml.Node // the entry mapping (alias resolved)
}

// imagesView is the located images list of a kustomization.
type imagesView struct {
	root    *yaml.Node // the document's root mapping; nil for an empty file
	keyIdx  int        // index of the "images" key in root.Content, or -1
	seq     *yaml.Node // the list, nil when absent or null
	entries []imageEntry
	alias   bool // the list itself is reached through an alias
}

// kustomization returns the root mapping of a single-document file.
func (f *File) kustomization() (*yaml.Node, error) {
	var roots []*yaml.Node
	for _, d := range f.docs {
		if len(d.Content) == 1 && !(d.Content[0].Kind == yaml.ScalarNode && d.Content[0].Tag == "!!null") {
			roots = append(roots, d.Content[0])
		}
	}
	switch {
	case len(roots) == 0:
		return nil, nil
	case len(roots) > 1:
		return nil, newErr(f.name, roots[1].Line, "", ErrAmbiguous, "kustomization has %d documents", len(roots))
	case roots[0].Kind != yaml.MappingNode:
		return nil, newErr(f.name, roots[0].Line, "", ErrType, "document is %s, want a mapping", describe(roots[0]))
	}
	return roots[0], nil
}

// images locates and reads the images list.
func (f *File) images() (*imagesView, error) {
	root, err := f.kustomization()
	if err != nil || root == nil {
		return &imagesView{keyIdx: -1}, err
	}
	v := &imagesView{root: root}
	if v.keyIdx, err = f.lookup(root, "images", "images"); err != nil || v.keyIdx < 0 {
		return v, err
	}
	seq := root.Content[v.keyIdx+1]
	if seq.Kind == yaml.AliasNode {
		seq, v.alias = seq.Alias, true
	}
	switch {
	case seq.Kind == yaml.ScalarNode && seq.Tag == "!!null":
		return v, nil
	case seq.Kind != yaml.SequenceNode:
		return nil, newErr(f.name, seq.Line, "images", ErrType, "found %s, want a list", describe(seq))
	}
	v.seq = seq
	seen := map[string]int{}
	for i, item := range seq.Content {
		key := fmt.Sprintf("images[%d]", i)
		m := item
		if m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		if m.Kind != yaml.MappingNode {
			return nil, newErr(f.name, item.Line, key, ErrType, "found %s, want a mapping", describe(m))
		}
		var img Image
		for _, k := range imageKeys {
			j, err := f.lookup(m, k.key, key+"."+k.key)
			if err != nil {
				return nil, err
			}
			if j < 0 {
				continue
			}
			val := m.Content[j+1]
			if val.Kind == yaml.AliasNode {
				val = val.Alias
			}
			if val.Kind != yaml.ScalarNode {
				return nil, newErr(f.name, val.Line, key+"."+k.key, ErrType, "found %s, want a scalar", describe(val))
			}
			if val.Tag != "!!null" {
				img.set(k.field, val.Value)
			}
		}
		if img.Name == "" {
			return nil, newErr(f.name, item.Line, key, ErrInvalid, "image entry has no name")
		}
		if prev, ok := seen[img.Name]; ok {
			return nil, newErr(f.name, item.Line, key, ErrAmbiguous, "image %q is also listed at line %d", img.Name, prev)
		}
		seen[img.Name] = item.Line
		v.entries = append(v.entries, imageEntry{img: img, item: item, m: m})
	}
	return v, nil
}

// Images returns the entries of the kustomization's images list in file
// order. A file without an images key (or an empty file) has none. Values
// are read as text whatever their YAML type, as Kustomize does.
func (f *File) Images() ([]Image, error) {
	v, err := f.images()
	if err != nil {
		return nil, err
	}
	out := make([]Image, len(v.entries))
	for i, e := range v.entries {
		out[i] = e.img
	}
	return out, nil
}

// SetImage edits the entry of the images list whose name is img.Name so
// that each field selected by fields equals img's value for it: a non-empty
// value is written (replacing the old one, or added as a new key), an empty
// value removes the key. Fields not selected are left as they are. Typical
// promotions are FieldNewTag|FieldDigest with an empty Digest ("set the tag
// and clear the digest"), FieldDigest alone, or [FieldsAll].
//
// Without such an entry, one is appended in the list's own layout (or an
// images key is added to the document) holding the name and the selected
// non-empty fields; if no selected field is non-empty, nothing is added. The returned change tells the old and new entry; nothing
// is written when they are equal.
func (f *File) SetImage(img Image, fields Field) (ImageChange, error) {
	ch, err := f.setImages([]Image{img}, fields)
	if err != nil {
		return ImageChange{}, err
	}
	return ch[0], nil
}

// SyncImages makes the listed images of dst equal to those of src (newName,
// newTag and digest: [FieldsAll]); with no names, every image of src. It is
// the "images" promotion strategy: src is the verified overlay (e.g.
// staging), dst the one to promote into. A source without images, or
// without one of the names, is an error. It returns only the entries that
// changed; when none did, dst is untouched. Either every listed image is
// synced or, on error, dst is left as it was.
func SyncImages(src, dst *File, names []string) ([]ImageChange, error) {
	have, err := src.Images()
	if err != nil {
		return nil, err
	}
	var want []Image
	if len(names) == 0 {
		if len(have) == 0 {
			return nil, newErr(src.name, 0, "images", ErrNotFound, "source lists no images")
		}
		want = have
	}
	for _, name := range names {
		i := slices.IndexFunc(have, func(im Image) bool { return im.Name == name })
		if i < 0 {
			return nil, newErr(src.name, 0, "images", ErrNotFound, "no image named %q", name)
		}
		if !slices.Contains(want, have[i]) {
			want = append(want, have[i])
		}
	}
	all, err := dst.setImages(want, FieldsAll)
	if err != nil {
		return nil, err
	}
	var out []ImageChange
	for _, c := range all {
		if c.Changed() {
			out = append(out, c)
		}
	}
	return out, nil
}

// checkImage rejects image values that cannot be kustomize image fields.
func checkImage(img Image) error {
	if img.Name == "" {
		return fmt.Errorf("image name is empty: %w", ErrInvalid)
	}
	for _, k := range imageKeys {
		v := img.get(k.field)
		if strings.TrimSpace(v) != v || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7F || r == 0x85 || r == 0x2028 || r == 0x2029 }) {
			return fmt.Errorf("image %q: %s %q has blanks or control characters: %w", img.Name, k.key, v, ErrInvalid)
		}
	}
	return nil
}

// setImages applies SetImage for several images as one edit.
func (f *File) setImages(imgs []Image, fields Field) ([]ImageChange, error) {
	for _, img := range imgs {
		if err := checkImage(img); err != nil {
			return nil, &Error{File: f.name, Key: "images", Err: err}
		}
	}
	v, err := f.images()
	if err != nil {
		return nil, err
	}
	e := f.editor()
	refs := f.aliased()
	var changes []ImageChange
	var added [][]pair
	for _, img := range imgs {
		i := slices.IndexFunc(v.entries, func(en imageEntry) bool { return en.img.Name == img.Name })
		if i < 0 {
			ch := ImageChange{New: Image{Name: img.Name}}
			p := []pair{{key: "name", value: img.Name}}
			for _, k := range imageKeys[1:] {
				if fields&k.field != 0 && img.get(k.field) != "" {
					ch.New.set(k.field, img.get(k.field))
					p = append(p, pair{key: k.key, value: img.get(k.field), style: v.style(f, k.key)})
				}
			}
			if len(p) == 1 {
				// Nothing selected to set: the absent entry already matches.
				changes = append(changes, ImageChange{})
				continue
			}
			changes = append(changes, ch)
			added = append(added, p)
			continue
		}
		ch, err := f.editEntry(e, v, refs, i, img, fields)
		if err != nil {
			return nil, err
		}
		changes = append(changes, ch)
	}
	if len(added) > 0 {
		if err := f.addEntries(e, v, refs, added); err != nil {
			return nil, err
		}
	}
	if _, err := e.commit(); err != nil {
		return nil, err
	}
	return changes, nil
}

// style returns the quoting used for key in the last entry that has it, so
// appended entries look like their neighbours.
func (v *imagesView) style(f *File, key string) byte {
	for i := len(v.entries) - 1; i >= 0; i-- {
		m := v.entries[i].m
		j, err := f.lookup(m, key, "")
		if err != nil || j < 0 {
			continue
		}
		s, err := f.scalarSpan(m.Content[j+1], -1, m.Style&yaml.FlowStyle != 0)
		if err == nil && (s.style == styleDouble || s.style == styleSingle) {
			return s.style
		}
		return 0
	}
	return 0
}

// editEntry schedules the edits that make entry i match img on fields.
func (f *File) editEntry(e *editor, v *imagesView, refs map[*yaml.Node]bool, i int, img Image, fields Field) (ImageChange, error) {
	en := v.entries[i]
	key := fmt.Sprintf("images[%d]", i)
	ch := ImageChange{Old: en.img, New: en.img}
	for _, k := range imageKeys[1:] {
		if fields&k.field != 0 {
			ch.New.set(k.field, img.get(k.field))
		}
	}
	if !ch.Changed() {
		return ch, nil
	}
	if v.alias || en.item.Kind == yaml.AliasNode || refs[v.root] || refs[v.seq] || refs[en.m] {
		return ch, newErr(f.name, en.item.Line, key, ErrUnsupported, "entry is shared through an anchor and alias")
	}
	m, flow := en.m, en.m.Style&yaml.FlowStyle != 0 || v.seq.Style&yaml.FlowStyle != 0
	// prevTree/prevPos track where a missing key goes: after the closest
	// earlier key (in imageKeys order) that stays, and after keys inserted
	// there before it.
	var prevTree, prevPos *yaml.Node
	for _, k := range imageKeys {
		j, err := f.lookup(m, k.key, key+"."+k.key)
		if err != nil {
			return ch, err
		}
		if k.field == 0 || fields&k.field == 0 || ch.Old.get(k.field) == ch.New.get(k.field) {
			if j >= 0 {
				prevTree, prevPos = m.Content[j], m.Content[j]
			}
			continue
		}
		want := ch.New.get(k.field)
		switch {
		case j >= 0 && want == "":
			err = e.removePair(m, j, flow)
		case j >= 0:
			val := m.Content[j+1]
			if refs[val] {
				return ch, newErr(f.name, val.Line, key+"."+k.key, ErrUnsupported, "value is shared through an anchor and alias")
			}
			err = e.setScalar(val, f.indentOr(m, flow), flow, want, tagStr)
			prevTree, prevPos = m.Content[j], m.Content[j]
		case want != "":
			if prevPos == nil {
				prevTree, prevPos = lastKey(m), lastKey(m)
			}
			prevTree, err = e.insertPair(m, prevTree, prevPos, pair{key: k.key, value: want, style: v.style(f, k.key)}, flow)
		}
		if err != nil {
			return ch, withKey(err, key+"."+k.key)
		}
	}
	return ch, nil
}

// addEntries appends new entries to the list, creating it if needed.
func (f *File) addEntries(e *editor, v *imagesView, refs map[*yaml.Node]bool, items [][]pair) error {
	if v.root == nil {
		return newErr(f.name, 0, "images", ErrNotFound, "file has no kustomization mapping")
	}
	if v.alias || refs[v.root] || v.seq != nil && refs[v.seq] {
		return newErr(f.name, v.root.Line, "images", ErrUnsupported, "images list is shared through an anchor and alias")
	}
	if v.seq != nil {
		return e.appendItems(v.seq, f.itemStyle(v.seq), items)
	}
	st := seqStyle{dash: f.indentOr(v.root, v.root.Style&yaml.FlowStyle != 0) + f.seqOffset(v.root), gap: 2}
	return e.setSequence(v.root, v.keyIdx, "images", st, items)
}

// itemStyle measures the layout of an existing block sequence's last item.
func (f *File) itemStyle(seq *yaml.Node) seqStyle {
	st := seqStyle{dash: 0, gap: 2}
	if seq.Style&yaml.FlowStyle != 0 || len(seq.Content) == 0 {
		return st
	}
	st.dash = f.indent(seq)
	last := seq.Content[len(seq.Content)-1]
	if last.Kind == yaml.MappingNode && last.Style&yaml.FlowStyle == 0 {
		ks := f.start(last.Content[0])
		ls := f.lineStart(ks)
		before := strings.TrimLeft(string(f.data[ls:ks]), " ")
		if strings.HasPrefix(before, "-") && strings.TrimLeft(before[1:], " ") == "" {
			st.dash = f.col0(ls + strings.Index(string(f.data[ls:ks]), "-"))
			st.gap = f.col0(ks) - st.dash
		}
	}
	return st
}

// seqOffset guesses how far this file indents a block sequence below its
// key: the offset of the first block sequence value in root, else 0.
func (f *File) seqOffset(root *yaml.Node) int {
	if root.Style&yaml.FlowStyle != 0 {
		return 0
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		s := root.Content[i+1]
		if s.Kind == yaml.SequenceNode && s.Style&yaml.FlowStyle == 0 && len(s.Content) > 0 {
			return max(0, f.indent(s)-f.indent(root))
		}
	}
	return 0
}

// withKey fills in the Key of an *Error that has none.
func withKey(err error, key string) error {
	if e, ok := err.(*Error); ok && e.Key == "" {
		e.Key = key
	}
	return err
}

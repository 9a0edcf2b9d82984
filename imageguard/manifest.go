package imageguard

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ensignbot/ensign/overlay"
)

// Group is the API group of Flux's image reflector objects.
const Group = "image.toolkit.fluxcd.io"

// Kinds of the image reflector objects the guard reads.
const (
	KindImagePolicy     = "ImagePolicy"
	KindImageRepository = "ImageRepository"
)

// object is an ImagePolicy or ImageRepository manifest in the repository.
type object struct {
	File      string
	Doc       int // index of the document in the file
	Kind      string
	Namespace string
	Name      string
	// RefNamespace and RefName are an ImagePolicy's imageRepositoryRef
	// (RefNamespace defaults to the policy's namespace).
	RefNamespace, RefName string
	// Image is an ImageRepository's spec.image.
	Image string
}

func (o object) key() string { return o.Namespace + "/" + o.Name }

// objects finds the image reflector manifests in the whole tree.
func objects(t Reader) ([]object, error) {
	files, err := t.List("")
	if err != nil {
		return nil, fmt.Errorf("list the repository: %w", err)
	}
	var out []object
	for _, f := range files {
		if !isYAML(f) {
			continue
		}
		data, err := t.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		if len(data) > maxFile || !bytes.Contains(data, []byte(Group+"/")) {
			continue
		}
		docs, err := overlay.Documents(data)
		if err != nil {
			continue // not a manifest Flux could apply either
		}
		for i, d := range docs {
			if o, ok := readObject(d); ok {
				o.File, o.Doc = f, i
				out = append(out, o)
			}
		}
	}
	return out, nil
}

func readObject(d *yaml.Node) (object, bool) {
	if len(d.Content) != 1 || d.Content[0].Kind != yaml.MappingNode {
		return object{}, false
	}
	root := d.Content[0]
	if !strings.HasPrefix(scalar(root, "apiVersion"), Group+"/") {
		return object{}, false
	}
	o := object{Kind: scalar(root, "kind")}
	if o.Kind != KindImagePolicy && o.Kind != KindImageRepository {
		return object{}, false
	}
	if meta := overlay.MappingValue(root, "metadata"); meta != nil {
		o.Namespace, o.Name = scalar(meta, "namespace"), scalar(meta, "name")
	}
	spec := overlay.MappingValue(root, "spec")
	if o.Name == "" || spec == nil {
		return object{}, false
	}
	switch o.Kind {
	case KindImagePolicy:
		if ref := overlay.MappingValue(spec, "imageRepositoryRef"); ref != nil {
			o.RefNamespace, o.RefName = scalar(ref, "namespace"), scalar(ref, "name")
		}
		if o.RefNamespace == "" {
			o.RefNamespace = o.Namespace
		}
	case KindImageRepository:
		o.Image = scalar(spec, "image")
	}
	return o, true
}

// find returns the object of kind named ns/name. A manifest without a
// namespace (set by a Kustomization's namespace) matches any; one with the
// exact namespace wins.
func find(objs []object, kind, ns, name string) (object, bool) {
	var loose *object
	for i, o := range objs {
		if o.Kind != kind || o.Name != name {
			continue
		}
		if o.Namespace == ns {
			return o, true
		}
		if (o.Namespace == "" || ns == "") && loose == nil {
			loose = &objs[i]
		}
	}
	if loose != nil {
		return *loose, true
	}
	return object{}, false
}

// lookupKey returns the key node of key in mapping m, or nil.
func lookupKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; m != nil && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

func scalar(m *yaml.Node, key string) string {
	if v := overlay.MappingValue(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

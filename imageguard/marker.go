package imageguard

import (
	"encoding/json"
	"strings"
)

// SetterKey is the key of Flux's image-automation setter marker.
const SetterKey = "$imagepolicy"

// Marker is one parsed setter marker: the ImagePolicy it names and which
// part of the policy's latest image it sets.
type Marker struct {
	// Namespace of the ImagePolicy; "" for a marker without one (Flux's
	// controller resolves only namespaced markers, see ParseMarker).
	Namespace string
	Name      string
	// Field is "" (the whole image reference), "tag", "name" or "digest".
	Field string
}

// Policy is the marker's ImagePolicy as "namespace/name" (or "name").
func (m Marker) Policy() string {
	if m.Namespace == "" {
		return m.Name
	}
	return m.Namespace + "/" + m.Name
}

// String renders the marker's value as written in the comment.
func (m Marker) String() string {
	s := m.Name
	if m.Namespace != "" {
		s = m.Namespace + ":" + s
	}
	if m.Field != "" {
		s += ":" + m.Field
	}
	return s
}

// maxComment bounds the comments ParseMarker looks at; a marker is short.
const maxComment = 1024

// ParseMarker parses a YAML comment as Flux reads setter markers: leading
// '#'s removed, the rest a JSON object of strings with a "$imagepolicy"
// key. Its value is "NS:NAME", "NS:NAME:tag", "NS:NAME:name" or
// "NS:NAME:digest" (Flux's image-automation-controller v1 defines exactly
// these setters per policy, namespace first); a bare "NAME" (markers of
// the earliest releases) is accepted with an empty namespace. Anything
// else, including a comment that only mentions the key, is not a marker.
func ParseMarker(comment string) (Marker, bool) {
	if len(comment) > maxComment || !strings.Contains(comment, SetterKey) {
		return Marker{}, false
	}
	var obj map[string]string
	if err := json.Unmarshal([]byte(strings.TrimLeft(comment, "#")), &obj); err != nil {
		return Marker{}, false
	}
	v := obj[SetterKey]
	if v == "" {
		return Marker{}, false
	}
	parts := strings.Split(v, ":")
	var m Marker
	switch len(parts) {
	case 1:
		m.Name = parts[0]
	case 2:
		m.Namespace, m.Name = parts[0], parts[1]
	case 3:
		m.Namespace, m.Name, m.Field = parts[0], parts[1], parts[2]
		if m.Field != "tag" && m.Field != "name" && m.Field != "digest" {
			return Marker{}, false
		}
	default:
		return Marker{}, false
	}
	if !objectName(m.Name) || len(parts) > 1 && !objectName(m.Namespace) {
		return Marker{}, false
	}
	return m, true
}

// objectName reports whether s is a Kubernetes object name (DNS-1123
// subdomain): lowercase alphanumerics, '-' and '.', at most 253.
func objectName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return s[0] != '-' && s[0] != '.' && s[len(s)-1] != '-' && s[len(s)-1] != '.'
}

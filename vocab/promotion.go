package vocab

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Promotion is the record of one promotion: which verified version goes from
// which stage into which. It is written into the promotion pull request's
// body as a hidden marker and into its commit as trailers.
type Promotion struct {
	App  string `json:"app"`
	From string `json:"from"`
	To   string `json:"to"`
	// ID is the promotion's identity: a hash of app, stages, images and
	// source revision. The same verification always gives the same ID.
	ID string `json:"id"`
	// Images are the verified image references, sorted.
	Images []string `json:"images"`
	// Revision is the source stage's Git revision Flux last applied, if known.
	Revision string `json:"revision,omitempty"`
	// Canary is the verifying canary, cluster/namespace/name.
	Canary string `json:"canary"`
}

// NewPromotion fills in the ID from the other fields and sorts Images.
func NewPromotion(app, from, to string, images []string, revision, canary string) Promotion {
	imgs := append([]string(nil), images...)
	sort.Strings(imgs)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s", app, from, to, strings.Join(imgs, "\x00"), revision)
	return Promotion{
		App: app, From: from, To: to, Images: imgs, Revision: revision, Canary: canary,
		ID: hex.EncodeToString(h.Sum(nil))[:12],
	}
}

const (
	markerPrefix = "<!-- ensign:promotion "
	markerSuffix = " -->"
	// maxMarker bounds how much of a body ParsePromotion looks at.
	maxMarker = 16 << 10
)

// Marker renders m as the hidden marker line of a pull request body.
func (m Promotion) Marker() string {
	data, _ := json.Marshal(m)
	// JSON never contains "-->" unescaped: '>' is escaped by json.Marshal.
	return markerPrefix + string(data) + markerSuffix
}

// ErrNoPromotion means a pull request body has no promotion marker.
var ErrNoPromotion = errors.New("no ensign promotion record")

// ParsePromotion finds and decodes the promotion marker in a pull request body.
// Callers must also check that the pull request was opened by ensign's own
// account: anyone can write a marker into a body.
func ParsePromotion(body string) (Promotion, error) {
	i := strings.Index(body, markerPrefix)
	if i < 0 {
		return Promotion{}, ErrNoPromotion
	}
	rest := body[i+len(markerPrefix):]
	j := strings.Index(rest, markerSuffix)
	if j < 0 || j > maxMarker {
		return Promotion{}, fmt.Errorf("%w: unterminated or oversized marker", ErrNoPromotion)
	}
	var m Promotion
	dec := json.NewDecoder(strings.NewReader(rest[:j]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Promotion{}, fmt.Errorf("decode promotion marker: %w", err)
	}
	if m.App == "" || m.To == "" || m.ID == "" {
		return Promotion{}, fmt.Errorf("decode promotion marker: app, to and id are required")
	}
	return m, nil
}

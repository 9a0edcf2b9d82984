package main

import (
	"strings"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/flux"
)

// fluxRequestedAt is the annotation that asks Flux to reconcile now.
const fluxRequestedAt = flux.RequestedAtAnnotation

func hasLabel(labels []*gitea.Label, name string) bool {
	for _, l := range labels {
		if l.Name == name {
			return true
		}
	}
	return false
}

func labelNames(labels []*gitea.Label) string {
	names := make([]string, 0, len(labels))
	for _, l := range labels {
		names = append(names, l.Name)
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// lineWith returns the first line of text that contains sub, trimmed.
func lineWith(text, sub string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, sub) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// withoutMarkers drops the hidden HTML comment lines ensign keys its
// comments by, and the blank lines around them.
func withoutMarkers(text string) string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "<!--") && strings.HasSuffix(t, "-->") {
			continue
		}
		out = append(out, line)
	}
	return strings.Trim(strings.Join(out, "\n"), "\n")
}

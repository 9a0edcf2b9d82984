package policy

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// check runs the cross-field rules on a decoded policy and fills in the
// defaults that depend on other fields.
func (d *decoder) check(p *Policy) {
	canaries := map[CanaryRef]string{}
	for ai := range p.Apps {
		a := &p.Apps[ai]
		ap := index("apps", ai)
		d.checkStages(a, ap)
		overlays := map[string]string{}
		for si := range a.Stages {
			s := &a.Stages[si]
			sp := index(join(ap, "stages"), si)
			if s.Canary.Name == "" {
				s.Canary.Name = a.Name
			}
			if s.Canary.Namespace == "" || s.Canary.Name == "" {
				// Already reported as missing or invalid.
			} else if other, dup := canaries[s.Canary]; dup {
				d.failPath(join(sp, "canary"), "canary %s is already used by %s; each stage needs its own canary", s.Canary, other)
			} else {
				canaries[s.Canary] = a.Name + "/" + s.Name
			}
			if s.Overlay == "" {
				// Already reported as missing.
			} else if other, dup := overlays[s.Overlay]; dup {
				d.failPath(join(sp, "overlay"), "overlay %q is already used by stage %q", s.Overlay, other)
			} else {
				overlays[s.Overlay] = s.Name
			}
			for wi, w := range s.Windows {
				if !d.windowNames[w] {
					d.failPath(index(join(sp, "windows"), wi), "unknown window %q%s", w, knownNames(d.windowOrder))
				}
			}
			if s.OnFailure == "" {
				if a.IsFinal(s.Name) {
					s.OnFailure = FailureRevert
				} else {
					s.OnFailure = p.Rollback.NonFinalStages
				}
			}
		}
	}
	d.checkFreezes(p)
	labels := map[string]string{}
	for _, l := range []struct{ field, value string }{
		{"hold", p.Labels.Hold}, {"queued", p.Labels.Queued},
		{"promotion", p.Labels.Promotion}, {"rollback", p.Labels.Rollback},
	} {
		if other, dup := labels[l.value]; dup {
			lp := join("labels", l.field)
			if !d.has(lp) {
				lp = join("labels", other)
			}
			d.failPath(lp, "label %q is used for both %s and %s", l.value, other, l.field)
		}
		labels[l.value] = l.field
	}
}

// checkStages resolves each stage's From (default: the previous stage) and
// reports unknown sources, self-references, cycles and settings that only
// apply to stages with a source.
func (d *decoder) checkStages(a *App, ap string) {
	byName := map[string]int{}
	for i, s := range a.Stages {
		byName[s.Name] = i
	}
	for i := range a.Stages {
		s := &a.Stages[i]
		sp := index(join(ap, "stages"), i)
		fp := join(sp, "from")
		switch {
		case !d.has(fp):
			if i > 0 {
				s.From = a.Stages[i-1].Name
			}
		case s.From == s.Name:
			d.failPath(fp, "stage %q cannot promote from itself", s.Name)
		case s.From != "":
			if _, ok := byName[s.From]; !ok {
				d.failPath(fp, "unknown stage %q in app %q%s", s.From, a.Name, knownStages(a.Stages))
			}
		}
		if s.From == "" {
			for _, f := range []string{"promotion", "mode", "autoMerge", "mergeStyle"} {
				if d.has(join(sp, f)) {
					d.failPath(join(sp, f), "stage %q is the pipeline's entry stage (it has no from), so promotion settings do not apply", s.Name)
				}
			}
		}
	}
	// Each stage has at most one source, so following From from any stage
	// either ends at the entry stage or loops.
	reported := map[string]bool{}
	for i := range a.Stages {
		seen := map[string]int{}
		var chain []string
		for cur := a.Stages[i].Name; cur != ""; {
			if _, loop := seen[cur]; loop {
				cycle := append(chain[seen[cur]:], cur)
				if len(cycle) == 2 {
					// A stage promoting from itself is reported above, or
					// comes from a duplicate name, also reported.
					break
				}
				key := cycleKey(cycle[:len(cycle)-1])
				if !reported[key] {
					reported[key] = true
					first := byName[cycle[0]]
					for _, n := range cycle[:len(cycle)-1] {
						first = min(first, byName[n])
					}
					at := index(join(ap, "stages"), first)
					if d.has(join(at, "from")) {
						at = join(at, "from")
					}
					d.failPath(at, "stages promote from each other in a cycle: %s", strings.Join(reverse(cycle), " -> "))
				}
				break
			}
			seen[cur] = len(chain)
			chain = append(chain, cur)
			j, ok := byName[cur]
			if !ok {
				break
			}
			cur = a.Stages[j].From
		}
	}
}

// cycleKey names a cycle independently of where it was entered.
func cycleKey(members []string) string {
	sorted := append([]string(nil), members...)
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if sorted[j] < sorted[i] {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	return strings.Join(sorted, "\x00")
}

// reverse turns a chain of "promotes from" links into promotion order.
func reverse(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[len(xs)-1-i] = x
	}
	return out
}

func knownNames(ns []string) string {
	if len(ns) == 0 {
		return " (the policy defines no windows)"
	}
	return " (windows: " + strings.Join(ns, ", ") + ")"
}

func knownStages(ss []Stage) string {
	ns := make([]string, 0, len(ss))
	for _, s := range ss {
		if s.Name != "" {
			ns = append(ns, s.Name)
		}
	}
	return " (stages: " + strings.Join(ns, ", ") + ")"
}

var nameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// checkName checks an app, stage, window, cluster or namespace name: a DNS
// label (lowercase letters, digits and '-', at most 63 characters), so it is
// safe in branch names, labels and Kubernetes.
func checkName(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > 63:
		return fmt.Sprintf("name %q is longer than 63 characters", s)
	case !nameRe.MatchString(s):
		return fmt.Sprintf("invalid name %q: use lowercase letters, digits and '-', starting and ending with a letter or digit", s)
	}
	return ""
}

var kubeNameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// checkKubeName checks a Kubernetes object name (a DNS subdomain).
func checkKubeName(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > 253:
		return fmt.Sprintf("name %q is longer than 253 characters", s)
	case !kubeNameRe.MatchString(s):
		return fmt.Sprintf("invalid Kubernetes name %q: use lowercase letters, digits, '-' and '.'", s)
	}
	return ""
}

// checkRelPath checks a slash-separated path relative to base (the
// repository or the overlay) and returns it cleaned.
func checkRelPath(s, base string) (string, string) {
	switch {
	case s == "":
		return "", "must not be empty"
	case strings.ContainsAny(s, "\\"):
		return "", fmt.Sprintf("path %q contains a backslash; use forward slashes", s)
	case strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return "", fmt.Sprintf("path %q contains control characters", s)
	case path.IsAbs(s):
		return "", fmt.Sprintf("path %q is absolute; give it relative to %s", s, base)
	}
	clean := path.Clean(s)
	switch {
	case clean == "..", strings.HasPrefix(clean, "../"):
		return "", fmt.Sprintf("path %q escapes %s", s, base)
	case clean == ".":
		return "", fmt.Sprintf("path %q names %s itself; name a directory or file inside it", s, base)
	}
	for _, part := range strings.Split(clean, "/") {
		if strings.EqualFold(part, ".git") {
			return "", fmt.Sprintf("path %q points into .git", s)
		}
	}
	return clean, ""
}

// checkImageName checks an image name without tag or digest, such as
// ghcr.io/stefanprodan/podinfo or localhost:5000/app.
func checkImageName(s string) string {
	last := s[strings.LastIndex(s, "/")+1:]
	switch {
	case s == "":
		return "image name must not be empty"
	case strings.ContainsAny(s, " \t\r\n@"), strings.Contains(last, ":"):
		return fmt.Sprintf("invalid image name %q: give the name without tag or digest", s)
	}
	return ""
}

// checkPattern checks a path.Match pattern.
func checkPattern(s string) string {
	if s == "" {
		return "pattern must not be empty"
	}
	if _, err := path.Match(s, ""); err != nil {
		return fmt.Sprintf("invalid pattern %q: %v", s, err)
	}
	return ""
}

func checkIdentity(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "must not be empty"
	case strings.ContainsAny(s, "<>\n\r\x00"):
		return fmt.Sprintf("%q must not contain '<', '>' or line breaks", s)
	case len(s) > 128:
		return fmt.Sprintf("%d bytes long; at most 128", len(s))
	}
	return ""
}

func checkLabel(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "label must not be empty"
	case len(s) > 50:
		return fmt.Sprintf("label %q is longer than 50 characters", s)
	case strings.ContainsAny(s, "\n\r\t,"):
		return fmt.Sprintf("label %q must not contain commas or line breaks", s)
	}
	return ""
}

// checkBranchPrefix checks that prefix+"app/stage" can be a Git branch name.
func checkBranchPrefix(s string) string {
	bad := func(why string) string { return fmt.Sprintf("invalid branch prefix %q: %s", s, why) }
	switch {
	case s == "":
		return "must not be empty"
	case strings.HasPrefix(s, "/"), strings.HasPrefix(s, "-"), strings.HasPrefix(s, "."):
		return bad("must not start with '/', '-' or '.'")
	case strings.Contains(s, ".."), strings.Contains(s, "//"), strings.Contains(s, "@{"), strings.Contains(s, "/."):
		return bad(`must not contain "..", "//", "/." or "@{"`)
	case strings.ContainsAny(s, " ~^:?*[\\\x7f"), strings.IndexFunc(s, func(r rune) bool { return r < 0x20 }) >= 0:
		return bad("must not contain spaces, control characters or any of ~^:?*[\\")
	case strings.HasSuffix(s, ".lock"), strings.HasSuffix(s, "."):
		return bad("must not end with '.' or \".lock\"")
	}
	return ""
}

// PathElem is one step of a YAMLField path: a mapping key, or a list index
// when IsIndex is set.
type PathElem struct {
	Key     string
	Index   int
	IsIndex bool
}

var fieldSegRe = regexp.MustCompile(`^([^.\[\]\s]+)((?:\[[0-9]+\])*)$`)

// ParseFieldPath splits a YAMLField path such as
// spec.template.spec.containers[0].image into its keys and indexes. Keys
// cannot contain '.', '[', ']' or white space.
func ParseFieldPath(s string) ([]PathElem, error) {
	if s == "" {
		return nil, fmt.Errorf("field path must not be empty")
	}
	var out []PathElem
	for _, seg := range strings.Split(s, ".") {
		m := fieldSegRe.FindStringSubmatch(seg)
		if m == nil {
			return nil, fmt.Errorf("invalid field path %q: want keys separated by '.', each optionally followed by [N]", s)
		}
		out = append(out, PathElem{Key: m[1]})
		for _, idx := range strings.Split(m[2], "]") {
			if idx == "" {
				continue
			}
			n, err := strconv.Atoi(strings.TrimPrefix(idx, "["))
			if err != nil || n > 1<<20 {
				return nil, fmt.Errorf("invalid index in field path %q", s)
			}
			out = append(out, PathElem{Index: n, IsIndex: true})
		}
	}
	return out, nil
}

package policy

import (
	"time"

	"gopkg.in/yaml.v3"
)

// handlers maps field names to their decoders.
type handlers = map[string]func(v *yaml.Node, path string)

func (d *decoder) policy(n *yaml.Node) *Policy {
	p := &Policy{
		Identity:     Identity{Name: DefaultIdentityName, Email: DefaultIdentityEmail},
		Rollback:     Rollback{Mode: ModePush, AllowInDenyWindow: true, NonFinalStages: FailureReport},
		Labels:       Labels{Hold: defaultLabelHold, Queued: defaultLabelQueued, Promotion: defaultLabelPromotion, Rollback: defaultLabelRollback},
		BranchPrefix: DefaultBranchPrefix,
		Commands:     map[string]Permission{},
	}
	if isNull(n) || n.Kind != yaml.MappingNode {
		d.fail(n, "", "the policy must be a mapping with apiVersion and apps")
		return p
	}
	d.fields(n, "", handlers{
		"apiVersion": func(v *yaml.Node, path string) {
			s, ok := d.str(v, path)
			if ok && s != APIVersion {
				d.fail(v, path, "unsupported apiVersion %q (want %s)", s, APIVersion)
			}
			p.APIVersion = s
		},
		"identity":     func(v *yaml.Node, path string) { d.identity(v, path, &p.Identity) },
		"windows":      func(v *yaml.Node, path string) { p.Windows = d.windows(v, path) },
		"apps":         func(v *yaml.Node, path string) { p.Apps = d.apps(v, path) },
		"rollback":     func(v *yaml.Node, path string) { d.rollback(v, path, &p.Rollback) },
		"commands":     func(v *yaml.Node, path string) { d.commands(v, path, p.Commands) },
		"labels":       func(v *yaml.Node, path string) { d.labels(v, path, &p.Labels) },
		"branchPrefix": func(v *yaml.Node, path string) { p.BranchPrefix = d.branchPrefix(v, path) },
		"freezes":      func(v *yaml.Node, path string) { p.Freezes = d.freezes(v, path) },
	})
	if !d.has("apiVersion") {
		d.fail(n, "apiVersion", "required (set it to %s)", APIVersion)
	} else {
		p.APIVersion = APIVersion
	}
	if !d.has("apps") || len(p.Apps) == 0 {
		if _, ok := d.pos["apps"]; ok {
			d.failPath("apps", "at least one app is required")
		} else {
			d.fail(n, "apps", "required: at least one app")
		}
	}
	return p
}

func (d *decoder) identity(n *yaml.Node, path string, id *Identity) {
	d.fields(n, path, handlers{
		"name": func(v *yaml.Node, path string) {
			if s, ok := d.str(v, path); ok && d.identityPart(v, path, s) {
				id.Name = s
			}
		},
		"email": func(v *yaml.Node, path string) {
			if s, ok := d.str(v, path); ok && d.identityPart(v, path, s) {
				id.Email = s
			}
		},
	})
}

func (d *decoder) identityPart(v *yaml.Node, path, s string) bool {
	if msg := checkIdentity(s); msg != "" {
		d.fail(v, path, "%s", msg)
		return false
	}
	return true
}

func (d *decoder) windows(n *yaml.Node, path string) []Window {
	items, _ := d.seq(n, path)
	var out []Window
	first := map[string]int{}
	for i, it := range items {
		ip := index(path, i)
		w, ok := d.window(it, ip)
		if w.Name != "" {
			if !d.windowNames[w.Name] {
				d.windowOrder = append(d.windowOrder, w.Name)
			}
			d.windowNames[w.Name] = true
			if line, dup := first[w.Name]; dup {
				d.failPath(join(ip, "name"), "duplicate window name %q (first on line %d)", w.Name, line)
				ok = false
			} else {
				first[w.Name] = d.pos[join(ip, "name")].line
			}
		}
		if ok {
			out = append(out, w)
		}
	}
	return out
}

func (d *decoder) window(n *yaml.Node, path string) (Window, bool) {
	var w Window
	before := len(d.problems)
	var scheduleNode *yaml.Node
	tz := ""
	d.fields(n, path, handlers{
		"name": func(v *yaml.Node, path string) { w.Name = d.name(v, path) },
		"type": func(v *yaml.Node, path string) {
			w.Type = WindowType(d.enum(v, path, "", string(Allow), string(Deny)))
		},
		"schedule": func(v *yaml.Node, path string) {
			w.Schedule, _ = d.str(v, path)
			scheduleNode = v
		},
		"duration": func(v *yaml.Node, path string) {
			s, ok := d.str(v, path)
			if !ok {
				return
			}
			dur, err := time.ParseDuration(s)
			if err != nil {
				d.fail(v, path, "invalid duration %q (want a Go duration such as 30m, 8h or 168h)", s)
				return
			}
			if err := checkDuration(dur, s); err != nil {
				d.fail(v, path, "%v", err)
				return
			}
			w.Duration = dur
		},
		"timezone": func(v *yaml.Node, path string) {
			s, ok := d.str(v, path)
			if !ok {
				return
			}
			loc, err := loadZone(s)
			if err != nil {
				d.fail(v, path, "%v", err)
				return
			}
			tz, w.loc = s, loc
		},
		"description": func(v *yaml.Node, path string) { w.Description, _ = d.str(v, path) },
	})
	for _, f := range []string{"name", "type", "schedule", "duration"} {
		if !d.has(join(path, f)) {
			d.required(path, f)
		}
	}
	if w.loc == nil {
		w.loc = time.UTC
	}
	if tz == "" {
		tz = DefaultWindowTimezone
	}
	w.Timezone = tz
	if scheduleNode != nil {
		spec, err := parseSchedule(w.Schedule)
		if err != nil {
			d.fail(scheduleNode, join(path, "schedule"), "%v", err)
		}
		w.spec = spec
	}
	return w, len(d.problems) == before
}

func (d *decoder) apps(n *yaml.Node, path string) []App {
	items, _ := d.seq(n, path)
	var out []App
	first := map[string]int{}
	for i, it := range items {
		ip := index(path, i)
		a := d.app(it, ip)
		if a.Name != "" {
			if line, dup := first[a.Name]; dup {
				d.failPath(join(ip, "name"), "duplicate app name %q (first on line %d)", a.Name, line)
			} else {
				first[a.Name] = d.pos[join(ip, "name")].line
			}
		}
		out = append(out, a)
	}
	return out
}

func (d *decoder) app(n *yaml.Node, path string) App {
	var a App
	d.fields(n, path, handlers{
		"name": func(v *yaml.Node, path string) { a.Name = d.name(v, path) },
		"stages": func(v *yaml.Node, path string) {
			items, _ := d.seq(v, path)
			first := map[string]int{}
			for i, it := range items {
				ip := index(path, i)
				s := d.stage(it, ip)
				if s.Name != "" {
					if line, dup := first[s.Name]; dup {
						d.failPath(join(ip, "name"), "duplicate stage name %q (first on line %d)", s.Name, line)
					} else {
						first[s.Name] = d.pos[join(ip, "name")].line
					}
				}
				a.Stages = append(a.Stages, s)
			}
		},
	})
	if !d.has(join(path, "name")) {
		d.required(path, "name")
	}
	if len(a.Stages) == 0 {
		if d.has(join(path, "stages")) {
			d.failPath(join(path, "stages"), "at least one stage is required")
		} else {
			d.required(path, "stages")
		}
	}
	return a
}

func (d *decoder) rollback(n *yaml.Node, path string, r *Rollback) {
	d.fields(n, path, handlers{
		"mode": func(v *yaml.Node, path string) {
			r.Mode = Mode(d.enum(v, path, string(ModePush), string(ModePush), string(ModePR)))
		},
		"allowInDenyWindow": func(v *yaml.Node, path string) {
			if b, ok := d.boolean(v, path); ok {
				r.AllowInDenyWindow = b
			}
		},
		"nonFinalStages": func(v *yaml.Node, path string) {
			r.NonFinalStages = FailureAction(d.enum(v, path, string(FailureReport), string(FailureRevert), string(FailureReport)))
		},
	})
}

func (d *decoder) commands(n *yaml.Node, path string, out map[string]Permission) {
	known := handlers{}
	for _, name := range CommandNames() {
		known[name] = func(v *yaml.Node, path string) {
			var perm Permission
			d.fields(v, path, handlers{
				"level": func(v *yaml.Node, path string) {
					s, ok := d.str(v, path)
					if !ok {
						return
					}
					l, err := ParseLevel(s)
					if err != nil {
						d.fail(v, path, "%v", err)
					}
					perm.Level = l
				},
				"teams": func(v *yaml.Node, path string) {
					for i, s := range d.strList(v, path) {
						t, err := ParseTeamRef(s)
						if err != nil {
							d.failPath(index(path, i), "%v", err)
							continue
						}
						perm.Teams = append(perm.Teams, t)
					}
				},
			})
			if !d.has(join(path, "level")) && !d.has(join(path, "teams")) {
				d.failPath(path, "set level, teams or both")
			}
			out[name] = perm
		}
	}
	d.fields(n, path, known)
}

func (d *decoder) labels(n *yaml.Node, path string, l *Labels) {
	label := func(dst *string) func(v *yaml.Node, path string) {
		return func(v *yaml.Node, path string) {
			s, ok := d.str(v, path)
			if !ok {
				return
			}
			if msg := checkLabel(s); msg != "" {
				d.fail(v, path, "%s", msg)
				return
			}
			*dst = s
		}
	}
	d.fields(n, path, handlers{
		"hold":      label(&l.Hold),
		"queued":    label(&l.Queued),
		"promotion": label(&l.Promotion),
		"rollback":  label(&l.Rollback),
	})
}

func (d *decoder) branchPrefix(n *yaml.Node, path string) string {
	s, ok := d.str(n, path)
	if !ok {
		return DefaultBranchPrefix
	}
	if msg := checkBranchPrefix(s); msg != "" {
		d.fail(n, path, "%s", msg)
		return DefaultBranchPrefix
	}
	return s
}

// name decodes an app, stage, window, cluster or namespace name.
func (d *decoder) name(n *yaml.Node, path string) string {
	s, ok := d.str(n, path)
	if !ok {
		return ""
	}
	if msg := checkName(s); msg != "" {
		d.fail(n, path, "%s", msg)
		return ""
	}
	return s
}

// kubeName decodes a Kubernetes object name (DNS subdomain).
func (d *decoder) kubeName(n *yaml.Node, path string) string {
	s, ok := d.str(n, path)
	if !ok {
		return ""
	}
	if msg := checkKubeName(s); msg != "" {
		d.fail(n, path, "%s", msg)
		return ""
	}
	return s
}

// relPath checks a path relative to base and returns it cleaned; v may be
// nil when the position is already recorded under path.
func (d *decoder) relPath(v *yaml.Node, path, s, base string) string {
	clean, msg := checkRelPath(s, base)
	if msg != "" {
		if v != nil {
			d.fail(v, path, "%s", msg)
		} else {
			d.failPath(path, "%s", msg)
		}
		return s
	}
	return clean
}

package policy

import (
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

func (d *decoder) freezes(n *yaml.Node, path string) []Freeze {
	items, _ := d.seq(n, path)
	var out []Freeze
	for i, it := range items {
		if f, ok := d.freeze(it, index(path, i)); ok {
			out = append(out, f)
		}
	}
	return out
}

func (d *decoder) freeze(n *yaml.Node, path string) (Freeze, bool) {
	var f Freeze
	before := len(d.problems)
	instant := func(dst *time.Time) func(v *yaml.Node, path string) {
		return func(v *yaml.Node, path string) {
			if v.Kind != yaml.ScalarNode || isNull(v) {
				d.fail(v, path, "want a time such as 2026-12-24T18:00:00Z")
				return
			}
			t, err := time.Parse(time.RFC3339, v.Value)
			if err != nil {
				d.fail(v, path, "invalid time %q (want RFC 3339, such as 2026-12-24T18:00:00Z)", v.Value)
				return
			}
			*dst = t.UTC()
		}
	}
	d.fields(n, path, handlers{
		"stage": func(v *yaml.Node, path string) { f.Stage = d.name(v, path) },
		"apps": func(v *yaml.Node, path string) {
			for i, s := range d.strList(v, path) {
				if msg := checkName(s); msg != "" {
					d.failPath(index(path, i), "%s", msg)
					continue
				}
				if slices.Contains(f.Apps, s) {
					d.failPath(index(path, i), "app %q is listed twice", s)
					continue
				}
				f.Apps = append(f.Apps, s)
			}
			slices.Sort(f.Apps)
		},
		"from":   instant(&f.From),
		"until":  instant(&f.Until),
		"by":     func(v *yaml.Node, path string) { f.By, _ = d.str(v, path) },
		"reason": func(v *yaml.Node, path string) { f.Reason, _ = d.str(v, path) },
	})
	for _, k := range []string{"stage", "from", "until", "reason"} {
		if !d.has(join(path, k)) {
			d.required(path, k)
		}
	}
	if len(d.problems) != before {
		return f, false
	}
	if err := f.Check(); err != nil {
		d.failPath(path, "%v", err)
		return f, false
	}
	return f, true
}

// checkFreezes reports freezes of apps or stages the policy does not have.
func (d *decoder) checkFreezes(p *Policy) {
	for i, f := range p.Freezes {
		fp := index("freezes", i)
		if len(f.Apps) == 0 {
			found := false
			for ai := range p.Apps {
				found = found || p.Apps[ai].Stage(f.Stage) != nil
			}
			if !found {
				d.failPath(join(fp, "stage"), "no app has a stage %q", f.Stage)
			}
			continue
		}
		for _, name := range f.Apps {
			switch a := p.App(name); {
			case a == nil:
				d.failPath(join(fp, "apps"), "unknown app %q", name)
			case a.Stage(f.Stage) == nil:
				d.failPath(join(fp, "stage"), "app %q has no stage %q", name, f.Stage)
			}
		}
	}
}

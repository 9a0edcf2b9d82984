package policy

import (
	"gopkg.in/yaml.v3"
)

func (d *decoder) stage(n *yaml.Node, path string) Stage {
	s := Stage{Mode: ModePR, MergeStyle: MergeStyleMerge, Promotion: Promotion{Strategy: StrategyImages}}
	d.fields(n, path, handlers{
		"name": func(v *yaml.Node, path string) { s.Name = d.name(v, path) },
		"from": func(v *yaml.Node, path string) {
			if str, ok := d.str(v, path); ok {
				if str == "" {
					d.fail(v, path, "must name a stage (leave from out to promote from the previous stage)")
				}
				s.From = str
			}
		},
		"overlay": func(v *yaml.Node, path string) {
			if str, ok := d.str(v, path); ok {
				s.Overlay = d.relPath(v, path, str, "the repository")
			}
		},
		"canary":    func(v *yaml.Node, path string) { d.canary(v, path, &s.Canary) },
		"promotion": func(v *yaml.Node, path string) { d.promotion(v, path, &s.Promotion) },
		"mode": func(v *yaml.Node, path string) {
			s.Mode = Mode(d.enum(v, path, string(ModePR), string(ModePR), string(ModePush)))
		},
		"autoMerge": func(v *yaml.Node, path string) { s.AutoMerge, _ = d.boolean(v, path) },
		"mergeStyle": func(v *yaml.Node, path string) {
			s.MergeStyle = MergeStyle(d.enum(v, path, string(MergeStyleMerge),
				string(MergeStyleMerge), string(MergeStyleSquash), string(MergeStyleRebase)))
		},
		"windows": func(v *yaml.Node, path string) {
			s.Windows = d.strList(v, path)
			seen := map[string]bool{}
			for i, w := range s.Windows {
				if seen[w] {
					d.failPath(index(path, i), "window %q is listed twice", w)
				}
				seen[w] = true
			}
		},
		"onFailure": func(v *yaml.Node, path string) {
			s.OnFailure = FailureAction(d.enum(v, path, "", string(FailureRevert), string(FailureReport)))
		},
		"flux": func(v *yaml.Node, path string) {
			s.Flux = &Flux{}
			d.flux(v, path, s.Flux)
		},
	})
	for _, f := range []string{"name", "overlay", "canary"} {
		if !d.has(join(path, f)) {
			d.required(path, f)
		}
	}
	if s.Mode == ModePush {
		for _, f := range []string{"autoMerge", "mergeStyle"} {
			if d.has(join(path, f)) {
				d.failPath(join(path, f), "applies only to mode pr (this stage uses mode push)")
			}
		}
	}
	return s
}

func (d *decoder) canary(n *yaml.Node, path string, c *CanaryRef) {
	c.Cluster = DefaultCluster
	d.fields(n, path, handlers{
		"cluster":   func(v *yaml.Node, path string) { c.Cluster = d.name(v, path) },
		"namespace": func(v *yaml.Node, path string) { c.Namespace = d.name(v, path) },
		"name":      func(v *yaml.Node, path string) { c.Name = d.kubeName(v, path) },
	})
	if !d.has(join(path, "namespace")) {
		d.required(path, "namespace")
	}
}

func (d *decoder) promotion(n *yaml.Node, path string, p *Promotion) {
	d.fields(n, path, handlers{
		"strategy": func(v *yaml.Node, path string) {
			p.Strategy = Strategy(d.enum(v, path, string(StrategyImages),
				string(StrategyImages), string(StrategyCopy), string(StrategyYAMLPath)))
		},
		"images": func(v *yaml.Node, path string) {
			p.Images = d.strList(v, path)
			for i, img := range p.Images {
				if msg := checkImageName(img); msg != "" {
					d.failPath(index(path, i), "%s", msg)
				}
			}
		},
		"files": func(v *yaml.Node, path string) {
			for i, f := range d.strList(v, path) {
				p.Files = append(p.Files, d.relPath(nil, index(path, i), f, "the overlay"))
			}
		},
		"exclude": func(v *yaml.Node, path string) {
			p.Exclude = d.strList(v, path)
			for i, pat := range p.Exclude {
				if msg := checkPattern(pat); msg != "" {
					d.failPath(index(path, i), "%s", msg)
				}
			}
		},
		"fields": func(v *yaml.Node, path string) {
			items, _ := d.seq(v, path)
			for i, it := range items {
				p.Fields = append(p.Fields, d.yamlField(it, index(path, i)))
			}
		},
	})
	only := map[Strategy][]string{
		StrategyImages:   {"images"},
		StrategyCopy:     {"files", "exclude"},
		StrategyYAMLPath: {"fields"},
	}
	for _, strat := range []Strategy{StrategyImages, StrategyCopy, StrategyYAMLPath} {
		if strat == p.Strategy {
			continue
		}
		for _, f := range only[strat] {
			if d.has(join(path, f)) {
				d.failPath(join(path, f), "applies only to strategy %s (this stage uses %s)", strat, p.Strategy)
			}
		}
	}
	if p.Strategy == StrategyYAMLPath && len(p.Fields) == 0 {
		d.failPath(path, "strategy yamlPath needs at least one entry in fields")
	}
}

func (d *decoder) yamlField(n *yaml.Node, path string) YAMLField {
	var f YAMLField
	d.fields(n, path, handlers{
		"file": func(v *yaml.Node, path string) {
			if s, ok := d.str(v, path); ok {
				f.File = d.relPath(v, path, s, "the overlay")
			}
		},
		"path": func(v *yaml.Node, path string) {
			if s, ok := d.str(v, path); ok {
				if _, err := ParseFieldPath(s); err != nil {
					d.fail(v, path, "%v", err)
				}
				f.Path = s
			}
		},
		"document": func(v *yaml.Node, path string) {
			d.fields(v, path, handlers{
				"apiVersion": func(v *yaml.Node, path string) { f.Document.APIVersion, _ = d.str(v, path) },
				"kind":       func(v *yaml.Node, path string) { f.Document.Kind, _ = d.str(v, path) },
				"name":       func(v *yaml.Node, path string) { f.Document.Name = d.kubeName(v, path) },
				"namespace":  func(v *yaml.Node, path string) { f.Document.Namespace = d.name(v, path) },
			})
		},
	})
	for _, k := range []string{"file", "path"} {
		if !d.has(join(path, k)) {
			d.required(path, k)
		}
	}
	return f
}

func (d *decoder) flux(n *yaml.Node, path string, f *Flux) {
	ref := func(r *ObjectRef) func(v *yaml.Node, path string) {
		return func(v *yaml.Node, path string) {
			r.Namespace = DefaultFluxNamespace
			d.fields(v, path, handlers{
				"namespace": func(v *yaml.Node, path string) { r.Namespace = d.name(v, path) },
				"name":      func(v *yaml.Node, path string) { r.Name = d.kubeName(v, path) },
			})
			if !d.has(join(path, "name")) {
				d.required(path, "name")
			}
		}
	}
	d.fields(n, path, handlers{
		"kustomization": ref(&f.Kustomization),
		"gitRepository": ref(&f.GitRepository),
	})
	if !d.has(join(path, "kustomization")) {
		d.required(path, "kustomization")
	}
}

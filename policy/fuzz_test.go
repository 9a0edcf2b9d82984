package policy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzLoad checks that Load never panics, that every rejection is an *Error
// with positioned problems, and that every accepted policy keeps the
// invariants the services rely on.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/invalid/*.yaml")
	seeds = append(seeds, "../testdata/policy/ensign.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimal))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load("f.yaml", data)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) || len(perr.Problems) == 0 {
				t.Fatalf("rejection without problems: %T %v", err, err)
			}
			if p != nil {
				t.Fatal("policy returned with an error")
			}
			for _, pr := range perr.Problems {
				if pr.File != "f.yaml" || pr.Message == "" {
					t.Fatalf("malformed problem %+v", pr)
				}
			}
			return
		}
		if p == nil {
			t.Fatal("nil policy without error")
		}
		checkInvariants(t, p)
		again, err := Load("f.yaml", data)
		if err != nil || !reflect.DeepEqual(p, again) {
			t.Fatalf("Load is not deterministic: %v", err)
		}
	})
}

func checkInvariants(t *testing.T, p *Policy) {
	t.Helper()
	if p.APIVersion != APIVersion || len(p.Apps) == 0 {
		t.Fatalf("apiVersion %q, %d apps", p.APIVersion, len(p.Apps))
	}
	for _, s := range []string{p.Identity.Name, p.Identity.Email, p.Labels.Hold, p.Labels.Queued, p.Labels.Promotion, p.Labels.Rollback} {
		if strings.TrimSpace(s) == "" {
			t.Fatalf("empty identity or label in %+v %+v", p.Identity, p.Labels)
		}
	}
	if checkBranchPrefix(p.BranchPrefix) != "" {
		t.Fatalf("bad branch prefix %q", p.BranchPrefix)
	}
	for name := range p.Commands {
		if !slices.Contains(CommandNames(), name) {
			t.Fatalf("unknown command %q", name)
		}
	}
	windows := map[string]bool{}
	for _, w := range p.Windows {
		if windows[w.Name] || checkName(w.Name) != "" || !w.valid() || w.Duration > MaxWindowDuration ||
			(w.Type != Allow && w.Type != Deny) {
			t.Fatalf("bad window %+v", w)
		}
		windows[w.Name] = true
	}
	canaries := map[CanaryRef]bool{}
	apps := map[string]bool{}
	now := time.Date(2025, 6, 13, 12, 0, 0, 0, time.UTC)
	for ai := range p.Apps {
		a := &p.Apps[ai]
		if apps[a.Name] || checkName(a.Name) != "" || len(a.Stages) == 0 {
			t.Fatalf("bad app %q", a.Name)
		}
		apps[a.Name] = true
		stages := map[string]bool{}
		for si := range a.Stages {
			s := &a.Stages[si]
			if stages[s.Name] || checkName(s.Name) != "" {
				t.Fatalf("bad stage %q", s.Name)
			}
			stages[s.Name] = true
			if clean, msg := checkRelPath(s.Overlay, "repo"); msg != "" || clean != s.Overlay {
				t.Fatalf("bad overlay %q", s.Overlay)
			}
			if s.Canary.Cluster == "" || s.Canary.Namespace == "" || s.Canary.Name == "" || canaries[s.Canary] {
				t.Fatalf("bad canary %+v", s.Canary)
			}
			canaries[s.Canary] = true
			if s.From == s.Name || (s.From != "" && a.Stage(s.From) == nil) {
				t.Fatalf("bad from %q for %q", s.From, s.Name)
			}
			// Following From always reaches the entry stage.
			steps := 0
			for cur := s; cur.From != ""; cur = a.Stage(cur.From) {
				if steps++; steps > len(a.Stages) {
					t.Fatalf("cycle through %q", s.Name)
				}
			}
			if s.Mode != ModePR && s.Mode != ModePush || s.OnFailure != FailureRevert && s.OnFailure != FailureReport {
				t.Fatalf("bad mode or onFailure %+v", s)
			}
			for _, w := range s.Windows {
				if !windows[w] {
					t.Fatalf("unknown window %q", w)
				}
			}
			if got, _, ok := p.FindCanary(s.Canary); !ok || got != a {
				t.Fatalf("FindCanary(%v) misses %s", s.Canary, s.Name)
			}
			st := p.EvaluateStage(s, now)
			if !st.Until.IsZero() && !st.Until.After(now) || !st.Next.IsZero() && !st.Next.After(now) {
				t.Fatalf("Evaluate %+v: Until/Next not after now", st)
			}
			if !st.Open && !st.Next.Equal(st.Until) {
				t.Fatalf("closed state with Next != Until: %+v", st)
			}
		}
	}
}

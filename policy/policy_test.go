package policy

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

const minimal = `apiVersion: ensign.dev/v1alpha1
apps:
  - name: podinfo
    stages:
      - name: staging
        overlay: apps/podinfo/staging
        canary: {namespace: podinfo}
      - name: production
        overlay: apps/podinfo/production/
        canary: {cluster: prod, namespace: podinfo}
`

func mustLoad(t *testing.T, name, data string) *Policy {
	t.Helper()
	p, err := Load(name, []byte(data))
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return p
}

func loadExample(t *testing.T) *Policy {
	t.Helper()
	data, err := os.ReadFile("../testdata/policy/ensign.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return mustLoad(t, "ensign.yaml", string(data))
}

func TestLoadMinimalDefaults(t *testing.T) {
	p := mustLoad(t, ".ensign.yaml", minimal)
	want := &Policy{
		APIVersion: APIVersion,
		Identity:   Identity{Name: "ensign", Email: "ensign@localhost"},
		Apps: []App{{Name: "podinfo", Stages: []Stage{
			{
				Name: "staging", Overlay: "apps/podinfo/staging",
				Canary:    CanaryRef{Cluster: "default", Namespace: "podinfo", Name: "podinfo"},
				Promotion: Promotion{Strategy: StrategyImages},
				Mode:      ModePR, MergeStyle: MergeStyleMerge, OnFailure: FailureReport,
			},
			{
				Name: "production", From: "staging", Overlay: "apps/podinfo/production",
				Canary:    CanaryRef{Cluster: "prod", Namespace: "podinfo", Name: "podinfo"},
				Promotion: Promotion{Strategy: StrategyImages},
				Mode:      ModePR, MergeStyle: MergeStyleMerge, OnFailure: FailureRevert,
			},
		}}},
		Rollback:     Rollback{Mode: ModePush, AllowInDenyWindow: true, NonFinalStages: FailureReport},
		Commands:     map[string]Permission{},
		Labels:       Labels{Hold: "hold", Queued: "queued", Promotion: "promotion", Rollback: "rollback"},
		BranchPrefix: "ensign/",
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("minimal policy:\n got %+v\nwant %+v", p, want)
	}
	for _, name := range CommandNames() {
		if got, want := p.CommandPermission(name), DefaultPermissions()[name]; !reflect.DeepEqual(got, want) {
			t.Errorf("CommandPermission(%s) = %+v, want default %+v", name, got, want)
		}
	}
}

func TestLoadExample(t *testing.T) {
	p := loadExample(t)
	if got := len(p.Windows); got != 5 {
		t.Errorf("windows = %d, want 5", got)
	}
	podinfo := p.App("podinfo")
	if podinfo == nil {
		t.Fatal("no app podinfo")
	}
	eu := podinfo.Stage("production-eu")
	if eu == nil || !eu.AutoMerge || eu.MergeStyle != MergeStyleSquash || eu.Flux == nil ||
		eu.Flux.Kustomization != (ObjectRef{"flux-system", "podinfo-production"}) ||
		eu.Flux.GitRepository != (ObjectRef{"flux-system", "gitops"}) {
		t.Errorf("production-eu = %+v", eu)
	}
	if us := podinfo.Stage("production-us"); us.From != "production-eu" || us.OnFailure != FailureRevert {
		t.Errorf("production-us from %q onFailure %q, want production-eu, revert", us.From, us.OnFailure)
	}
	if fe := p.App("frontend").Stage("production"); fe.Mode != ModePush || fe.Promotion.Strategy != StrategyCopy ||
		!reflect.DeepEqual(fe.Promotion.Files, []string{"configmap.yaml", "deployment-patch.yaml"}) {
		t.Errorf("frontend production = %+v", fe)
	}
	pay := p.App("payments").Stage("production").Promotion
	wantField := YAMLField{File: "release.yaml", Path: "spec.chart.spec.version", Document: DocumentSelector{Kind: "HelmRelease", Name: "payments"}}
	if pay.Strategy != StrategyYAMLPath || len(pay.Fields) != 1 || pay.Fields[0] != wantField {
		t.Errorf("payments promotion = %+v", pay)
	}
	if got := p.Clusters(); !reflect.DeepEqual(got, []string{"production-eu", "production-us", "staging"}) {
		t.Errorf("Clusters = %v", got)
	}
	if got := p.CommandPermission(CommandPromoteNow); got.Level != LevelAdmin || !reflect.DeepEqual(got.Teams, []TeamRef{{"acme", "release-managers"}}) {
		t.Errorf("promote-now permission = %+v", got)
	}
	if got := p.CommandPermission(CommandHold); got.Level != LevelNone || got.GrantsLevel(LevelOwner) || len(got.Teams) != 1 {
		t.Errorf("hold permission (teams only) = %+v", got)
	}
	if got := p.CommandPermission(CommandStatus); got.Level != LevelRead {
		t.Errorf("status permission = %+v, want the default read", got)
	}
}

func TestPipelineQueries(t *testing.T) {
	p := loadExample(t)
	podinfo := p.App("podinfo")
	stageNames := func(ss []*Stage) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return out
	}
	cases := []struct {
		stage  string
		next   []string
		source string
		final  bool
	}{
		{"staging", []string{"production-eu"}, "", false},
		{"production-eu", []string{"production-us"}, "staging", false},
		{"production-us", nil, "production-eu", true},
	}
	for _, tc := range cases {
		t.Run(tc.stage, func(t *testing.T) {
			if got := stageNames(podinfo.NextStages(tc.stage)); !reflect.DeepEqual(got, tc.next) {
				t.Errorf("NextStages = %v, want %v", got, tc.next)
			}
			src := ""
			if s := podinfo.Source(tc.stage); s != nil {
				src = s.Name
			}
			if src != tc.source {
				t.Errorf("Source = %q, want %q", src, tc.source)
			}
			if got := podinfo.IsFinal(tc.stage); got != tc.final {
				t.Errorf("IsFinal = %v, want %v", got, tc.final)
			}
		})
	}
	if podinfo.Stage("staging").OnFailure != FailureReport {
		t.Errorf("staging OnFailure = %q, want report (rollback.nonFinalStages)", podinfo.Stage("staging").OnFailure)
	}

	a, s, ok := p.FindCanary(CanaryRef{Cluster: "production-eu", Namespace: "frontend", Name: "frontend"})
	if !ok || a.Name != "frontend" || s.Name != "production" {
		t.Errorf("FindCanary(frontend) = %v, %v, %v", a, s, ok)
	}
	if _, _, ok := p.FindCanary(CanaryRef{Cluster: "staging", Namespace: "podinfo", Name: "other"}); ok {
		t.Error("FindCanary found a canary the policy does not name")
	}
	if p.App("nope") != nil || podinfo.Stage("nope") != nil || podinfo.Source("nope") != nil {
		t.Error("unknown names must give nil")
	}

	eu := podinfo.Stage("production-eu")
	var ws []string
	for _, w := range p.StageWindows(eu) {
		ws = append(ws, w.Name)
	}
	if !reflect.DeepEqual(ws, eu.Windows) {
		t.Errorf("StageWindows = %v, want %v", ws, eu.Windows)
	}
	// Friday 2025-06-13 15:30 CEST: business hours, but the Friday deny is on.
	fri := time.Date(2025, 6, 13, 13, 30, 0, 0, time.UTC)
	if st := p.EvaluateStage(eu, fri); st.Open || !strings.Contains(st.Reason, "friday-afternoon") {
		t.Errorf("EvaluateStage(Friday 15:30) = %+v, want closed by friday-afternoon", st)
	}
	if st := p.EvaluateStage(podinfo.Stage("staging"), fri); !st.Open {
		t.Errorf("staging without windows = %+v, want open", st)
	}
	if st := p.RollbackState(eu, fri); !st.Open {
		t.Errorf("RollbackState with allowInDenyWindow = %+v, want open", st)
	}
	strict := *p
	strict.Rollback.AllowInDenyWindow = false
	if st := strict.RollbackState(eu, fri); st.Open {
		t.Errorf("RollbackState in a deny window without allowInDenyWindow = %+v, want closed", st)
	}
	// Saturday: outside the allow windows, but rollbacks ignore allow windows.
	if st := strict.RollbackState(eu, fri.Add(24*time.Hour)); !st.Open {
		t.Errorf("RollbackState outside allow windows = %+v, want open", st)
	}
}

func TestLoadOptions(t *testing.T) {
	cases := []struct {
		name  string
		extra string // appended to minimal's production stage or the file
		check func(t *testing.T, p *Policy)
	}{
		{"explicit from and fan-out", `      - name: production-us
        from: staging
        overlay: apps/podinfo/production-us
        canary: {cluster: us, namespace: podinfo}
`, func(t *testing.T, p *Policy) {
			a := p.App("podinfo")
			if n := a.NextStages("staging"); len(n) != 2 || n[0].Name != "production" || n[1].Name != "production-us" {
				t.Errorf("fan-out NextStages(staging) = %v", n)
			}
			if !a.IsFinal("production") || !a.IsFinal("production-us") {
				t.Error("both production stages should be final")
			}
		}},
		{"onFailure on a non-final stage and nonFinalStages revert", `rollback: {nonFinalStages: revert, mode: pr, allowInDenyWindow: false}
`, func(t *testing.T, p *Policy) {
			if got := p.App("podinfo").Stage("staging").OnFailure; got != FailureRevert {
				t.Errorf("staging OnFailure = %q, want revert", got)
			}
			if p.Rollback != (Rollback{Mode: ModePR, AllowInDenyWindow: false, NonFinalStages: FailureRevert}) {
				t.Errorf("Rollback = %+v", p.Rollback)
			}
		}},
		{"level none disables a command", `commands: {promote-now: {level: none}}
`, func(t *testing.T, p *Policy) {
			perm := p.CommandPermission(CommandPromoteNow)
			if perm.GrantsLevel(LevelOwner) || len(perm.Teams) != 0 {
				t.Errorf("promote-now = %+v, want nobody", perm)
			}
		}},
		{"aliases are followed", `windows:
  - &bh {name: bh, type: allow, schedule: "0 9 * * 1-5", duration: 8h}
labels: {hold: &h on-hold, queued: waiting}
identity: {name: *h}
`, func(t *testing.T, p *Policy) {
			if len(p.Windows) != 1 || p.Windows[0].Name != "bh" || p.Identity.Name != "on-hold" || p.Labels.Hold != "on-hold" {
				t.Errorf("aliases: windows %v identity %+v labels %+v", p.Windows, p.Identity, p.Labels)
			}
		}},
		{"descriptor schedule and default zone", `windows:
  - {name: nightly, type: deny, schedule: "@daily", duration: 1h}
`, func(t *testing.T, p *Policy) {
			w := p.Windows[0]
			if w.Timezone != "UTC" || w.Location() != time.UTC {
				t.Errorf("timezone %q location %v, want UTC", w.Timezone, w.Location())
			}
			if st := Evaluate(time.Date(2025, 1, 1, 0, 30, 0, 0, time.UTC), p.Windows); st.Open {
				t.Errorf("@daily deny at 00:30 = %+v, want closed", st)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, mustLoad(t, "p.yaml", minimal+tc.extra))
		})
	}
}

func TestLoadAliasBomb(t *testing.T) {
	// 100 apps x 100 stages x 100 window names from a few hundred bytes.
	ws := strings.TrimSuffix(strings.Repeat("w, ", 100), ", ")
	st := strings.TrimSuffix(strings.Repeat("*s, ", 99), ", ")
	apps := strings.TrimSuffix(strings.Repeat("*a, ", 99), ", ")
	doc := fmt.Sprintf(`apiVersion: ensign.dev/v1alpha1
apps: [&a {name: a, stages: [&s {name: s, overlay: o, canary: {namespace: n}, windows: [%s]}, %s]}, %s]
`, ws, st, apps)
	_, err := Load("bomb.yaml", []byte(doc))
	if err == nil {
		t.Fatal("alias bomb accepted")
	}
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("error %T", err)
	}
	if !strings.Contains(err.Error(), "over 100000 nodes") {
		t.Errorf("node budget not reported:\n%.500s", err)
	}
	if n := len(perr.Problems); n != 1 {
		t.Errorf("%d problems reported, want only the budget one", n)
	}
}

// TestLoadProblemCap checks that a file with very many problems lists at
// most maxProblems of them and counts the rest.
func TestLoadProblemCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: ensign.dev/v1alpha1\napps:\n")
	for i := 0; i < 150; i++ {
		fmt.Fprintf(&b, "  - {name: App%d}\n", i)
	}
	_, err := Load("many.yaml", []byte(b.String()))
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("error %T %v", err, err)
	}
	if n := len(perr.Problems); n != maxProblems+1 {
		t.Fatalf("%d problems, want %d", n, maxProblems+1)
	}
	if last := perr.Problems[maxProblems].String(); last != "many.yaml: 200 more problems not shown" {
		t.Errorf("last problem = %q", last)
	}
}

func TestLevels(t *testing.T) {
	for i, name := range []string{"none", "read", "write", "admin", "owner"} {
		l, err := ParseLevel(name)
		if err != nil || l != Level(i) || l.String() != name {
			t.Errorf("ParseLevel(%q) = %v, %v", name, l, err)
		}
	}
	for _, bad := range []string{"", "Write", "maintainer"} {
		if _, err := ParseLevel(bad); err == nil {
			t.Errorf("ParseLevel(%q) succeeded", bad)
		}
	}
	if Level(9).String() != "Level(9)" {
		t.Errorf("out of range String = %q", Level(9).String())
	}
	perm := Permission{Level: LevelWrite}
	for have, want := range map[Level]bool{LevelNone: false, LevelRead: false, LevelWrite: true, LevelAdmin: true, LevelOwner: true} {
		if perm.GrantsLevel(have) != want {
			t.Errorf("write permission GrantsLevel(%s) = %v", have, !want)
		}
	}
	if (Permission{}).GrantsLevel(LevelOwner) {
		t.Error("zero Permission grants owner")
	}
	var nilPolicy *Policy
	if nilPolicy.CommandPermission(CommandPromoteNow).Level != LevelAdmin {
		t.Error("nil policy should give defaults")
	}
	if (&Policy{}).CommandPermission("deploy").GrantsLevel(LevelOwner) {
		t.Error("unknown command must admit nobody")
	}
}

func TestParseTeamRef(t *testing.T) {
	if tr, err := ParseTeamRef("acme/release-managers"); err != nil || tr != (TeamRef{"acme", "release-managers"}) || tr.String() != "acme/release-managers" {
		t.Errorf("ParseTeamRef = %v, %v", tr, err)
	}
	for _, bad := range []string{"", "acme", "/team", "acme/", "a/b/c", "acme/re lease"} {
		if _, err := ParseTeamRef(bad); err == nil {
			t.Errorf("ParseTeamRef(%q) succeeded", bad)
		}
	}
}

func TestParseFieldPath(t *testing.T) {
	cases := []struct {
		in   string
		want []PathElem
	}{
		{"spec.chart.spec.version", []PathElem{{Key: "spec"}, {Key: "chart"}, {Key: "spec"}, {Key: "version"}}},
		{"spec.template.spec.containers[0].image", []PathElem{{Key: "spec"}, {Key: "template"}, {Key: "spec"}, {Key: "containers"}, {Index: 0, IsIndex: true}, {Key: "image"}}},
		{"matrix[1][2]", []PathElem{{Key: "matrix"}, {Index: 1, IsIndex: true}, {Index: 2, IsIndex: true}}},
		{"metadata.annotations.app/version", []PathElem{{Key: "metadata"}, {Key: "annotations"}, {Key: "app/version"}}},
	}
	for _, tc := range cases {
		got, err := ParseFieldPath(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseFieldPath(%q) = %+v, %v", tc.in, got, err)
		}
	}
	for _, bad := range []string{"", ".spec", "spec.", "a..b", "a[x]", "[0]", "a b", "a[99999999]"} {
		if _, err := ParseFieldPath(bad); err == nil {
			t.Errorf("ParseFieldPath(%q) succeeded", bad)
		}
	}
}

func TestPeriods(t *testing.T) {
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	bh := mustWindow(t, "business-hours", Allow, "0 9 * * 1-5", 8*time.Hour, "Europe/Amsterdam")
	lunch := mustWindow(t, "lunch", Deny, "0 12 * * *", time.Hour, "Europe/Amsterdam")
	from := time.Date(2025, 6, 13, 0, 0, 0, 0, ams) // Friday
	to := time.Date(2025, 6, 16, 14, 0, 0, 0, ams)  // Monday 14:00
	got, err := Periods(from, to, []Window{bh, lunch})
	if err != nil {
		t.Fatal(err)
	}
	at := func(d, h int) time.Time { return time.Date(2025, 6, d, h, 0, 0, 0, ams) }
	want := []struct {
		start, end time.Time
		open       bool
	}{
		{at(13, 0), at(13, 9), false},
		{at(13, 9), at(13, 12), true},
		{at(13, 12), at(13, 13), false},
		{at(13, 13), at(13, 17), true},
		{at(13, 17), at(16, 9), false},
		{at(16, 9), at(16, 12), true},
		{at(16, 12), at(16, 13), false},
		{at(16, 13), at(16, 14), true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d periods, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if !g.Start.Equal(w.start) || !g.End.Equal(w.end) || g.Open != w.open {
			t.Errorf("period %d = %s..%s open=%v, want %s..%s open=%v", i, g.Start, g.End, g.Open, w.start, w.end, w.open)
		}
	}
	if got[2].Reason != `deny window "lunch" active` {
		t.Errorf("reason = %q", got[2].Reason)
	}
	// Friday 17:00 to Monday 09:00: lunch denies on Saturday and Sunday too.
	if !reflect.DeepEqual(got[4].Active, []string{"lunch"}) || !reflect.DeepEqual(got[1].Active, []string{"business-hours"}) {
		t.Errorf("active windows = %v and %v", got[4].Active, got[1].Active)
	}
	if got[2].Active[0] != "business-hours" || got[2].Active[1] != "lunch" {
		t.Errorf("active during lunch = %v", got[2].Active)
	}
	if _, err := Periods(to, from, nil); err == nil {
		t.Error("Periods accepted an empty range")
	}
	if p, err := Periods(from, to, nil); err != nil || len(p) != 1 || !p[0].Open {
		t.Errorf("Periods without windows = %+v, %v", p, err)
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"hold", "hold", 0},
		{"hodl", "hold", 2},
		{"hol", "hold", 1},
		{"", "help", 4},
		{strings.Repeat("a", 65), "a", 99},
		{"status", "stauts", 2},
		{"rollback", "rollbak", 1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_"+tt.b, func(t *testing.T) {
			if got := EditDistance(tt.a, tt.b); got != tt.want {
				t.Fatalf("EditDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

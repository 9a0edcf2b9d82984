package main

import (
	"reflect"
	"slices"
	"testing"
)

func TestParseShapes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []scaleShape
		bad  bool
	}{
		{in: "1x100,100x100", want: []scaleShape{{1, 100}, {100, 100}}},
		{in: " 10x1000 ", want: []scaleShape{{10, 1000}}},
		{in: "1x101", bad: true}, // two canaries per app
		{in: "0x100", bad: true},
		{in: "1x", bad: true},
		{in: "100", bad: true},
		{in: "", bad: true},
	} {
		got, err := parseShapes(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("parseShapes(%q) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestLogField(t *testing.T) {
	line := `time=2026-12-04T15:46:11Z level=INFO msg=rollback repo=acme/gitops canary=production/prd-000/app-0001 phase=Failed`
	if got := logField(line, "repo"); got != "acme/gitops" {
		t.Errorf("repo = %q", got)
	}
	if got := logField(line, "canary"); got != "production/prd-000/app-0001" {
		t.Errorf("canary = %q", got)
	}
	if got := logField(line, "commit"); got != "" {
		t.Errorf("absent key = %q", got)
	}
}

func TestParseWidths(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		ok   bool
	}{
		{"1,2,4,16", []int{1, 2, 4, 16}, true},
		{" 8 ", []int{8}, true},
		{"0", nil, false},
		{"2,x", nil, false},
		{"", nil, false},
	} {
		got, err := parseWidths(tc.in)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("parseWidths(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

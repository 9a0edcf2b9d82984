package deploy

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var errUnbalanced = errors.New("unbalanced brackets or quotes")

// promQuery is what the dashboard test needs of a PromQL expression: the
// metrics it selects (with the labels their matchers name) and the labels it
// groups or matches by.
type promQuery struct {
	metrics  []promSelector
	grouping []string
}

type promSelector struct {
	name     string
	matchers []string
}

// promKeywords are PromQL words that are never metric names: aggregation
// operators (which may be followed by by/without before their parenthesis),
// set and comparison modifiers.
var promKeywords = []string{"sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk",
	"quantile", "count_values", "group", "limitk", "limit_ratio", "and", "or", "unless", "bool", "offset"}

// promLabelLists are the modifiers followed by a parenthesized label list.
var promLabelLists = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}

// parsePromQL finds the metric names and label names in a PromQL
// expression. It is a tokenizer, not a parser: enough for the dashboard's
// queries, and strict about what it does not understand.
func parsePromQL(expr string) (promQuery, error) {
	var q promQuery
	s := expr
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			i++
		}
	}
	ident := func() string {
		start := i
		for i < len(s) && (isIdentByte(s[i]) || (i > start && s[i] >= '0' && s[i] <= '9')) {
			i++
		}
		return s[start:i]
	}
	// labelList reads "(a, b)" at i.
	labelList := func() ([]string, error) {
		end := strings.IndexByte(s[i:], ')')
		if s[i] != '(' || end < 0 {
			return nil, errUnbalanced
		}
		var out []string
		for _, l := range strings.Split(s[i+1:i+end], ",") {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			for j := range len(l) {
				if !isIdentByte(l[j]) && (j == 0 || l[j] < '0' || l[j] > '9') {
					return nil, fmt.Errorf("%q is not a label name", l)
				}
			}
			out = append(out, l)
		}
		i += end + 1
		return out, nil
	}
	// matchers reads `{a="x", b=~"y"}` at i and returns the label names.
	matchers := func() ([]string, error) {
		var out []string
		i++ // {
		for {
			skipSpace()
			if i >= len(s) {
				return nil, errUnbalanced
			}
			if s[i] == '}' {
				i++
				return out, nil
			}
			if s[i] == ',' {
				i++
				continue
			}
			name := ident()
			if name == "" {
				return nil, fmt.Errorf("unexpected %q in a selector", s[i])
			}
			out = append(out, name)
			skipSpace()
			for i < len(s) && strings.IndexByte("=!~", s[i]) >= 0 {
				i++
			}
			skipSpace()
			if i >= len(s) || s[i] != '"' {
				return nil, fmt.Errorf("label %s: want a quoted value", name)
			}
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, errUnbalanced
			}
			i += end + 2
		}
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return q, errUnbalanced
			}
			i += end + 1
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return q, errUnbalanced
			}
			i += end + 2
		case c >= '0' && c <= '9' || c == '.':
			for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == 'e') {
				i++
			}
		case c == '{':
			// A selector without a metric name.
			if _, err := matchers(); err != nil {
				return q, err
			}
		case isIdentByte(c):
			word := ident()
			skipSpace()
			switch {
			case slices.Contains(promLabelLists, word):
				labels, err := labelList()
				if err != nil {
					return q, fmt.Errorf("%s: %w", word, err)
				}
				q.grouping = append(q.grouping, labels...)
			case slices.Contains(promKeywords, word):
			case i < len(s) && s[i] == '(':
				// a function call
			default:
				sel := promSelector{name: word}
				if i < len(s) && s[i] == '{' {
					m, err := matchers()
					if err != nil {
						return q, fmt.Errorf("%s: %w", word, err)
					}
					sel.matchers = m
				}
				q.metrics = append(q.metrics, sel)
			}
		default:
			i++
		}
	}
	return q, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func TestParsePromQL(t *testing.T) {
	tests := []struct {
		expr     string
		metrics  []promSelector
		grouping []string
	}{
		{`ensign_leader`, []promSelector{{name: "ensign_leader"}}, nil},
		{`sum(ensign_leader{namespace=~"$namespace"})`, []promSelector{{"ensign_leader", []string{"namespace"}}}, nil},
		{`sum by (kind, outcome) (increase(ensign_actions_total{namespace=~"$namespace", outcome="error"}[$__rate_interval]))`,
			[]promSelector{{"ensign_actions_total", []string{"namespace", "outcome"}}}, []string{"kind", "outcome"}},
		{`histogram_quantile(0.99, sum by (le) (rate(ensign_rollback_latency_seconds_bucket{namespace=~"a|b"}[5m])))`,
			[]promSelector{{"ensign_rollback_latency_seconds_bucket", []string{"namespace"}}}, []string{"le"}},
		{`sum(rate(x_total{code=~"5..|error"}[1m])) / sum(rate(x_total[1m]))`,
			[]promSelector{{"x_total", []string{"code"}}, {name: "x_total"}}, nil},
		{`process_resident_memory_bytes and on (namespace, pod) ensign_build_info`,
			[]promSelector{{name: "process_resident_memory_bytes"}, {name: "ensign_build_info"}}, []string{"namespace", "pod"}},
		{`max without (instance) (up) > bool 0.5e1`, []promSelector{{name: "up"}}, []string{"instance"}},
		{`ensign_rollbacks_totl{kidn="x"}`, []promSelector{{"ensign_rollbacks_totl", []string{"kidn"}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			q, err := parsePromQL(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(q.metrics, tt.metrics) || !slices.Equal(q.grouping, tt.grouping) {
				t.Fatalf("parsePromQL = %+v %v, want %+v %v", q.metrics, q.grouping, tt.metrics, tt.grouping)
			}
		})
	}
	for _, bad := range []string{`sum(x{a="b"`, `x[5m`, `x{a=b}`, `sum by (a (x)`} {
		if _, err := parsePromQL(bad); err == nil {
			t.Errorf("parsePromQL(%q) found no error", bad)
		}
	}
}

package gitops

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

var attrPatterns = []string{
	"*", "*.yaml", "*.bin", "a*", "**/x", "sub/", "/top.yaml", "sub/*.yaml", "sub/**", "[ab]*.md",
	"f?.yaml", `"q a.yaml"`, "!neg.yaml", "*.[ch]", "**/deep/*", "x/**/y.yaml", "*.y[!a]ml", "deep",
	`\*.lit`, "[[:digit:]]*", "*/*.yaml", "sub/deep/**/*.md", "**", "[a-c]?.bin", "***.yaml",
}

var attrSettings = []string{
	"merge", "-merge", "merge=union", "merge=custom", "merge=text", "merge=binary", "binary", "-binary",
	"!merge", "diff", "-diff", "text", "-text", "eol=crlf", "mymacro", "-a=b", "b@d", "merge=",
}

var attrPaths = []string{
	"top.yaml", "a.yaml", "b.md", "x.bin", "sub/x", "sub/a.yaml", "sub/deep/f1.yaml", "sub/deep/y.md",
	"q a.yaml", "deep/x", "other/deep/z.c", "x/y.yaml", "x/a/b/y.yaml", "*.lit", "1.yaml", "ab.bin", "f1.yaml",
	"sub/top.yaml", "neg.yaml", "other/sub/a.yaml",
}

func genAttrFile(rng *rand.Rand, top bool) string {
	var b strings.Builder
	if top && rng.Intn(2) == 0 {
		b.WriteString("[attr]mymacro -merge text\n")
	}
	for n := rng.Intn(6) + 1; n > 0; n-- {
		if rng.Intn(10) == 0 {
			b.WriteString("# a comment\n")
		}
		b.WriteString(pick(rng, attrPatterns))
		for k := rng.Intn(3) + 1; k > 0; k-- {
			b.WriteString(pick(rng, []string{" ", "\t", "  "}) + pick(rng, attrSettings))
		}
		if rng.Intn(8) == 0 {
			b.WriteString("\r")
		}
		b.WriteString("\n")
	}
	if !top && rng.Intn(4) == 0 {
		b.WriteString("[attr]notallowed -merge\n")
	}
	return b.String()
}

// TestAttributesMatchGitCheckAttr checks the parser, the pattern matching
// and the precedence rules against `git check-attr` on random
// .gitattributes files in the top directory and two subdirectories.
func TestAttributesMatchGitCheckAttr(t *testing.T) {
	rng := rand.New(rand.NewSource(int64(envInt("ENSIGN_DIFF_SEED", 11))))
	rounds := envInt("ENSIGN_ATTR_ROUNDS", 40)
	for round := 0; round < rounds; round++ {
		w := newWorkRepo(t)
		files := map[string]string{
			".gitattributes":          genAttrFile(rng, true),
			"sub/.gitattributes":      genAttrFile(rng, false),
			"sub/deep/.gitattributes": genAttrFile(rng, false),
		}
		for p, c := range files {
			w.write(p, c)
		}
		for _, p := range attrPaths {
			w.write(p, "x\n")
		}
		w.commit("attrs")
		head := w.git("rev-parse", "HEAD^{tree}")
		out := w.git(append([]string{"check-attr", "merge", "diff", "text", "eol", "binary", "a", "--"}, attrPaths...)...)

		r := openLocal(t, w.dir)
		objs := newObjectSet(r)
		ar := newAttrReader(objs, objs.tree, hash(head))
		for _, line := range strings.Split(out, "\n") {
			path, rest, _ := strings.Cut(line, ": ")
			name, want, _ := strings.Cut(rest, ": ")
			v, err := ar.lookup(path, name)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := map[string]string{attrTrue: "set", attrFalse: "unset", attrUnset: "unspecified"}[v]
			if !ok {
				got = v
			}
			if got != want {
				t.Errorf("round %d: %s: %s: ensign %q, git %q\nfiles: %q", round, path, name, got, want, files)
			}
		}
	}
}

// openLocal opens an existing repository's .git directory as a cache.
func openLocal(t *testing.T, dir string) *Repo {
	t.Helper()
	r, err := Open(testCtx(t), Options{Dir: dir + "/.git", URL: "http://127.0.0.1:1/unused.git"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestWildmatch(t *testing.T) {
	tests := []struct {
		pattern, text string
		pathname      bool
		want          bool
	}{
		{"*.yaml", "a.yaml", true, true},
		{"*.yaml", "d/a.yaml", true, false},
		{"*.yaml", "d/a.yaml", false, true},
		{"**/x", "x", true, true},
		{"**/x", "a/b/x", true, true},
		{"a/**/b", "a/b", true, true},
		{"a/**/b", "a/x/y/b", true, true},
		{"a/**", "a/x/y", true, true},
		{"a/**", "a", true, false},
		{"a**b", "a/b", true, false},
		{"a*/b", "ax/b", true, true},
		{"a*/b", "a/x/b", true, false},
		{"[!a]*", "b", true, true},
		{"[^a]*", "a", true, false},
		{"[]a]", "]", true, true},
		{"[a-c]", "b", true, true},
		{"[a-]", "-", true, true},
		{"[[:digit:]]x", "1x", true, true},
		{"[[:bogus:]]x", "1x", true, false},
		{`\*`, "*", true, true},
		{`\*`, "a", true, false},
		{"a?c", "a/c", true, false},
		{"a?c", "a/c", false, true},
		{"[a", "a", true, false},
		{"", "", true, true},
		{"x", "", true, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s %s %v", tc.pattern, tc.text, tc.pathname), func(t *testing.T) {
			if got := wildmatch(tc.pattern, tc.text, tc.pathname); got != tc.want {
				t.Errorf("wildmatch(%q, %q, %v) = %v, want %v", tc.pattern, tc.text, tc.pathname, got, tc.want)
			}
		})
	}
}

// FuzzParseAttributes: .gitattributes files come from the repository, i.e.
// from outside; parsing and matching must never panic.
func FuzzParseAttributes(f *testing.F) {
	f.Add([]byte("*.bin binary\n[attr]m -merge\n\"a b\" merge=union\n"), "a b")
	f.Add([]byte("**/x/[!a-c]?* -diff\n"), "d/x/zz")
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		af := parseAttributes(data, true)
		if path == "" {
			return
		}
		for _, r := range af.rules {
			r.matches(path, baseName(path), "")
		}
	})
}

package gitops

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

var trailerCases = []struct {
	name string
	msg  string
	want []Trailer
}{
	{"none", "Title only\n", nil},
	{"title is never trailers", "Key: value\n", nil},
	{"simple", "Title\n\nBody text.\n\nEnsign-Promotion: app/v2\nSigned-off-by: A <a@b>\n",
		[]Trailer{{"Ensign-Promotion", "app/v2"}, {"Signed-off-by", "A <a@b>"}}},
	{"no body", "Title\n\nEnsign-Reverts: abc\n", []Trailer{{"Ensign-Reverts", "abc"}}},
	{"not last paragraph", "Title\n\nKey: v\n\nJust prose.\n", nil},
	{"mixed without git prefix", "Title\n\nKey: v\nprose line\n", nil},
	{"mixed with signed-off-by", "Title\n\nKey: v\nprose line\nSigned-off-by: X\n",
		[]Trailer{{"Key", "v"}, {"Signed-off-by", "X"}}},
	{"continuation", "Title\n\nKey: first\n  second\nOther: x\n", []Trailer{{"Key", "first second"}, {"Other", "x"}}},
	{"trailing blank and comment lines", "Title\n\nKey: v\n\n# comment\n\n", []Trailer{{"Key", "v"}}},
	{"space before colon", "Title\n\nKey : v\n", []Trailer{{"Key", "v"}}},
	{"no trailing newline", "Title\n\nKey: v", []Trailer{{"Key", "v"}}},
	{"a URL line parses as a trailer, as in git", "Title\n\nhttps://example.com/x\n", []Trailer{{"https", "//example.com/x"}}},
	{"empty value", "Title\n\nKey:\n", []Trailer{{"Key", ""}}},
	{"crlf", "Title\r\n\r\nKey: v\r\n", []Trailer{{"Key", "v"}}},
	{"git revert message", "Revert \"x\"\n\nThis reverts commit 0123456789012345678901234567890123456789.\n\nEnsign-Reverts: 0123456789012345678901234567890123456789\n",
		[]Trailer{{"Ensign-Reverts", "0123456789012345678901234567890123456789"}}},
}

func fmtTrailers(ts []Trailer) string {
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "%s: %s\n", t.Key, t.Value)
	}
	return b.String()
}

// gitParse asks git itself to parse a message's trailers.
func gitParse(t *testing.T, msg string) string {
	t.Helper()
	out, err := tryGit(t.TempDir(), []byte(msg), "interpret-trailers", "--parse", "--no-divider")
	if err != nil {
		t.Fatalf("git interpret-trailers: %v", err)
	}
	// git prints "Key: value" per trailer; normalise "Key: " for empty values.
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if l != "" {
			b.WriteString(strings.TrimRight(l, " ") + "\n")
		}
	}
	return b.String()
}

func normalise(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			b.WriteString(strings.TrimRight(l, " ") + "\n")
		}
	}
	return b.String()
}

func TestParseTrailers(t *testing.T) {
	for _, tc := range trailerCases {
		t.Run(tc.name, func(t *testing.T) {
			got := fmtTrailers(ParseTrailers(tc.msg))
			if got != fmtTrailers(tc.want) {
				t.Fatalf("ParseTrailers:\n%s\nwant:\n%s", got, fmtTrailers(tc.want))
			}
			if g := gitParse(t, tc.msg); normalise(got) != g {
				t.Fatalf("git disagrees:\nensign:\n%s\ngit:\n%s", got, g)
			}
		})
	}
}

// TestParseTrailersDifferential compares with git on random messages built
// from trailer-ish and prose lines.
func TestParseTrailersDifferential(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	pieces := []string{"Title", "", "", "Key: v", "Signed-off-by: A <a@b>", "Ensign-Reverts: abc", "  continued", "\tcont",
		"prose here", "# comment", "Key : spaced", "Bad Key: x", ":nokey", "Url: http://x:8080/", "Conflicts:", "\tpath",
		"(cherry picked from commit abc)", "k:v", "-: dash", "   ", "Key:", "x\r"}
	n := envInt("ENSIGN_TRAILER_CASES", 150)
	for i := 0; i < n; i++ {
		var b strings.Builder
		for j := rng.Intn(9) + 1; j > 0; j-- {
			b.WriteString(pieces[rng.Intn(len(pieces))])
			b.WriteString("\n")
		}
		msg := b.String()
		if rng.Intn(4) == 0 {
			msg = strings.TrimSuffix(msg, "\n")
		}
		got := normalise(fmtTrailers(ParseTrailers(msg)))
		if want := gitParse(t, msg); got != want {
			t.Fatalf("message %q:\nensign:\n%s\ngit:\n%s", msg, got, want)
		}
	}
}

func TestAppendTrailers(t *testing.T) {
	cases := []struct{ msg, want string }{
		{"Title", "Title\n\nA: 1\n"},
		{"Title\n\nBody\n", "Title\n\nBody\n\nA: 1\n"},
		{"Title\n\nBody\n\nSigned-off-by: X\n\n", "Title\n\nBody\n\nSigned-off-by: X\nA: 1\n"},
	}
	for _, tc := range cases {
		if got := AppendTrailers(tc.msg, Trailer{"A", "1"}); got != tc.want {
			t.Errorf("AppendTrailers(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

func FuzzParseTrailers(f *testing.F) {
	for _, tc := range trailerCases {
		f.Add(tc.msg)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		ts := ParseTrailers(msg)
		for _, tr := range ts {
			if tr.Key == "" || findSeparator(tr.Key+":") != len(tr.Key) {
				t.Fatalf("bad key %q from %q", tr.Key, msg)
			}
			if strings.ContainsAny(tr.Value, "\n") || tr.Value != trimGitSpace(tr.Value) {
				t.Fatalf("bad value %q from %q", tr.Value, msg)
			}
		}
		// Appending a trailer must make it the last one parsed.
		add := Trailer{Key: "Ensign-Reverts", Value: "0123456789abcdef"}
		out := ParseTrailers(AppendTrailers(msg, add))
		if len(out) == 0 || out[len(out)-1] != add {
			t.Fatalf("appended trailer lost: %q -> %v", AppendTrailers(msg, add), out)
		}
	})
}

package vocab

import (
	"strings"
	"testing"
)

func TestCodeBlockKeepsOutsideTextInert(t *testing.T) {
	hostile := []string{
		"2026-12-02T10:00:00Z Synced: see [docs](http://evil.example) ![x](http://evil.example/p.png) @admin",
		"2026-12-02T10:00:01Z x: ``` closing? ```` and `inline`",
	}
	got := CodeBlock(hostile)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	open, closing := lines[0], lines[len(lines)-1]
	fence := strings.TrimSuffix(open, "text")
	if fence != closing || !strings.HasPrefix(fence, "`````") {
		t.Fatalf("fence %q / %q does not outgrow the text's backtick runs:\n%s", open, closing, got)
	}
	for _, l := range lines[1 : len(lines)-1] {
		if strings.HasPrefix(strings.TrimSpace(l), fence) {
			t.Fatalf("a content line can close the block: %q", l)
		}
	}
}

func TestCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/hold", "`/hold`"},
		{"/hold a`b", "`` /hold a`b ``"},
		{"/hold ``x", "``` /hold ``x ```"},
		{"/hold a\tb", "`/hold a b`"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Code(tt.in); got != tt.want {
				t.Fatalf("Code(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

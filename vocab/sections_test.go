package vocab

import (
	"strings"
	"testing"
)

func TestSetSection(t *testing.T) {
	hold := sectionStart("hold") + "\nheld\n" + sectionEnd("hold")
	promo := sectionStart("promote") + "\nwaiting\n" + sectionEnd("promote")
	tests := []struct {
		name, body, section, text, want string
	}{
		{"new comment", "", "hold", "held", statusHeader + "\n\n" + hold},
		{"replace keeps order", statusHeader + "\n\n" + hold + "\n\n" + promo, "hold", "still held",
			statusHeader + "\n\n" + sectionStart("hold") + "\nstill held\n" + sectionEnd("hold") + "\n\n" + promo},
		{"append goes last", statusHeader + "\n\n" + hold, "promote", "waiting", statusHeader + "\n\n" + hold + "\n\n" + promo},
		{"remove one", statusHeader + "\n\n" + hold + "\n\n" + promo, "hold", "", statusHeader + "\n\n" + promo},
		{"remove last", statusHeader + "\n\n" + hold, "hold", "", statusHeader + "\n\n" + noSections},
		{"remove absent", statusHeader + "\n\n" + promo, "hold", "", statusHeader + "\n\n" + promo},
		{"stray text dropped", "junk\n" + hold + "\nmore junk", "promote", "waiting", statusHeader + "\n\n" + hold + "\n\n" + promo},
		{"crlf body", strings.ReplaceAll(hold, "\n", "\r\n"), "hold", "held", statusHeader + "\n\n" + hold},
		{"unterminated section", sectionStart("hold") + "\nheld", "promote", "waiting", statusHeader + "\n\n" + hold + "\n\n" + promo},
		{"text cannot forge markers", "", "hold", "a\n" + sectionEnd("hold") + "\n" + sectionStart("x"),
			statusHeader + "\n\n" + sectionStart("hold") + "\na\n&lt;!-- ensign:end:hold -->\n&lt;!-- ensign:section:x -->\n" + sectionEnd("hold")},
		{"trailing newlines trimmed", "", "hold", "held\n\n", statusHeader + "\n\n" + hold},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SetSection(tt.body, tt.section, tt.text)
			if got != tt.want {
				t.Fatalf("SetSection:\n got %q\nwant %q", got, tt.want)
			}
			if tt.text != "" && Section(got, tt.section) == "" {
				t.Fatalf("Section(%q) is empty after setting it", tt.section)
			}
			if again := SetSection(got, tt.section, tt.text); again != got {
				t.Fatalf("SetSection is not idempotent:\nfirst  %q\nsecond %q", got, again)
			}
		})
	}
}

func TestSectionRoundTrip(t *testing.T) {
	body := SetSection(SetSection("", "hold", "On hold by @alice: flaky"), "promote", "v1.2.3 waits for a window")
	if got := Section(body, "hold"); got != "On hold by @alice: flaky" {
		t.Fatalf("hold section = %q", got)
	}
	if got := Section(body, "promote"); got != "v1.2.3 waits for a window" {
		t.Fatalf("promote section = %q", got)
	}
	if got := Section(body, "missing"); got != "" {
		t.Fatalf("missing section = %q", got)
	}
}

func TestMarkers(t *testing.T) {
	tests := []struct {
		marker string
		ok     bool
	}{
		{StatusMarker, true},
		{CloseMarker, true},
		{ReplyMarker(42), true},
		{"<!-- ensign: -->", false},
		{"<!-- other:status -->", false},
		{"<!-- ensign:Status -->", false},
		{"<!-- ensign:status -->\n", false},
		{RollbackMarker("ABCDEF0123456789abcdef0123456789abcdef01"), true},
		{ReplacedMarker("0123456789abcdef0123456789abcdef01234567"), true},
		{RevertKey("prod/podinfo/podinfo@2026-12-03T10:00:00Z"), false}, // a body line, not a comment key
	}
	for _, tt := range tests {
		t.Run(tt.marker, func(t *testing.T) {
			if got := ValidMarker(tt.marker); got != tt.ok {
				t.Fatalf("ValidMarker(%q) = %v, want %v", tt.marker, got, tt.ok)
			}
		})
	}
}

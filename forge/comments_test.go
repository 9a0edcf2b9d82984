package forge

import (
	"strings"
	"testing"

	"github.com/ensignbot/ensign/vocab"
)

func TestMarkedText(t *testing.T) {
	tests := []struct {
		name, body, text string
		ok               bool
	}{
		{"marker only", vocab.StatusMarker, "", true},
		{"marker and text", vocab.StatusMarker + "\nhello", "hello", true},
		{"crlf", vocab.StatusMarker + "\r\nhello\r\nworld", "hello\nworld", true},
		{"marker not first", "hi\n" + vocab.StatusMarker, "", false},
		{"longer reply id is another marker", vocab.ReplyMarker(123) + "\nx", "", false},
		{"marker glued to text", vocab.StatusMarker + "x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			marker := vocab.StatusMarker
			if strings.Contains(tt.body, "reply") {
				marker = vocab.ReplyMarker(12)
			}
			text, ok := markedText(tt.body, marker)
			if ok != tt.ok || text != tt.text {
				t.Fatalf("markedText = %q, %v; want %q, %v", text, ok, tt.text, tt.ok)
			}
		})
	}
}

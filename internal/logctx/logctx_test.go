package logctx

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestFromReturnsTheEventsLogger(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, nil))
	if From(context.Background(), base) != base {
		t.Fatal("a context without a logger must give the fallback")
	}
	ctx := With(context.Background(), base.With("delivery", "d-1", "comment", 42))
	From(ctx, base).Info("handled")
	if out := buf.String(); !strings.Contains(out, "delivery=d-1") || !strings.Contains(out, "comment=42") {
		t.Fatalf("the line lacks the event's identity: %s", out)
	}
}

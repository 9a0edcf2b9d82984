package command

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"github.com/ensignbot/ensign/webhook"
)

var benchSecret = []byte("bench-secret")

func benchPayload(b *testing.B) []byte {
	b.Helper()
	body, err := os.ReadFile("../webhook/testdata/pull_request_comment.json")
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkVerifyDecodeParse is the synchronous work per comment delivery:
// signature check, payload decode and command parse of a pull request
// comment captured from Gitea (about 15 KB).
func BenchmarkVerifyDecodeParse(b *testing.B) {
	body := benchPayload(b)
	sig := webhook.Sign(benchSecret, body)
	steps := []struct {
		name string
		run  func(b *testing.B)
	}{
		{"all", func(b *testing.B) {
			if err := webhook.Verify(benchSecret, body, sig); err != nil {
				b.Fatal(err)
			}
			ev, ok, err := webhook.DecodeComment("d", body)
			if err != nil || !ok {
				b.Fatal(ok, err)
			}
			if cmds := Parse(ev.Body); len(cmds) != 1 {
				b.Fatalf("%d commands", len(cmds))
			}
		}},
		{"verify", func(b *testing.B) {
			if err := webhook.Verify(benchSecret, body, sig); err != nil {
				b.Fatal(err)
			}
		}},
		{"decode", func(b *testing.B) {
			if _, ok, err := webhook.DecodeComment("d", body); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}},
	}
	for _, step := range steps {
		b.Run(step.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				step.run(b)
			}
		})
	}
}

// BenchmarkReceive is one delivery through the receiver's HTTP handler up to
// the 202, plus the queued parse on a worker: routing, body read, signature,
// decode, replay check and hand-off.
func BenchmarkReceive(b *testing.B) {
	body := benchPayload(b)
	sig := webhook.Sign(benchSecret, body)
	done := make(chan struct{}, 1024)
	s, err := webhook.New(webhook.Config{
		Secret: benchSecret, BotLogin: "ensign", QueueSize: 1024,
		Handlers: webhook.Handlers{Comment: func(ctx context.Context, ev webhook.CommentEvent) error {
			Parse(ev.Body)
			done <- struct{}{}
			return nil
		}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("X-Gitea-Event", "issue_comment")
	header.Set("X-Gitea-Signature", sig)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		req := httptest.NewRequest(http.MethodPost, webhook.Path, bytes.NewReader(body))
		req.Header = header.Clone()
		req.Header.Set("X-Gitea-Delivery", "bench-"+strconv.Itoa(i))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		<-done
	}
}

// BenchmarkParse is the command parser alone on a long comment with code,
// quotes and several commands.
func BenchmarkParse(b *testing.B) {
	body := "Looks fine, but:\n\n> /hold from the last review\n\n```\n/hold\n```\n" +
		"/hold waiting for QA\n/status\nThanks!\n"
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if cmds := Parse(body); len(cmds) != 2 {
			b.Fatalf("%d commands", len(cmds))
		}
	}
}

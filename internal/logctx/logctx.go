// Package logctx carries the logger of one event (a webhook delivery, a
// comment, a canary result) in its context, so that every log line written
// while handling the event names it, whichever package writes the line.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns ctx carrying log.
func With(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, key{}, log)
}

// From returns the logger ctx carries, or fallback when it carries none.
func From(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if log, ok := ctx.Value(key{}).(*slog.Logger); ok && log != nil {
		return log
	}
	return fallback
}

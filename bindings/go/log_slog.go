// SPDX-License-Identifier: MIT

//go:build go1.21

package jr

import (
	"context"
	"log/slog"
)

// Logger is the type of Options.Logger: a *slog.Logger. (Built with a Go
// older than 1.21, which has no log/slog, it is a type of this package that
// only nil can take.)
type Logger = *slog.Logger

// newLogSink turns libjr's log lines into records of l, at the slog level
// of libjr's (error, warn, info, debug), with the attributes "endpoint"
// (an endpoint, or a component: "cluster", "pubsub", "pool", "monitor",
// "sentinel") and "event" (Event.String). It runs on the dispatcher
// goroutine, never on libjr's loop thread.
func newLogSink(l *slog.Logger) func(level int, ev Event, endpoint, text string) {
	if l == nil {
		return nil
	}
	return func(level int, ev Event, endpoint, text string) {
		lv := slogLevel(level)
		ctx := context.Background()
		if !l.Enabled(ctx, lv) {
			return
		}
		l.LogAttrs(ctx, lv, text, slog.String("endpoint", endpoint), slog.String("event", ev.String()))
	}
}

// slogLevel maps a libjr level (JR_LOG_*) to slog's.
func slogLevel(level int) slog.Level {
	switch level {
	case logError:
		return slog.LevelError
	case logWarn:
		return slog.LevelWarn
	case logInfo:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

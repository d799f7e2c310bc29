// SPDX-License-Identifier: MIT

//go:build !go1.21

package jr

// Logger is the type of Options.Logger: with Go >= 1.21 a *slog.Logger.
// This Go has no log/slog, so it is a type only nil can take (no logging).
type Logger = *noSlog

type noSlog struct{}

func newLogSink(*noSlog) func(level int, ev Event, endpoint, text string) { return nil }

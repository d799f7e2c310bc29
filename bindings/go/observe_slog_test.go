// SPDX-License-Identifier: MIT

//go:build go1.21

package jr_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	jr "github.com/libjr/libjr/bindings/go"
)

type record struct {
	level    slog.Level
	msg      string
	endpoint string
	event    string
}

// captureHandler keeps every record; block (if set) holds each Handle until
// it is closed.
type captureHandler struct {
	mu    sync.Mutex
	recs  []record
	level slog.Level
	block chan struct{}
}

func (h *captureHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *captureHandler) WithGroup(string) slog.Handler                { return h }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	if h.block != nil {
		<-h.block
	}
	rec := record{level: r.Level, msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "endpoint":
			rec.endpoint = a.Value.String()
		case "event":
			rec.event = a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, rec)
	h.mu.Unlock()
	return nil
}

func (h *captureHandler) records() []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]record(nil), h.recs...)
}

func waitRecord(t *testing.T, h *captureHandler, what string, ok func(record) bool) record {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, r := range h.records() {
			if ok(r) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log record %s in %+v", what, h.records())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// libjr's levels arrive as slog's: a connect is Info, a refused attempt
// Warn, giving up Error, an attempt's start Debug; each with its endpoint.
func TestLoggerGetsLibjrLevelsAsSlogLevels(t *testing.T) {
	h := &captureHandler{level: slog.LevelDebug}
	c := newClient(t, func(o *jr.Options) { o.Logger = slog.New(h) })
	must(t)(c.Do(bg, "PING"))
	waitRecord(t, h, "Info: connected to "+endpoint, func(r record) bool {
		return r.level == slog.LevelInfo && r.endpoint == endpoint && r.event == "connected"
	})
	waitRecord(t, h, "Debug on "+endpoint, func(r record) bool {
		return r.level == slog.LevelDebug && r.endpoint == endpoint
	})

	dead := deadEndpoint(t)
	hd := &captureHandler{level: slog.LevelWarn} // Info and Debug are not enabled
	d := newClient(t, func(o *jr.Options) {
		o.Endpoints, o.ConnectRetries, o.Logger = []string{dead}, -1, slog.New(hd)
	})
	if _, err := d.Do(bg, "PING"); err == nil {
		t.Fatal("PING to a dead endpoint succeeded")
	}
	waitRecord(t, hd, "Warn: the refused attempt", func(r record) bool {
		return r.level == slog.LevelWarn && r.endpoint == dead && strings.Contains(r.msg, "ECONNREFUSED")
	})
	waitRecord(t, hd, "Error: retries used up", func(r record) bool {
		return r.level == slog.LevelError && r.endpoint == dead
	})
	for _, r := range hd.records() {
		if r.level < slog.LevelWarn {
			t.Fatalf("a record below the handler's level: %+v", r)
		}
	}
}

// A Logger whose handler blocks holds up neither libjr's loop nor the
// completions: commands and a reconnect go on, and the lines arrive once
// it returns.
func TestBlockedLoggerBlocksNothing(t *testing.T) {
	h := &captureHandler{level: slog.LevelDebug, block: make(chan struct{})}
	c := newClient(t, func(o *jr.Options) { o.Logger = slog.New(h) })
	other := newClient(t)
	for round := 0; round < 3; round++ {
		id := must(t)(c.Do(bg, "CLIENT", "ID")).Int
		must(t)(other.Do(bg, "CLIENT", "KILL", "ID", id))
		waitStats(t, c, "the disconnect", func(s jr.Stats) bool { return s.Disconnects == uint64(round+1) })
		ctx, cancel := context.WithTimeout(bg, 2*time.Second)
		for i := 0; i < 100; i++ {
			if _, err := c.Do(ctx, "PING"); err != nil {
				t.Fatalf("PING while the Logger is blocked: %v", err)
			}
		}
		cancel()
	}
	if n := len(h.records()); n != 0 {
		t.Fatalf("%d records while blocked", n)
	}
	// Nor does Close wait for it.
	extra, err := jr.NewClient(&jr.Options{Endpoints: []string{endpoint}, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	must(t)(extra.Do(bg, "PING"))
	closed := make(chan struct{})
	go func() { extra.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for a blocked Logger")
	}
	close(h.block)
	waitRecord(t, h, "the third connect", func(r record) bool { return r.event == "connected" })
	connected := 0
	deadline := time.Now().Add(5 * time.Second)
	for connected < 5 && time.Now().Before(deadline) {
		connected = 0
		for _, r := range h.records() {
			if r.event == "connected" && r.endpoint == endpoint {
				connected++
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	// 4 from c (3 kills), 1 from extra: the lines queued before its Close
	// are still written.
	if connected != 5 {
		t.Fatalf("%d connected records after 3 kills and one more client, want 5: %+v", connected,
			h.records())
	}
}

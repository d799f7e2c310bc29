// SPDX-License-Identifier: MIT

package jr_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	jr "github.com/libjr/libjr/bindings/go"
)

// A missing key is jr.Nil on the typed helpers (go-redis's redis.Nil), and
// still Reply{Kind: KindNil} with a nil error on Do.
func TestNilSentinelOnTypedHelpers(t *testing.T) {
	c := newClient(t)
	if _, err := c.Del(bg, "go:nil:k", "go:nil:h", "go:nil:l"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(bg, "go:nil:k"); err != jr.Nil || !errors.Is(err, jr.Nil) || v != "" {
		t.Fatalf("Get of a missing key: %q, %v; want jr.Nil", v, err)
	}
	if b, err := c.GetBytes(bg, "go:nil:k"); err != jr.Nil || b != nil {
		t.Fatalf("GetBytes of a missing key: %q, %v", b, err)
	}
	if r, err := c.Do(bg, "GET", "go:nil:k"); err != nil || r.Kind != jr.KindNil {
		t.Fatalf("Do GET of a missing key: %v, %v; want KindNil and no error", r, err)
	}
	if err := c.Set(bg, "go:nil:k", "v1", 0); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(bg, "go:nil:k"); err != nil || v != "v1" {
		t.Fatalf("Get: %q, %v", v, err)
	}
	if ok, err := c.SetNX(bg, "go:nil:k", "v2", time.Minute); ok || err != nil {
		t.Fatalf("SetNX on an existing key: %v, %v", ok, err)
	}
	if err := c.Set(bg, "go:nil:k", "v3", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if ttl := must(t)(c.Do(bg, "PTTL", "go:nil:k")).Int; ttl <= 0 || ttl > 10000 {
		t.Fatalf("PTTL after Set with 10 s: %d", ttl)
	}
	if n, err := c.HSet(bg, "go:nil:h", "f1", "a", "f2", 2); n != 2 || err != nil {
		t.Fatalf("HSet: %d, %v", n, err)
	}
	if v, err := c.HGet(bg, "go:nil:h", "f2"); v != "2" || err != nil {
		t.Fatalf("HGet: %q, %v", v, err)
	}
	if _, err := c.HGet(bg, "go:nil:h", "nope"); err != jr.Nil {
		t.Fatalf("HGet of a missing field: %v", err)
	}
	if m, err := c.HGetAll(bg, "go:nil:h"); err != nil || len(m) != 2 || m["f1"] != "a" {
		t.Fatalf("HGetAll: %v, %v", m, err)
	}
	if m, err := c.HGetAll(bg, "go:nil:none"); err != nil || len(m) != 0 {
		t.Fatalf("HGetAll of a missing key: %v, %v", m, err)
	}
	if _, err := c.LPop(bg, "go:nil:l"); err != jr.Nil {
		t.Fatalf("LPop of an empty list: %v", err)
	}
	if n, err := c.RPush(bg, "go:nil:l", "x", "y"); n != 2 || err != nil {
		t.Fatalf("RPush: %d, %v", n, err)
	}
	if v, err := c.LPop(bg, "go:nil:l"); v != "x" || err != nil {
		t.Fatalf("LPop: %q, %v", v, err)
	}
	if n, err := c.Incr(bg, "go:nil:n"); n != 1 || err != nil {
		t.Fatalf("Incr: %d, %v", n, err)
	}
	if n, err := c.Exists(bg, "go:nil:n", "go:nil:k", "go:nil:none"); n != 2 || err != nil {
		t.Fatalf("Exists: %d, %v", n, err)
	}
	if n, err := c.Del(bg, "go:nil:k", "go:nil:h", "go:nil:l", "go:nil:n"); n != 4 || err != nil {
		t.Fatalf("Del: %d, %v", n, err)
	}
	// A helper on the wrong type: the server's WRONGTYPE, not Nil.
	must(t)(c.Do(bg, "RPUSH", "go:nil:l", "z"))
	if _, err := c.Get(bg, "go:nil:l"); !errors.Is(err, jr.ErrServer) || errors.Is(err, jr.Nil) {
		t.Fatalf("Get of a list: %v", err)
	}
	if _, err := c.Incr(bg, "go:nil:l"); err == nil {
		t.Fatal("Incr of a list succeeded")
	}
}

// errors.Is against the classes, errors.As into the types, whatever code
// libjr gave.
func TestErrorClasses(t *testing.T) {
	c := newClient(t)
	done := make(chan error, 1)
	if _, err := c.SubmitTimeout(20*time.Millisecond, func(_ jr.Reply, err error) { done <- err },
		"DEBUG", "SLEEP", "0.1"); err != nil {
		t.Fatal(err)
	}
	err := <-done
	var timeout interface{ Timeout() bool }
	if !errors.Is(err, jr.ErrTimeout) || !errors.Is(err, jr.ErrTimedOut) ||
		errors.Is(err, jr.ErrConnection) || !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Fatalf("a libjr deadline: %v", err)
	}
	ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
	_, err = c.Do(ctx, "DEBUG", "SLEEP", "0.1")
	cancel()
	if !errors.Is(err, jr.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a context deadline: %v", err)
	}
	ctx, cancel = context.WithCancel(bg)
	cancel()
	if _, err = c.Do(ctx, "PING"); errors.Is(err, jr.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled context: %v", err)
	}
	_, err = c.Do(bg, "NO-SUCH-COMMAND")
	var se *jr.ServerError
	if !errors.Is(err, jr.ErrServer) || !errors.As(err, &se) || se.Prefix() != "ERR" ||
		errors.Is(err, jr.ErrConnection) || errors.Is(err, jr.ErrTimeout) {
		t.Fatalf("a server error: %v", err)
	}
	dead := newClient(t, func(o *jr.Options) {
		o.Endpoints, o.ConnectRetries = []string{deadEndpoint(t)}, -1
	})
	_, err = dead.Do(bg, "PING")
	var le *jr.Error
	if !errors.Is(err, jr.ErrConnection) || errors.Is(err, jr.ErrTimeout) || errors.Is(err, jr.ErrServer) ||
		!errors.As(err, &le) || le.Timeout() || !le.Unsent() {
		t.Fatalf("a refused connect: %v", err)
	}
}

// No error text names a C function: the codes' texts and the refusals'
// advice are in this package's terms.
func TestErrorTextsNameGoAPI(t *testing.T) {
	for code := -1; ; code-- {
		e := &jr.Error{Code: code}
		if e.Name() == "JR_E?" {
			if code > -20 {
				t.Fatalf("only %d codes", -code-1)
			}
			break
		}
		if strings.Contains(e.Error(), "jr_") {
			t.Errorf("code %d: %q names a C function", code, e.Error())
		}
	}
	refused := []string{"SELECT", "QUIT", "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SUBSCRIBE",
		"PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "MONITOR", "HELLO", "RESET", "SYNC", "PSYNC"}
	for _, name := range refused {
		why := jr.RefusalReason(name)
		if why == "" {
			t.Errorf("%s is not refused", name)
		}
		if strings.Contains(why, "jr_") || strings.Contains(why, " handle") || strings.Contains(why, `"`) {
			t.Errorf("%s: %q reads as the C API", name, why)
		}
	}
	c := newClient(t)
	_, err := c.Do(bg, "SELECT", "1")
	if !errors.Is(err, jr.ErrRefused) || !strings.Contains(err.Error(), "Client.DB(n)") {
		t.Fatalf("SELECT: %v", err)
	}
	tx, err := c.Multi()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Discard()
	if err := tx.Queue("WATCH", "k"); !errors.Is(err, jr.ErrRefused) ||
		!strings.Contains(err.Error(), "Client.Watch") {
		t.Fatalf("WATCH in a transaction: %v", err)
	}
}

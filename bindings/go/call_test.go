// SPDX-License-Identifier: MIT

package jr

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func callClient(tb testing.TB, settings map[string]string) *Client {
	tb.Helper()
	c, err := NewClient(&Options{Endpoints: []string{os.Getenv("JR_TEST_ENDPOINT")},
		LoopDelivery: os.Getenv("JR_TEST_LOOP_DELIVERY") == "1", Settings: settings})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// inC runs f and says how many Do calls waited in C meanwhile.
func inC(f func()) int64 {
	n := atomic.LoadInt64(&callsInC)
	f()
	return atomic.LoadInt64(&callsInC) - n
}

// A Do alone with a context that cannot be cancelled waits for its reply
// in C (jr_client_call); every reply type and error comes back as on the
// channel path. A cancellable context, and the commands that may block on
// the server, keep to the channel path.
func TestDoAloneWaitsInC(t *testing.T) {
	c := callClient(t, nil)
	ctx := context.Background()
	long := strings.Repeat("v", 100) // past the inline size: the reply is kept
	n := inC(func() {
		if r, err := c.Do(ctx, "SET", "go:call", long); err != nil || r.Text() != "OK" {
			t.Fatalf("SET: %v %v", r, err)
		}
		if r, err := c.Do(ctx, "GET", "go:call"); err != nil || r.Text() != long {
			t.Fatalf("GET: %v %v", r, err)
		}
		if r, err := c.Do(ctx, "GET", "go:call:missing"); err != nil || !r.IsNil() {
			t.Fatalf("GET missing: %v %v", r, err)
		}
		c.Do(ctx, "DEL", "go:call:l")
		if r, err := c.Do(ctx, "RPUSH", "go:call:l", "a", "b"); err != nil || r.Int != 2 {
			t.Fatalf("RPUSH: %v %v", r, err)
		}
		if r, err := c.Do(ctx, "LRANGE", "go:call:l", 0, -1); err != nil || r.String() != "[a b]" {
			t.Fatalf("LRANGE: %v %v", r, err)
		}
		var se *ServerError
		if _, err := c.Do(ctx, "NOSUCHCOMMAND"); !errors.As(err, &se) {
			t.Fatalf("server error: %v", err)
		}
		if _, err := c.Do(ctx, "SUBSCRIBE", "x"); !errors.Is(err, ErrRefused) {
			t.Fatalf("refused: %v", err)
		}
		if _, err := c.Do(ctx, "DEBUG", "SLEEP", "0.3"); err != nil {
			t.Fatal(err)
		}
	})
	if n != 9 {
		t.Fatalf("%d of 9 Do calls waited in C", n)
	}
	db, err := c.DB(3)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := inC(func() {
		if _, err := db.Do(ctx, "SET", "go:call:db", "3"); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Fatalf("a database view's Do: %d in C", n)
	}
	if r, err := c.Do(ctx, "GET", "go:call:db"); err != nil || !r.IsNil() {
		t.Fatalf("database 0 sees database 3's key: %v %v", r, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if n := inC(func() {
		if _, err := c.Do(cctx, "PING"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Do(ctx, "BLPOP", "go:call:none", "0.01"); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("a cancellable context or a blocking command: %d in C", n)
	}
	c.Close()
	if _, err := c.Do(ctx, "PING"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// Close waits for a Do that waits in C (it holds the client), which then
// gets its reply; it does not wait for a blocking command, which never
// waits in C: that Do completes with ErrShutdown at once.
func TestCloseAndADoInC(t *testing.T) {
	c := callClient(t, nil)
	ctx := context.Background()
	slow := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, "DEBUG", "SLEEP", "0.2")
		slow <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	if err := <-slow; err != nil {
		t.Fatalf("the Do that Close waited for: %v", err)
	}

	c = callClient(t, nil)
	if _, err := c.Do(ctx, "DEL", "go:call:none"); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, "BLPOP", "go:call:none", 0)
		blocked <- err
	}()
	time.Sleep(100 * time.Millisecond)
	closed := make(chan struct{})
	go func() {
		c.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		// Unblock it (a hung test would report nothing).
		if _, err := callClient(t, nil).Do(ctx, "LPUSH", "go:call:none", "x"); err != nil {
			t.Error(err)
		}
		<-closed
		t.Fatal("Close waits for BLPOP 0")
	}
	if err := <-blocked; !errors.Is(err, ErrShutdown) {
		t.Fatalf("BLPOP at Close: %v", err)
	}
}

// One Do after another at max_queued 1 always finds room: the finished one
// left the queue limits before its Do returned.
func TestSequentialDoAtMaxQueuedOne(t *testing.T) {
	c := callClient(t, map[string]string{"max_queued": "1"})
	for i := 0; i < 3000; i++ {
		if _, err := c.Do(context.Background(), "PING"); err != nil {
			t.Fatalf("Do %d: %v", i, err)
		}
	}
}

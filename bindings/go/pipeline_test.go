// SPDX-License-Identifier: MIT

package jr_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	jr "github.com/libjr/libjr/bindings/go"
)

func TestDoMultiRunsInOrder(t *testing.T) {
	c := newClient(t)
	must(t)(c.Do(bg, "DEL", "go:pipe:n", "go:pipe:l"))
	const n = 300
	cmds := make([][]interface{}, 0, 2*n)
	for i := 0; i < n; i++ {
		cmds = append(cmds, []interface{}{"INCR", "go:pipe:n"}, []interface{}{"RPUSH", "go:pipe:l", i})
	}
	replies, errs := c.DoMulti(bg, cmds...)
	if len(replies) != 2*n || len(errs) != 2*n {
		t.Fatalf("%d replies, %d errors", len(replies), len(errs))
	}
	for i := 0; i < n; i++ {
		for k := 0; k < 2; k++ {
			if errs[2*i+k] != nil {
				t.Fatalf("command %d: %v", 2*i+k, errs[2*i+k])
			}
			if r := replies[2*i+k]; r.Kind != jr.KindInteger || r.Int != int64(i+1) {
				t.Fatalf("command %d: %v, want %d", 2*i+k, r, i+1)
			}
		}
	}
	r := must(t)(c.Do(bg, "LRANGE", "go:pipe:l", 0, -1))
	if len(r.Array) != n {
		t.Fatalf("LRANGE: %d items", len(r.Array))
	}
	for i, e := range r.Array {
		if e.Text() != fmt.Sprint(i) {
			t.Fatalf("item %d: %q", i, e.Text())
		}
	}
	// Nothing to do: empty results.
	if replies, errs := c.DoMulti(bg); len(replies) != 0 || len(errs) != 0 {
		t.Fatal("DoMulti()")
	}
}

// A refused command, bad arguments and a server error in the middle get
// their own errors; the others still run, in order.
func TestDoMultiRefusedInTheMiddle(t *testing.T) {
	c := newClient(t)
	replies, errs := c.DoMulti(bg,
		[]interface{}{"SET", "go:pipe:r", "a"},
		[]interface{}{"SELECT", 1}, // refused: libjr routes databases itself
		[]interface{}{"APPEND", "go:pipe:r", "b"},
		[]interface{}{},                                  // empty
		[]interface{}{"APPEND", "go:pipe:r", struct{}{}}, // unsupported argument
		[]interface{}{"INCR", "go:pipe:r"},               // not an integer: server error
		[]interface{}{"SUBSCRIBE", "x"},                  // refused
		[]interface{}{"GET", "go:pipe:r"})
	if errs[0] != nil || replies[0].Text() != "OK" {
		t.Fatalf("SET: %v %v", replies[0], errs[0])
	}
	for _, i := range []int{1, 6} {
		if !errors.Is(errs[i], jr.ErrRefused) || replies[i].Kind != 0 {
			t.Fatalf("command %d: %v %v", i, replies[i], errs[i])
		}
	}
	if errs[2] != nil || replies[2].Int != 2 {
		t.Fatalf("APPEND: %v %v", replies[2], errs[2])
	}
	for _, i := range []int{3, 4} {
		if !errors.Is(errs[i], jr.ErrInvalid) {
			t.Fatalf("command %d: %v", i, errs[i])
		}
	}
	var se *jr.ServerError
	if !errors.As(errs[5], &se) {
		t.Fatalf("INCR: %v", errs[5])
	}
	if errs[7] != nil || replies[7].Text() != "ab" {
		t.Fatalf("GET: %v %v", replies[7], errs[7])
	}
	// All refused: nothing is sent, nothing to wait for.
	_, errs = c.DoMulti(bg, []interface{}{"SELECT", 1}, []interface{}{"MULTI"})
	if !errors.Is(errs[0], jr.ErrRefused) || !errors.Is(errs[1], jr.ErrRefused) {
		t.Fatal(errs)
	}
}

func TestDoMultiOnDatabaseViews(t *testing.T) {
	c := newClient(t)
	db7, err := c.DB(7)
	if err != nil {
		t.Fatal(err)
	}
	must(t)(c.Do(bg, "DEL", "go:pipe:db"))
	replies, errs := db7.DoMulti(bg,
		[]interface{}{"SET", "go:pipe:db", "seven"},
		[]interface{}{"GET", "go:pipe:db"})
	if errs[0] != nil || errs[1] != nil || replies[1].Text() != "seven" {
		t.Fatal(replies, errs)
	}
	// Interleaved with the default database on the one connection.
	replies, errs = c.DoMulti(bg, []interface{}{"GET", "go:pipe:db"})
	if errs[0] != nil || !replies[0].IsNil() {
		t.Fatalf("db 0: %v %v", replies[0], errs[0])
	}
	db7.Close()
	if _, errs := db7.DoMulti(bg, []interface{}{"PING"}); !errors.Is(errs[0], jr.ErrClosed) {
		t.Fatalf("closed view: %v", errs[0])
	}
}

// Concurrent pipelines (and Do calls) each keep their order.
func TestDoMultiConcurrent(t *testing.T) {
	c := newClient(t)
	inGoroutines(8, func(g int) {
		key := fmt.Sprintf("go:pipe:c%d", g)
		c.Do(bg, "DEL", key)
		for round := 0; round < 20; round++ {
			cmds := make([][]interface{}, 50)
			for i := range cmds {
				cmds[i] = []interface{}{"INCR", key}
			}
			replies, errs := c.DoMulti(bg, cmds...)
			for i := range cmds {
				if errs[i] != nil || replies[i].Int != int64(round*50+i+1) {
					t.Errorf("goroutine %d round %d command %d: %v %v", g, round, i, replies[i], errs[i])
					return
				}
			}
			if _, err := c.Do(bg, "PING"); err != nil {
				t.Error(err)
				return
			}
		}
	})
}

// Cancelling the context cancels the commands that have not completed;
// DoMulti returns once each has completed exactly once.
func TestDoMultiContextCancel(t *testing.T) {
	c := newClient(t)
	must(t)(c.Do(bg, "DEL", "go:pipe:x"))
	ctx, slow := busyThenCancel(c)
	cmds := make([][]interface{}, 100)
	for i := range cmds {
		cmds[i] = []interface{}{"INCR", "go:pipe:x"}
	}
	start := time.Now()
	replies, errs := c.DoMulti(ctx, cmds...)
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Fatalf("took %v", d)
	}
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) || !(errors.Is(err, jr.ErrCanceled) || errors.Is(err, jr.ErrAbandoned)) {
			t.Fatalf("command %d: %v %v", i, replies[i], err)
		}
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	// An already-done context sends nothing.
	_, errs = c.DoMulti(ctx, []interface{}{"INCR", "go:pipe:x"})
	if !errors.Is(errs[0], context.Canceled) || !jr.IsUnsent(errs[0]) {
		t.Fatalf("done context: %v", errs[0])
	}
	// The connection is still fine.
	if r := must(t)(c.Do(bg, "PING")); r.Text() != "PONG" {
		t.Fatal(r)
	}
}

// A deadline that expires in the middle of a long pipeline: each command
// completes once, with its reply or a cancel error matching the deadline.
func TestDoMultiDeadlineCompletesEachOnce(t *testing.T) {
	c := newClient(t)
	for round := 0; round < 20; round++ {
		ctx, cancel := context.WithTimeout(bg, time.Duration(round%5)*100*time.Microsecond)
		cmds := make([][]interface{}, 200)
		for i := range cmds {
			cmds[i] = []interface{}{"PING", i}
		}
		replies, errs := c.DoMulti(ctx, cmds...)
		cancel()
		for i := range cmds {
			if errs[i] == nil {
				if replies[i].Text() != fmt.Sprint(i) {
					t.Fatalf("command %d: %v", i, replies[i])
				}
			} else if !errors.Is(errs[i], context.DeadlineExceeded) {
				t.Fatalf("command %d: %v", i, errs[i])
			}
		}
	}
}

func TestDoMultiMisuseAndClosed(t *testing.T) {
	c, err := jr.NewClient(&jr.Options{Endpoints: []string{endpoint}, LoopDelivery: loopDelivery})
	if err != nil {
		t.Fatal(err)
	}
	if loopDelivery {
		// On the loop thread waiting would deadlock: refused. (On the
		// dispatcher goroutine it deadlocks, as Do does: documented.)
		got := make(chan error, 1)
		c.Submit(func(jr.Reply, error) {
			_, errs := c.DoMulti(bg, []interface{}{"PING"})
			got <- errs[0]
		}, "PING")
		if err := <-got; !errors.Is(err, jr.ErrMisuse) {
			t.Fatalf("from a callback: %v", err)
		}
	}
	// Close completes a pending pipeline.
	c.Submit(func(jr.Reply, error) {}, "DEBUG", "SLEEP", "0.2")
	done := make(chan []error, 1)
	go func() {
		_, errs := c.DoMulti(bg, []interface{}{"PING"}, []interface{}{"PING"})
		done <- errs
	}()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	for _, err := range <-done {
		if err != nil && !errors.Is(err, jr.ErrShutdown) && !errors.Is(err, jr.ErrClosed) {
			t.Fatal(err)
		}
	}
	if _, errs := c.DoMulti(bg, []interface{}{"PING"}); !errors.Is(errs[0], jr.ErrClosed) {
		t.Fatalf("after Close: %v", errs[0])
	}
}

// SPDX-License-Identifier: MIT

package jr_test

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jr "github.com/libjr/libjr/bindings/go"
)

func TestTransactionQueuesAndExecs(t *testing.T) {
	c := newClient(t)
	must(t)(c.Do(bg, "DEL", "go:tx:n", "go:tx:s"))
	tx, err := c.Multi()
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]interface{}{
		{"INCR", "go:tx:n"},
		{"SET", "go:tx:s", "v"},
		{"LPUSH", "go:tx:s", "x"}, // WRONGTYPE at run time
		{"GET", "go:tx:s"},
	} {
		if err := tx.Queue(cmd...); err != nil {
			t.Fatal(err)
		}
	}
	res, err := tx.Exec(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 || res[0].Reply.Int != 1 || res[1].Reply.Text() != "OK" || res[3].Reply.Text() != "v" {
		t.Fatalf("results: %+v", res)
	}
	var se *jr.ServerError
	if !errors.As(res[2].Err, &se) || se.Prefix() != "WRONGTYPE" {
		t.Fatalf("run-time error: %v", res[2].Err)
	}
	if _, err := tx.Exec(bg); !errors.Is(err, jr.ErrClosed) {
		t.Fatalf("second Exec: %v", err)
	}
}

func TestTransactionRefusesAndAborts(t *testing.T) {
	c := newClient(t)
	tx, _ := c.Multi()
	if err := tx.Queue("WATCH", "k"); !errors.Is(err, jr.ErrRefused) {
		t.Fatalf("WATCH in a transaction: %v", err)
	}
	tx.Queue("SET", "go:tx:abort", "1")
	tx.Queue("NOSUCHCOMMAND")
	res, err := tx.Exec(bg)
	var se *jr.ServerError
	if !errors.As(err, &se) || se.Prefix() != "EXECABORT" {
		t.Fatalf("want EXECABORT, got %v", err)
	}
	if !errors.As(res[0].Err, &se) || se.Prefix() != "EXECABORT" {
		t.Fatalf("queued command: %v", res[0].Err)
	}
	if !errors.As(res[1].Err, &se) {
		t.Fatalf("rejected command: %v", res[1].Err)
	}
	if r := must(t)(c.Do(bg, "GET", "go:tx:abort")); !r.IsNil() {
		t.Fatal(r)
	}
}

func TestTransactionDiscardAndInADatabase(t *testing.T) {
	c := newClient(t)
	tx, _ := c.Multi()
	tx.Queue("SET", "go:tx:d", "1")
	tx.Discard()
	if _, err := tx.Exec(bg); !errors.Is(err, jr.ErrClosed) {
		t.Fatalf("Exec after Discard: %v", err)
	}
	if r := must(t)(c.Do(bg, "GET", "go:tx:d")); !r.IsNil() {
		t.Fatal(r)
	}
	db, _ := c.DB(7)
	tx, err := db.Multi()
	if err != nil {
		t.Fatal(err)
	}
	tx.Queue("SET", "go:tx:db", "seven")
	if _, err := tx.Exec(bg); err != nil {
		t.Fatal(err)
	}
	if r := must(t)(db.Do(bg, "GET", "go:tx:db")); r.Text() != "seven" {
		t.Fatal(r)
	}
	if r := must(t)(c.Do(bg, "GET", "go:tx:db")); !r.IsNil() {
		t.Fatal(r)
	}
}

func TestWatchCommitsOrFailsWithErrWatch(t *testing.T) {
	c := newClient(t)
	must(t)(c.Do(bg, "SET", "go:w", "10"))
	w, err := c.Watch("go:w")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := strconv.Atoi(must(t)(w.Do(bg, "GET", "go:w")).Text())
	tx, err := w.Multi()
	if err != nil {
		t.Fatal(err)
	}
	tx.Queue("SET", "go:w", v+1)
	if _, err := tx.Exec(bg); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Multi(); !errors.Is(err, jr.ErrMisuse) {
		t.Fatalf("second Multi: %v", err)
	}
	w.Close()
	if r := must(t)(c.Do(bg, "GET", "go:w")); r.Text() != "11" {
		t.Fatal(r)
	}

	w, _ = c.Watch("go:w")
	defer w.Close()
	must(t)(w.Do(bg, "GET", "go:w"))
	must(t)(c.Do(bg, "SET", "go:w", "changed"))
	tx, _ = w.Multi()
	tx.Queue("SET", "go:w", "12")
	res, err := tx.Exec(bg)
	if !errors.Is(err, jr.ErrWatch) || !errors.Is(res[0].Err, jr.ErrWatch) {
		t.Fatalf("want ErrWatch, got %v / %+v", err, res)
	}
	if r := must(t)(c.Do(bg, "GET", "go:w")); r.Text() != "changed" {
		t.Fatal(r)
	}
}

type inbox struct {
	mu  sync.Mutex
	got []jr.Message
}

func (b *inbox) add(m jr.Message) {
	b.mu.Lock()
	b.got = append(b.got, m)
	b.mu.Unlock()
}

func (b *inbox) wait(t *testing.T, what string, f func([]jr.Message) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		ok := f(b.got)
		b.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.mu.Lock()
	got := append([]jr.Message(nil), b.got...)
	b.mu.Unlock()
	if len(got) > 20 {
		got = got[len(got)-20:]
	}
	t.Fatalf("timed out waiting for %s; last messages: %+v", what, got)
}

func countKind(ms []jr.Message, kind string) int {
	n := 0
	for _, m := range ms {
		if m.Kind == kind {
			n++
		}
	}
	return n
}

func TestPubSubDeliversMessagesAndClosesLast(t *testing.T) {
	c := newClient(t)
	var in inbox
	sub, err := c.Subscribe(in.add)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Subscribe("go:ch1", "go:ch2"); err != nil {
		t.Fatal(err)
	}
	sub.PSubscribe("go:p*")
	in.wait(t, "confirmations", func(ms []jr.Message) bool {
		return countKind(ms, "subscribe") == 2 && countKind(ms, "psubscribe") == 1
	})
	must(t)(c.Do(bg, "PUBLISH", "go:ch1", "hello"))
	must(t)(c.Do(bg, "PUBLISH", "go:pattern", "world"))
	sub.Ping("are you there")
	in.wait(t, "messages", func(ms []jr.Message) bool {
		return countKind(ms, "message") == 1 && countKind(ms, "pmessage") == 1 && countKind(ms, "pong") == 1
	})
	sub.Unsubscribe()
	sub.PUnsubscribe()
	in.wait(t, "unsubscribes", func(ms []jr.Message) bool {
		return countKind(ms, "unsubscribe") == 2 && countKind(ms, "punsubscribe") == 1
	})
	sub.Close()
	in.wait(t, "closed", func(ms []jr.Message) bool { return len(ms) > 0 && ms[len(ms)-1].Kind == "closed" })
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, m := range in.got {
		switch m.Kind {
		case "message":
			if m.Channel != "go:ch1" || string(m.Payload) != "hello" {
				t.Errorf("message %+v", m)
			}
		case "pmessage":
			if m.Pattern != "go:p*" || m.Channel != "go:pattern" || string(m.Payload) != "world" {
				t.Errorf("pmessage %+v", m)
			}
		case "pong":
			if string(m.Payload) != "are you there" {
				t.Errorf("pong %+v", m)
			}
		}
	}
	if countKind(in.got, "closed") != 1 {
		t.Fatal("closed more than once")
	}
	if err := sub.Subscribe("x"); !errors.Is(err, jr.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestMonitorSeesCommands(t *testing.T) {
	c := newClient(t)
	var in inbox
	mon, err := c.Monitor(in.add)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	seen := func() bool {
		in.mu.Lock()
		defer in.mu.Unlock()
		for _, m := range in.got {
			if m.Kind == "monitor" && strings.Contains(string(m.Payload), "go-monitor-marker") {
				return true
			}
		}
		return false
	}
	for !seen() && time.Now().Before(deadline) {
		must(t)(c.Do(bg, "ECHO", "go-monitor-marker"))
		time.Sleep(5 * time.Millisecond)
	}
	if !seen() {
		t.Fatal("MONITOR did not show the marker")
	}
	mon.Close()
	in.wait(t, "closed", func(ms []jr.Message) bool { return len(ms) > 0 && ms[len(ms)-1].Kind == "closed" })
}

func TestClientCloseFreesOpenTransactionsWatchesAndSubscribers(t *testing.T) {
	c, err := jr.NewClient(&jr.Options{Endpoints: []string{endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := c.Multi()
	tx.Queue("SET", "go:close:tx", "1")
	w, _ := c.Watch("go:close:w")
	var in inbox
	sub, _ := c.Subscribe(in.add)
	sub.Subscribe("go:close:ch")
	c.Close()
	in.wait(t, "closed", func(ms []jr.Message) bool { return len(ms) > 0 && ms[len(ms)-1].Kind == "closed" })
	if err := tx.Queue("PING"); !errors.Is(err, jr.ErrClosed) {
		t.Fatalf("Tx after Close: %v", err)
	}
	if _, err := w.Do(bg, "GET", "x"); !errors.Is(err, jr.ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
	w.Close()
	sub.Close()
}

// Close right after the handles were made, before the client's first round
// trip (libjr's CLUSTER SLOTS probe, which every first command waits behind)
// was answered: releasing the Watch freed memory that the held WATCH still
// pointed to, and the process died of a SIGSEGV on libjr's loop thread,
// without a Go traceback (about 1 round in 5). Many rounds, in the three
// orders: the client closes the Watch, the user closes it first, or the user
// closes it and the client stays open until the probe is answered.
func TestCloseRightAfterOpeningHandlesRepeatedly(t *testing.T) {
	rounds := 150
	if testing.Short() {
		rounds = 30
	}
	for i := 0; i < rounds; i++ {
		c, err := jr.NewClient(&jr.Options{Endpoints: []string{endpoint}})
		if err != nil {
			t.Fatal(err)
		}
		w, err := c.Watch("go:close:w")
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 1:
			w.Close()
		case 2:
			w.Close()
			if r := must(t)(c.Do(bg, "PING")); r.Text() != "PONG" {
				t.Fatal(r)
			}
		}
		tx, err := c.Multi()
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Queue("SET", "go:close:tx", i); err != nil {
			t.Fatal(err)
		}
		var in inbox
		sub, err := c.Subscribe(in.add)
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.Subscribe("go:close:ch"); err != nil {
			t.Fatal(err)
		}
		c.Close()
		in.wait(t, "closed", func(ms []jr.Message) bool { return len(ms) > 0 && ms[len(ms)-1].Kind == "closed" })
		in.mu.Lock()
		closed := countKind(in.got, "closed")
		in.mu.Unlock()
		if closed != 1 {
			t.Fatalf("round %d: %d closed messages", i, closed)
		}
		if err := tx.Queue("PING"); !errors.Is(err, jr.ErrClosed) {
			t.Fatalf("round %d: Tx after Close: %v", i, err)
		}
		if _, err := w.Do(bg, "GET", "x"); !errors.Is(err, jr.ErrClosed) {
			t.Fatalf("round %d: Watch after Close: %v", i, err)
		}
		w.Close()
		sub.Close()
	}
	if r := must(t)(newClient(t).Do(bg, "GET", "go:close:tx")); !r.IsNil() {
		t.Fatalf("a discarded transaction ran: %v", r)
	}
}

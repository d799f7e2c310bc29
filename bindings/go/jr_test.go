// SPDX-License-Identifier: MIT

package jr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jr "github.com/libjr/libjr/bindings/go"
)

// The tests talk to the disposable redis-server named by JR_TEST_ENDPOINT
// (bindings/go/test.sh starts one).
var endpoint string

// JR_TEST_LOOP_DELIVERY=1 runs the tests that use newClient with
// Options.LoopDelivery (test.sh runs the suite both ways).
var loopDelivery = os.Getenv("JR_TEST_LOOP_DELIVERY") == "1"

func TestMain(m *testing.M) {
	endpoint = os.Getenv("JR_TEST_ENDPOINT")
	if endpoint == "" {
		fmt.Fprintln(os.Stderr, "set JR_TEST_ENDPOINT=127.0.0.1:<port> of a disposable redis-server (bindings/go/test.sh does this)")
		os.Exit(2)
	}
	os.Exit(m.Run())
}

func newClient(t testing.TB, mod ...func(*jr.Options)) *jr.Client {
	t.Helper()
	o := &jr.Options{Endpoints: []string{endpoint}, LoopDelivery: loopDelivery}
	for _, f := range mod {
		f(o)
	}
	c, err := jr.NewClient(o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// must(t)(c.Do(...)) fails the test on an error and returns the reply.
func must(t testing.TB) func(jr.Reply, error) jr.Reply {
	return func(r jr.Reply, err error) jr.Reply {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return r
	}
}

func deadEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

var bg = context.Background()

func TestDoReturnsTypedReplies(t *testing.T) {
	c := newClient(t)
	if r := must(t)(c.Do(bg, "SET", "go:k", "hello")); r.Kind != jr.KindStatus || r.Text() != "OK" {
		t.Fatalf("SET: %v", r)
	}
	if r := must(t)(c.Do(bg, "GET", "go:k")); r.Kind != jr.KindString || r.Text() != "hello" {
		t.Fatalf("GET: %v", r)
	}
	if r := must(t)(c.Do(bg, "GET", "go:missing")); !r.IsNil() {
		t.Fatalf("GET missing: %v", r)
	}
	must(t)(c.Do(bg, "DEL", "go:n"))
	if r := must(t)(c.Do(bg, "INCRBY", "go:n", 41)); r.Kind != jr.KindInteger || r.Int != 41 {
		t.Fatalf("INCRBY: %v", r)
	}
	must(t)(c.Do(bg, "DEL", "go:list"))
	must(t)(c.Do(bg, "RPUSH", "go:list", "a", []byte("b"), 3))
	r := must(t)(c.Do(bg, "LRANGE", "go:list", 0, -1))
	if r.Kind != jr.KindArray || r.String() != "[a b 3]" {
		t.Fatalf("LRANGE: %v", r)
	}
}

func TestBinaryAndManyArguments(t *testing.T) {
	c := newClient(t)
	key := []byte("go:\x00bin")
	val := []byte("a\x00b\r\nc\xff")
	must(t)(c.Do(bg, "SET", key, val))
	if r := must(t)(c.Do(bg, "GET", key)); !bytes.Equal(r.Bytes, val) {
		t.Fatalf("GET: %q", r.Bytes)
	}
	args := []interface{}{"RPUSH", "go:long"}
	for i := 0; i < 40; i++ {
		args = append(args, i)
	}
	must(t)(c.Do(bg, "DEL", "go:long"))
	if r := must(t)(c.Do(bg, args...)); r.Int != 40 {
		t.Fatalf("RPUSH: %v", r)
	}
	must(t)(c.Do(bg, "SET", "go:empty", ""))
	if r := must(t)(c.Do(bg, "STRLEN", "go:empty")); r.Int != 0 {
		t.Fatalf("STRLEN: %v", r)
	}
	if _, err := c.Do(bg, "SET", "go:x", struct{}{}); !errors.Is(err, jr.ErrInvalid) {
		t.Fatalf("unsupported type: %v", err)
	}
	if _, err := c.Do(bg); !errors.Is(err, jr.ErrInvalid) {
		t.Fatalf("empty command: %v", err)
	}
}

// Short scalar replies are copied into the completion record, longer ones
// are referenced: both ways give the same bytes, through Do and Submit.
func TestStringRepliesAroundTheInlineSize(t *testing.T) {
	c := newClient(t)
	for _, n := range []int{0, 1, 31, 32, 33, 100, 70000} {
		val := bytes.Repeat([]byte{'v'}, n)
		for i := range val {
			val[i] = byte('a' + (i*7+n)%26)
		}
		key := fmt.Sprintf("go:inl:%d", n)
		must(t)(c.Do(bg, "SET", key, val))
		if r := must(t)(c.Do(bg, "GET", key)); r.Kind != jr.KindString || !bytes.Equal(r.Bytes, val) {
			t.Fatalf("Do GET %d bytes: %d bytes back", n, len(r.Bytes))
		}
		got := make(chan jr.Reply, 1)
		if _, err := c.Submit(func(r jr.Reply, err error) {
			if err != nil {
				t.Error(err)
			}
			got <- r
		}, "GET", key); err != nil {
			t.Fatal(err)
		}
		if r := <-got; !bytes.Equal(r.Bytes, val) {
			t.Fatalf("Submit GET %d bytes: %d bytes back", n, len(r.Bytes))
		}
	}
	// Error replies short and long, and an integer.
	must(t)(c.Do(bg, "SET", "go:inl:s", "x"))
	if _, err := c.Do(bg, "INCR", "go:inl:s"); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Fatalf("INCR of a string: %v", err)
	}
	if _, err := c.Do(bg, "NOSUCHCOMMAND"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("unknown command: %v", err)
	}
	if r := must(t)(c.Do(bg, "STRLEN", "go:inl:70000")); r.Kind != jr.KindInteger || r.Int != 70000 {
		t.Fatalf("STRLEN: %v", r)
	}
}

func TestServerErrorIsAServerError(t *testing.T) {
	c := newClient(t)
	must(t)(c.Do(bg, "SET", "go:str", "x"))
	_, err := c.Do(bg, "LPUSH", "go:str", "y")
	var se *jr.ServerError
	if !errors.As(err, &se) || se.Prefix() != "WRONGTYPE" {
		t.Fatalf("want a WRONGTYPE ServerError, got %#v", err)
	}
	var le *jr.Error
	if errors.As(err, &le) {
		t.Fatal("a server error is not a library error")
	}
	if r := must(t)(c.Do(bg, "PING")); r.Text() != "PONG" {
		t.Fatal(r)
	}
}

// A handshake the server refuses (here AUTH as a user that does not exist)
// is ErrAuth, unsent, with the server's text in Detail and in Error().
func TestWrongPasswordErrorShowsTheServersText(t *testing.T) {
	c := newClient(t, func(o *jr.Options) {
		o.Username, o.Password, o.ConnectRetries = "go-nosuchuser", "nope", -1
	})
	for _, do := range []func() error{
		func() error { _, err := c.Do(bg, "PING"); return err },
		func() error { _, err := c.Do(bg, "BLPOP", "go:auth:q", "0.05"); return err }, // pooled
	} {
		err := do()
		var le *jr.Error
		if !errors.As(err, &le) || !errors.Is(err, jr.ErrAuth) || !le.Unsent() {
			t.Fatalf("want ErrAuth, got %#v", err)
		}
		if !strings.HasPrefix(le.Detail, "WRONGPASS") || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Fatalf("want the server's WRONGPASS text, got %q (Detail %q)", err.Error(), le.Detail)
		}
	}
}

func TestLibraryErrorCodesAndUnsent(t *testing.T) {
	c, err := jr.NewClient(&jr.Options{Endpoints: []string{deadEndpoint(t)}, ConnectRetries: -1,
		ConnectTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Do(bg, "PING")
	if !errors.Is(err, jr.ErrConnect) || errors.Is(err, jr.ErrTimedOut) {
		t.Fatalf("want ErrConnect, got %v", err)
	}
	var le *jr.Error
	if !errors.As(err, &le) || !le.Unsent() || le.Name() != "JR_ECONNECT" || !jr.IsUnsent(err) {
		t.Fatalf("error details: %#v", err)
	}
}

func TestOptionErrors(t *testing.T) {
	_, err := jr.NewClient(&jr.Options{Settings: map[string]string{"no_such_key": "1"}})
	if !errors.Is(err, jr.ErrNoEnt) {
		t.Fatalf("unknown key: %v", err)
	}
	_, err = jr.NewClient(&jr.Options{ConnectCommands: [][]string{{"SELECT", "1"}}})
	if !errors.Is(err, jr.ErrRefused) {
		t.Fatalf("refused connect command: %v", err)
	}
}

func TestConnectCommandsNameAndEvents(t *testing.T) {
	var connected int32
	c := newClient(t, func(o *jr.Options) {
		o.ClientName = "go-client"
		o.ConnectCommands = [][]string{{"SET", "go:on-connect", "yes"}}
		o.OnEvent = func(ev jr.Event, ep, _ string) {
			if ev == jr.EventConnected && ep != "" {
				atomic.AddInt32(&connected, 1)
			}
		}
	})
	if r := must(t)(c.Do(bg, "CLIENT", "GETNAME")); r.Text() != "go-client" {
		t.Fatal(r)
	}
	if r := must(t)(c.Do(bg, "GET", "go:on-connect")); r.Text() != "yes" {
		t.Fatal(r)
	}
	deadline := time.Now().Add(2 * time.Second)
	for atomic.LoadInt32(&connected) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if atomic.LoadInt32(&connected) == 0 {
		t.Fatal("no EventConnected")
	}
}

func TestURLWithDatabase(t *testing.T) {
	c1 := newClient(t, func(o *jr.Options) { o.Endpoints = nil; o.URL = "redis://" + endpoint + "/3" })
	must(t)(c1.Do(bg, "SET", "go:url", "three"))
	c := newClient(t)
	db, err := c.DB(3)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if r := must(t)(db.Do(bg, "GET", "go:url")); r.Text() != "three" {
		t.Fatal(r)
	}
}

func TestConcurrentDoPipelinesInOrder(t *testing.T) {
	c := newClient(t)
	inGoroutines(8, func(g int) {
		key := fmt.Sprintf("go:conc:%d", g)
		if _, err := c.Do(bg, "DEL", key); err != nil {
			t.Error(err)
			return
		}
		for i := 1; i <= 300; i++ {
			r, err := c.Do(bg, "INCR", key)
			if err != nil || r.Int != int64(i) {
				t.Errorf("INCR %d: %v %v", i, r, err)
				return
			}
		}
	})
}

func TestSubmitCallbacksRunOnceInOrder(t *testing.T) {
	c := newClient(t)
	must(t)(c.Do(bg, "DEL", "go:cb"))
	const n = 1000
	got := make(chan int64, n)
	for i := 0; i < n; i++ {
		if _, err := c.Submit(func(r jr.Reply, err error) {
			if err != nil {
				t.Error(err)
			}
			got <- r.Int
		}, "INCR", "go:cb"); err != nil {
			t.Fatal(err)
		}
	}
	for i := int64(1); i <= n; i++ {
		select {
		case v := <-got:
			if v != i {
				t.Fatalf("completion %d got %d", i, v)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("timeout")
		}
	}
	select {
	case v := <-got:
		t.Fatalf("a duplicate completion: %d", v)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestSubmitCallbackMaySubmitAndSurvivesPanic(t *testing.T) {
	c := newClient(t)
	done := make(chan string, 1)
	_, err := c.Submit(func(jr.Reply, error) {
		if _, err := c.Submit(func(r jr.Reply, err error) { done <- r.Text() }, "ECHO", "chained"); err != nil {
			done <- err.Error()
		}
	}, "PING")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(func(jr.Reply, error) { panic("expected in this test") }, "PING"); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-done:
		if s != "chained" {
			t.Fatal(s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timeout")
	}
	if r := must(t)(c.Do(bg, "PING")); r.Text() != "PONG" {
		t.Fatal(r)
	}
}

func TestRefusedCommands(t *testing.T) {
	c := newClient(t)
	called := false
	_, err := c.Submit(func(jr.Reply, error) { called = true }, "SELECT", 1)
	if !errors.Is(err, jr.ErrRefused) || called {
		t.Fatalf("SELECT: %v", err)
	}
	if jr.RefusalReason("SELECT") == "" || jr.RefusalReason("GET") != "" {
		t.Fatal("RefusalReason")
	}
	if _, err := c.Do(bg, "SUBSCRIBE", "x"); !errors.Is(err, jr.ErrRefused) {
		t.Fatal(err)
	}
}

func TestContextDeadlineTimesOut(t *testing.T) {
	c := newClient(t)
	slow := make(chan error, 1)
	go func() {
		_, err := c.Do(bg, "DEBUG", "SLEEP", "0.3")
		slow <- err
	}()
	time.Sleep(30 * time.Millisecond)
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Do(ctx, "PING")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
	var le *jr.Error
	if !errors.As(err, &le) {
		t.Fatalf("want a *jr.Error, got %T", err)
	}
	if !(errors.Is(err, jr.ErrTimedOut) || errors.Is(err, jr.ErrAbandoned) || errors.Is(err, jr.ErrCanceled)) {
		t.Fatalf("code: %v", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Fatalf("took %v", d)
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
}

func TestContextCancelCancelsTheCommand(t *testing.T) {
	c := newClient(t)
	ctx, slow := busyThenCancel(c)
	_, err := c.Do(ctx, "INCR", "go:cancelled")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want Canceled, got %v", err)
	}
	if !(errors.Is(err, jr.ErrCanceled) || errors.Is(err, jr.ErrAbandoned)) {
		t.Fatalf("code: %v", err)
	}
	// An already-done context never submits.
	if _, err := c.Do(ctx, "PING"); !errors.Is(err, context.Canceled) || !jr.IsUnsent(err) {
		t.Fatalf("done context: %v", err)
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
}

func TestManyCancelsCompleteExactlyOnce(t *testing.T) {
	c := newClient(t)
	var canceled, ok int32
	inGoroutines(200, func(i int) {
		ctx, cancel := context.WithTimeout(bg, time.Duration(i%5)*100*time.Microsecond)
		defer cancel()
		_, err := c.Do(ctx, "PING")
		if err == nil {
			atomic.AddInt32(&ok, 1)
		} else if errors.Is(err, ctx.Err()) {
			atomic.AddInt32(&canceled, 1)
		} else {
			t.Errorf("unexpected: %v", err)
		}
	})
	if ok+canceled != 200 {
		t.Fatalf("ok %d + canceled %d", ok, canceled)
	}
	if r := must(t)(c.Do(bg, "PING")); r.Text() != "PONG" {
		t.Fatal(r)
	}
}

func TestCancelByID(t *testing.T) {
	c := newClient(t)
	slow := make(chan struct{})
	c.Submit(func(jr.Reply, error) { close(slow) }, "DEBUG", "SLEEP", "0.3")
	time.Sleep(30 * time.Millisecond)
	res := make(chan error, 1)
	id, err := c.Submit(func(_ jr.Reply, err error) { res <- err }, "INCR", "go:cancel-id")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Cancel(id) {
		t.Fatal("Cancel returned false")
	}
	if err := <-res; !(errors.Is(err, jr.ErrCanceled) || errors.Is(err, jr.ErrAbandoned)) {
		t.Fatal(err)
	}
	if c.Cancel(id) {
		t.Fatal("second Cancel returned true")
	}
	<-slow
}

func TestDatabaseViews(t *testing.T) {
	c := newClient(t)
	db5, err := c.DB(5)
	if err != nil {
		t.Fatal(err)
	}
	db6, err := c.DB(6)
	if err != nil {
		t.Fatal(err)
	}
	must(t)(db5.Do(bg, "SET", "go:db", "five"))
	must(t)(db6.Do(bg, "SET", "go:db", "six"))
	if r := must(t)(db5.Do(bg, "GET", "go:db")); r.Text() != "five" {
		t.Fatal(r)
	}
	got := make(chan string, 1)
	db6.Submit(func(r jr.Reply, err error) { got <- r.Text() }, "GET", "go:db")
	if s := <-got; s != "six" {
		t.Fatal(s)
	}
	db5.Close()
	if _, err := db5.Do(bg, "PING"); !errors.Is(err, jr.ErrClosed) {
		t.Fatalf("closed view: %v", err)
	}
	if _, err := c.DB(-1); !errors.Is(err, jr.ErrInvalid) {
		t.Fatalf("DB(-1): %v", err)
	}
	// db6 is closed by Client.Close (t.Cleanup).
}

func TestCloseCompletesPendingOnce(t *testing.T) {
	c, err := jr.NewClient(&jr.Options{Endpoints: []string{endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	must(t)(c.Do(bg, "PING"))
	var calls int32
	c.Submit(func(jr.Reply, error) {}, "DEBUG", "SLEEP", "0.2")
	for i := 0; i < 100; i++ {
		c.Submit(func(_ jr.Reply, err error) {
			if err != nil && !errors.Is(err, jr.ErrShutdown) && !errors.Is(err, jr.ErrClosed) {
				t.Error(err)
			}
			atomic.AddInt32(&calls, 1)
		}, "PING")
	}
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		go func() {
			_, err := c.Do(bg, "PING")
			errs <- err
		}()
	}
	time.Sleep(20 * time.Millisecond)
	c.Close()
	if n := atomic.LoadInt32(&calls); n != 100 {
		t.Fatalf("%d callbacks", n)
	}
	for i := 0; i < 10; i++ {
		if err := <-errs; err != nil && !errors.Is(err, jr.ErrShutdown) && !errors.Is(err, jr.ErrClosed) {
			t.Fatal(err)
		}
	}
	if _, err := c.Do(bg, "PING"); !errors.Is(err, jr.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	c.Close() // idempotent
}

func TestFinalizerClosesAnAbandonedClient(t *testing.T) {
	func() {
		c, err := jr.NewClient(&jr.Options{Endpoints: []string{endpoint}})
		if err != nil {
			t.Fatal(err)
		}
		must(t)(c.Do(bg, "PING"))
	}()
	for i := 0; i < 5; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

func TestVersion(t *testing.T) {
	if jr.Version() == "" {
		t.Fatal("no version")
	}
}

func TestSubmitsFromCallbacksAreBatchedCancellableAndFailOnce(t *testing.T) {
	c := newClient(t, func(o *jr.Options) { o.Settings = map[string]string{"max_queued": "4"} })
	must(t)(c.Do(bg, "DEL", "go:batched"))
	type out struct {
		r   jr.Reply
		err error
	}
	results := make(chan out, 64)
	ids := make(chan jr.RequestID, 1)
	refusedErr := make(chan error, 1)
	_, err := c.Submit(func(jr.Reply, error) {
		// Queued while the batch runs, sent when it ends.
		for i := 0; i < 8; i++ {
			id, err := c.Submit(func(r jr.Reply, err error) { results <- out{r, err} }, "INCR", "go:batched")
			if err != nil {
				t.Errorf("deferred Submit: %v", err)
			}
			if i == 7 {
				ids <- id
			}
		}
		_, err := c.Submit(func(jr.Reply, error) { t.Error("a refused command called back") }, "SELECT", 2)
		refusedErr <- err
	}, "PING")
	if err != nil {
		t.Fatal(err)
	}
	if err := <-refusedErr; !errors.Is(err, jr.ErrRefused) {
		t.Fatalf("refused inside a callback: %v", err)
	}
	<-ids
	var ok, full int
	for i := 0; i < 8; i++ {
		select {
		case o := <-results:
			switch {
			case o.err == nil:
				ok++
			case errors.Is(o.err, jr.ErrFull):
				full++
			default:
				t.Fatalf("unexpected: %v", o.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("timeout")
		}
	}
	// max_queued 4: some went out, the rest failed with ErrFull, each once.
	if ok == 0 || full == 0 || ok+full != 8 {
		t.Fatalf("ok %d full %d", ok, full)
	}
	if r := must(t)(c.Do(bg, "GET", "go:batched")); r.Text() != fmt.Sprint(ok) {
		t.Fatalf("GET %v, ok %d", r, ok)
	}
}

func TestCancelADeferredSubmit(t *testing.T) {
	c := newClient(t)
	res := make(chan error, 1)
	slow := make(chan struct{})
	_, err := c.Submit(func(jr.Reply, error) {
		// Both queued; the INCR goes out behind the sleep, so its reply
		// cannot win against the cancel.
		c.Submit(func(jr.Reply, error) { close(slow) }, "DEBUG", "SLEEP", "0.2")
		id, err := c.Submit(func(_ jr.Reply, err error) { res <- err }, "INCR", "go:deferred-cancel")
		if err != nil {
			res <- err
			return
		}
		if !c.Cancel(id) { // still queued: cancelled once it is sent
			t.Error("Cancel of a queued Submit returned false")
		}
	}, "PING")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if !(errors.Is(err, jr.ErrCanceled) || errors.Is(err, jr.ErrAbandoned)) {
			t.Fatalf("want a cancel code, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timeout")
	}
	<-slow
}

func TestSubmitTimeoutCompletesOnTime(t *testing.T) {
	c := newClient(t)
	slow := make(chan struct{})
	c.Submit(func(jr.Reply, error) { close(slow) }, "DEBUG", "SLEEP", "0.3")
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	res := make(chan error, 1)
	if _, err := c.SubmitTimeout(50*time.Millisecond, func(_ jr.Reply, err error) { res <- err }, "PING"); err != nil {
		t.Fatal(err)
	}
	err := <-res
	if !errors.Is(err, jr.ErrTimedOut) || jr.IsUnsent(err) {
		t.Fatalf("want ErrTimedOut (sent), got %v", err)
	}
	// A deadline completion is signalled at once in poll mode, not when the
	// next reply happens to arrive.
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Fatalf("took %v", d)
	}
	<-slow
}

// Loop delivery: callbacks run on libjr's loop thread, a batch at a time;
// waiting for the client there is refused, not a deadlock; a closed loop
// of resubmitting callbacks completes every command once, in order; Close
// completes what is still pending once.
func TestLoopDeliveryRunsBatchesOnTheLoopThread(t *testing.T) {
	c := newClient(t, func(o *jr.Options) { o.LoopDelivery = true })
	must(t)(c.Do(bg, "DEL", "jr:go:loop"))

	misuse := make(chan [2]error, 1)
	if _, err := c.Submit(func(_ jr.Reply, err error) {
		_, doErr := c.Do(bg, "PING")
		misuse <- [2]error{doErr, c.Close()}
	}, "PING"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-misuse:
		if !errors.Is(e[0], jr.ErrMisuse) || !errors.Is(e[1], jr.ErrMisuse) {
			t.Fatalf("Do and Close in a loop-delivery callback: %v, %v (want ErrMisuse)", e[0], e[1])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Do inside a loop-delivery callback hung")
	}

	// 64 chains of 200 INCRs: each chain sees the counter grow (a reply is
	// its own command's), and every callback runs once.
	const chains, steps = 64, 200
	var calls int64
	var bad atomic.Value
	done := make(chan struct{})
	var left int64 = chains
	for i := 0; i < chains; i++ {
		n, last := 0, int64(0)
		var step func(jr.Reply, error)
		step = func(r jr.Reply, err error) {
			atomic.AddInt64(&calls, 1)
			if err != nil {
				bad.Store(err.Error())
			} else if r.Int <= last {
				bad.Store(fmt.Sprintf("INCR replied %d after %d", r.Int, last))
			}
			last = r.Int
			n++
			if n < steps {
				if _, err := c.Submit(step, "INCR", "jr:go:loop"); err != nil {
					bad.Store(err.Error())
				}
				return
			}
			if atomic.AddInt64(&left, -1) == 0 {
				close(done)
			}
		}
		if _, err := c.Submit(step, "INCR", "jr:go:loop"); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("chains did not finish: %d callbacks", atomic.LoadInt64(&calls))
	}
	if v := bad.Load(); v != nil {
		t.Fatal(v)
	}
	if got := must(t)(c.Do(bg, "GET", "jr:go:loop")).Text(); got != fmt.Sprint(chains*steps) {
		t.Fatalf("counter %s, want %d", got, chains*steps)
	}
	if calls != chains*steps {
		t.Fatalf("%d callbacks, want %d", calls, chains*steps)
	}

	// Close with commands in flight: each completes exactly once.
	var closing int64
	for i := 0; i < 500; i++ {
		if _, err := c.Submit(func(jr.Reply, error) { atomic.AddInt64(&closing, 1) }, "INCR", "jr:go:loop"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := atomic.LoadInt64(&closing); got != 500 {
		t.Fatalf("%d completions at Close, want 500", got)
	}
}

// With LoopDelivery libjr's loop runs on a goroutine locked to its thread
// (so that entering Go from it is a plain cgo callback); Close ends that
// goroutine: clients opened and closed leave none behind.
func TestLoopDeliveryLoopGoroutineEndsAtClose(t *testing.T) {
	count := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	// Goroutines of earlier tests may still be ending (a loop goroutine
	// returns just after its Close): count once the number holds still.
	before := count()
	for i := 0; i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		n := count()
		if n == before {
			break
		}
		before = n
	}
	for i := 0; i < 20; i++ {
		c, err := jr.NewClient(&jr.Options{Endpoints: []string{endpoint}, LoopDelivery: true})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// The loop goroutine and the event dispatcher are running.
			if n := runtime.NumGoroutine(); n < before+2 {
				t.Fatalf("%d goroutines with a client open, %d before", n, before)
			}
		}
		if got := must(t)(c.Do(bg, "ECHO", "x")).Text(); got != "x" {
			t.Fatalf("ECHO: %q", got)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for count() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(); n > before {
		t.Fatalf("%d goroutines after closing 20 clients, %d before", n, before)
	}
}

// inGoroutines runs f(0), ..., f(n-1), each in a goroutine of its own, and
// waits for them all.
func inGoroutines(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			f(i)
		}(i)
	}
	wg.Wait()
}

// busyThenCancel keeps the server busy for 0.3 s (a DEBUG SLEEP, whose
// outcome the channel gets) and returns a context that is cancelled 30 ms
// into it, while the commands sent with it wait behind the sleep.
func busyThenCancel(c *jr.Client) (context.Context, chan error) {
	slow := make(chan error, 1)
	go func() {
		_, err := c.Do(bg, "DEBUG", "SLEEP", "0.3")
		slow <- err
	}()
	time.Sleep(30 * time.Millisecond)
	ctx, cancel := context.WithCancel(bg)
	go func() {
		time.Sleep(30 * time.Millisecond)
		cancel()
	}()
	return ctx, slow
}

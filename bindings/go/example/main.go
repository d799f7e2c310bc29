// SPDX-License-Identifier: MIT

// The README's example. It connects to $REDIS_URL (default
// redis://127.0.0.1:6379), prints what each step got back and exits non-zero
// as soon as a step does not behave as described. It works against a stock
// redis-server (no DEBUG command) and touches only keys named example:*.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
	"sync"
	"time"

	jr "github.com/libjr/libjr/bindings/go"
)

func main() {
	log.SetFlags(0)
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379"
	}
	c, err := jr.NewClient(&jr.Options{URL: url, CommandTimeout: 2 * time.Second})
	if err != nil {
		log.Fatalf("connect to %s: %v", url, err)
	}
	defer c.Close()
	ctx := context.Background()
	do := func(args ...interface{}) jr.Reply {
		r, err := c.Do(ctx, args...)
		if err != nil {
			log.Fatalf("%v: %v", args, err)
		}
		return r
	}
	do("DEL", "example:greeting", "example:counter", "example:balance", "example:jobs")

	// A command and its reply.
	do("SET", "example:greeting", "hello")
	fmt.Println("GET:", do("GET", "example:greeting")) // hello

	// Concurrent Do calls share one connection and are pipelined.
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Do(ctx, "INCR", "example:counter"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		log.Fatalf("INCR: %v", err)
	}

	// A callback, called once on the client's dispatcher goroutine (it must
	// not block: no Do inside).
	got := make(chan string, 1)
	if _, err := c.Submit(func(r jr.Reply, err error) {
		got <- fmt.Sprint(r, " ", err)
	}, "GET", "example:counter"); err != nil {
		log.Fatalf("Submit: %v", err)
	}
	if s := <-got; s != "100 <nil>" {
		log.Fatalf("callback got %q, want \"100 <nil>\"", s)
	} else {
		fmt.Println("callback:", s)
	}

	// A deadline: the context ends before the server answers. BLPOP on an
	// empty list waits up to 5 s on the server (libjr runs blocking commands
	// on a pooled connection of their own); the 100 ms context cancels it and
	// the error matches context.DeadlineExceeded. It was written, so it may
	// have run: not safe to retry blindly (IsUnsent is false).
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	start := time.Now()
	_, err = c.Do(tctx, "BLPOP", "example:jobs", "5")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		log.Fatalf("BLPOP with a 100 ms deadline: %v, want a deadline error", err)
	}
	fmt.Printf("BLPOP: %v after %d ms; safe to retry: %v\n",
		err, time.Since(start).Milliseconds()/10*10, jr.IsUnsent(err))

	// A transaction: MULTI, the queued commands and EXEC leave together.
	tx, err := c.Multi()
	if err != nil {
		log.Fatalf("Multi: %v", err)
	}
	tx.Queue("INCR", "example:counter")
	tx.Queue("SET", "example:k", "v")
	res, err := tx.Exec(ctx)
	if err != nil || len(res) != 2 || res[0].Reply.Int != 101 {
		log.Fatalf("EXEC: %v %v", res, err)
	}
	fmt.Println("EXEC:", res[0].Reply, res[1].Reply) // 101 OK

	// Optimistic locking: WATCH, read, write in a transaction; ErrWatch if
	// another client changed the key meanwhile (then retry).
	w, err := c.Watch("example:balance")
	if err != nil {
		log.Fatalf("Watch: %v", err)
	}
	v, err := w.Do(ctx, "GET", "example:balance")
	if err != nil {
		log.Fatalf("GET under WATCH: %v", err)
	}
	n, _ := strconv.Atoi(v.Text()) // nil reply: 0
	tx, err = w.Multi()
	if err != nil {
		log.Fatalf("Watch.Multi: %v", err)
	}
	tx.Queue("SET", "example:balance", n+10)
	if _, err := tx.Exec(ctx); errors.Is(err, jr.ErrWatch) {
		fmt.Println("balance changed meanwhile: retry")
	} else if err != nil {
		log.Fatalf("EXEC under WATCH: %v", err)
	}
	w.Close()
	fmt.Println("balance:", do("GET", "example:balance")) // 10

	// Pub/sub: the handler runs on the dispatcher goroutine; "subscribe"
	// confirms the subscription, so one PUBLISH after it is received.
	subscribed, msg := make(chan error, 1), make(chan string, 1)
	sub, err := c.Subscribe(func(m jr.Message) {
		switch m.Kind {
		case "subscribe":
			select { // never block the dispatcher
			case subscribed <- m.Err:
			default:
			}
		case "message":
			select {
			case msg <- fmt.Sprintf("%s: %s", m.Channel, m.Payload):
			default:
			}
		}
	})
	if err != nil {
		log.Fatalf("Subscribe: %v", err)
	}
	if err := sub.Subscribe("example:news"); err != nil {
		log.Fatalf("SUBSCRIBE: %v", err)
	}
	select {
	case err := <-subscribed:
		if err != nil {
			log.Fatalf("SUBSCRIBE refused: %v", err)
		}
	case <-time.After(5 * time.Second):
		log.Fatal("no subscribe confirmation in 5 s")
	}
	fmt.Println("PUBLISH:", do("PUBLISH", "example:news", "hello"), "receiver(s)")
	select {
	case m := <-msg:
		fmt.Println("message:", m)
	case <-time.After(5 * time.Second):
		log.Fatal("no message in 5 s")
	}
	sub.Close()

	// Two kinds of errors: the server's (*ServerError) and libjr's (*Error).
	_, err = c.Do(ctx, "LPUSH", "example:greeting", "x")
	var se *jr.ServerError
	switch {
	case errors.As(err, &se):
		fmt.Println("server said:", se.Prefix()) // WRONGTYPE
	case errors.Is(err, jr.ErrConnLost):
		log.Fatal("connection lost; the command may have run")
	default:
		log.Fatalf("LPUSH on a string: %v, want WRONGTYPE", err)
	}
}

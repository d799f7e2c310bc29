// SPDX-License-Identifier: MIT

// The README example: go run ./example [host:port] (default 127.0.0.1:6379).
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
	endpoint := "127.0.0.1:6379"
	if len(os.Args) > 1 {
		endpoint = os.Args[1]
	}
	c, err := jr.NewClient(&jr.Options{
		Endpoints:      []string{endpoint},
		CommandTimeout: 2 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	if _, err := c.Do(ctx, "SET", "greeting", "hello"); err != nil {
		log.Fatal(err)
	}
	r, err := c.Do(ctx, "GET", "greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Text()) // hello

	// Concurrent Do calls share one connection and are pipelined.
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Do(ctx, "INCR", "counter")
		}()
	}
	wg.Wait()

	// A callback, called once on the client's dispatcher goroutine.
	done := make(chan struct{})
	c.Submit(func(r jr.Reply, err error) {
		fmt.Println("callback:", r, err)
		close(done)
	}, "GET", "counter")
	<-done

	// A deadline: the command is cancelled when the context ends.
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Do(tctx, "DEBUG", "SLEEP", "0.2"); errors.Is(err, context.DeadlineExceeded) {
		fmt.Println("timed out; safe to retry:", jr.IsUnsent(err))
	}

	// Transactions, WATCH and pub/sub.
	tx, _ := c.Multi()
	tx.Queue("INCR", "counter")
	tx.Queue("SET", "k", "v")
	res, err := tx.Exec(ctx)
	fmt.Println(res[0].Reply.Int, res[1].Reply.Text(), err)

	w, _ := c.Watch("balance") // optimistic locking
	v, _ := w.Do(ctx, "GET", "balance")
	n, _ := strconv.Atoi(v.Text())
	tx, _ = w.Multi()
	tx.Queue("SET", "balance", n+1)
	if _, err := tx.Exec(ctx); errors.Is(err, jr.ErrWatch) {
		fmt.Println("changed meanwhile: retry")
	}
	w.Close()

	got := make(chan string, 1)
	sub, _ := c.Subscribe(func(m jr.Message) {
		if m.Kind == "message" {
			got <- fmt.Sprintf("%s: %s", m.Channel, m.Payload)
		}
	})
	sub.Subscribe("news")
	for len(got) == 0 {
		c.Do(ctx, "PUBLISH", "news", "hello")
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println(<-got)
	sub.Close()

	// Two kinds of errors.
	_, err = c.Do(ctx, "LPUSH", "greeting", "x")
	var se *jr.ServerError
	switch {
	case errors.As(err, &se):
		fmt.Println("server said:", se.Prefix()) // WRONGTYPE
	case errors.Is(err, jr.ErrConnLost):
		fmt.Println("connection lost; the command may have run")
	}
}

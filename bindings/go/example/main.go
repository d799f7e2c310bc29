// The README example: go run ./example [host:port] (default 127.0.0.1:6379).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"libjr.dev/jr"
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

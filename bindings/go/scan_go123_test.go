// SPDX-License-Identifier: MIT

//go:build go1.23

package jr_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	jr "github.com/libjr/libjr/bindings/go"
)

func TestScanAllRangesAndStops(t *testing.T) {
	c := newClient(t)
	for i := 0; i < 100; i++ {
		must(t)(c.Do(bg, "SADD", "go:scan:s", "m"+strconv.Itoa(i)))
	}
	n := 0
	for m, err := range c.SScan("go:scan:s", "", 7).All(bg) {
		if err != nil || m == "" {
			t.Fatalf("member %q, %v", m, err)
		}
		n++
	}
	if n != 100 {
		t.Fatalf("%d members of 100", n)
	}
	// break stops fetching: the iterator's next page is never asked for.
	it := c.SScan("go:scan:s", "", 5)
	for range it.All(bg) {
		break
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	var last error
	for _, err := range c.Scan("", 0).All(canceledCtx()) {
		last = err
	}
	if !errors.Is(last, jr.ErrCanceled) {
		t.Fatalf("a cancelled context: the last yield is %v", last)
	}
}

func canceledCtx() context.Context {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	return ctx
}

// SPDX-License-Identifier: MIT

package jr_test

// Pipelined GET throughput through the binding with 256 commands in flight
// on the one shared connection, the model of bench/jr-benchmark --depth 256
// (closed loop: every completion resubmits its slot).
//
//	JR_TEST_ENDPOINT=127.0.0.1:6379 go test -run '^$' -bench . -benchtime 2000000x
//
// BenchmarkGetSubmit256: Submit callbacks resubmit from the dispatcher
// goroutine. BenchmarkGetDo256: 256 goroutines each calling Do in a loop.
// The ...Loop variants use Options.LoopDelivery (callbacks on libjr's loop
// thread, one entry into Go per batch).

import (
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jr "github.com/libjr/libjr/bindings/go"
)

const benchDepth = 256
const benchKey = "jr:bench:key"

// benchClient connects with JR_BENCH_SETTINGS (key=value,... of libjr
// options, e.g. loop_spin_us=0 for callgrind) applied.
func benchClient(b *testing.B, loop bool) *jr.Client {
	c := newClient(b, func(o *jr.Options) {
		o.LoopDelivery = loop
		for _, kv := range strings.Split(os.Getenv("JR_BENCH_SETTINGS"), ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				if o.Settings == nil {
					o.Settings = map[string]string{}
				}
				o.Settings[k] = v
			}
		}
	})
	if _, err := c.Do(bg, "SET", benchKey, "xxx"); err != nil {
		b.Fatal(err)
	}
	return c
}

func report(b *testing.B, n int64, d time.Duration) {
	b.ReportMetric(float64(n)/d.Seconds(), "ops/s")
}

func BenchmarkGetSubmit256(b *testing.B)     { benchSubmit(b, false) }
func BenchmarkGetSubmit256Loop(b *testing.B) { benchSubmit(b, true) }
func BenchmarkGetDo256(b *testing.B)         { benchDo(b, false) }
func BenchmarkGetDo256Loop(b *testing.B)     { benchDo(b, true) }

func benchSubmit(b *testing.B, loop bool) {
	c := benchClient(b, loop)
	total := int64(b.N)
	var issued, done, errs int64
	finished := make(chan struct{})
	var slot func(jr.Reply, error)
	slot = func(_ jr.Reply, err error) {
		if err != nil {
			atomic.AddInt64(&errs, 1)
		}
		if atomic.AddInt64(&done, 1) == total {
			close(finished)
			return
		}
		if atomic.AddInt64(&issued, 1) <= total {
			if _, err := c.Submit(slot, "GET", benchKey); err != nil {
				b.Error(err)
			}
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < benchDepth && atomic.AddInt64(&issued, 1) <= total; i++ {
		if _, err := c.Submit(slot, "GET", benchKey); err != nil {
			b.Fatal(err)
		}
	}
	<-finished
	report(b, total, time.Since(start))
	if errs != 0 {
		b.Fatalf("%d errors", errs)
	}
}

func benchDo(b *testing.B, loop bool) {
	c := benchClient(b, loop)
	var next int64
	total := int64(b.N)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < benchDepth; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&next, 1) <= total {
				if _, err := c.Do(bg, "GET", benchKey); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	report(b, total, time.Since(start))
}

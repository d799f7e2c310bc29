// SPDX-License-Identifier: MIT

package jr_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	jr "github.com/libjr/libjr/bindings/go"
)

func stats(t *testing.T, c *jr.Client) jr.Stats {
	t.Helper()
	s, err := c.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return s
}

// waitStats polls until ok(s) (the loop thread counts a lost connection
// when it sees it, not when the server closed it).
func waitStats(t *testing.T, c *jr.Client, what string, ok func(jr.Stats) bool) jr.Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := stats(t, c)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened; stats %+v", what, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The counters against what the test did: N commands, server errors, a
// library error, a cancel, a timeout, one killed connection.
func TestStatsCountWhatTheTestDid(t *testing.T) {
	c := newClient(t)
	const n = 150
	for i := 0; i < n; i++ {
		must(t)(c.Do(bg, "SET", "go:stats:"+strconv.Itoa(i), i))
	}
	for i := 0; i < 3; i++ {
		if _, err := c.Do(bg, "NO-SUCH-COMMAND"); err == nil {
			t.Fatal("want a server error")
		}
	}
	s := stats(t, c)
	want := jr.Stats{Submitted: n + 3, Completed: n + 3, ServerErrors: 3, Connects: 1,
		BytesWritten: s.BytesWritten, BytesRead: s.BytesRead}
	if s != want {
		t.Fatalf("after %d SETs and 3 unknown commands:\n got %+v\nwant %+v", n, s, want)
	}
	if s.BytesWritten < n*20 || s.BytesRead < n*5 {
		t.Fatalf("bytes written %d / read %d for %d SETs", s.BytesWritten, s.BytesRead, n)
	}

	// A cancel (the context ends while DEBUG SLEEP runs: abandoned) and a
	// libjr deadline (ErrTimedOut).
	ctx, cancel := context.WithTimeout(bg, 30*time.Millisecond)
	_, err := c.Do(ctx, "DEBUG", "SLEEP", "0.2")
	cancel()
	if !errors.Is(err, jr.ErrAbandoned) {
		t.Fatalf("DEBUG SLEEP past the context's deadline: %v", err)
	}
	done := make(chan error, 1)
	if _, err := c.SubmitTimeout(30*time.Millisecond, func(_ jr.Reply, err error) { done <- err },
		"DEBUG", "SLEEP", "0.2"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, jr.ErrTimedOut) {
		t.Fatalf("DEBUG SLEEP past its deadline: %v", err)
	}
	s = stats(t, c)
	if s.Cancels != 1 || s.Timeouts != 1 || s.LibraryErrors != 2 || s.Completed != n+5 ||
		s.InFlight != 0 {
		t.Fatalf("after a cancel and a timeout: %+v", s)
	}

	// A killed connection: one disconnect, then one connect.
	other := newClient(t)
	id := must(t)(c.Do(bg, "CLIENT", "ID")).Int
	must(t)(other.Do(bg, "CLIENT", "KILL", "ID", id))
	waitStats(t, c, "the disconnect", func(s jr.Stats) bool { return s.Disconnects == 1 })
	must(t)(c.Do(bg, "PING"))
	s = stats(t, c)
	if s.Disconnects != 1 || s.Connects != 2 || s.ConnectFailures != 0 {
		t.Fatalf("after one killed connection: %+v", s)
	}

	eps, err := c.EndpointStats()
	if err != nil || len(eps) != 1 {
		t.Fatalf("EndpointStats: %v, %v", eps, err)
	}
	e := eps[0]
	if e.Endpoint != endpoint || e.Connections != 1 || e.Connects != 2 || e.Disconnects != 1 ||
		e.ServerErrors != 3 || e.BytesRead == 0 || e.BytesWritten == 0 {
		t.Fatalf("endpoint %s: %+v", endpoint, e)
	}
	// Every request completed on that endpoint but the abandoned one: a
	// cancel completes it at once, not a connection.
	if s.Completed != e.Completed+1 || e.LibraryErrors != 1 {
		t.Fatalf("completed: client %d, endpoint %d (library errors %d)", s.Completed, e.Completed,
			e.LibraryErrors)
	}
}

// The latency histogram against a known delay.
func TestLatencyAgainstDebugSleep(t *testing.T) {
	c := newClient(t)
	if _, err := c.Latency(50); !errors.Is(err, jr.ErrNoEnt) {
		t.Fatalf("Latency before any request: %v, want ErrNoEnt", err)
	}
	for i := 0; i < 9; i++ {
		must(t)(c.Do(bg, "PING"))
	}
	must(t)(c.Do(bg, "DEBUG", "SLEEP", "0.1"))
	p50, err := c.Latency(50)
	if err != nil || p50 <= 0 || p50 >= 50*time.Millisecond {
		t.Fatalf("p50 of 9 PINGs and one 100 ms sleep: %v, %v", p50, err)
	}
	p100, err := c.Latency(100)
	// The bucket's upper bound: at most 25% above the true value.
	if err != nil || p100 < 100*time.Millisecond || p100 > 400*time.Millisecond {
		t.Fatalf("p100: %v, %v (want about 100 ms)", p100, err)
	}
	if _, err := c.Latency(101); !errors.Is(err, jr.ErrInvalid) {
		t.Fatalf("Latency(101): %v", err)
	}
	buckets, err := c.LatencyBuckets()
	if err != nil {
		t.Fatal(err)
	}
	var total, slow uint64
	for i, b := range buckets {
		total += b.Count
		if i > 0 && b.Upper <= buckets[i-1].Upper {
			t.Fatalf("bucket %d: bounds not increasing: %v", i, buckets)
		}
		if b.Upper > 100*time.Millisecond {
			slow += b.Count
		}
	}
	if total != 10 || slow != 1 {
		t.Fatalf("buckets hold %d requests (%d above 100 ms), want 10 (1)", total, slow)
	}
}

func TestStatsTextIsPrometheus(t *testing.T) {
	c := newClient(t)
	for i := 0; i < 7; i++ {
		must(t)(c.Do(bg, "PING"))
	}
	text, err := c.StatsText()
	if err != nil {
		t.Fatal(err)
	}
	// The completed count of the endpoint, and well-formed lines.
	want := `endpoint="` + endpoint + `"} 7`
	found := false
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" || (!strings.HasPrefix(line, "# ") && !strings.HasPrefix(line, "jr_")) {
			t.Fatalf("not a Prometheus text line: %q", line)
		}
		if strings.HasPrefix(line, "jr_") && strings.Contains(line, "completed") &&
			strings.HasSuffix(line, want) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no completed counter ending in %q in:\n%s", want, text)
	}
	if !strings.Contains(text, "jr_request_duration_seconds_bucket") {
		t.Fatalf("no latency histogram in:\n%s", text)
	}
}

func TestStatsAfterCloseIsErrClosed(t *testing.T) {
	c, err := jr.NewClient(&jr.Options{Endpoints: []string{endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.Stats(); !errors.Is(err, jr.ErrClosed) {
		t.Fatalf("Stats after Close: %v", err)
	}
	if _, err := c.StatsText(); !errors.Is(err, jr.ErrClosed) {
		t.Fatalf("StatsText after Close: %v", err)
	}
}

// A failed connect says where and why in the error text (jr_error_detail).
func TestErrorTextHasEndpointAndCause(t *testing.T) {
	dead := deadEndpoint(t)
	c := newClient(t, func(o *jr.Options) {
		o.Endpoints, o.ConnectRetries = []string{dead}, -1
	})
	_, err := c.Do(bg, "PING")
	var le *jr.Error
	if !errors.As(err, &le) || !errors.Is(err, jr.ErrConnect) {
		t.Fatalf("want ErrConnect, got %v", err)
	}
	if !strings.Contains(le.Cause, dead) || !strings.Contains(le.Cause, "ECONNREFUSED") ||
		!strings.Contains(err.Error(), le.Cause) {
		t.Fatalf("error %q (Cause %q) does not say %s: ECONNREFUSED", err, le.Cause, dead)
	}
	// A success carries none, and a deadline has no cause to give.
	ok := newClient(t)
	ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
	defer cancel()
	_, err = ok.Do(ctx, "BLPOP", "go:detail:none", "1")
	if !errors.As(err, &le) || le.Cause != "" {
		t.Fatalf("a cancelled BLPOP: %#v", err)
	}
}

// Client-side caching through the typed options: a read of a key fills the
// cache, the next ones are hits (Stats.CacheHits), and another client's
// write invalidates the key (Stats.CacheInvalidations) so the next read is
// fresh. Over RESP2 (invalidations redirected to a connection of libjr's
// own) and RESP3 (pushes on the shared connection; skipped without RESP3
// in libjr, failed with JR_EXPECT_RESP3=1).
func TestClientCacheHitsAndInvalidation(t *testing.T) {
	for _, proto := range []int{2, 3} {
		proto := proto
		t.Run("RESP"+strconv.Itoa(proto), func(t *testing.T) {
			cache := func(o *jr.Options) {
				o.ClientCacheBytes = 1 << 20
				o.ClientCacheTTL = time.Minute
			}
			var c *jr.Client
			if proto == 3 {
				c = resp3Client(t, cache)
			} else {
				c = newClient(t, cache)
			}
			writer := newClient(t)
			key := "go:cc:" + strconv.Itoa(proto)
			must(t)(writer.Do(bg, "SET", key, "v1"))
			get := func() string {
				t.Helper()
				v, err := c.Get(bg, key)
				if err != nil {
					t.Fatalf("GET %s: %v", key, err)
				}
				return v
			}
			// The first read misses; it fills the cache once tracking is on.
			deadline := time.Now().Add(5 * time.Second)
			for stats(t, c).CacheHits == 0 {
				if v := get(); v != "v1" {
					t.Fatalf("GET before the write: %q", v)
				}
				if time.Now().After(deadline) {
					t.Fatalf("no cache hit in 5 s: %+v", stats(t, c))
				}
			}
			hits := stats(t, c).CacheHits
			if v := get(); v != "v1" || stats(t, c).CacheHits != hits+1 {
				t.Fatalf("a cached GET: %q, stats %+v (hits were %d)", v, stats(t, c), hits)
			}
			// Another connection's write: the server invalidates the key.
			inv := stats(t, c).CacheInvalidations
			must(t)(writer.Do(bg, "SET", key, "v2"))
			waitStats(t, c, "the invalidation", func(s jr.Stats) bool { return s.CacheInvalidations > inv })
			if v := get(); v != "v2" {
				t.Fatalf("GET after the invalidation: %q", v)
			}
			s := stats(t, c)
			if s.CacheHits < 2 || s.CacheMisses < 2 || s.CacheInvalidations < 1 {
				t.Fatalf("stats after hits, a write and a read: %+v", s)
			}
		})
	}
}

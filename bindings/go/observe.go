// SPDX-License-Identifier: MIT

package jr

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"math"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// libjr's log levels (JR_LOG_*), mapped to slog's by Options.Logger.
const (
	logError = C.JR_LOG_ERROR
	logWarn  = C.JR_LOG_WARN
	logInfo  = C.JR_LOG_INFO
	logDebug = C.JR_LOG_DEBUG
)

// Stats are a client's counters since it was created (jr_stats). A
// "request" is a command the application submitted (Do, Submit, a
// transaction, a WATCH command, a cluster call); libjr's own commands
// (handshake, probes, split parts) are not counted. Each counter is exact
// when read; a Stats read while commands run is not one instant across its
// fields.
type Stats struct {
	Submitted          uint64 // requests the loop thread has taken in
	Completed          uint64 // requests completed (each exactly once)
	ServerErrors       uint64 // completed with an error reply
	LibraryErrors      uint64 // completed with a library error (*Error)
	Timeouts           uint64 // ErrTimedOut, ErrQueueTimeout, ErrPoolTimeout
	Cancels            uint64 // ErrCanceled, ErrAbandoned
	InFlight           uint64 // Submitted - Completed, now
	Queued             uint64 // accepted and not released (what max_queued counts)
	BytesWritten       uint64 // handed to the sockets (TLS: encrypted)
	BytesRead          uint64 // read from the sockets
	Connects           uint64 // connections that finished their handshake
	Disconnects        uint64 // such connections lost or closed
	Redirects          uint64 // MOVED and ASK replies received
	CacheHits          uint64 // client-side caching (0 until libjr has it)
	CacheMisses        uint64
	CacheInvalidations uint64
	ConnectFailures    uint64 // failed connect attempts (each retry counts)
}

// EndpointStats are the figures of one server endpoint
// (jr_client_endpoint_stats). Requests that reached no connection
// (cancelled before they were written, closed) count in Stats only.
type EndpointStats struct {
	Endpoint        string // "host:port", "[v6]:port" or a unix path
	Connections     uint64 // its connections up now (shared, pooled, pub/sub, MONITOR)
	Completed       uint64 // requests completed by a connection to it
	ServerErrors    uint64
	LibraryErrors   uint64
	BytesWritten    uint64
	BytesRead       uint64
	Connects        uint64
	Disconnects     uint64
	ConnectFailures uint64
	Redirects       uint64 // MOVED and ASK replies it sent
}

// LatencyBucket is one bucket of the latency histogram: Count requests
// took less than Upper (and at least the previous bucket's Upper). The
// last bucket's Upper is math.MaxInt64 (everything above).
type LatencyBucket struct {
	Upper time.Duration
	Count uint64
}

// locked runs f with the client's C handle, or returns ErrClosed.
func (c *client) locked(f func(raw *C.jr_client) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	return f(c.raw)
}

// Stats returns the client's counters. It may be called from anywhere,
// callbacks included.
func (c *Client) Stats() (Stats, error) {
	var s C.jr_stats
	s.size = C.size_t(unsafe.Sizeof(s))
	err := c.locked(func(raw *C.jr_client) error { return codeError(C.jr_client_stats(raw, &s)) })
	if err != nil {
		return Stats{}, err
	}
	return Stats{
		Submitted:          uint64(s.submitted),
		Completed:          uint64(s.completed),
		ServerErrors:       uint64(s.server_errors),
		LibraryErrors:      uint64(s.library_errors),
		Timeouts:           uint64(s.timeouts),
		Cancels:            uint64(s.cancels),
		InFlight:           uint64(s.in_flight),
		Queued:             uint64(s.queued),
		BytesWritten:       uint64(s.bytes_written),
		BytesRead:          uint64(s.bytes_read),
		Connects:           uint64(s.connects),
		Disconnects:        uint64(s.disconnects),
		Redirects:          uint64(s.redirects),
		CacheHits:          uint64(s.cache_hits),
		CacheMisses:        uint64(s.cache_misses),
		CacheInvalidations: uint64(s.cache_invalidations),
		ConnectFailures:    uint64(s.connect_failures),
	}, nil
}

// EndpointStats returns the figures of every endpoint the client has tried
// to connect to, in the order it first did.
func (c *Client) EndpointStats() ([]EndpointStats, error) {
	var out []EndpointStats
	err := c.locked(func(raw *C.jr_client) error {
		for i := 0; ; i++ {
			var s C.jr_endpoint_stats
			s.size = C.size_t(unsafe.Sizeof(s))
			rc := C.jr_client_endpoint_stats(raw, C.size_t(i), &s)
			if rc == C.JR_ENOENT {
				return nil
			}
			if err := codeError(rc); err != nil {
				return err
			}
			out = append(out, EndpointStats{
				Endpoint:        C.GoString(s.endpoint),
				Connections:     uint64(s.connections),
				Completed:       uint64(s.completed),
				ServerErrors:    uint64(s.server_errors),
				LibraryErrors:   uint64(s.library_errors),
				BytesWritten:    uint64(s.bytes_written),
				BytesRead:       uint64(s.bytes_read),
				Connects:        uint64(s.connects),
				Disconnects:     uint64(s.disconnects),
				ConnectFailures: uint64(s.connect_failures),
				Redirects:       uint64(s.redirects),
			})
		}
	})
	return out, err
}

func durationOfNs(ns C.uint64_t) time.Duration {
	if uint64(ns) > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// Latency returns the given percentile (0..100; 50 is the median) of the
// time from submit to completion of the requests so far, as the upper
// bound of the histogram bucket that holds it: at most 25% above the true
// value (math.MaxInt64 when it falls in the last bucket, above 137 s).
// ErrNoEnt: no request has completed yet; ErrInvalid: percentile out of
// range.
func (c *Client) Latency(percentile float64) (time.Duration, error) {
	var ns C.uint64_t
	err := c.locked(func(raw *C.jr_client) error {
		return codeError(C.jr_client_latency(raw, C.double(percentile), &ns))
	})
	if err != nil {
		return 0, err
	}
	return durationOfNs(ns), nil
}

// LatencyBuckets returns the latency histogram: under 1024 ns, then four
// buckets per power of two up to 2^37 ns, then the rest.
func (c *Client) LatencyBuckets() ([]LatencyBucket, error) {
	var out []LatencyBucket
	err := c.locked(func(raw *C.jr_client) error {
		for i := 0; ; i++ {
			var upper, count C.uint64_t
			rc := C.jr_client_latency_bucket(raw, C.size_t(i), &upper, &count)
			if rc == C.JR_ENOENT {
				return nil
			}
			if err := codeError(rc); err != nil {
				return err
			}
			out = append(out, LatencyBucket{Upper: durationOfNs(upper), Count: uint64(count)})
		}
	})
	return out, err
}

// StatsText returns the statistics in the Prometheus text exposition
// format (0.0.4), ready to serve as they are: metric names start with jr_,
// per-endpoint series carry endpoint="host:port", and the latency
// histogram is jr_request_duration_seconds.
func (c *Client) StatsText() (string, error) {
	var text string
	err := c.locked(func(raw *C.jr_client) error {
		buf := make([]byte, 8192)
		for {
			n := C.jr_client_stats_text(raw, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
			if n < 0 {
				return codeError(C.int(n))
			}
			if int64(n) < int64(len(buf)) {
				text = string(buf[:n])
				return nil
			}
			buf = make([]byte, int(n)+1)
		}
	})
	return text, err
}

// logLine is one queued line of libjr's log.
type logLine struct {
	level    int
	ev       Event
	endpoint string
	text     string
}

// logMax bounds the lines waiting for a slow Logger; beyond it lines are
// dropped and counted (one line says how many, once the Logger catches up).
const logMax = 4096

// logQueue hands log lines from the dispatcher to a goroutine of their own,
// so that a Logger whose handler blocks (a full pipe, a slow collector)
// holds up neither libjr's loop thread (which only queued them in C) nor
// the completions the dispatcher runs.
type logQueue struct {
	sink    func(level int, ev Event, endpoint, text string)
	mu      sync.Mutex
	lines   []logLine
	dropped int
	closed  bool
	wake    chan struct{} // 1-buffered
}

func newLogQueue(sink func(level int, ev Event, endpoint, text string)) *logQueue {
	q := &logQueue{sink: sink, wake: make(chan struct{}, 1)}
	go q.run()
	return q
}

func (q *logQueue) push(l logLine) {
	q.mu.Lock()
	if len(q.lines) >= logMax {
		q.dropped++
	} else {
		q.lines = append(q.lines, l)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *logQueue) run() {
	var batch []logLine
	for {
		q.mu.Lock()
		batch, q.lines = q.lines, batch[:0]
		dropped, closed := q.dropped, q.closed
		q.dropped = 0
		q.mu.Unlock()
		if dropped > 0 {
			q.sink(logWarn, EventLog, "", "jr: "+strconv.Itoa(dropped)+
				" log lines dropped: the Logger's handler did not keep up")
		}
		for i := range batch {
			q.sink(batch[i].level, batch[i].ev, batch[i].endpoint, batch[i].text)
			batch[i] = logLine{}
		}
		if closed && len(batch) == 0 {
			return
		}
		if len(batch) == 0 {
			<-q.wake
		}
	}
}

// close lets the goroutine write what is queued, then end. It does not
// wait: a handler that blocks must not hold up Client.Close either.
func (q *logQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

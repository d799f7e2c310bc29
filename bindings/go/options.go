// SPDX-License-Identifier: MIT

package jr

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"strconv"
	"time"
	"unsafe"
)

// OptionInfo describes one libjr option key, from the table inside libjr
// that jr_options_set checks values against (jr_options_describe).
type OptionInfo struct {
	Name string
	// Type is "int", "bool" (0 or 1), "string" or "enum" (one of the words
	// Doc names).
	Type string
	// Min and Max bound an int or bool (0 and 0 for the others).
	Min, Max int64
	// Default is the value as Settings takes it ("" when there is none).
	Default string
	Doc     string
}

// DescribeOptions lists every option key libjr knows, in its order. Keys
// without a typed field in Options are set through Options.Settings.
func DescribeOptions() []OptionInfo {
	var out []OptionInfo
	for i := 0; ; i++ {
		var name, typ, def, doc *C.char
		var lo, hi C.int64_t
		if C.jr_options_describe(C.size_t(i), &name, &typ, &lo, &hi, &def, &doc) != C.JR_OK {
			return out
		}
		out = append(out, OptionInfo{
			Name:    C.GoString(name),
			Type:    C.GoString(typ),
			Min:     int64(lo),
			Max:     int64(hi),
			Default: C.GoString(def),
			Doc:     C.GoString(doc),
		})
	}
}

// Options configure a Client. Zero values mean libjr's defaults (jr.h).
type Options struct {
	// Endpoints: "host:port", "[v6]:port", "host" or a unix socket path,
	// tried in order. Default 127.0.0.1:6379.
	Endpoints []string
	// URL: redis://[user[:pass]@]host[:port][/db] or unix:///path?db=N.
	URL        string
	Username   string
	Password   string
	Database   int
	ClientName string
	// Protocol: 2 (RESP2, the default) or 3 (RESP3: one HELLO 3 handshake;
	// replies then have the RESP3 kinds, KindMap, KindSet, KindDouble, ...).
	// RESP3 needs libjr built with hiredis >= 1.0: otherwise NewClient fails
	// with ErrInvalid, whose Cause says so. 0 leaves libjr's default.
	Protocol int
	// ConnectTimeout per attempt; CommandTimeout is the default deadline of
	// a command that has no context deadline (negative: none).
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
	// ConnectRetries: extra connect attempts after the first, with
	// exponential backoff (0: libjr's default, 3; -1: none, fail at the
	// first refused attempt), as go-redis's MaxRetries.
	ConnectRetries int
	// Redis Sentinel: the master named SentinelMaster is found by asking
	// Sentinels ("host:port", "[v6]:port", "host" for port 26379) in turn,
	// and followed across failovers. SentinelUsername / SentinelPassword
	// authenticate to the sentinels (they may have their own ACL); TLS
	// applies to them too. A redis-sentinel://h1,h2/db#master URL sets the
	// same. Endpoints are then not used.
	Sentinels        []string
	SentinelMaster   string
	SentinelUsername string
	SentinelPassword string
	// ConnectCommands run on every new connection after AUTH.
	ConnectCommands [][]string
	// TLS on every connection (a rediss:// URL turns it on too). The server
	// certificate and host name (or IP address) are verified against
	// TLSCAFile / TLSCADir, or the system store, unless TLSInsecureSkipVerify
	// (testing only). TLSCertFile and TLSKeyFile are a client certificate
	// (mutual TLS); TLSServerName replaces the endpoint's host for SNI and
	// verification. TLS files that cannot be used make NewClient fail with
	// ErrTLS; a failed handshake fails commands with ErrConnect (OnEvent gets
	// the verification error).
	TLS                   bool
	TLSInsecureSkipVerify bool
	TLSCAFile             string
	TLSCADir              string
	TLSCertFile           string
	TLSKeyFile            string
	TLSServerName         string
	// Client-side caching (libjr's client_cache_* keys): with
	// ClientCacheBytes > 0, reads of known keys (GET, MGET, HGET, HGETALL,
	// SMEMBERS, ...) are answered from a local cache of that many bytes
	// (LRU), which the server keeps fresh with CLIENT TRACKING
	// invalidations: RESP3 pushes with Protocol 3, or with RESP2 a
	// redirect to a subscription connection of libjr's own (so it works
	// with a hiredis 0.14 libjr too). A hit costs no round trip and counts
	// in Stats.CacheHits, not as a request. A read just after this
	// client's own write may see the old value until the server's
	// invalidation arrives. A cluster is cached with Protocol 3 only.
	// 0 (the default): no cache.
	ClientCacheBytes int64
	// ClientCachePrefixes: broadcast mode (CLIENT TRACKING BCAST): only
	// keys under these prefixes are cached, and the server invalidates
	// every key under them ("" is every key). Empty: the keys read are
	// tracked one by one.
	ClientCachePrefixes []string
	// ClientCacheTTL: a cached entry older than this is not used, a safety
	// net for an invalidation lost unnoticed (0: libjr's default, 60 s;
	// negative: no limit).
	ClientCacheTTL time.Duration
	// Settings: any other jr.h option key, set after the fields above (e.g.
	// "max_queued": "1000", "socket_timeout_ms": "2000", "cluster": "no",
	// "tls": "1"). A map holds one value per key: the repeatable keys have
	// typed fields (Endpoints, Sentinels, ConnectCommands,
	// ClientCachePrefixes).
	Settings map[string]string
	// OnEvent is called for connection events on the dispatcher goroutine
	// (it must not block).
	OnEvent func(ev Event, endpoint, detail string)
	// Logger receives libjr's leveled log (a *slog.Logger; Go >= 1.21):
	// every state change of a connection, pool, cluster map and
	// subscription connection, at slog's Error (a component gave up), Warn
	// (a fault libjr recovers from), Info (a normal change of state) or
	// Debug level, with the attributes "endpoint" and "event". libjr's loop
	// thread only queues the lines; the Logger runs on the dispatcher
	// goroutine, so a slow handler never holds up I/O. Lines never contain
	// passwords or a URL's user information. nil: no logging.
	Logger Logger
	// LoopDelivery runs Submit callbacks, message handlers and the
	// completions of Do on libjr's loop thread, entering Go once per batch
	// of completions (libjr's ready hook), instead of on a dispatcher
	// goroutine woken through libjr's descriptor. The loop runs on a
	// goroutine locked to its own thread (libjr's thread starter), so each
	// entry is a plain cgo callback. It saves the two thread hand-offs per
	// batch: pipelined Submit throughput is about 2x (see
	// bench/RESULTS.md). The cost: a callback that blocks or runs long now
	// also holds up libjr's reads, writes and timers, not only other
	// callbacks. Do and Close from such a callback return ErrMisuse (with
	// the dispatcher goroutine they deadlock).
	LoopDelivery bool
}

func ms(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	m := int64(d / time.Millisecond)
	if m == 0 && d > 0 {
		m = 1
	}
	return m
}

// typedSettings is what the typed fields of o set: libjr option keys and
// their values as text, in the order build sets them (Settings follow).
// A zero field sets nothing, so libjr's defaults apply. options_test.go
// checks every key and value against DescribeOptions.
func (o *Options) typedSettings() [][2]string {
	var kv [][2]string
	add := func(k, v string) { kv = append(kv, [2]string{k, v}) }
	if o.URL != "" {
		add("url", o.URL)
	}
	for _, ep := range o.Endpoints {
		add("endpoint", ep)
	}
	if o.Username != "" {
		add("username", o.Username)
	}
	if o.Password != "" {
		add("password", o.Password)
	}
	if o.Database != 0 {
		add("database", strconv.Itoa(o.Database))
	}
	if o.ClientName != "" {
		add("client_name", o.ClientName)
	}
	for _, s := range o.Sentinels {
		add("sentinel", s)
	}
	for _, f := range [...][2]string{
		{"sentinel_master", o.SentinelMaster},
		{"sentinel_username", o.SentinelUsername},
		{"sentinel_password", o.SentinelPassword},
	} {
		if f[1] != "" {
			add(f[0], f[1])
		}
	}
	if o.Protocol != 0 {
		add("protocol", strconv.Itoa(o.Protocol))
	}
	if o.ConnectTimeout != 0 {
		add("connect_timeout_ms", strconv.FormatInt(ms(o.ConnectTimeout), 10))
	}
	if o.CommandTimeout != 0 {
		add("command_timeout_ms", strconv.FormatInt(ms(o.CommandTimeout), 10))
	}
	switch {
	case o.ConnectRetries < 0:
		add("connect_retry", "0")
	case o.ConnectRetries > 0:
		add("connect_retry", strconv.Itoa(o.ConnectRetries))
	}
	if o.TLS {
		add("tls", "1")
	}
	if o.TLSInsecureSkipVerify {
		add("tls_verify", "0")
	}
	for _, f := range [...][2]string{
		{"tls_ca_file", o.TLSCAFile},
		{"tls_ca_dir", o.TLSCADir},
		{"tls_cert_file", o.TLSCertFile},
		{"tls_key_file", o.TLSKeyFile},
		{"tls_server_name", o.TLSServerName},
	} {
		if f[1] != "" {
			add(f[0], f[1])
		}
	}
	if o.ClientCacheBytes != 0 {
		add("client_cache_bytes", strconv.FormatInt(o.ClientCacheBytes, 10))
	}
	for _, p := range o.ClientCachePrefixes {
		add("client_cache_prefix", p)
	}
	switch {
	case o.ClientCacheTTL < 0:
		add("client_cache_ttl_ms", "0")
	case o.ClientCacheTTL > 0:
		add("client_cache_ttl_ms", strconv.FormatInt(ms(o.ClientCacheTTL), 10))
	}
	if o.LoopDelivery {
		// Fewer, larger batches: one entry into Go per 64 completions of a
		// read (a quarter of 256 in flight; Settings may change it).
		add("ready_batch", "64")
	}
	return kv
}

func (o *Options) build() (*C.jr_options, error) {
	co := C.jr_options_new()
	if co == nil {
		return nil, ErrNoMem
	}
	ok := false
	defer func() {
		if !ok {
			C.jr_options_free(co)
		}
	}()
	set := func(k, v string) error {
		ck, cv := C.CString(k), C.CString(v)
		defer C.free(unsafe.Pointer(ck))
		defer C.free(unsafe.Pointer(cv))
		if err := codeError(C.jr_options_set(co, ck, cv)); err != nil {
			return fmt.Errorf("jr: option %s: %w", k, err)
		}
		return nil
	}
	for _, kv := range o.typedSettings() {
		if err := set(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	for k, v := range o.Settings {
		if err := set(k, v); err != nil {
			return nil, err
		}
	}
	for _, cmd := range o.ConnectCommands {
		args := make([]interface{}, len(cmd))
		for i, a := range cmd {
			args[i] = a
		}
		a := getArgs()
		if err := a.encode(args); err != nil {
			putArgs(a)
			return nil, err
		}
		rc := C.jr_go_options_connect_command(co, a.bufPtr(), a.lensPtr(), C.size_t(len(a.lens)))
		putArgs(a)
		if err := codeError(rc); err != nil {
			return nil, fmt.Errorf("jr: connect command %v: %w", cmd, err)
		}
	}
	ok = true
	return co, nil
}

// Validate sets the options on a libjr options object as NewClient does and
// reports what libjr rejects (an unknown Settings key, a value out of range,
// a bad URL or endpoint), without starting a client. TLS files are read by
// NewClient only.
func (o *Options) Validate() error {
	co, err := o.build()
	if err != nil {
		return err
	}
	C.jr_options_free(co)
	return nil
}

/* SPDX-License-Identifier: MIT */
/*
 * libjr: a Redis client core with a stable C ABI.
 *
 * One loop thread owns every socket. Any thread may submit commands; all
 * commands submitted since the loop last ran go out in one write on one
 * multiplexed connection (automatic pipelining), and replies are matched to
 * commands first-in first-out.
 *
 * This header is the contract: what is not declared here is not part of the
 * API. Every function documents four things:
 *   Returns    what the result means.
 *   Ownership  who owns the memory that crosses the call.
 *   Thread     which threads may call it.
 *   Since      the version that added it.
 *
 * The callback rule (libuv's): when a function that takes a completion
 * callback returns a negative code, the callback is never called. When it
 * returns 0 (JR_OK), the callback is called exactly once: with a reply, a
 * server error reply, or a library error (timeout, cancel, disconnect,
 * shutdown). The callback never runs inside the submitting call, nor inside
 * any other libjr call that completes it (jr_cancel, jr_multi_discard, a
 * failed jr_multi_exec, jr_sub_free, jr_monitor_free...): called from a
 * loop-mode callback, such a completion runs after that callback has
 * returned; called from another thread, on the loop thread (poll mode:
 * through jr_dispatch). So a binding may hold a lock while it calls libjr
 * and take the same lock in its callbacks. The exceptions, by design:
 * jr_dispatch runs queued callbacks on its caller's thread, and
 * jr_client_free and jr_client_drain wait for the last callbacks (free
 * runs some on its caller's thread): do not hold such a lock around them.
 */
#ifndef JR_JR_H
#define JR_JR_H

#include <stddef.h>
#include <stdint.h>

#include "jr/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(JR_BUILDING) && defined(__GNUC__)
#define JR_API __attribute__((visibility("default")))
#else
#define JR_API
#endif

/* ---- Handles (all opaque) --------------------------------------------- */

typedef struct jr_options jr_options; /* builder, copied by jr_client_new */
typedef struct jr_client jr_client;   /* the multiplexer: loop thread + sockets */
typedef struct jr_db jr_db;           /* a database view on a client */
typedef struct jr_reply jr_reply;     /* one node of a reply tree */
typedef struct jr_multi jr_multi;     /* a MULTI/EXEC transaction being built */
typedef struct jr_watch jr_watch;     /* a conditional transaction (WATCH) */
typedef struct jr_sub jr_sub;         /* a pub/sub subscriber */
typedef struct jr_monitor jr_monitor; /* a MONITOR stream */
typedef uint64_t jr_req_id;           /* names a submitted command for jr_cancel */

/* ---- Result codes -------------------------------------------------------
 *
 * 0 is success; library errors are negative. Values are fixed: new codes are
 * only appended and callers must accept codes they do not know.
 *
 * The seed's two-kind error model:
 *   - a server error reply arrives as status 0 with a reply of type
 *     JR_REPLY_ERROR (its text from jr_reply_str);
 *   - a library error arrives as a negative status with reply == NULL,
 *     with one exception: JR_EAUTH when the server answered the
 *     connection's handshake (AUTH, CLIENT SETNAME, a connect command) with
 *     an error reply. Then reply is that error reply (type JR_REPLY_ERROR,
 *     e.g. "WRONGPASS invalid username-password pair ..."): the server's
 *     text, attached to the library error; the command itself never ran.
 * jr_err_unsent(code) tells whether a command that failed with a library
 * error certainly did NOT reach the server (so it is safe to retry). */
#define JR_OK 0
#define JR_EINVAL (-1)        /* invalid argument; nothing sent */
#define JR_ENOMEM (-2)        /* out of memory; refused: not sent; completion: may have run */
#define JR_ECLOSED (-3)       /* client closed or draining; not sent */
#define JR_ECONNECT (-4)      /* could not connect to any endpoint; not sent */
#define JR_ECONNLOST (-5)     /* connection lost after the write; may have run */
#define JR_ETIMEDOUT (-6)     /* timed out after the write; may have run */
#define JR_EQUEUETIMEOUT (-7) /* timed out before it was written; not sent */
#define JR_EPROTO (-8)        /* malformed reply from the server; may have run */
#define JR_ETOOBIG (-9)       /* reply over the configured limits; may have run */
#define JR_EREFUSED (-10)     /* command not allowed on this handle; not sent */
#define JR_ECANCELED (-11)    /* cancelled before the write; not sent */
#define JR_EABANDONED (-12)   /* cancelled after the write; may have run */
#define JR_EAUTH (-13)        /* AUTH / SELECT / connect commands failed; not sent */
#define JR_ESHUTDOWN (-14)    /* client freed while in flight; may have run */
#define JR_EMISUSE (-15)      /* API called in a way it forbids (e.g. from a callback); not sent */
#define JR_ENOENT (-16)       /* no such request (already completed) / unknown key */
#define JR_EINTERNAL (-17)    /* bug in libjr; please report */
#define JR_EFULL (-18)        /* queue limit reached; not sent */
#define JR_EDISCARDED (-19)   /* transaction discarded before EXEC; not run */
#define JR_EWATCH (-20)       /* transaction aborted: watched key changed; not run */
#define JR_EPOOLTIMEOUT (-21) /* no pooled connection freed in time; not sent */
#define JR_ECROSSSLOT (-22)   /* keys in different cluster slots; not sent */
#define JR_ECLUSTER (-23)     /* wrong cluster mode: all-masters on standalone, or a */
                              /* database other than 0 on a cluster; not sent */
#define JR_EFORKED (-24)      /* client made before fork(), used in the child; not sent */
#define JR_ETLS (-25)         /* TLS configuration unusable (jr_client_new) */

/* Returns: static text for a code ("connection lost ..."). Never NULL.
 * Thread: any. Since: 0.1 */
JR_API const char *jr_strerror(int code);
/* Returns: the code's name ("JR_ECONNLOST"), or "JR_E?" for unknown codes.
 * Thread: any. Since: 0.1 */
JR_API const char *jr_err_name(int code);
/* Answers for a command that ended with `code` (its callback's status, or
 * what jr_client_submit, jr_client_call or another call that takes a
 * command returned for it): 1 if that command certainly did not run on the
 * server (it was never sent, or its transaction was not executed:
 * JR_EDISCARDED, JR_EWATCH), so a retry cannot run it twice; 0 if it may
 * have run. Also 0 for every code that is no command's outcome: JR_OK,
 * positive and unknown codes, JR_ENOENT (from jr_cancel and
 * jr_options_set), JR_ETLS (from jr_client_new); the question does not
 * apply, and 0 is the answer that never invites a retry. Codes with 1:
 * JR_EINVAL, JR_ECLOSED, JR_ECONNECT, JR_EQUEUETIMEOUT, JR_EREFUSED,
 * JR_ECANCELED, JR_EAUTH, JR_EMISUSE (a call made where it is forbidden
 * sends nothing), JR_EFULL, JR_EDISCARDED, JR_EWATCH, JR_EPOOLTIMEOUT,
 * JR_ECROSSSLOT, JR_ECLUSTER, JR_EFORKED. JR_ENOMEM is 0: a refused submit
 * sent nothing, but a command completes with it when its reply could not
 * be stored, after the write. Thread: any. Since: 0.1 */
JR_API int jr_err_unsent(int code);

/* ---- Version ------------------------------------------------------------ */

/* Returns: JR_VERSION_HEX of the library at run time (compare with the
 * macro to detect header/library mismatch). Thread: any. Since: 0.1 */
JR_API unsigned jr_version(void);
/* Returns: "X.Y.Z", static. Thread: any. Since: 0.1 */
JR_API const char *jr_version_string(void);

/* ---- Options -------------------------------------------------------------
 *
 * Keys (string values through jr_options_set, numbers through
 * jr_options_set_int; either setter accepts a number written as text). One
 * table inside libjr defines them all (type, range, default, doc):
 * jr_options_describe reads it, and docs/api.md lists each key's range.
 *
 *   endpoint            add one endpoint: "host:port", "[v6addr]:port",
 *                       "host" (port 6379), or a unix socket path (contains
 *                       '/'). May be given several times; tried in order.
 *   url                 redis://[user[:pass]@]host[:port][/db],
 *                       rediss://... (TLS), valkey:// and valkeys:// (the
 *                       same) or unix:///path/to.sock[?db=N]; sets
 *                       endpoint, username, password and database.
 *   username            ACL user name (sent as AUTH user pass).
 *   password            server password (AUTH); never logged.
 *   database            database of jr_client_submit (default 0).
 *   client_name         CLIENT SETNAME on every connection.
 *   protocol            2 (default) or 3: RESP3, negotiated with one
 *                       HELLO 3 [AUTH user pass] [SETNAME name] per
 *                       connection; replies then have the RESP3 types
 *                       (JR_REPLY_MAP, ...). A server without HELLO (before
 *                       Redis 6) fails the handshake with JR_EAUTH. Needs
 *                       libjr built with hiredis >= 1.0: otherwise
 *                       jr_client_new returns JR_EINVAL (and says why
 *                       through the event callback, JR_EVENT_LOG). Also
 *                       ?protocol=3 in a redis:// URL.
 *   connect_timeout_ms  per connect attempt (default 5000).
 *   connect_retry       extra attempts after the first (default 3), with
 *                       exponential backoff from 50 ms up to 2 s.
 *   command_timeout_ms  default deadline of each command from submit to
 *                       reply (default 5000; 0 = none). A timeout does not
 *                       close the shared connection: a late reply is read
 *                       and dropped.
 *   socket_timeout_ms   if replies are owed and nothing was read for this
 *                       long, the connection is considered dead and
 *                       replaced, whatever the commands' deadlines
 *                       (default 0 = off; silence_timeout_ms still applies).
 *   silence_timeout_ms  the default dead-connection rule: a connection that
 *                       owes replies and has read nothing for this long
 *                       (counted from its last read, or from when it
 *                       started to owe replies), once the command the
 *                       server must answer first is past its own deadline,
 *                       is replaced: what it owed fails with JR_ECONNLOST
 *                       (or JR_ETIMEDOUT), "may have run". A command with a
 *                       longer deadline (a slow script) is waited for; one
 *                       with no deadline (timeout_ms 0, or a blocking
 *                       command) holds the rule off, and only TCP keepalive
 *                       finds a dead peer then (default 10000; 0 = off).
 *   recv_buffer_size    bytes per socket read (default 65536).
 *   tcp_keepalive_s     TCP keepalive idle time in seconds (default 60;
 *                       0 = off): the first probe after this long without
 *                       traffic, then 3 probes idle/3 apart (Linux), so a
 *                       dead peer of an idle connection is found in about
 *                       twice this time.
 *   tcp_nodelay         1 (default) or 0.
 *   max_bulk_len        largest accepted bulk string (default 512 MiB).
 *   max_elements        largest accepted array (default 16M elements).
 *   max_reply_bytes     largest accepted reply as a whole (default 1 GiB).
 *                       A reply over these limits fails its command with
 *                       JR_ETOOBIG as soon as the header that announces it
 *                       arrives (nothing more is waited for), and the
 *                       connection is replaced.
 *   max_queued          most commands libjr holds: accepted and not
 *                       completed, or timed out / cancelled after the write
 *                       and still owed a reply (default 1M; beyond:
 *                       submit returns JR_EFULL).
 *   max_queued_bytes    most bytes (encoded) of those commands (default
 *                       1 GiB; beyond: JR_EFULL). It bounds their memory:
 *                       a command of 16 KiB or more is written from its
 *                       own buffer, never copied again; smaller ones share
 *                       a write buffer of at most 512 KiB per connection
 *                       (and TLS encrypts 256 KiB at a time).
 *   max_connections     dedicated (pooled) connections per endpoint, used by
 *                       blocking commands and WATCH (default 10; the seed's
 *                       maxconnections). A command that finds the pool full
 *                       waits, FIFO, within its deadline.
 *   call_spin_us        jr_client_call spins up to this long for its reply
 *                       before it sleeps: a fast server's reply arrives
 *                       before a sleep and wake-up would be over (default
 *                       100; 0 = always sleep). At most half the CPUs the
 *                       process may run on spin (none on one CPU);
 *                       after 4 spins in vain, only every 32nd call spins.
 *   loop_spin_us        after a write the loop thread keeps polling for up
 *                       to this long before it sleeps, so that the replies
 *                       find it awake; and after a read that leaves its
 *                       connection owing nothing, so that a caller's next
 *                       command finds it awake (default 100; 0 = sleep at
 *                       once). It takes a spinner slot like call_spin_us;
 *                       after 4 windows of a kind that saw nothing, only
 *                       every 32nd write (or read) spins.
 *   dispatch            "loop" (default) or "poll"; see jr_client_fd.
 *   ready_batch         while a read's replies are parsed, the ready hook
 *                       (jr_options_set_ready_cb) runs once this many
 *                       completions are ready (default 16; 1..1048576);
 *                       the rest at the end of the loop iteration.
 *   tls                 1: TLS on every connection (default 0; rediss://
 *                       and valkeys:// URLs set it). The server certificate and host name
 *                       (or IP address) are verified by default.
 *   tls_verify          0 disables verification (testing only).
 *   tls_ca_file         trusted CAs, a file (default: the system store).
 *   tls_ca_dir          trusted CAs, a directory (default: the system store).
 *   tls_cert_file       client certificate (mutual TLS).
 *   tls_key_file        its private key.
 *   tls_server_name     name for SNI and verification instead of the
 *                       endpoint's host. A failed handshake (untrusted or
 *                       wrong certificate, or a server that refuses the
 *                       client's: its alert) is a failed connect attempt:
 *                       commands get JR_ECONNECT and the event callback
 *                       gets the verification error or the alert. No
 *                       command is written before the server has answered
 *                       on the session (TLS 1.3 refuses a client
 *                       certificate after the client's side of the
 *                       handshake is done): the handshake's AUTH, or a
 *                       PING when there is no handshake command.
 *   read_from_replicas  1: in a cluster, read-only commands (the COMMAND
 *                       table's "readonly" flag) are spread over each
 *                       slot's master and replicas (READONLY is sent to
 *                       replicas). With Sentinel they go to the replicas
 *                       of SENTINEL replicas (not down, link ok, confirmed
 *                       by ROLE on each connection), or to the master when
 *                       none is usable. Replicas may lag (default 0).
 *   client_cache_bytes  client-side caching (default 0 = off): a cache of
 *                       this many bytes (LRU) answers reads of known keys
 *                       (GET, MGET, EXISTS, STRLEN, HGET, HMGET, HGETALL,
 *                       SMEMBERS, SISMEMBER, LRANGE, ZRANGE, ZSCORE and
 *                       more: src/cache.hpp's table) without a round trip;
 *                       the server says when a key changes (CLIENT
 *                       TRACKING; with protocol=3 its pushes come on the
 *                       shared connection, with protocol=2 on a connection
 *                       of their own that it redirects to). A cached reply
 *                       is shared, read-only, like any reply. jr_client_call
 *                       returns a hit at once, on the caller's thread
 *                       (counted in cache_hits only, not as a request); a
 *                       submitted read's callback runs as usual. A read
 *                       answered while its key was being invalidated never
 *                       fills the cache; losing the shared or the
 *                       invalidation connection drops the whole cache,
 *                       and caching resumes once the tracking is back.
 *                       The server's invalidation of this client's own
 *                       write may arrive just after the write's reply: a
 *                       read right after it can still see the old value.
 *                       On a cluster each node's connection is tracked
 *                       (protocol=3: its pushes come on it; protocol=2:
 *                       each node gets an invalidation connection of its
 *                       own that the node's connection redirects to);
 *                       reads from replicas and split multi-slot reads
 *                       are not cached; losing any node's connection or
 *                       invalidation connection, a MOVED or a refresh
 *                       that moves a slot drops the whole cache.
 *                       Counted in jr_stats (cache_hits, cache_misses,
 *                       cache_invalidations); evictions (LRU and TTL) and
 *                       the bytes held in jr_client_stats_text
 *                       (jr_cache_evictions_total, jr_cache_bytes).
 *   client_cache_prefix broadcast mode (CLIENT TRACKING BCAST PREFIX):
 *                       only keys under these prefixes are cached, and
 *                       the server tells about every key under them;
 *                       repeatable ("" = every key). Without it, the
 *                       server tracks the keys this client read.
 *   client_cache_ttl_ms the age past which a cached entry is not used
 *                       (default 60000; 0 = no limit): a safety net for an
 *                       invalidation lost without the connection failing
 *                       visibly (keepalive finds a dead peer in about two
 *                       minutes by default), and for keys that expire on
 *                       the server before it deletes them.
 *   cluster             "auto" (default: ask the first server with CLUSTER
 *                       SLOTS, once, ahead of the first command), "no"
 *                       (never: a standalone server, no probe), "yes"
 *                       (same probe as auto; states the expectation).
 *   sentinel            adds a Redis Sentinel ("host:port", "[v6]:port" or
 *                       "host": port 26379); repeatable. With sentinels
 *                       and sentinel_master, the master is asked of the
 *                       sentinels (SENTINEL get-master-addr-by-name, in
 *                       turn; one that answers moves to the front; the
 *                       list grows from SENTINEL sentinels) and confirmed
 *                       by ROLE before any command is written to it (and
 *                       by ROLE in the handshake of every reconnect);
 *                       endpoint is ignored and cluster is "no".
 *                       Commands wait (within their deadlines and the
 *                       queue limits) while the master is unknown; a
 *                       failover (+switch-master, a READONLY reply, a
 *                       master that cannot be reached) moves every
 *                       connection to the new master. No sentinel
 *                       reachable, an unknown master name or a nonsense
 *                       answer: the waiting commands get JR_ECONNECT and
 *                       the event callback says which (endpoint
 *                       "sentinel"). TLS (tls=1) applies to sentinels too.
 *   sentinel_master     the master's name as the sentinels know it.
 *   sentinel_username   ACL user on the sentinels (username and password
 *   sentinel_password   are the master's).
 *   url                 also redis-sentinel://[[user]:pass@]h1[:p1][,h2
 *                       [:p2]...][/db]#master (Lettuce's form;
 *                       rediss-sentinel:// for TLS).
 *
 * Numeric values are decimal digits with an optional '-' (no blanks, no
 * '+'); bool keys take 0 or 1. An empty string is a valid value only for
 * username, password, client_name and the tls_* string keys ("" means
 * none, the default).
 *
 * Returns: 0, JR_EINVAL (a known key with a bad value: not a number, out of
 * the key's range, a word the key does not take, a number for a string key;
 * or a NULL argument), JR_ENOENT (unknown key; never for a bad value),
 * JR_ENOMEM. Ownership: strings are copied. Thread: one thread at a time per
 * jr_options. Since: 0.1 */
JR_API jr_options *jr_options_new(void);
JR_API void jr_options_free(jr_options *opts); /* NULL is a no-op */
JR_API int jr_options_set(jr_options *opts, const char *key, const char *value);
JR_API int jr_options_set_int(jr_options *opts, const char *key, int64_t value);

/* Describes option key number `index` (0, 1, ... up to the first
 * JR_ENOENT), from the one table behind jr_options_set: its name; its type,
 * "int", "bool" (0 or 1), "string" or "enum" (one of a few words, named in
 * the doc); for int and bool the range jr_options_set_int accepts, min..max
 * (0..0 otherwise); the default as jr_options_set takes it ("" when there is
 * none); one line of doc. For bindings that check their typed options
 * against the library. Any out pointer may be NULL. Returns: 0, JR_ENOENT
 * (index past the last key). Ownership: the strings are static.
 * Thread: any. Since: 0.1 */
JR_API int jr_options_describe(size_t index, const char **name, const char **type, int64_t *min,
                               int64_t *max, const char **def, const char **doc);

/* Adds a command sent on every new connection after AUTH and before SELECT
 * (the seed's "connection handler"), e.g. CLIENT SETINFO. An error reply
 * fails the connection attempt (commands waiting get JR_EAUTH, with that
 * error reply as their reply).
 * Returns: 0, JR_EINVAL, JR_EREFUSED (a command that breaks multiplexing),
 * JR_ENOMEM. Ownership: argv is copied. Since: 0.1 */
JR_API int jr_options_add_connect_command(jr_options *opts, size_t argc, const char *const *argv,
                                          const size_t *argvlen);

/* Connection events passed to the event callback. */
#define JR_EVENT_CONNECTED 1    /* a connection finished its handshake */
#define JR_EVENT_DISCONNECTED 2 /* a connection was lost or closed */
#define JR_EVENT_CONNECT_FAILED 3
#define JR_EVENT_LOG 4 /* diagnostic text (never contains credentials) */
typedef void (*jr_event_cb)(void *ctx, int event, const char *endpoint, const char *detail);
/* Sets a hook called on the loop thread for connection events and
 * diagnostics. It must not block. Since: 0.1 */
JR_API int jr_options_set_event_cb(jr_options *opts, jr_event_cb cb, void *ctx);

/* Leveled logs (since 0.2). The log hook gets what the event callback
 * gets, with a level, and more: every state change of a connection
 * (connecting, connected, a failed attempt, giving up, lost, reconnect
 * scheduled, closed), of a pool (a connection added, the pool full, a
 * connection back or dropped), of the cluster map (detection, a new map,
 * a failed refresh) and of a subscription connection (lost, subscribed
 * again). `event` is one of the JR_EVENT_* codes (JR_EVENT_STATE for the
 * changes the event callback never saw); `endpoint` the endpoint, or a
 * component ("cluster", "pubsub", "pool", "monitor"); `text` one line.
 * Neither ever contains a password, nor a URL's user information. Both
 * hooks may be set: jr_options_set_event_cb keeps its 0.1 behaviour (its
 * four events, no level). Called on the loop thread; must not block.
 * Returns: 0, JR_EINVAL. Since: 0.2 */
#define JR_EVENT_STATE 5 /* another state change (log hook only) */
#define JR_LOG_ERROR 1   /* a component gave up: requests fail (connect retries used up) */
#define JR_LOG_WARN 2    /* a fault libjr recovers from (a lost connection, a failed attempt) */
#define JR_LOG_INFO 3    /* a normal change of state (connected, a new cluster map) */
#define JR_LOG_DEBUG 4   /* details (an attempt starts, a pooled connection returns) */
typedef void (*jr_log_cb)(void *ctx, int level, int event, const char *endpoint, const char *text);
JR_API int jr_options_set_log_cb(jr_options *opts, jr_log_cb cb, void *ctx);

/* A request's trace (since 0.2): what the trace hook gets when a request
 * completes. Sized like jr_stats: `size` is what the library filled; read
 * a field only if offsetof(jr_trace, field) < size. Valid during the call
 * only. Times are CLOCK_MONOTONIC nanoseconds. */
typedef struct jr_trace {
  size_t size;
  const char *command; /* the command's name as sent, NOT NUL-terminated:
                          the first argument only, never the others
                          (MULTI for a transaction, EVALSHA for a cached
                          script) */
  size_t command_len;
  const char *endpoint; /* "host:port" of the connection that completed it;
                           "" if none did (cancelled, closed, split) */
  int db;               /* its database */
  int status;           /* as the completion callback gets it */
  int reply_type;       /* JR_REPLY_*, or 0 without a reply */
  uint64_t submit_ns;   /* accepted (0 if libjr did not time it) */
  uint64_t write_ns;    /* its bytes were queued for the socket (0: never);
                           the write follows in the same loop iteration */
  uint64_t reply_ns;    /* completed (the read that carried the reply) */
  uint64_t reply_bytes; /* bytes libjr stored for the reply (0 without one) */
} jr_trace;
/* Sets a hook called on the loop thread for every request as it completes,
 * before its completion callback (in poll mode too). It must not block
 * (blocking calls are JR_EMISUSE), and should be quick: it runs once per
 * request. Off by default; when off it costs one branch. Returns: 0,
 * JR_EINVAL. Since: 0.2 */
typedef void (*jr_trace_cb)(void *ctx, const jr_trace *trace);
JR_API int jr_options_set_trace_cb(jr_options *opts, jr_trace_cb cb, void *ctx);

/* ---- Client --------------------------------------------------------------
 *
 * Returns: 0 and *out, or JR_EINVAL (NULL out, no endpoint resolvable),
 * JR_ETLS (TLS files unusable), JR_ENOMEM. Connecting is lazy: the first command connects, and
 * connect failures arrive on commands. opts may be NULL (127.0.0.1:6379). Ownership: opts is
 * copied; free it whenever you like. Thread: any. Since: 0.1 */
JR_API int jr_client_new(const jr_options *opts, jr_client **out);

/* Stops accepting commands and waits up to timeout_ms (negative = forever;
 * INT64_MAX in effect too) for every accepted command to complete. Returns: 0 when all completed,
 * JR_ETIMEDOUT otherwise, JR_EMISUSE from a libjr callback. Thread: any
 * except the loop thread. Since: 0.1 */
JR_API int jr_client_drain(jr_client *client, int64_t timeout_ms);

/* Closes every connection, completes every pending command (JR_ECLOSED if
 * unsent, JR_ESHUTDOWN if written), runs those callbacks (in poll mode too,
 * on the calling thread), joins the loop thread and frees the client.
 * Handles made from it and not freed yet (jr_db, jr_multi, jr_watch,
 * jr_sub, jr_monitor) are released too: a subscriber or monitor gets its
 * final JR_ECLOSED callback, a transaction never executed completes each
 * queued callback with JR_ECLOSED; do not use those handles afterwards.
 * Returns: 0, or JR_EMISUSE when called from a libjr callback (nothing is
 * freed then). NULL is a no-op. After fork(), a client made by the parent
 * is unusable in the child: every call returns JR_EFORKED (free included,
 * which then releases nothing: the parent's loop thread does not exist in
 * the child); create a new client there. Thread: any except the loop thread; no other
 * call on this client may be running or made after it. Since: 0.1 */
JR_API int jr_client_free(jr_client *client);

/* Rotates the credentials: every connection made from now on (reconnects,
 * new pooled, pub/sub or cluster node connections) sends AUTH with these.
 * Connections already authenticated are not touched (Redis keeps them
 * authenticated). username may be NULL (password-only AUTH). The values are
 * copied and never logged. Returns: 0, JR_EINVAL, JR_ECLOSED, JR_ENOMEM.
 * Thread: any. Since: 0.1 */
JR_API int jr_client_set_auth(jr_client *client, const char *username, const char *password);

/* Completion callback. status == 0: `reply` is the reply (possibly of type
 * JR_REPLY_ERROR, a server error). status < 0: a library error, reply NULL,
 * except JR_EAUTH from a handshake the server refused: reply is the
 * server's error reply (its text says why, e.g. "WRONGPASS ...").
 * `reply` is borrowed: valid until the callback returns (jr_reply_dup keeps
 * it). In loop mode it runs on libjr's loop thread and must not block; it
 * may submit more commands. */
typedef void (*jr_reply_cb)(void *userdata, int status, const jr_reply *reply);

/* Why a library error happened, when libjr knows more than the code: the
 * endpoint and the cause, e.g. "connect 127.0.0.1:64999: ECONNREFUSED:
 * connection refused", "127.0.0.1:6379: server closed the connection",
 * "handshake with 127.0.0.1:6379: WRONGPASS ...". Inside a completion
 * callback (jr_reply_cb) with a negative status: that completion's detail.
 * After jr_client_call / jr_db_call returned, on the thread that called:
 * that call's detail; after jr_client_new failed: what it refused (e.g.
 * "protocol=3 (RESP3) needs libjr built with hiredis >= 1.0; ...", a TLS
 * file that does not load). NULL otherwise (a success, or no detail: a deadline
 * that passed, a cancel). Ownership: libjr's; valid until the callback
 * returns, or until the thread's next call. Never contains credentials.
 * Costs nothing on success (the text is made only when a connection
 * fails). Thread: the callback's / the caller's. Since: 0.2 */
JR_API const char *jr_error_detail(void);

/* Submits a command on the client's default database. argv[i] has
 * argvlen[i] bytes (binary safe); argvlen may be NULL for NUL-terminated
 * strings. timeout_ms < 0 uses command_timeout_ms, 0 means no deadline;
 * deadlines saturate (INT64_MAX: in effect none), and so for every call that
 * takes a timeout_ms. The loop thread's timer enforces a deadline: a
 * command whose reply has not been read when it runs completes with
 * JR_ETIMEDOUT (JR_EQUEUETIMEOUT if unsent); a reply libjr has read is
 * delivered, even when the loop thread ran late and the clock is past the
 * deadline by then (the command ran and the reply is valid; when its bytes
 * arrived is unknown). So a completion may come later than the deadline,
 * by as long as the loop thread was kept from running, with either
 * outcome. Returns: 0 (cb will be called exactly once),
 * JR_EINVAL (argc 0, NULL argv or cb, a NULL argv[i] among the first argc,
 * a length over PTRDIFF_MAX), JR_EREFUSED (see jr_refusal_reason),
 * JR_ECLOSED, JR_EFULL (also: the command alone is over max_queued_bytes),
 * JR_ENOMEM; on error cb is never called. *id_out (may be NULL) names the
 * command for jr_cancel. Ownership: arguments are copied before return.
 * Thread: any, concurrently. Since: 0.1 */
JR_API int jr_client_submit(jr_client *client, size_t argc, const char *const *argv,
                            const size_t *argvlen, int64_t timeout_ms, jr_reply_cb cb,
                            void *userdata, jr_req_id *id_out);

/* An explicit pipeline: submits n commands in order, each as
 * jr_client_submit would, and wakes the loop thread once, after the last,
 * so that they go out in as few writes as the socket takes (n separate
 * submits race the loop thread, which starts writing at the first).
 * Command i is argcs[i] arguments argvs[i] with lengths argvlens[i]
 * (argvlens, or argvlens[i], NULL: NUL-terminated strings); its callback is
 * cb(userdatas[i], ...) (userdatas NULL: NULL), run as a jr_client_submit
 * callback is (the loop thread in loop mode, jr_dispatch in poll mode;
 * never inside this call); timeout_ms applies to each.
 * rcs[i] (rcs may be NULL) gets command i's jr_client_submit code: 0, and cb
 * is called exactly once for it; otherwise it was refused and cb is never
 * called for it (the others still go: check rcs when the return is not n).
 * ids[i] (may be NULL) gets its id for jr_cancel, 0 when refused.
 * Returns: the number of commands accepted, 0 to n; or JR_EINVAL, and
 * nothing was submitted, for the call itself: NULL client or cb, n > 0
 * with NULL argcs or argvs, n > INT_MAX. Ownership: the arguments are
 * copied before return. Thread: any, concurrently. Since: 0.2 */
JR_API int jr_client_submit_many(jr_client *client, size_t n, const size_t *argcs,
                                 const char *const *const *argvs, const size_t *const *argvlens,
                                 int64_t timeout_ms, jr_reply_cb cb, void *const *userdatas,
                                 int *rcs, jr_req_id *ids);

/* Cancels a submitted command. Unsent: it is removed and completes with
 * JR_ECANCELED. Written: it completes with JR_EABANDONED and its reply is
 * read and dropped when it arrives; the connection stays up. The callback
 * never runs inside jr_cancel (from a loop-mode callback: after it returns).
 * Returns: 0 if the cancel was queued (the callback then runs once, with the
 * cancel code, or with the reply if that won the race), JR_ENOENT if the
 * command has already completed or id is unknown. Thread: any. Since: 0.1 */
JR_API int jr_cancel(jr_client *client, jr_req_id id);

/* Runs a command and waits for it (for simple programs). On success *out is
 * an owned reply (free with jr_reply_free; may be of type JR_REPLY_ERROR).
 * Returns: 0, a library error code (then *out is NULL, except JR_EAUTH with
 * the server's error reply, owned as on success: see jr_reply_cb; calling
 * jr_reply_free(*out) after any return is always right), or JR_EMISUSE when
 * called on the loop thread. Works in both dispatch modes. Thread: any.
 * Since: 0.1 */
JR_API int jr_client_call(jr_client *client, size_t argc, const char *const *argv,
                          const size_t *argvlen, int64_t timeout_ms, jr_reply **out);

/* Returns static text that says why libjr refuses this command and which
 * API to use instead, or NULL when the command is allowed. E.g. SELECT:
 * "SELECT is tracked by libjr: use jr_db_new(client, n)". Since: 0.1 */
JR_API const char *jr_refusal_reason(const char *name, size_t len);

/* ---- Poll dispatch mode ---------------------------------------------------
 *
 * With dispatch=poll, finished callbacks are queued instead of run on the
 * loop thread. jr_client_fd returns a descriptor that is readable while the
 * queue is not empty; jr_dispatch runs up to max queued callbacks (0 = all)
 * on the calling thread. Returns: the fd, or -1 in loop mode; the number of
 * callbacks run. Thread: jr_dispatch from one thread at a time. Since: 0.1 */
JR_API int jr_client_fd(jr_client *client);
JR_API size_t jr_dispatch(jr_client *client, size_t max);

/* A hook the loop thread calls once per batch of completions: while a
 * read's replies are parsed, each time ready_batch (default 16) are ready,
 * and at the end of each loop iteration, when there are any. Poll mode:
 * it replaces making the descriptor readable, and may run the queued
 * completions there with jr_dispatch (on the loop thread, like loop-mode
 * callbacks) or hand them to another thread. Loop mode: the batch's
 * callbacks have just run, and the hook follows them (e.g. to hand what
 * they recorded to another runtime in one step). Completions that the
 * hook's own work causes (a cancel) get another round before the loop
 * sleeps. For a runtime whose entry from outside is costly (Go's cgo
 * callbacks): it enters once per batch, not once per callback. The hook
 * must not block; blocking calls inside it are JR_EMISUSE. Returns: 0,
 * JR_EINVAL. Since: 0.1 */
typedef void (*jr_ready_cb)(void *ctx);
JR_API int jr_options_set_ready_cb(jr_options *opts, jr_ready_cb cb, void *ctx);

/* Runs the loop on a thread the application provides instead of one libjr
 * creates. jr_client_new calls start(ctx, run, arg) once; start must make
 * some thread call run(arg) (e.g. a new thread of the application's
 * runtime) and return 0, or return non-zero if it cannot (jr_client_new
 * then returns JR_ENOMEM and run must never be called). run(arg) is the
 * loop: it returns once jr_client_free has been called, and
 * jr_client_free waits for it to return. That thread is then the loop
 * thread (loop-mode callbacks and ready hooks run on it); SIGPIPE is
 * blocked on it while run runs. For a runtime whose entry from a thread it
 * did not create is costly (Go 1.19's cgo callbacks set up and tear down a
 * thread each time): on a thread of its own, a callback is a cheap call.
 * Returns: 0, JR_EINVAL. Since: 0.1 */
typedef int (*jr_thread_starter)(void *ctx, void (*run)(void *arg), void *arg);
JR_API int jr_options_set_thread_starter(jr_options *opts, jr_thread_starter start, void *ctx);

/* ---- Statistics (since 0.2) ----------------------------------------------
 *
 * The one exception to "no public structs": jr_stats and
 * jr_endpoint_stats have a layout (docs/abi.md). Each starts with `size`:
 * the caller sets it to sizeof the struct it was compiled with; the library
 * fills the fields both sides know (the first min(size, its own sizeof)
 * bytes) and sets size to the bytes it filled. The structs only grow: a
 * field is never removed, moved or given another meaning; new ones are
 * appended. A caller compiled against an older header reads what it knows;
 * one compiled against a newer header than the library finds the unknown
 * fields beyond `size` untouched (zero them first).
 *
 * Every counter is written by the loop thread alone and read without a
 * lock: each value is exact at the moment it is read, a struct read while
 * commands run is not one instant across its fields. A "request" is a
 * command the application submitted (jr_client_submit, jr_db_submit, the
 * call, transaction, WATCH and cluster calls); libjr's own commands
 * (handshake, probes, split parts, UNWATCH) are not counted. */
typedef struct jr_stats {
  size_t size;                  /* in: sizeof(jr_stats); out: bytes filled */
  uint64_t submitted;           /* requests the loop thread has taken in (one
                                   accepted a moment ago may not be yet) */
  uint64_t completed;           /* requests completed (each exactly once) */
  uint64_t server_errors;       /* completed with status 0 and an error reply */
  uint64_t library_errors;      /* completed with a negative status */
  uint64_t timeouts;            /* JR_ETIMEDOUT, JR_EQUEUETIMEOUT, JR_EPOOLTIMEOUT */
  uint64_t cancels;             /* JR_ECANCELED, JR_EABANDONED */
  uint64_t in_flight;           /* submitted - completed, now */
  uint64_t queued;              /* accepted and not released: what max_queued counts */
  uint64_t bytes_written;       /* handed to the sockets (TLS: encrypted) */
  uint64_t bytes_read;          /* read from the sockets */
  uint64_t connects;            /* connections that finished their handshake */
  uint64_t disconnects;         /* such connections lost or closed by libjr */
  uint64_t redirects;           /* MOVED and ASK replies received */
  uint64_t cache_hits;          /* client-side caching (client_cache_bytes):
                                   reads answered from the cache */
  uint64_t cache_misses;        /* cacheable reads sent to the server */
  uint64_t cache_invalidations; /* keys the server invalidated (a flush: 1) */
  uint64_t connect_failures;    /* failed connect attempts (each retry counts) */
} jr_stats;

/* Fills *out (see above for `size`). Returns: 0, JR_EINVAL (NULL argument,
 * out->size < sizeof(size_t)), JR_EFORKED. Ownership: nothing is kept.
 * Thread: any, also inside callbacks. Since: 0.2 */
JR_API int jr_client_stats(jr_client *client, jr_stats *out);

typedef struct jr_endpoint_stats {
  size_t size;          /* in: sizeof(jr_endpoint_stats); out: bytes filled */
  const char *endpoint; /* "host:port", "[v6]:port" or a unix path; owned by
                           the client, valid until jr_client_free */
  uint64_t connections; /* its connections up now (shared, pooled,
                           pub/sub, MONITOR) */
  uint64_t completed;   /* requests completed by a connection to it */
  uint64_t server_errors;
  uint64_t library_errors;
  uint64_t bytes_written;
  uint64_t bytes_read;
  uint64_t connects;
  uint64_t disconnects;
  uint64_t connect_failures;
  uint64_t redirects; /* MOVED and ASK replies it sent */
} jr_endpoint_stats;

/* Fills *out with the figures of endpoint number `index` (0, 1, ... in the
 * order libjr first tried to connect to each, up to the first JR_ENOENT).
 * Endpoints are never forgotten while the client lives, so an index keeps
 * naming the same endpoint. Requests that completed without reaching a
 * connection (cancelled, refused by the cluster rules, closed) count in
 * jr_stats only. Returns: 0, JR_ENOENT (index past the last), JR_EINVAL,
 * JR_EFORKED. Thread: any. Since: 0.2 */
JR_API int jr_client_endpoint_stats(jr_client *client, size_t index, jr_endpoint_stats *out);

/* The latency of requests, from the submit (jr_client_submit's entry; for
 * transactions and cluster calls the moment they were handed to the loop)
 * to the completion on the loop thread (the read that carried the reply),
 * in a log-spaced histogram: bucket 0 holds latencies under 1024 ns, then
 * four buckets per power of two up to 2^37 ns (each 1/4 to 1/8 of its
 * lower bound wide), the last one everything above.
 *
 * jr_client_latency: *ns_out = the upper bound of the bucket that holds
 * the given percentile (0..100; 50 is the median), so at most 25% above
 * the true value; UINT64_MAX when it falls in the last bucket. Returns: 0,
 * JR_EINVAL (NULL argument, percentile outside 0..100 or NaN), JR_ENOENT
 * (no request has completed yet). Thread: any. Since: 0.2
 *
 * jr_client_latency_bucket: bucket number `index` (0, 1, ... up to the
 * first JR_ENOENT): its exclusive upper bound in ns (UINT64_MAX for the
 * last) and how many requests fell in it. Either out pointer may be NULL.
 * Returns: 0, JR_ENOENT, JR_EINVAL. Thread: any. Since: 0.2 */
JR_API int jr_client_latency(jr_client *client, double percentile, uint64_t *ns_out);
JR_API int jr_client_latency_bucket(jr_client *client, size_t index, uint64_t *upper_ns,
                                    uint64_t *count);

/* Writes the statistics in the Prometheus text exposition format (0.0.4)
 * into buf, with snprintf's rules: at most len bytes including a
 * terminating NUL (always written when len > 0), and returns the length of
 * the whole text (without the NUL): a result >= len means it was cut; call
 * again with a larger buffer. buf may be NULL when len is 0. Metric names
 * start with jr_; per-endpoint series carry endpoint="host:port" (requests
 * that reached no connection: endpoint=""), and the latency histogram is
 * jr_request_duration_seconds (one bucket per power of two). Returns: the
 * length, or JR_EINVAL / JR_EFORKED (negative). Thread: any. Since: 0.2 */
JR_API int64_t jr_client_stats_text(jr_client *client, char *buf, size_t len);

/* ---- Database views ------------------------------------------------------
 *
 * A jr_db routes commands to database `number` on the shared connection;
 * libjr sends SELECT as needed, so views of several databases interleave
 * correctly on one socket. A database number the server rejects makes its
 * commands complete with the server's SELECT error reply. A Redis Cluster
 * has only database 0: once the client knows it talks to one (its first
 * command made the detection), jr_db_new with number != 0 returns
 * JR_ECLUSTER, and so do submits on such a view made before; a command
 * accepted before the detection completes with JR_ECLUSTER (unsent: no
 * SELECT is written). The same holds for jr_multi_new / jr_watch_new on a
 * database other than 0.
 * Returns: 0, JR_EINVAL (number < 0), JR_ECLUSTER, JR_ENOMEM. Ownership:
 * free with jr_db_free before jr_client_free. Thread: any. Since: 0.1 */
JR_API int jr_db_new(jr_client *client, int number, jr_db **out);
JR_API void jr_db_free(jr_db *db);
JR_API int jr_db_submit(jr_db *db, size_t argc, const char *const *argv, const size_t *argvlen,
                        int64_t timeout_ms, jr_reply_cb cb, void *userdata, jr_req_id *id_out);
/* jr_client_submit_many on the view's database: the same returns,
 * ownership and thread rules. Since: 0.2 */
JR_API int jr_db_submit_many(jr_db *db, size_t n, const size_t *argcs,
                             const char *const *const *argvs, const size_t *const *argvlens,
                             int64_t timeout_ms, jr_reply_cb cb, void *const *userdatas, int *rcs,
                             jr_req_id *ids);
JR_API int jr_db_call(jr_db *db, size_t argc, const char *const *argv, const size_t *argvlen,
                      int64_t timeout_ms, jr_reply **out);

/* ---- Blocking commands ------------------------------------------------------
 *
 * BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP, BZPOPMIN/MAX, BZMPOP, WAIT,
 * WAITAOF and XREAD/XREADGROUP with BLOCK are submitted like any command:
 * libjr runs each on a dedicated pooled connection so the shared one never
 * stalls. Their default deadline is none (timeout_ms < 0): the command's own
 * server-side timeout governs. When a deadline passes or the command is
 * cancelled after it was written, its connection is closed so that the
 * server cannot pop an item for a caller that is gone. */

/* ---- Transactions (MULTI/EXEC) ------------------------------------------------
 *
 * jr_multi_new starts a transaction on database `db` (-1: the client's
 * default). jr_multi_add queues a command and its callback; nothing is sent
 * until jr_multi_exec, which writes MULTI, the commands and EXEC contiguously
 * on one connection (nothing interleaves) and frees the handle. Each queued
 * callback then runs exactly once: with its own element of the EXEC reply
 * (a server error reply if that command failed at run time); if a command
 * was rejected when queued (EXECABORT), that command gets its own error and
 * the others an EXECABORT error reply that quotes it; JR_EWATCH if a watched
 * key changed; or a library error. exec_cb (may be NULL) gets the raw EXEC
 * reply. jr_multi_discard frees the handle and completes every queued
 * callback with JR_EDISCARDED, like any completion: on the loop thread (or
 * through jr_dispatch), never inside jr_multi_discard; jr_client_free
 * completes those of a transaction never executed with JR_ECLOSED, on its
 * own thread.
 * Returns: 0; JR_EINVAL; JR_EREFUSED (a command a transaction may not hold:
 * MULTI, WATCH, SELECT, SUBSCRIBE, blocking...); JR_ECLOSED; JR_ENOMEM.
 * When jr_multi_exec returns an error, every queued callback is completed
 * with that error in the same way, never inside the call (and exec_cb is
 * never called).
 * Thread: one thread at a time per jr_multi. Since: 0.1 */
JR_API int jr_multi_new(jr_client *client, int db, jr_multi **out);
JR_API int jr_multi_add(jr_multi *multi, size_t argc, const char *const *argv,
                        const size_t *argvlen, jr_reply_cb cb, void *userdata);
JR_API int jr_multi_exec(jr_multi *multi, int64_t timeout_ms, jr_reply_cb exec_cb, void *userdata);
JR_API void jr_multi_discard(jr_multi *multi);

/* ---- Conditional transactions (WATCH) ------------------------------------------
 *
 * jr_watch_new takes a dedicated pooled connection for database `db` (-1:
 * default) and sends WATCH keys on it. Commands submitted with
 * jr_watch_submit run on that connection at once, in order (reads, to decide
 * what to write). jr_watch_multi starts the transaction that ends the watch:
 * build it with jr_multi_add and send it with jr_multi_exec; if a watched key
 * changed, every queued callback gets JR_EWATCH. jr_watch_free releases the
 * connection to the pool (after UNWATCH; a connection in an unknown state is
 * closed instead). Returns as for the client calls; jr_watch_multi returns
 * JR_EMISUSE if called twice. Freeing the jr_watch before jr_multi_exec of
 * its transaction ends the watch: that jr_multi_exec then returns
 * JR_EMISUSE (each queued callback gets it; nothing is sent) and frees the
 * handle; jr_multi_discard works as always. Thread: one thread at a time
 * per jr_watch and its jr_multi. Since: 0.1 */
JR_API int jr_watch_new(jr_client *client, int db, size_t nkeys, const char *const *keys,
                        const size_t *keylens, jr_watch **out);
JR_API int jr_watch_submit(jr_watch *watch, size_t argc, const char *const *argv,
                           const size_t *argvlen, int64_t timeout_ms, jr_reply_cb cb,
                           void *userdata);
JR_API int jr_watch_multi(jr_watch *watch, jr_multi **out);
JR_API void jr_watch_free(jr_watch *watch);

/* ---- Pub/sub ------------------------------------------------------------------------
 *
 * All subscribers of a client share one subscription connection for
 * channels and patterns (in a cluster, to the seed node: PUBLISH reaches
 * every node). Sharded channels (SSUBSCRIBE, Redis 7) are subscribed on the
 * node that serves their slot, one connection per such node (the server's
 * connection on a standalone server); when the slot moves (resharding,
 * failover) libjr subscribes them again on the new node. Channels,
 * patterns and sharded channels are reference counted across subscribers.
 * The message callback gets:
 *   status 0 and an array reply: ["message", channel, payload],
 *     ["pmessage", pattern, channel, payload], ["smessage", channel,
 *     payload], ["subscribe", name, n], ["psubscribe", name, n],
 *     ["ssubscribe", name, n], ["unsubscribe", name, n],
 *     ["punsubscribe", name, n], ["sunsubscribe", name, n], or ["pong",
 *     text] for jr_sub_ping. n is the server's own count for the
 *     connection, as Redis sends it: channels + patterns of the shared
 *     connection (every subscriber's, each name once), or sharded channels
 *     of that node's connection. A new name is confirmed with the server's
 *     reply; a name the connection has already, at once with the count the
 *     server has (what it answers to a repeated SUBSCRIBE); an unsubscribe
 *     with the count once the server has read libjr's UNSUBSCRIBE
 *     (unchanged when another subscriber keeps the name; 0 while
 *     disconnected). After JR_SUB_LOST, each name is confirmed again, with
 *     the server's count, as it is subscribed again;
 *   status 0 and ["subscribe", name, error] (or "psubscribe",
 *     "ssubscribe"), the third element an ERROR reply: the server refused
 *     the name (e.g. NOPERM: ACL channel rules); it is not subscribed and
 *     no longer this subscriber's;
 *   JR_SUB_LOST: a connection serving this subscriber was lost, or a
 *     sharded channel's slot is moving (messages may be missed);
 *   JR_SUB_RESUBSCRIBED: every channel, pattern and sharded channel of this
 *     subscriber is subscribed again (after their confirmations) (libjr did it, no call needed);
 *   JR_ECLOSED, exactly once, last: the subscriber is gone (after
 *     jr_sub_free or jr_client_free); free your userdata then.
 * Calls follow the dispatch mode (loop thread, or jr_dispatch). Returns: 0,
 * JR_EINVAL, JR_ECLOSED, JR_ENOMEM. Thread: one thread at a time per jr_sub.
 * Since: 0.1 */
#define JR_SUB_LOST 1
#define JR_SUB_RESUBSCRIBED 2
/* The `pattern` argument of jr_sub_subscribe / jr_sub_unsubscribe. */
#define JR_SUB_CHANNELS 0
#define JR_SUB_PATTERNS 1
#define JR_SUB_SHARDED 2 /* sharded channels (SSUBSCRIBE) */
typedef void (*jr_message_cb)(void *userdata, int status, const jr_reply *msg);
JR_API int jr_sub_new(jr_client *client, jr_message_cb cb, void *userdata, jr_sub **out);
/* pattern: JR_SUB_CHANNELS (0), JR_SUB_PATTERNS (1) or JR_SUB_SHARDED (2);
 * another value is JR_EINVAL. jr_sub_unsubscribe with n == 0 removes every
 * name of that kind. A subscription is in effect once its ["subscribe",
 * name, n] (or "psubscribe", "ssubscribe") message has arrived: a PUBLISH
 * made before that may not reach it. An unsubscribe takes effect at once:
 * its confirmation comes right away, and messages for those names that
 * libjr reads after the call are dropped, even if they were published
 * before it. */
JR_API int jr_sub_subscribe(jr_sub *sub, int pattern, size_t n, const char *const *names,
                            const size_t *lens);
JR_API int jr_sub_unsubscribe(jr_sub *sub, int pattern, size_t n, const char *const *names,
                              const size_t *lens);
JR_API int jr_sub_ping(jr_sub *sub, const char *text, size_t len);
JR_API void jr_sub_free(jr_sub *sub);

/* ---- MONITOR -------------------------------------------------------------------------
 *
 * A MONITOR stream on its own connection, delivered like pub/sub messages:
 * status 0 with a STATUS reply per command the server ran; JR_SUB_LOST /
 * JR_SUB_RESUBSCRIBED around a reconnect; JR_ECLOSED once, last.
 * Since: 0.1 */
JR_API int jr_monitor_new(jr_client *client, jr_message_cb cb, void *userdata, jr_monitor **out);
JR_API void jr_monitor_free(jr_monitor *monitor);

/* ---- Scripts --------------------------------------------------------------------------
 *
 * EVAL and EVAL_RO are sent as EVAL the first time a script is seen and as
 * EVALSHA / EVALSHA_RO afterwards; a NOSCRIPT reply (after SCRIPT FLUSH or a
 * restart) is retried once as EVAL transparently. FCALL and FCALL_RO pass
 * through. */

/* ---- Redis Cluster -------------------------------------------------------------
 *
 * Nothing to configure: give one or more endpoints of a cluster and libjr
 * discovers it (CLUSTER SLOTS, and the COMMAND table for key positions, once,
 * ahead of the first command), keeps one multiplexed connection per node and
 * routes each command by its key's slot (CRC16, hash tags). MOVED updates
 * the slot map and re-sends; ASK sends ASKING then the command to the
 * importing node; TRYAGAIN, CLUSTERDOWN, LOADING and READONLY are retried
 * with backoff within the command's deadline; at most 16 redirections per
 * command. The topology is refreshed (single-flight, at most every 100 ms,
 * and every 15-25 s) on MOVED, on connection errors and on unknown slots;
 * commands for a node that cannot be reached wait for the next topology
 * within their deadline. Keyless commands go to the seed node (the first
 * endpoint that answered). Cross-slot MGET, MSET, DEL, UNLINK, EXISTS and
 * TOUCH are split per slot and their replies reassembled in order (not
 * atomic); other cross-slot commands and transactions complete with
 * JR_ECROSSSLOT before anything is sent. */

/* Runs a command on every master. The reply is an array of
 * [address, reply] pairs, one per master of the cluster's current map; a
 * node's failure is a value (an error reply whose text starts with the
 * libjr code name), not a failure of the call. It follows the topology:
 * each node is asked ROLE along with the command (same connection, no
 * extra round trip), MOVED and ASK are followed (a keyed command gets the
 * answer of its slot's master, as justredis does), and when a node turned
 * out not to be a master any more (a failover the client had not seen), a
 * master could not be reached or answered MOVED / TRYAGAIN / CLUSTERDOWN /
 * READONLY / LOADING, the topology is read again and the command sent to
 * the masters it missed (at most 3 such rounds, within the deadline);
 * entries of nodes that are no longer masters are dropped. A node that
 * still says it is a replica after the rounds gets a JR_ECLUSTER entry.
 * The entries account for every slot: when the map leaves slots without a
 * master (a master failed and no replica has taken its slots yet, as a node
 * mid-failover may answer; unassigned slots), the topology is read again
 * too, and slots still without one get an entry under the address of their
 * last known master (else the seed's): "JR_ECLUSTER: no master reached for
 * slots 5461-10922 (...)". So a JR_OK whose entries are all replies means
 * every slot's master ran the command. On a standalone server the callback
 * gets JR_ECLUSTER. Returns as jr_client_submit. Since: 0.1 (the entry for
 * slots without a master: 0.2) */
JR_API int jr_client_submit_all_masters(jr_client *client, size_t argc, const char *const *argv,
                                        const size_t *argvlen, int64_t timeout_ms, jr_reply_cb cb,
                                        void *userdata);
/* Runs a command on one chosen node ("host:port"), without following
 * redirections. Works on standalone servers too. Since: 0.1 */
JR_API int jr_client_submit_to(jr_client *client, const char *endpoint, size_t argc,
                               const char *const *argv, const size_t *argvlen, int64_t timeout_ms,
                               jr_reply_cb cb, void *userdata);
/* The nodes: the callback gets an array of [address, role] pairs, role
 * "master", "replica" or "standalone". Credentials never appear. Since: 0.1 */
JR_API int jr_client_endpoints(jr_client *client, jr_reply_cb cb, void *userdata);

/* ---- Replies ----------------------------------------------------------------
 *
 * Types reuse hiredis's numbers. 7..14 are RESP3's (option protocol=3):
 * a RESP2 connection never gives them. Since: 0.1 (1..6), 0.2 (7..14). */
#define JR_REPLY_STRING 1
#define JR_REPLY_ARRAY 2
#define JR_REPLY_INTEGER 3
#define JR_REPLY_NIL 4 /* also RESP3's null */
#define JR_REPLY_STATUS 5
#define JR_REPLY_ERROR 6 /* also RESP3's blob error ('!'): its whole text, binary safe */
#define JR_REPLY_DOUBLE 7
#define JR_REPLY_BOOL 8
#define JR_REPLY_MAP 9
#define JR_REPLY_SET 10
#define JR_REPLY_ATTR 11 /* reserved: attributes are skipped (not delivered) */
#define JR_REPLY_PUSH 12 /* never a command's reply: pushes go to handlers */
#define JR_REPLY_BIGNUM 13
#define JR_REPLY_VERB 14

/* O(1), never allocate, NULL-safe (a NULL reply reads as type 0, length 0).
 * jr_reply_str: bytes of STRING/STATUS/ERROR, and the text of DOUBLE (as
 * the server sent it), BIGNUM (decimal digits) and VERB (without its
 * "xxx:" format prefix), NUL-terminated, length in *len (may be NULL); NULL
 * for other types. jr_reply_integer: INTEGER's value, 0 or 1 for BOOL, else
 * 0. jr_reply_len: bytes of a string (as jr_reply_str), elements of an
 * ARRAY, SET or MAP (a map's keys and values alternate: 2 per pair, as in
 * hiredis). jr_reply_element: an element of ARRAY, SET or MAP (key i at
 * 2*i, its value at 2*i + 1); NULL when out of range. Since: 0.1 */
JR_API int jr_reply_get_type(const jr_reply *reply);
JR_API const char *jr_reply_str(const jr_reply *reply, size_t *len);
JR_API int64_t jr_reply_integer(const jr_reply *reply);
JR_API size_t jr_reply_len(const jr_reply *reply);
JR_API const jr_reply *jr_reply_element(const jr_reply *reply, size_t index);
/* A DOUBLE's value (inf, -inf and nan included); 0.0 for other types. A
 * VERB's format, 3 characters NUL-terminated ("txt", "mkd"); NULL for other
 * types. O(1), NULL-safe. Since: 0.2 */
JR_API double jr_reply_double(const jr_reply *reply);
JR_API const char *jr_reply_verb_format(const jr_reply *reply);

/* Returns an owned reference to a borrowed reply (O(1): it retains the
 * reply's storage), NULL on NULL. jr_reply_free releases it; NULL is a no-op.
 * Thread: an owned reply may be read and freed on any thread. Since: 0.1 */
JR_API jr_reply *jr_reply_dup(const jr_reply *reply);
JR_API void jr_reply_free(jr_reply *reply);

#ifdef __cplusplus
}
#endif

#endif /* JR_JR_H */

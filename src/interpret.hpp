// SPDX-License-Identifier: MIT
// Interpreters of server data: every place where libjr reads meaning out of
// a reply (CLUSTER SLOTS / NODES, COMMAND, MOVED / ASK texts, EXEC, pub/sub
// and MONITOR messages) goes through one of these pure functions. They
// trust nothing: each checks types, lengths and ranges and says JR_EPROTO
// (with a reason) on anything unexpected, so that the caller fails that one
// command or that one refresh. No I/O, no state: the fuzz targets in fuzz/
// call them with arbitrary reply trees.
#ifndef JR_SRC_INTERPRET_HPP
#define JR_SRC_INTERPRET_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resp/reply.hpp"

namespace jr {

constexpr int kClusterSlots = 16384;

// Limits on what a topology reply may describe (far above any real cluster:
// Redis recommends at most 1000 nodes). Past them the reply is refused
// rather than making thousands of connections.
constexpr size_t kMaxClusterNodes = 4096;
constexpr size_t kMaxReplicasPerRange = 256;

// A string or status node (what a server sends as text).
bool is_text(const jr_reply *r) noexcept;
std::string_view text_of(const jr_reply *r) noexcept;  // empty unless is_text

// A host name or address as a server may name a node: 1..255 bytes of
// letters, digits and ".-_:%" (no '/', which would make it a unix socket
// path, no spaces or control bytes).
bool valid_host(std::string_view host) noexcept;
// The canonical node address, "host:port" or "[v6]:port". False when the
// host is not valid_host or the port is not 1..65535.
bool node_address(std::string_view host, int64_t port, std::string &out);

// ---- CLUSTER SLOTS --------------------------------------------------------------
struct SlotRange {
  int lo = 0;
  int hi = 0;  // inclusive, lo <= hi < 16384
  std::string master;
  std::vector<std::string> replicas;
};
// [[lo, hi, [host, port, ...], [replica host, port, ...]...], ...]. An empty
// host is `asked_host` (the node answering); a master whose endpoint is
// unknown ("?" or port 0) leaves its range out, such a replica is skipped.
// Returns JR_OK, or JR_EPROTO with `why` (out is then unspecified).
int parse_cluster_slots(const jr_reply *r, std::string_view asked_host, std::vector<SlotRange> &out,
                        std::string &why);

// ---- CLUSTER NODES --------------------------------------------------------------
struct NodeRow {
  std::string addr;
  bool master = false;
};
// The text of CLUSTER NODES: "<id> <ip:port@cport[,host]> <flags> ..." per
// line; nodes flagged fail / noaddr / handshake are left out. An empty ip
// is `asked_host`.
int parse_cluster_nodes(const jr_reply *r, std::string_view asked_host, std::vector<NodeRow> &out,
                        std::string &why);

// ---- MOVED / ASK / TRYAGAIN ...  -----------------------------------------------
struct Redirect {
  enum Kind { kNone, kMoved, kAsk, kRetry } kind = kNone;
  int slot = -1;
  std::string addr;      // kMoved / kAsk: canonical node address
  bool refresh = false;  // kRetry: the topology may have changed (not TRYAGAIN)
};
// An error reply's text. kNone for an error that is no redirection.
// JR_EPROTO for a MOVED / ASK whose slot is not 0..16383 or whose address
// is not "host:port" (an empty host is `asked_host`).
int parse_redirect(std::string_view text, std::string_view asked_host, Redirect &out,
                   std::string &why);

// ---- Pub/sub --------------------------------------------------------------------
struct PushMsg {
  enum Type { kMessage, kSubscribe, kUnsubscribe, kPong, kError } type = kError;
  int kind = 0;           // 0 channel, 1 pattern, 2 sharded (kMessage/kSubscribe/kUnsubscribe)
  std::string_view name;  // channel or pattern; empty for an unsubscribe of nothing
};
// What a subscription connection reads (RESP2): an error, ["message", ch,
// payload], ["pmessage", pattern, ch, payload], ["smessage", ch, payload],
// [(p|s)(un)subscribe, name, count] (an unsubscribe's name may be nil),
// ["pong", text]; on the classic connection a plain status or string is a
// pong too. JR_EPROTO for anything else.
int parse_push(const jr_reply *r, bool classic, PushMsg &out, std::string &why);

// RESP3's handshake: the reply to HELLO 3 (not an error reply) must be a
// map whose "proto" is 3; anything else means the server does not speak
// RESP3 as asked. Returns 0, or JR_EPROTO with why.
int parse_hello(const jr_reply *r, std::string &why);

// Client-side caching: an invalidation. RESP3 (the data connection): a push
// [>] "invalidate" keys; RESP2 (the connection subscribed to
// __redis__:invalidate): ["message", "__redis__:invalidate", keys]. keys is
// an array of bulk strings (views into r), or nil: the server flushed
// (FLUSHALL, FLUSHDB, or it lost track), *all is set and keys stays empty.
// Returns 1 for an invalidation, 0 for something else (another push, a
// subscribe confirmation: not the caller's to judge), JR_EPROTO (with why)
// for an invalidation of the wrong shape.
int parse_invalidation(const jr_reply *r, bool resp3, std::vector<std::string_view> &keys,
                       bool *all, std::string &why);

// MONITOR: 0 the +OK that starts it (consumed), 1 a line to deliver (a
// status; an error reply before the +OK, NOPERM say, is delivered too),
// JR_EPROTO for anything else.
int parse_monitor(const jr_reply *r, bool ok_pending) noexcept;

// ---- MULTI / EXEC ---------------------------------------------------------------
// The reply to the index-th command of a transaction block (0: MULTI, which
// must answer +OK; then +QUEUED or an error per command).
bool queued_reply_ok(const jr_reply *r, size_t index) noexcept;
enum class ExecReply { kResults, kNil, kError, kInvalid };
// EXEC's reply: an array of exactly `queued` results, nil (aborted by
// WATCH), or an error (EXECABORT); kInvalid otherwise.
ExecReply classify_exec(const jr_reply *r, size_t queued) noexcept;

// ---- COMMAND --------------------------------------------------------------------
struct CommandEntry {
  std::string name;  // lower case
  int first = 0;     // 0..1<<20
  int last = 0;      // -(1<<20)..1<<20
  int step = 0;      // 0..1<<20
  bool movable = false;
  bool readonly = false;
  const jr_reply *subcommands = nullptr;  // Redis 7: an array of entries
};
// One entry of COMMAND's reply: [name, arity, flags, first, last, step, ...].
// False (skip the entry) when its shape or ranges are wrong.
bool parse_command_entry(const jr_reply *e, CommandEntry &out);

// ---- Redis Sentinel -------------------------------------------------------------
// At most this many sentinels are taken from SENTINEL sentinels.
constexpr size_t kMaxSentinels = 64;
// SENTINEL get-master-addr-by-name: [ip, port] as two strings (the port in
// decimal, 1..65535; the ip valid_host). JR_OK with `addr` ("host:port" or
// "[v6]:port"); JR_ENOENT for nil (the sentinel does not monitor that
// name); JR_EPROTO with `why` for anything else (an error reply included).
int parse_master_addr(const jr_reply *r, std::string &addr, std::string &why);
// ROLE: an array whose first element is "master", "slave" (or "replica")
// or "sentinel". JR_OK with `role`; JR_EPROTO with `why` otherwise.
int parse_role(const jr_reply *r, std::string &role, std::string &why);
// SENTINEL sentinels <name> (and SENTINEL replicas <name>): an array of
// instances, each a flat array of field/value strings with at least "ip"
// and "port". Instances whose "flags" name s_down, o_down or disconnected
// are left out. At most kMaxSentinels rows; JR_EPROTO on a wrong shape or
// address.
int parse_sentinel_instances(const jr_reply *r, std::vector<std::string> &addrs, std::string &why);
// At most this many replicas are taken from SENTINEL replicas.
constexpr size_t kMaxSentinelReplicas = 64;
// SENTINEL replicas <name>: an array of instances, each a flat array of
// field/value strings (at most 256 strings) in which "ip", "port" and
// "flags" each appear exactly once: a valid ip and a port 1..65535, and
// flags a comma-separated list of words of [a-z_-]. A replica is usable
// when its flags say "slave" (or "replica") and none of s_down, o_down or
// disconnected, and its "master-link-status" is "ok"; the others are
// counted in `skipped`. JR_OK with the usable addresses ("host:port" or
// "[v6]:port", no duplicates; at most kMaxSentinelReplicas rows are read);
// JR_EPROTO with `why` for anything else (an error reply included).
int parse_sentinel_replicas(const jr_reply *r, std::vector<std::string> &addrs, size_t &skipped,
                            std::string &why);
// A +switch-master message's payload: "<name> <old ip> <old port> <new ip>
// <new port>". JR_OK with the new address when the name is `name`;
// JR_ENOENT for another master's switch; JR_EPROTO when malformed.
int parse_switch_master(std::string_view payload, std::string_view name, std::string &addr,
                        std::string &why);

}  // namespace jr

#endif  // JR_SRC_INTERPRET_HPP

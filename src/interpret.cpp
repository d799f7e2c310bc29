// SPDX-License-Identifier: MIT
#include "interpret.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "jr/jr.h"

namespace jr {

namespace {

const jr_reply *at(const jr_reply *r, size_t i) noexcept {
  return r != nullptr && r->type == JR_REPLY_ARRAY && i < r->len ? r->u.elements[i] : nullptr;
}

bool is_array(const jr_reply *r) noexcept {
  return r != nullptr && r->type == JR_REPLY_ARRAY;
}

bool is_int(const jr_reply *r) noexcept {
  return r != nullptr && r->type == JR_REPLY_INTEGER;
}

bool is_bulk(const jr_reply *r) noexcept {
  return r != nullptr && r->type == JR_REPLY_STRING;
}

bool starts(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

// A decimal number of at most `max_digits` digits, nothing else.
bool decimal(std::string_view s, int64_t &out, size_t max_digits = 9) noexcept {
  if (s.empty() || s.size() > max_digits) return false;
  int64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + (ch - '0');
  }
  out = v;
  return true;
}

int proto(std::string &why, std::string text) {
  why = std::move(text);
  return JR_EPROTO;
}

// "host:port", "[v6]:port" or a bare "v6:port" (Redis writes IPv6 addresses
// without brackets in MOVED and CLUSTER NODES): split at the last ':'.
bool split_host_port(std::string_view s, std::string_view &host, int64_t &port) noexcept {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return false;
  host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return decimal(s.substr(colon + 1), port, 5);
}

}  // namespace

bool is_text(const jr_reply *r) noexcept {
  return r != nullptr && (r->type == JR_REPLY_STRING || r->type == JR_REPLY_STATUS);
}

std::string_view text_of(const jr_reply *r) noexcept {
  return is_text(r) ? std::string_view(r->u.str, r->len) : std::string_view();
}

bool valid_host(std::string_view host) noexcept {
  if (host.empty() || host.size() > 255) return false;
  for (char ch : host) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == '_' || ch == ':' || ch == '%';
    if (!ok) return false;
  }
  return true;
}

bool node_address(std::string_view host, int64_t port, std::string &out) {
  if (!valid_host(host) || port < 1 || port > 65535) return false;
  bool v6 = host.find(':') != std::string_view::npos;
  out.clear();
  if (v6) out += '[';
  out += host;
  if (v6) out += ']';
  out += ':';
  out += std::to_string(port);
  return true;
}

// ---- CLUSTER SLOTS -----------------------------------------------------------------

namespace {

enum class NodeOk { kYes, kUnknown, kBad };

// [host, port, (id, metadata...)]: its address, or kUnknown for an endpoint
// the node does not know ("?", port 0).
NodeOk slot_node(const jr_reply *n, std::string_view asked_host, std::string &addr,
                 std::string &why) {
  if (!is_array(n) || n->len < 2) {
    why = "a node entry is not an array [host, port, ...]";
    return NodeOk::kBad;
  }
  const jr_reply *h = at(n, 0), *p = at(n, 1);
  if (!is_text(h) || !is_int(p)) {
    why = "a node entry's host is not a string or its port not an integer";
    return NodeOk::kBad;
  }
  std::string_view host = text_of(h);
  if (host.empty()) host = asked_host;  // still empty: the seed is a unix socket
  if (host.empty() || host == "?" || p->u.integer == 0) return NodeOk::kUnknown;
  if (!node_address(host, p->u.integer, addr)) {
    why = "a node entry's host or port is invalid (port " + std::to_string(p->u.integer) + ")";
    return NodeOk::kBad;
  }
  return NodeOk::kYes;
}

}  // namespace

int parse_cluster_slots(const jr_reply *r, std::string_view asked_host, std::vector<SlotRange> &out,
                        std::string &why) {
  out.clear();
  if (!is_array(r)) return proto(why, "CLUSTER SLOTS: the reply is not an array");
  if (r->len > static_cast<size_t>(kClusterSlots))
    return proto(why, "CLUSTER SLOTS: more ranges than slots");
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < r->len; i++) {
    const jr_reply *range = at(r, i);
    std::string at_range = "CLUSTER SLOTS: range " + std::to_string(i) + ": ";
    if (!is_array(range) || range->len < 3)
      return proto(why, at_range + "not an array [start, end, master, replicas...]");
    const jr_reply *lo = at(range, 0), *hi = at(range, 1);
    if (!is_int(lo) || !is_int(hi)) return proto(why, at_range + "start or end not an integer");
    if (lo->u.integer < 0 || hi->u.integer >= kClusterSlots || lo->u.integer > hi->u.integer)
      return proto(why, at_range + "slots " + std::to_string(lo->u.integer) + ".." +
                            std::to_string(hi->u.integer) + " outside 0..16383");
    if (range->len - 3 > kMaxReplicasPerRange) return proto(why, at_range + "too many replicas");
    SlotRange sr;
    sr.lo = static_cast<int>(lo->u.integer);
    sr.hi = static_cast<int>(hi->u.integer);
    std::string detail;
    NodeOk m = slot_node(at(range, 2), asked_host, sr.master, detail);
    if (m == NodeOk::kBad) return proto(why, at_range + detail);
    for (size_t k = 3; k < range->len; k++) {
      std::string addr;
      NodeOk ok = slot_node(at(range, k), asked_host, addr, detail);
      if (ok == NodeOk::kBad) return proto(why, at_range + detail);
      if (ok == NodeOk::kYes && addr != sr.master &&
          std::find(sr.replicas.begin(), sr.replicas.end(), addr) == sr.replicas.end())
        sr.replicas.push_back(std::move(addr));
    }
    if (m == NodeOk::kUnknown) continue;  // no master known: the slots stay unserved
    seen.insert(sr.master);
    for (const auto &a : sr.replicas) seen.insert(a);
    if (seen.size() > kMaxClusterNodes) return proto(why, "CLUSTER SLOTS: too many nodes");
    out.push_back(std::move(sr));
  }
  return JR_OK;
}

// ---- CLUSTER NODES -----------------------------------------------------------------

int parse_cluster_nodes(const jr_reply *r, std::string_view asked_host, std::vector<NodeRow> &out,
                        std::string &why) {
  out.clear();
  if (!is_text(r)) return proto(why, "CLUSTER NODES: the reply is not a string");
  std::string_view text = text_of(r);
  size_t pos = 0, lineno = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    lineno++;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    std::string_view f[3];
    size_t nf = 0, p = 0;
    while (p <= line.size() && nf < 3) {
      size_t sp = line.find(' ', p);
      if (sp == std::string_view::npos) sp = line.size();
      f[nf++] = line.substr(p, sp - p);
      p = sp + 1;
    }
    std::string at_line = "CLUSTER NODES: line " + std::to_string(lineno) + ": ";
    if (nf < 3 || f[0].empty() || f[2].empty())
      return proto(why, at_line + "not \"<id> <address> <flags> ...\"");
    std::string_view flags = f[2];
    if (flags.find("fail") != std::string_view::npos ||
        flags.find("noaddr") != std::string_view::npos ||
        flags.find("handshake") != std::string_view::npos)
      continue;
    std::string_view a = f[1].substr(0, f[1].find('@'));
    std::string_view host;
    int64_t port = 0;
    if (!split_host_port(a, host, port)) return proto(why, at_line + "address not host:port");
    if (host.empty()) host = asked_host;
    NodeRow row;
    if (!node_address(host, port, row.addr))
      return proto(why, at_line + "invalid host or port in the address");
    row.master = flags.find("master") != std::string_view::npos;
    if (out.size() >= kMaxClusterNodes) return proto(why, "CLUSTER NODES: too many nodes");
    out.push_back(std::move(row));
  }
  return JR_OK;
}

// ---- Redirections ------------------------------------------------------------------

int parse_redirect(std::string_view text, std::string_view asked_host, Redirect &out,
                   std::string &why) {
  out = Redirect();
  bool moved = starts(text, "MOVED ");
  bool ask = starts(text, "ASK ");
  if (!moved && !ask) {
    if (starts(text, "TRYAGAIN") || starts(text, "CLUSTERDOWN") || starts(text, "LOADING") ||
        starts(text, "READONLY") || starts(text, "MASTERDOWN")) {
      out.kind = Redirect::kRetry;
      out.refresh = !starts(text, "TRYAGAIN");
    }
    return JR_OK;
  }
  // "MOVED <slot> <host:port>" / "ASK <slot> <host:port>"
  std::string_view rest = text.substr(moved ? 6 : 4);
  size_t sp = rest.find(' ');
  int64_t slot = -1;
  std::string_view host;
  int64_t port = 0;
  if (sp == std::string_view::npos || !decimal(rest.substr(0, sp), slot, 5) ||
      slot >= kClusterSlots)
    return proto(why, "redirection with an invalid slot: " + std::string(text.substr(0, 64)));
  std::string_view addr = rest.substr(sp + 1);
  if (!split_host_port(addr, host, port))
    return proto(why, "redirection without host:port: " + std::string(text.substr(0, 64)));
  if (host.empty()) host = asked_host;  // "MOVED 1 :6379": the same host
  if (!node_address(host, port, out.addr))
    return proto(why, "redirection to an invalid address: " + std::string(text.substr(0, 64)));
  out.kind = moved ? Redirect::kMoved : Redirect::kAsk;
  out.slot = static_cast<int>(slot);
  return JR_OK;
}

// ---- Pub/sub -----------------------------------------------------------------------

namespace {
const char *const kSubscribeWord[] = {"subscribe", "psubscribe", "ssubscribe"};
const char *const kUnsubscribeWord[] = {"unsubscribe", "punsubscribe", "sunsubscribe"};
}  // namespace

int parse_push(const jr_reply *r, bool classic, PushMsg &out, std::string &why) {
  out = PushMsg();
  if (r == nullptr) return proto(why, "pub/sub: no reply");
  if (r->type == JR_REPLY_ERROR) {
    out.type = PushMsg::kError;
    return JR_OK;
  }
  if (r->type != JR_REPLY_ARRAY) {
    // A PING answered outside subscribed mode.
    if (classic && is_text(r)) {
      out.type = PushMsg::kPong;
      return JR_OK;
    }
    return proto(why, "pub/sub: unexpected reply type " + std::to_string(r->type));
  }
  const jr_reply *w = at(r, 0);
  if (!is_text(w)) return proto(why, "pub/sub: a message whose kind is not a string");
  std::string_view word = text_of(w);
  size_t n = r->len;
  auto all_bulk = [&](size_t from) {
    for (size_t i = from; i < n; i++)
      if (!is_bulk(at(r, i))) return false;
    return true;
  };
  if (word == "message" || word == "smessage" || word == "pmessage") {
    bool pattern = word == "pmessage";
    if (n != (pattern ? 4u : 3u) || !all_bulk(1))
      return proto(why, "pub/sub: a " + std::string(word) + " of the wrong shape");
    out.type = PushMsg::kMessage;
    out.kind = pattern ? 1 : word == "smessage" ? 2 : 0;
    out.name = text_of(at(r, 1));  // the pattern, for a pmessage
    return JR_OK;
  }
  for (int k = 0; k < 3; k++) {
    bool sub = word == kSubscribeWord[k];
    bool unsub = word == kUnsubscribeWord[k];
    if (!sub && !unsub) continue;
    const jr_reply *nm = at(r, 1);
    // "unsubscribe" from nothing names nil.
    bool name_ok = is_bulk(nm) || (unsub && nm != nullptr && nm->type == JR_REPLY_NIL);
    if (n != 3 || !name_ok || !is_int(at(r, 2)))
      return proto(why, "pub/sub: a " + std::string(word) + " of the wrong shape");
    out.type = sub ? PushMsg::kSubscribe : PushMsg::kUnsubscribe;
    out.kind = k;
    out.name = text_of(nm);
    return JR_OK;
  }
  if (word == "pong" && classic) {
    if (n != 2 || !is_bulk(at(r, 1))) return proto(why, "pub/sub: a pong of the wrong shape");
    out.type = PushMsg::kPong;
    return JR_OK;
  }
  return proto(why, "pub/sub: unknown message kind \"" + std::string(word.substr(0, 32)) + "\"");
}

int parse_monitor(const jr_reply *r, bool ok_pending) noexcept {
  if (r == nullptr) return JR_EPROTO;
  if (ok_pending) {
    if (r->type == JR_REPLY_STATUS && r->len == 2 && std::memcmp(r->u.str, "OK", 2) == 0) return 0;
    if (r->type == JR_REPLY_ERROR) return 1;
    return JR_EPROTO;
  }
  return r->type == JR_REPLY_STATUS ? 1 : JR_EPROTO;
}

// ---- MULTI / EXEC ------------------------------------------------------------------

bool queued_reply_ok(const jr_reply *r, size_t index) noexcept {
  if (r == nullptr) return false;
  if (index > 0 && r->type == JR_REPLY_ERROR) return true;
  if (r->type != JR_REPLY_STATUS) return false;
  std::string_view s(r->u.str, r->len);
  return index == 0 ? s == "OK" : s == "QUEUED";
}

ExecReply classify_exec(const jr_reply *r, size_t queued) noexcept {
  if (r == nullptr) return ExecReply::kInvalid;
  switch (r->type) {
    case JR_REPLY_ARRAY:
      return r->len == queued ? ExecReply::kResults : ExecReply::kInvalid;
    case JR_REPLY_NIL:
      return ExecReply::kNil;
    case JR_REPLY_ERROR:
      return ExecReply::kError;
    default:
      return ExecReply::kInvalid;
  }
}

// ---- COMMAND -----------------------------------------------------------------------

bool parse_command_entry(const jr_reply *e, CommandEntry &out) {
  out = CommandEntry();
  if (!is_array(e) || e->len < 6) return false;
  std::string_view name = text_of(at(e, 0));
  if (name.empty() || name.size() > 64) return false;
  const jr_reply *flags = at(e, 2), *first = at(e, 3), *last = at(e, 4), *step = at(e, 5);
  // RESP3 (protocol=3) gives the flags as a set.
  bool flag_list = is_array(flags) || (flags != nullptr && flags->type == JR_REPLY_SET);
  if (!flag_list || !is_int(first) || !is_int(last) || !is_int(step)) return false;
  constexpr int64_t kMax = int64_t{1} << 20;
  if (first->u.integer < 0 || first->u.integer > kMax || last->u.integer < -kMax ||
      last->u.integer > kMax || step->u.integer < 0 || step->u.integer > kMax)
    return false;
  out.name.assign(name);
  for (char &ch : out.name)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
  for (size_t i = 0; i < flags->len; i++) {
    std::string_view f = text_of(flags->u.elements[i]);
    if (f == "movablekeys") out.movable = true;
    if (f == "readonly") out.readonly = true;
  }
  out.first = static_cast<int>(first->u.integer);
  out.last = static_cast<int>(last->u.integer);
  out.step = static_cast<int>(step->u.integer);
  const jr_reply *subs = at(e, 9);  // Redis 7: subcommands, named "parent|sub"
  if (is_array(subs)) out.subcommands = subs;
  return true;
}

}  // namespace jr

namespace jr {

// ---- Redis Sentinel -------------------------------------------------------------

namespace {
bool text_port(std::string_view s, int64_t &port) noexcept {
  return decimal(s, port, 5) && port >= 1 && port <= 65535;
}
}  // namespace

int parse_master_addr(const jr_reply *r, std::string &addr, std::string &why) {
  if (r != nullptr && r->type == JR_REPLY_NIL) return JR_ENOENT;
  if (r != nullptr && r->type == JR_REPLY_ERROR)
    return proto(why, "SENTINEL get-master-addr-by-name: error " +
                          std::string(r->u.str, std::min<size_t>(r->len, 200)));
  if (!is_array(r) || r->len != 2 || !is_text(at(r, 0)) || !is_text(at(r, 1)))
    return proto(why, "SENTINEL get-master-addr-by-name: not [ip, port]");
  int64_t port = 0;
  if (!text_port(text_of(at(r, 1)), port))
    return proto(why, "SENTINEL get-master-addr-by-name: port is not 1..65535");
  if (!node_address(text_of(at(r, 0)), port, addr))
    return proto(why, "SENTINEL get-master-addr-by-name: invalid ip");
  return JR_OK;
}

int parse_role(const jr_reply *r, std::string &role, std::string &why) {
  if (!is_array(r) || r->len == 0 || !is_text(at(r, 0)))
    return proto(why, "ROLE: not an array that starts with the role");
  std::string_view v = text_of(at(r, 0));
  if (v != "master" && v != "slave" && v != "replica" && v != "sentinel")
    return proto(why, "ROLE: unknown role");
  role.assign(v);
  return JR_OK;
}

int parse_sentinel_instances(const jr_reply *r, std::vector<std::string> &addrs, std::string &why) {
  addrs.clear();
  if (!is_array(r)) return proto(why, "SENTINEL instances: not an array");
  for (size_t i = 0; i < r->len && addrs.size() < kMaxSentinels; i++) {
    const jr_reply *row = at(r, i);
    if (!is_array(row) || row->len % 2 != 0) return proto(why, "SENTINEL instances: bad row");
    std::string_view ip, port, flags;
    bool have_ip = false, have_port = false;
    for (size_t k = 0; k + 1 < row->len; k += 2) {
      if (!is_text(at(row, k)) || !is_text(at(row, k + 1)))
        return proto(why, "SENTINEL instances: a field is not a string");
      std::string_view f = text_of(at(row, k)), v = text_of(at(row, k + 1));
      if (f == "ip") {
        ip = v;
        have_ip = true;
      } else if (f == "port") {
        port = v;
        have_port = true;
      } else if (f == "flags") {
        flags = v;
      }
    }
    int64_t p = 0;
    std::string addr;
    if (!have_ip || !have_port || !text_port(port, p) || !node_address(ip, p, addr))
      return proto(why, "SENTINEL instances: a row without a valid ip and port");
    if (flags.find("s_down") != std::string_view::npos ||
        flags.find("o_down") != std::string_view::npos ||
        flags.find("disconnected") != std::string_view::npos)
      continue;
    addrs.push_back(std::move(addr));
  }
  return JR_OK;
}

int parse_sentinel_replicas(const jr_reply *r, std::vector<std::string> &addrs, size_t &skipped,
                            std::string &why) {
  addrs.clear();
  skipped = 0;
  std::vector<std::string> out;  // handed over only when the whole reply is valid
  size_t skip = 0;
  if (r != nullptr && r->type == JR_REPLY_ERROR)
    return proto(
        why, "SENTINEL replicas: error " + std::string(r->u.str, std::min<size_t>(r->len, 200)));
  if (!is_array(r)) return proto(why, "SENTINEL replicas: not an array");
  for (size_t i = 0; i < r->len && i < kMaxSentinelReplicas; i++) {
    const jr_reply *row = at(r, i);
    if (!is_array(row) || row->len % 2 != 0 || row->len > 256)
      return proto(why, "SENTINEL replicas: a row is not a field/value array");
    std::string_view ip, port, flags, link;
    int have_ip = 0, have_port = 0, have_flags = 0, have_link = 0;
    for (size_t k = 0; k + 1 < row->len; k += 2) {
      if (!is_text(at(row, k)) || !is_text(at(row, k + 1)))
        return proto(why, "SENTINEL replicas: a field is not a string");
      std::string_view f = text_of(at(row, k)), v = text_of(at(row, k + 1));
      if (f == "ip") {
        ip = v;
        have_ip++;
      } else if (f == "port") {
        port = v;
        have_port++;
      } else if (f == "flags") {
        flags = v;
        have_flags++;
      } else if (f == "master-link-status") {
        link = v;
        have_link++;
      }
    }
    if (have_ip != 1 || have_port != 1 || have_flags != 1 || have_link > 1)
      return proto(why, "SENTINEL replicas: a row without exactly one ip, port and flags");
    int64_t p = 0;
    std::string addr;
    if (!text_port(port, p) || !node_address(ip, p, addr))
      return proto(why, "SENTINEL replicas: a row without a valid ip and port");
    bool replica = false, down = false;
    size_t pos = 0;
    while (pos <= flags.size()) {
      size_t comma = flags.find(',', pos);
      std::string_view w =
          flags.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
      if (w.empty()) return proto(why, "SENTINEL replicas: an empty word in flags");
      for (char ch : w)
        if (!((ch >= 'a' && ch <= 'z') || ch == '_' || ch == '-'))
          return proto(why, "SENTINEL replicas: flags are not words of [a-z_-]");
      if (w == "slave" || w == "replica") replica = true;
      if (w == "s_down" || w == "o_down" || w == "disconnected") down = true;
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
    if (!replica || down || link != "ok" || std::find(out.begin(), out.end(), addr) != out.end()) {
      skip++;
      continue;
    }
    out.push_back(std::move(addr));
  }
  addrs = std::move(out);
  skipped = skip;
  return JR_OK;
}

int parse_switch_master(std::string_view payload, std::string_view name, std::string &addr,
                        std::string &why) {
  std::string_view part[5];
  size_t n = 0;
  size_t pos = 0;
  while (pos <= payload.size() && n < 6) {
    size_t sp = payload.find(' ', pos);
    std::string_view w = payload.substr(pos, sp == std::string_view::npos ? sp : sp - pos);
    if (n == 5) return proto(why, "+switch-master: more than 5 words");
    part[n++] = w;
    if (sp == std::string_view::npos) break;
    pos = sp + 1;
  }
  if (n != 5) return proto(why, "+switch-master: not <name> <ip> <port> <ip> <port>");
  int64_t old_port = 0, new_port = 0;
  std::string old_addr;
  if (part[0].empty() || !text_port(part[2], old_port) || !text_port(part[4], new_port) ||
      !node_address(part[1], old_port, old_addr) || !node_address(part[3], new_port, addr))
    return proto(why, "+switch-master: invalid address");
  if (part[0] != name) return JR_ENOENT;
  return JR_OK;
}

// ---- RESP3 handshake ---------------------------------------------------------------

int parse_hello(const jr_reply *r, std::string &why) {
  if (r == nullptr || r->type != JR_REPLY_MAP) {
    why = "the HELLO 3 reply is of type " + std::to_string(r != nullptr ? r->type : 0) +
          ", not a map";
    return JR_EPROTO;
  }
  for (size_t i = 0; i + 1 < r->len; i += 2) {
    if (text_of(r->u.elements[i]) != "proto") continue;
    const jr_reply *v = r->u.elements[i + 1];
    if (v->type == JR_REPLY_INTEGER && v->u.integer == 3) return 0;
    why = "the HELLO 3 reply's proto is not the integer 3";
    return JR_EPROTO;
  }
  why = "the HELLO 3 reply has no proto";
  return JR_EPROTO;
}

// ---- Client-side caching ----------------------------------------------------------

int parse_invalidation(const jr_reply *r, bool resp3, std::vector<std::string_view> &keys,
                       bool *all, std::string &why) {
  keys.clear();
  *all = false;
  if (r == nullptr) return 0;
  const jr_reply *payload = nullptr;
  if (resp3) {
    if (r->type != JR_REPLY_PUSH || r->len < 1 || text_of(r->u.elements[0]) != "invalidate")
      return 0;
    if (r->len != 2) {
      why = "invalidation push with " + std::to_string(r->len) + " elements (want 2)";
      return JR_EPROTO;
    }
    payload = r->u.elements[1];
  } else {
    if (r->type != JR_REPLY_ARRAY || r->len != 3 || text_of(r->u.elements[0]) != "message" ||
        text_of(r->u.elements[1]) != "__redis__:invalidate")
      return 0;
    payload = r->u.elements[2];
  }
  if (payload->type == JR_REPLY_NIL) {
    *all = true;
    return 1;
  }
  if (payload->type != JR_REPLY_ARRAY && payload->type != JR_REPLY_SET) {
    why = "invalidation payload of type " + std::to_string(payload->type) + " (want keys or nil)";
    return JR_EPROTO;
  }
  keys.reserve(payload->len);
  for (size_t i = 0; i < payload->len; i++) {
    const jr_reply *k = payload->u.elements[i];
    if (k->type != JR_REPLY_STRING) {
      keys.clear();
      why = "invalidated key " + std::to_string(i) + " is not a bulk string";
      return JR_EPROTO;
    }
    keys.emplace_back(k->u.str, k->len);
  }
  return 1;
}

}  // namespace jr

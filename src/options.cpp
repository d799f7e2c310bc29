// SPDX-License-Identifier: MIT
#include "options.hpp"

#include <cerrno>
#include <cstdlib>
#include <string_view>
#include <type_traits>

namespace jr {

std::string Endpoint::display() const {
  if (unix_socket) return path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

namespace {

bool parse_int(const std::string &s, int64_t &out) {
  // Digits with an optional '-': strtoll alone would also take leading
  // blanks and a '+'.
  if (s.empty() || (s[0] != '-' && (s[0] < '0' || s[0] > '9'))) return false;
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0') return false;
  out = v;
  return true;
}

bool parse_port(const std::string &s, int &port) {
  int64_t v = 0;
  if (!parse_int(s, v) || v <= 0 || v > 65535) return false;
  port = static_cast<int>(v);
  return true;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(const std::string &in, std::string &out) {
  out.clear();
  for (size_t i = 0; i < in.size(); i++) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

}  // namespace

int parse_endpoint(const std::string &text, Endpoint &out) {
  out = Endpoint();
  if (text.empty()) return JR_EINVAL;
  if (text.find('/') != std::string::npos) {
    out.unix_socket = true;
    out.path = text;
    return JR_OK;
  }
  if (text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close == 1) return JR_EINVAL;
    out.host = text.substr(1, close - 1);
    if (close + 1 == text.size()) return JR_OK;
    if (text[close + 1] != ':') return JR_EINVAL;
    return parse_port(text.substr(close + 2), out.port) ? JR_OK : JR_EINVAL;
  }
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    out.host = text;
    return JR_OK;
  }
  if (text.find(':') != colon) {  // a bare IPv6 address without a port
    out.host = text;
    return JR_OK;
  }
  out.host = text.substr(0, colon);
  if (out.host.empty()) return JR_EINVAL;
  return parse_port(text.substr(colon + 1), out.port) ? JR_OK : JR_EINVAL;
}

int parse_sentinel_endpoint(const std::string &text, Endpoint &out) {
  if (text.find('/') != std::string::npos) return JR_EINVAL;
  bool has_port = text.size() > 0 && text[0] == '['
                      ? text.find("]:") != std::string::npos
                      : text.find(':') != std::string::npos && text.find(':') == text.rfind(':');
  int rc = parse_endpoint(text, out);
  if (rc == JR_OK && !has_port) out.port = 26379;
  return rc;
}

namespace {
// What follows a URL's scheme and host part: `rest` is
// [user[:pass]@]hosts[/db][?query]; on return it holds the hosts alone.
// A password alone (redis://secret@host) is read as redis-cli reads it.
struct UrlParts {
  std::string query, user, pass;
  int64_t db = 0;
};
int split_url(std::string &rest, UrlParts &out) {
  size_t q = rest.find('?');
  if (q != std::string::npos) {
    out.query = rest.substr(q + 1);
    rest.resize(q);
  }
  std::string path;
  size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    path = rest.substr(slash + 1);
    rest.resize(slash);
  }
  size_t at = rest.rfind('@');
  if (at != std::string::npos) {
    std::string cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = cred.find(':');
    if (colon == std::string::npos) {
      if (!percent_decode(cred, out.pass)) return JR_EINVAL;
    } else if (!percent_decode(cred.substr(0, colon), out.user) ||
               !percent_decode(cred.substr(colon + 1), out.pass)) {
      return JR_EINVAL;
    }
  }
  if (!path.empty() && (!parse_int(path, out.db) || out.db < 0 || out.db > INT32_MAX))
    return JR_EINVAL;
  return JR_OK;
}

// Lettuce's Sentinel URL: redis-sentinel://[[user]:password@]host[:port]
// [,host[:port]...][/db][?query]#master (rediss-sentinel:// with TLS);
// ports default to 26379; the credentials and db are the master's.
// sentinelMasterId=name in the query is Lettuce's other way to name the
// master.
int set_sentinel_url(Options &o, const std::string &url, std::string &query) {
  bool secure = url.rfind("rediss-sentinel://", 0) == 0;
  std::string rest = url.substr(secure ? 18 : 17);
  std::string master;
  size_t hash = rest.find('#');
  if (hash != std::string::npos) {
    if (!percent_decode(rest.substr(hash + 1), master)) return JR_EINVAL;
    rest.resize(hash);
  }
  UrlParts parts;
  if (split_url(rest, parts) != JR_OK) return JR_EINVAL;
  query = parts.query;
  std::vector<Endpoint> list;
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t comma = rest.find(',', pos);
    std::string one = rest.substr(pos, comma == std::string::npos ? comma : comma - pos);
    Endpoint ep;
    if (one.empty() || parse_sentinel_endpoint(one, ep) != JR_OK) return JR_EINVAL;
    list.push_back(ep);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  o.tls = secure;
  o.sentinels = std::move(list);
  o.sentinel_master = master;
  o.username = parts.user;
  o.password = parts.pass;
  o.database = static_cast<int>(parts.db);
  return JR_OK;
}
}  // namespace

int Options::set_url(const std::string &url) {
  bool sentinel_url =
      url.rfind("redis-sentinel://", 0) == 0 || url.rfind("rediss-sentinel://", 0) == 0;
  std::string rest;
  Endpoint ep;
  std::string query;
  // valkey:// and valkeys:// (Valkey's own clients' schemes) are the same as
  // redis:// and rediss://.
  struct Scheme {
    std::string_view prefix;
    bool tls;
  };
  static constexpr Scheme kSchemes[] = {
      {"redis://", false}, {"rediss://", true}, {"valkey://", false}, {"valkeys://", true}};
  size_t scheme = 0;
  bool secure = false;
  for (const Scheme &s : kSchemes) {
    if (url.compare(0, s.prefix.size(), s.prefix) == 0) {
      scheme = s.prefix.size();
      secure = s.tls;
    }
  }
  if (scheme != 0) {
    rest = url.substr(scheme);
    tls = secure;
    UrlParts parts;
    if (split_url(rest, parts) != JR_OK) return JR_EINVAL;
    query = parts.query;
    if (rest.empty()) rest = "127.0.0.1";
    if (parse_endpoint(rest, ep) != JR_OK || ep.unix_socket) return JR_EINVAL;
    endpoints.assign(1, ep);
    username = parts.user;
    password = parts.pass;
    database = static_cast<int>(parts.db);
  } else if (url.rfind("unix://", 0) == 0) {
    rest = url.substr(7);
    size_t q = rest.find('?');
    if (q != std::string::npos) {
      query = rest.substr(q + 1);
      rest.resize(q);
    }
    if (rest.empty() || rest[0] != '/') return JR_EINVAL;
    ep.unix_socket = true;
    ep.path = rest;
    endpoints.assign(1, ep);
    database = 0;
  } else if (sentinel_url) {
    int rc = set_sentinel_url(*this, url, query);
    if (rc != JR_OK) return rc;
  } else {
    return JR_EINVAL;
  }
  // Query parameters: db, username, password, protocol (sentinel URLs
  // also sentinelMasterId).
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    pos = amp == std::string::npos ? query.size() : amp + 1;
    size_t eq = kv.find('=');
    if (eq == std::string::npos) return JR_EINVAL;
    std::string k = kv.substr(0, eq), v;
    if (!percent_decode(kv.substr(eq + 1), v)) return JR_EINVAL;
    int64_t n = 0;
    if (k == "db") {
      if (!parse_int(v, n) || n < 0 || n > INT32_MAX) return JR_EINVAL;
      database = static_cast<int>(n);
    } else if (k == "username") {
      username = v;
    } else if (k == "password") {
      password = v;
    } else if (k == "sentinelMasterId" && sentinel_url) {
      sentinel_master = v;
    } else if (k == "protocol") {
      if (v != "2" && v != "3") return JR_EINVAL;
      protocol = v[0] - '0';
      limits.resp3 = protocol == 3;
    } else {
      return JR_EINVAL;
    }
  }
  // A sentinel URL must name the master.
  if (sentinel_url && sentinel_master.empty()) return JR_EINVAL;
  return JR_OK;
}

namespace {

// ---- Setters and getters the table points to ---------------------------------
// A numeric key's value reaches its setter already in range.

template <auto M>
int set_num(Options &o, int64_t v, const std::string &) {
  using T = std::remove_reference_t<decltype(o.*M)>;
  o.*M = static_cast<T>(v);
  return JR_OK;
}
template <auto M>
std::string get_num(const Options &o) {
  return std::to_string(static_cast<int64_t>(o.*M));
}
template <auto M>
int set_limit(Options &o, int64_t v, const std::string &) {
  using T = std::remove_reference_t<decltype(o.limits.*M)>;
  o.limits.*M = static_cast<T>(v);
  return JR_OK;
}
template <auto M>
std::string get_limit(const Options &o) {
  return std::to_string(static_cast<int64_t>(o.limits.*M));
}
template <auto M>
int set_str(Options &o, int64_t, const std::string &s) {
  o.*M = s;
  return JR_OK;
}

int set_endpoint(Options &o, int64_t, const std::string &s) {
  Endpoint ep;
  int rc = parse_endpoint(s, ep);
  if (rc == JR_OK) o.endpoints.push_back(ep);
  return rc;
}
int set_sentinel(Options &o, int64_t, const std::string &s) {
  Endpoint ep;
  int rc = parse_sentinel_endpoint(s, ep);
  if (rc == JR_OK) o.sentinels.push_back(ep);
  return rc;
}
int set_url(Options &o, int64_t, const std::string &s) {
  return o.set_url(s);
}
int set_client_name(Options &o, int64_t, const std::string &s) {
  if (s.find(' ') != std::string::npos) return JR_EINVAL;
  o.client_name = s;
  return JR_OK;
}
int set_protocol(Options &o, int64_t v, const std::string &) {
  o.protocol = static_cast<int>(v);
  o.limits.resp3 = v == 3;
  return JR_OK;
}
int set_cache_prefix(Options &o, int64_t, const std::string &s) {
  o.client_cache_prefixes.push_back(s);
  return JR_OK;
}
int set_cluster(Options &o, int64_t, const std::string &s) {
  if (s != "auto" && s != "no" && s != "yes") return JR_EINVAL;
  o.cluster_mode = s == "auto" ? -1 : s == "no" ? 0 : 1;
  return JR_OK;
}
std::string get_cluster(const Options &o) {
  return o.cluster_mode < 0 ? "auto" : o.cluster_mode == 0 ? "no" : "yes";
}
int set_dispatch(Options &o, int64_t, const std::string &s) {
  if (s != "loop" && s != "poll") return JR_EINVAL;
  o.poll_mode = s == "poll";
  return JR_OK;
}
std::string get_dispatch(const Options &o) {
  return o.poll_mode ? "poll" : "loop";
}

constexpr int64_t kI32 = INT32_MAX;
constexpr int64_t kI64 = INT64_MAX;
using Ty = OptionSpec::Type;

// Every key jr_options_set / jr_options_set_int know, one row each:
// name, type, range (int and bool), default (as jr_options_set takes it; ""
// none), one line of doc, setter, getter of the current value (nullptr: not
// compared with the default: strings, where "" is the default). jr.h and
// docs/api.md describe these keys; the unit test Options.TableDrivesSetters
// AndDocs checks both against this table, and that each default is what a
// new jr_options holds.
// clang-format off
const OptionSpec kOptions[] = {
  {"endpoint", Ty::kString, 0, 0, "127.0.0.1:6379", "adds an endpoint: host:port, [v6addr]:port, host (port 6379) or a unix socket path (contains '/'); repeatable, tried in order", set_endpoint, nullptr},
  {"url", Ty::kString, 0, 0, "", "redis://[user[:pass]@]host[:port][/db][?protocol=3], rediss://... (TLS), valkey:// and valkeys:// (the same), unix:///path[?db=N], or redis-sentinel://[[user]:pass@]host[:port][,host[:port]...][/db]#master (Lettuce's form; rediss-sentinel:// with TLS; sentinel ports default to 26379); sets endpoint (or sentinel and sentinel_master), username, password and database (and protocol)", set_url, nullptr},
  {"username", Ty::kString, 0, 0, "", "ACL user name (AUTH user password on every connection)", set_str<&Options::username>, nullptr},
  {"password", Ty::kString, 0, 0, "", "AUTH password on every connection; never logged", set_str<&Options::password>, nullptr},
  {"database", Ty::kInt, 0, kI32, "0", "database of jr_client_submit", set_num<&Options::database>, get_num<&Options::database>},
  {"client_name", Ty::kString, 0, 0, "", "CLIENT SETNAME on every connection (no spaces)", set_client_name, nullptr},
  {"protocol", Ty::kInt, 2, 3, "2", "RESP version: 3 sends HELLO 3 (with AUTH and SETNAME) as the handshake and gives typed replies (maps, sets, doubles, booleans); needs libjr built with hiredis >= 1.0 (else jr_client_new: JR_EINVAL); also ?protocol=3 in a URL", set_protocol, get_num<&Options::protocol>},
  {"connect_timeout_ms", Ty::kInt, 1, kI32, "5000", "per connect attempt, and for the handshake", set_num<&Options::connect_timeout_ms>, get_num<&Options::connect_timeout_ms>},
  {"connect_retry", Ty::kInt, 0, 1000, "3", "extra passes over the endpoints, backoff from 50 ms doubling up to 2 s", set_num<&Options::connect_retry>, get_num<&Options::connect_retry>},
  {"command_timeout_ms", Ty::kInt, 0, kI32, "5000", "default deadline of a command, submit to reply (0 = none); a late reply is read and dropped", set_num<&Options::command_timeout_ms>, get_num<&Options::command_timeout_ms>},
  {"socket_timeout_ms", Ty::kInt, 0, kI32, "0", "replace a connection that owes replies and read nothing for this long (0 = off)", set_num<&Options::socket_timeout_ms>, get_num<&Options::socket_timeout_ms>},
  {"silence_timeout_ms", Ty::kInt, 0, kI32, "10000", "the default dead-connection rule: replace a connection that owes replies and read nothing for this long, once the command it must answer first is past its own deadline (a command without a deadline holds it off); 0 = off", set_num<&Options::silence_timeout_ms>, get_num<&Options::silence_timeout_ms>},
  {"recv_buffer_size", Ty::kInt, 512, 64 << 20, "65536", "bytes per socket read", set_num<&Options::recv_buffer_size>, get_num<&Options::recv_buffer_size>},
  {"tcp_keepalive_s", Ty::kInt, 0, 86400, "60", "TCP keepalive idle seconds, then 3 probes idle/3 apart (0 = off)", set_num<&Options::tcp_keepalive_s>, get_num<&Options::tcp_keepalive_s>},
  {"tcp_nodelay", Ty::kBool, 0, 1, "1", "TCP_NODELAY on every connection", set_num<&Options::tcp_nodelay>, get_num<&Options::tcp_nodelay>},
  {"max_bulk_len", Ty::kInt, 1, kI64, "536870912", "largest accepted bulk string (512 MiB); larger: JR_ETOOBIG", set_limit<&ReaderLimits::max_bulk_len>, get_limit<&ReaderLimits::max_bulk_len>},
  {"max_elements", Ty::kInt, 1, kI32, "16777216", "largest accepted array (16 Mi elements); larger: JR_ETOOBIG", set_limit<&ReaderLimits::max_elements>, get_limit<&ReaderLimits::max_elements>},
  {"max_reply_bytes", Ty::kInt, 64, kI64, "1073741824", "largest accepted reply as a whole (1 GiB); larger: JR_ETOOBIG", set_limit<&ReaderLimits::max_reply_bytes>, get_limit<&ReaderLimits::max_reply_bytes>},
  {"max_queued", Ty::kInt, 1, kI32, "1048576", "most commands held: accepted and not completed, or timed out and still owed a reply; beyond: JR_EFULL", set_num<&Options::max_queued>, get_num<&Options::max_queued>},
  {"max_queued_bytes", Ty::kInt, 1024, kI64, "1073741824", "most encoded bytes of those commands (1 GiB); beyond, or one command larger: JR_EFULL", set_num<&Options::max_queued_bytes>, get_num<&Options::max_queued_bytes>},
  {"max_connections", Ty::kInt, 1, 100000, "10", "dedicated (pooled) connections per endpoint, for blocking commands and WATCH", set_num<&Options::max_connections>, get_num<&Options::max_connections>},
  {"call_spin_us", Ty::kInt, 0, 10000, "100", "jr_client_call spins up to this long for its reply before it sleeps (0 = always sleep)", set_num<&Options::call_spin_us>, get_num<&Options::call_spin_us>},
  {"loop_spin_us", Ty::kInt, 0, 10000, "100", "after a write (for the replies) and after a read that leaves nothing owed (for the next command) the loop thread polls up to this long before it sleeps (0 = never)", set_num<&Options::loop_spin_us>, get_num<&Options::loop_spin_us>},
  {"dispatch", Ty::kEnum, 0, 0, "loop", "loop: callbacks run on the loop thread; poll: queued for jr_dispatch (see jr_client_fd)", set_dispatch, get_dispatch},
  {"ready_batch", Ty::kInt, 1, 1 << 20, "16", "while a read's replies are parsed, the ready hook runs each time this many completions are ready", set_num<&Options::ready_batch>, get_num<&Options::ready_batch>},
  {"tls", Ty::kBool, 0, 1, "0", "TLS on every connection (rediss:// and valkeys:// URLs set it); certificate and host name are verified", set_num<&Options::tls>, get_num<&Options::tls>},
  {"tls_verify", Ty::kBool, 0, 1, "1", "0 disables certificate and host name verification (testing only)", set_num<&Options::tls_verify>, get_num<&Options::tls_verify>},
  {"tls_ca_file", Ty::kString, 0, 0, "", "trusted CA certificates, a file (\"\": the system store)", set_str<&Options::tls_ca_file>, nullptr},
  {"tls_ca_dir", Ty::kString, 0, 0, "", "trusted CA certificates, a directory (\"\": the system store)", set_str<&Options::tls_ca_dir>, nullptr},
  {"tls_cert_file", Ty::kString, 0, 0, "", "client certificate (mutual TLS)", set_str<&Options::tls_cert_file>, nullptr},
  {"tls_key_file", Ty::kString, 0, 0, "", "client private key (mutual TLS)", set_str<&Options::tls_key_file>, nullptr},
  {"tls_server_name", Ty::kString, 0, 0, "", "name for SNI and verification (\"\": the endpoint's host)", set_str<&Options::tls_server_name>, nullptr},
  {"read_from_replicas", Ty::kBool, 0, 1, "0", "in a cluster, read-only commands are spread over each slot's master and replicas; with Sentinel they go to the replicas the sentinels list (confirmed by ROLE), or the master when none is usable; replicas may lag", set_num<&Options::read_from_replicas>, get_num<&Options::read_from_replicas>},
  {"sentinel", Ty::kString, 0, 0, "", "adds a Redis Sentinel: host:port, [v6addr]:port or host (port 26379); repeatable; with sentinel_master the master is found through them and endpoint is ignored", set_sentinel, nullptr},
  {"sentinel_master", Ty::kString, 0, 0, "", "the name of the master the sentinels monitor (SENTINEL get-master-addr-by-name)", set_str<&Options::sentinel_master>, nullptr},
  {"sentinel_username", Ty::kString, 0, 0, "", "ACL user name on the sentinels (username/password are the master's)", set_str<&Options::sentinel_username>, nullptr},
  {"sentinel_password", Ty::kString, 0, 0, "", "AUTH password on the sentinels; never logged", set_str<&Options::sentinel_password>, nullptr},
  {"client_cache_bytes", Ty::kInt, 0, kI64, "0", "client-side caching: the cache's size in bytes, LRU (0 = off); reads of known keys (GET, MGET, HGETALL, ...) are answered from it, invalidated by the server (CLIENT TRACKING: RESP3 pushes, or with protocol=2 a redirect to a connection of its own); on a cluster tracked per node (protocol=2: an invalidation connection per node)", set_num<&Options::client_cache_bytes>, get_num<&Options::client_cache_bytes>},
  {"client_cache_prefix", Ty::kString, 0, 0, "", "client-side caching in broadcast mode (CLIENT TRACKING BCAST): only keys under these prefixes are cached, the server invalidating every key under them; repeatable (\"\": every key)", set_cache_prefix, nullptr},
  {"client_cache_ttl_ms", Ty::kInt, 0, kI64, "60000", "client-side caching: an entry older than this is not used, a safety net for an invalidation lost unnoticed (0 = no limit)", set_num<&Options::client_cache_ttl_ms>, get_num<&Options::client_cache_ttl_ms>},
  {"cluster", Ty::kEnum, 0, 0, "auto", "auto: ask the first server with CLUSTER SLOTS once, ahead of the first command; no: never (standalone); yes: as auto, expecting a cluster", set_cluster, get_cluster},
};
// clang-format on

}  // namespace

const OptionSpec *option_specs(size_t *count) noexcept {
  *count = sizeof kOptions / sizeof kOptions[0];
  return kOptions;
}

const OptionSpec *find_option(std::string_view name) noexcept {
  for (const OptionSpec &o : kOptions)
    if (name == o.name) return &o;
  return nullptr;
}

const char *OptionSpec::type_name() const noexcept {
  switch (type) {
    case Type::kInt:
      return "int";
    case Type::kBool:
      return "bool";
    case Type::kEnum:
      return "enum";
    case Type::kString:
      break;
  }
  return "string";
}

int Options::set(const std::string &key, const std::string &value) {
  const OptionSpec *o = find_option(key);
  if (o == nullptr) return JR_ENOENT;
  if (!o->numeric()) return o->set(*this, 0, value);
  int64_t v = 0;
  if (!parse_int(value, v)) return JR_EINVAL;
  return set_int(key, v);
}

int Options::set_int(const std::string &key, int64_t v) {
  const OptionSpec *o = find_option(key);
  if (o == nullptr) return JR_ENOENT;
  if (!o->numeric() || v < o->min || v > o->max) return JR_EINVAL;
  return o->set(*this, v, std::string());
}

}  // namespace jr

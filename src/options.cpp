#include "options.hpp"

#include <cerrno>
#include <cstdlib>

namespace jr {

std::string Endpoint::display() const {
  if (unix_socket) return path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

namespace {

bool parse_int(const std::string &s, int64_t &out) {
  if (s.empty()) return false;
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

int Options::set_url(const std::string &url) {
  std::string rest;
  Endpoint ep;
  std::string query;
  bool secure = url.rfind("rediss://", 0) == 0;
  if (url.rfind("redis://", 0) == 0 || secure) {
    rest = url.substr(secure ? 9 : 8);
    tls = secure;
    size_t q = rest.find('?');
    if (q != std::string::npos) {
      query = rest.substr(q + 1);
      rest.resize(q);
    }
    std::string path;
    size_t slash = rest.find('/');
    if (slash != std::string::npos) {
      path = rest.substr(slash + 1);
      rest.resize(slash);
    }
    size_t at = rest.rfind('@');
    std::string user, pass;
    if (at != std::string::npos) {
      std::string cred = rest.substr(0, at);
      rest = rest.substr(at + 1);
      size_t colon = cred.find(':');
      if (colon == std::string::npos) {
        // redis://secret@host: a password alone (as redis-cli reads it).
        if (!percent_decode(cred, pass)) return JR_EINVAL;
      } else {
        if (!percent_decode(cred.substr(0, colon), user) ||
            !percent_decode(cred.substr(colon + 1), pass))
          return JR_EINVAL;
      }
    }
    if (rest.empty()) rest = "127.0.0.1";
    if (parse_endpoint(rest, ep) != JR_OK || ep.unix_socket) return JR_EINVAL;
    int64_t db = 0;
    if (!path.empty() && (!parse_int(path, db) || db < 0 || db > INT32_MAX)) return JR_EINVAL;
    endpoints.assign(1, ep);
    username = user;
    password = pass;
    database = static_cast<int>(db);
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
  } else {
    return JR_EINVAL;
  }
  // Query parameters: db, username, password.
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
    } else {
      return JR_EINVAL;
    }
  }
  return JR_OK;
}

int Options::set(const std::string &key, const std::string &value) {
  if (key == "endpoint") {
    Endpoint ep;
    int rc = parse_endpoint(value, ep);
    if (rc != JR_OK) return rc;
    endpoints.push_back(ep);
    return JR_OK;
  }
  if (key == "url") return set_url(value);
  if (key == "username") {
    username = value;
    return JR_OK;
  }
  if (key == "password") {
    password = value;
    return JR_OK;
  }
  if (key == "client_name") {
    if (value.find(' ') != std::string::npos) return JR_EINVAL;
    client_name = value;
    return JR_OK;
  }
  if (key == "tls_ca_file" || key == "tls_ca_dir" || key == "tls_cert_file" ||
      key == "tls_key_file" || key == "tls_server_name") {
    (key == "tls_ca_file"     ? tls_ca_file
     : key == "tls_ca_dir"    ? tls_ca_dir
     : key == "tls_cert_file" ? tls_cert_file
     : key == "tls_key_file"  ? tls_key_file
                              : tls_server_name) = value;
    return JR_OK;
  }
  if (key == "cluster") {
    if (value == "auto") {
      cluster_mode = -1;
    } else if (value == "no") {
      cluster_mode = 0;
    } else if (value == "yes") {
      cluster_mode = 1;
    } else {
      return JR_EINVAL;
    }
    return JR_OK;
  }
  if (key == "dispatch") {
    if (value == "loop") {
      poll_mode = false;
    } else if (value == "poll") {
      poll_mode = true;
    } else {
      return JR_EINVAL;
    }
    return JR_OK;
  }
  int64_t v = 0;
  if (!parse_int(value, v)) {
    // Keep unknown keys distinguishable from bad values.
    static const char *const kNumeric[] = {"database",          "connect_timeout_ms",
                                           "connect_retry",     "command_timeout_ms",
                                           "socket_timeout_ms", "recv_buffer_size",
                                           "tcp_keepalive_s",   "tcp_nodelay",
                                           "max_bulk_len",      "max_elements",
                                           "max_reply_bytes",   "max_queued",
                                           "max_connections",   "tls",
                                           "tls_verify",        "call_spin_us",
                                           "loop_spin_us",      "ready_batch"};
    for (const char *k : kNumeric)
      if (key == k) return JR_EINVAL;
    if (key == "silence_timeout_ms") return JR_EINVAL;
    return JR_ENOENT;
  }
  return set_int(key, v);
}

int Options::set_int(const std::string &key, int64_t v) {
  auto in = [&](int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
  if (key == "database") {
    if (!in(0, INT32_MAX)) return JR_EINVAL;
    database = static_cast<int>(v);
  } else if (key == "connect_timeout_ms") {
    if (!in(1, INT32_MAX)) return JR_EINVAL;
    connect_timeout_ms = v;
  } else if (key == "connect_retry") {
    if (!in(0, 1000)) return JR_EINVAL;
    connect_retry = static_cast<int>(v);
  } else if (key == "command_timeout_ms") {
    if (!in(0, INT32_MAX)) return JR_EINVAL;
    command_timeout_ms = v;
  } else if (key == "socket_timeout_ms") {
    if (!in(0, INT32_MAX)) return JR_EINVAL;
    socket_timeout_ms = v;
  } else if (key == "silence_timeout_ms") {
    if (!in(0, INT32_MAX)) return JR_EINVAL;
    silence_timeout_ms = v;
  } else if (key == "recv_buffer_size") {
    if (!in(512, 64 << 20)) return JR_EINVAL;
    recv_buffer_size = static_cast<size_t>(v);
  } else if (key == "tcp_keepalive_s") {
    if (!in(0, 86400)) return JR_EINVAL;
    tcp_keepalive_s = static_cast<int>(v);
  } else if (key == "tcp_nodelay") {
    if (!in(0, 1)) return JR_EINVAL;
    tcp_nodelay = v != 0;
  } else if (key == "max_bulk_len") {
    if (!in(1, INT64_MAX)) return JR_EINVAL;
    limits.max_bulk_len = v;
  } else if (key == "max_elements") {
    if (!in(1, INT32_MAX)) return JR_EINVAL;
    limits.max_elements = v;
  } else if (key == "max_reply_bytes") {
    if (!in(64, INT64_MAX)) return JR_EINVAL;
    limits.max_reply_bytes = static_cast<size_t>(v);
  } else if (key == "read_from_replicas") {
    if (!in(0, 1)) return JR_EINVAL;
    read_from_replicas = v != 0;
  } else if (key == "tls") {
    if (!in(0, 1)) return JR_EINVAL;
    tls = v != 0;
  } else if (key == "tls_verify") {
    if (!in(0, 1)) return JR_EINVAL;
    tls_verify = v != 0;
  } else if (key == "max_connections") {
    if (!in(1, 100000)) return JR_EINVAL;
    max_connections = static_cast<int>(v);
  } else if (key == "max_queued_bytes") {
    if (!in(1024, INT64_MAX)) return JR_EINVAL;
    max_queued_bytes = v;
  } else if (key == "max_queued") {
    if (!in(1, INT32_MAX)) return JR_EINVAL;
    max_queued = v;
  } else if (key == "call_spin_us") {
    if (!in(0, 10000)) return JR_EINVAL;
    call_spin_us = v;
  } else if (key == "ready_batch") {
    if (!in(1, 1 << 20)) return JR_EINVAL;
    ready_batch = static_cast<size_t>(v);
  } else if (key == "loop_spin_us") {
    if (!in(0, 10000)) return JR_EINVAL;
    loop_spin_us = v;
  } else if (key == "endpoint" || key == "url" || key == "username" || key == "password" ||
             key == "client_name" || key == "dispatch" || key == "cluster" ||
             key == "tls_ca_file" || key == "tls_ca_dir" || key == "tls_cert_file" ||
             key == "tls_key_file" || key == "tls_server_name") {
    return JR_EINVAL;  // string keys
  } else {
    return JR_ENOENT;
  }
  return JR_OK;
}

}  // namespace jr

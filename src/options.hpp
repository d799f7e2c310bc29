// SPDX-License-Identifier: MIT
// Client configuration: the seed's keys, parsed from key/value pairs or a URL.
#ifndef JR_SRC_OPTIONS_HPP
#define JR_SRC_OPTIONS_HPP

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "jr/jr.h"
#include "resp/reply.hpp"

namespace jr {

struct Endpoint {
  bool unix_socket = false;
  std::string host;  // TCP host name or literal address (no brackets)
  int port = 6379;
  std::string path;  // unix socket path
  // "host:port", "[v6]:port" or the socket path.
  [[nodiscard]] std::string display() const;
};

// Parses "host:port", "[v6]:port", "host", or a path containing '/'.
int parse_endpoint(const std::string &text, Endpoint &out);
// A sentinel's address: "host:port", "[v6]:port" or "host" (port 26379);
// no unix socket path.
int parse_sentinel_endpoint(const std::string &text, Endpoint &out);

struct Options {
  std::vector<Endpoint> endpoints;
  std::string username;
  std::string password;
  int database = 0;
  std::string client_name;
  int protocol = 2;  // 3: RESP3 (HELLO 3), needs hiredis >= 1.0 (Client::start)
  int64_t connect_timeout_ms = 5000;
  int connect_retry = 3;
  int64_t command_timeout_ms = 5000;
  int64_t socket_timeout_ms = 0;
  int64_t silence_timeout_ms = 10000;  // the default dead-connection rule (Connection::expire)
  size_t recv_buffer_size = 65536;
  int tcp_keepalive_s = 60;
  bool tcp_nodelay = true;
  ReaderLimits limits;
  int64_t max_queued = 1 << 20;
  int64_t max_queued_bytes = int64_t{1} << 30;
  int max_connections = 10;
  int64_t call_spin_us = 100;  // jr_client_call: longest spin before sleeping
  int64_t loop_spin_us = 100;  // the loop thread's spin after a write
  size_t ready_batch = 16;     // completions before a read's ready hook
  int cluster_mode = -1;       // -1 auto, 0 never, 1 expected
  bool read_from_replicas = false;
  // Client-side caching (cache.hpp, tracking.hpp): 0 bytes = off.
  int64_t client_cache_bytes = 0;
  int64_t client_cache_ttl_ms = 60000;
  std::vector<std::string> client_cache_prefixes;  // BCAST mode when not empty
  // Redis Sentinel (src/sentinel.cpp): the master named sentinel_master is
  // found through these sentinels; endpoints are then ignored.
  std::vector<Endpoint> sentinels;
  std::string sentinel_master;
  std::string sentinel_username;
  std::string sentinel_password;
  bool tls = false;
  bool tls_verify = true;
  std::string tls_ca_file;
  std::string tls_ca_dir;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_server_name;
  bool poll_mode = false;
  std::vector<std::vector<std::string>> connect_commands;
  jr_event_cb event_cb = nullptr;
  void *event_ctx = nullptr;
  jr_log_cb log_cb = nullptr;
  void *log_ctx = nullptr;
  jr_trace_cb trace_cb = nullptr;
  void *trace_ctx = nullptr;
  jr_ready_cb ready_cb = nullptr;  // poll mode: called instead of signalling the fd
  void *ready_ctx = nullptr;
  jr_thread_starter starter = nullptr;  // runs the loop on the caller's thread
  void *starter_ctx = nullptr;

  int set(const std::string &key, const std::string &value);
  int set_int(const std::string &key, int64_t value);
  int set_url(const std::string &url);
};

// Every key of jr_options_set / jr_options_set_int, one row each (the table
// is in options.cpp). Also behind jr_options_describe and docs/api.md.
struct OptionSpec {
  enum class Type : uint8_t { kInt, kBool, kString, kEnum };
  const char *name;
  Type type;
  int64_t min, max;  // kInt, kBool: the accepted range
  const char *def;   // the default as jr_options_set takes it ("" none)
  const char *doc;   // one line
  int (*set)(Options &o, int64_t n, const std::string &s);  // n in range
  std::string (*get)(const Options &o);  // the value as text; nullptr for strings
  [[nodiscard]] bool numeric() const noexcept { return type == Type::kInt || type == Type::kBool; }
  [[nodiscard]] const char *type_name() const noexcept;  // "int", "bool", "string", "enum"
};
const OptionSpec *option_specs(size_t *count) noexcept;
const OptionSpec *find_option(std::string_view name) noexcept;

}  // namespace jr

struct jr_options {
  jr::Options o;
};

#endif  // JR_SRC_OPTIONS_HPP

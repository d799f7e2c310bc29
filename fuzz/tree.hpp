// SPDX-License-Identifier: MIT
// Shared by the interpreter fuzz targets: turns fuzz bytes into reply trees
// with libjr's own reader (RESP2, the trees the loop thread hands to the
// interpreters), and checks node addresses the interpreters return.
#ifndef JR_FUZZ_TREE_HPP
#define JR_FUZZ_TREE_HPP

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "jr/jr.h"
#include "options.hpp"
#include "resp/reply.hpp"

namespace fuzz {

[[noreturn]] inline void fail(const char *target, const char *what,
                              const std::string &detail = "") {
  std::fprintf(stderr, "%s: %s %s\n", target, what, detail.c_str());
  std::abort();
}

// Calls f(reply) for each complete reply in data (at most 16), then stops
// at the first error or incomplete reply. One reader for the process,
// reset per input.
template <typename F>
void for_each_reply(const uint8_t *data, size_t size, F &&f) {
  static jr::ReplyReader *reader = [] {
    jr::ReaderLimits l;
    l.max_bulk_len = 4096;
    l.max_elements = 1024;
    l.max_reply_bytes = 1 << 20;
    return new jr::ReplyReader(l);
  }();
  reader->reset();
  if (reader->feed(reinterpret_cast<const char *>(data), size) != 0) return;
  for (int i = 0; i < 16; i++) {
    jr_reply *r = nullptr;
    if (reader->next(&r) != 1) break;
    f(static_cast<const jr_reply *>(r));
    jr::reply_release(r);
  }
}

// A text node over bytes the caller keeps alive (no arena: the
// interpreters never take references).
inline jr_reply text_node(const std::string &s, int type = JR_REPLY_STRING) {
  jr_reply r{};
  r.type = type;
  r.len = s.size();
  r.u.str = s.c_str();
  return r;
}

// An address an interpreter returned must be a TCP "host:port" that
// parse_endpoint reads back to the same host and port 1..65535.
inline void check_addr(const char *target, const std::string &addr) {
  jr::Endpoint ep;
  if (jr::parse_endpoint(addr, ep) != JR_OK) fail(target, "address does not parse", addr);
  if (ep.unix_socket) fail(target, "address is a unix socket path", addr);
  if (ep.port < 1 || ep.port > 65535) fail(target, "port out of range", addr);
  if (!jr::valid_host(ep.host)) fail(target, "invalid host", addr);
  std::string again;
  if (!jr::node_address(ep.host, ep.port, again) || again != addr)
    fail(target, "address not canonical", addr);
}

}  // namespace fuzz

#endif  // JR_FUZZ_TREE_HPP

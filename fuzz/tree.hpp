// SPDX-License-Identifier: MIT
// Shared by the interpreter fuzz targets: turns fuzz bytes into reply trees
// with libjr's own reader (the trees the loop thread hands to the
// interpreters; RESP3's aggregate kinds by retagging, as the fuzz build's
// hiredis 0.14 reads RESP2 only), and checks node addresses the
// interpreters return.
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

// RESP3's aggregate kinds from a tree that libjr's reader built: against
// hiredis 0.14 (the fuzz build's) it builds arrays only, and the RESP3
// paths of the interpreters (a HELLO map, push frames) would never run.
// Retags r's aggregates in place, in depth-first order, each by the next
// two bits of `bits` (rotating): array, set, push, or map when it has an
// even number of elements (keys and values alternate, as the reader lays a
// map out). The tree's arena does not depend on the types.
inline void retag_resp3(jr_reply *r, uint32_t &bits) {
  if (r->type != JR_REPLY_ARRAY) return;
  static constexpr int kKinds[4] = {JR_REPLY_ARRAY, JR_REPLY_SET, JR_REPLY_PUSH, JR_REPLY_MAP};
  int kind = kKinds[bits & 3];
  bits = (bits >> 2) | (bits << 30);
  if (kind != JR_REPLY_MAP || r->len % 2 == 0) r->type = kind;
  for (size_t i = 0; i < r->len; i++) retag_resp3(r->u.elements[i], bits);
}

// for_each_reply over RESP3 trees: the input's first 4 bytes choose the
// aggregates' kinds (retag_resp3), the rest is the RESP stream.
template <typename F>
void for_each_reply_resp3(const uint8_t *data, size_t size, F &&f) {
  if (size < 4) return;
  uint32_t seed = static_cast<uint32_t>(data[0]) | static_cast<uint32_t>(data[1]) << 8 |
                  static_cast<uint32_t>(data[2]) << 16 | static_cast<uint32_t>(data[3]) << 24;
  for_each_reply(data + 4, size - 4, [&](const jr_reply *r) {
    uint32_t bits = seed;
    retag_resp3(const_cast<jr_reply *>(r), bits);
    f(r);
  });
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

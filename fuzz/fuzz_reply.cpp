// SPDX-License-Identifier: MIT
// libFuzzer target: bytes from a server into the reply path, jr::ReplyReader
// (hiredis's RESP2 reader with libjr's limits building arena replies), with
// small limits. For every input:
//   - the replies and the error are the same whether the bytes arrive at once,
//     in random chunks or one byte at a time;
//   - every reply is a well-formed tree within the limits (types, lengths,
//     NUL terminators, nesting), readable through the C accessors;
//   - a reply re-encoded as RESP parses back to the same reply;
//   - the reply builder (make_reply / make_array_reply) reproduces scalars;
//   - after an error, reset() gives a working reader.
// Built against hiredis >= 1 (RESP3), the same bytes also go to a reader
// with RESP3 negotiated, fed at once and in chunks, and to a small RESP3
// parser of its own (resp3_ref.hpp): the replies (RESP3 types, attributes
// skipped) and whether the input ends cleanly, inside a reply or in an
// error must be the same.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "jr/jr.h"
#include "resp/reply.hpp"
#include "resp3_ref.hpp"

namespace {

constexpr int64_t kMaxBulk = 1024;
constexpr int64_t kMaxElements = 64;
constexpr size_t kMaxReply = 2048;

jr::ReaderLimits limits() {
  jr::ReaderLimits l;
  l.max_bulk_len = kMaxBulk;
  l.max_elements = kMaxElements;
  l.max_reply_bytes = kMaxReply;
  return l;
}

[[noreturn]] void fail(const char *what, const std::string &detail = "") {
  std::fprintf(stderr, "fuzz_reply: %s %s\n", what, detail.c_str());
  std::abort();
}

// Canonical RESP of a reply (nil as $-1).
void encode(const jr_reply *r, std::string &out) {
  switch (jr_reply_get_type(r)) {
    case JR_REPLY_STRING: {
      size_t len = 0;
      const char *s = jr_reply_str(r, &len);
      out += "$" + std::to_string(len) + "\r\n";
      out.append(s, len);
      out += "\r\n";
      break;
    }
    case JR_REPLY_STATUS:
    case JR_REPLY_ERROR: {
      size_t len = 0;
      const char *s = jr_reply_str(r, &len);
      out += jr_reply_get_type(r) == JR_REPLY_STATUS ? "+" : "-";
      out.append(s, len);
      out += "\r\n";
      break;
    }
    case JR_REPLY_INTEGER:
      out += ":" + std::to_string(jr_reply_integer(r)) + "\r\n";
      break;
    case JR_REPLY_NIL:
      out += "$-1\r\n";
      break;
    case JR_REPLY_ARRAY: {
      size_t n = jr_reply_len(r);
      out += "*" + std::to_string(n) + "\r\n";
      for (size_t i = 0; i < n; i++) encode(jr_reply_element(r, i), out);
      break;
    }
    default:
      fail("unknown reply type", std::to_string(jr_reply_get_type(r)));
  }
}

void check_tree(const jr_reply *r, int depth) {
  if (r == nullptr) fail("NULL node");
  if (depth > 8) fail("nesting deeper than hiredis allows");
  int type = jr_reply_get_type(r);
  size_t len = 0;
  const char *s = jr_reply_str(r, &len);
  switch (type) {
    case JR_REPLY_STRING:
    case JR_REPLY_STATUS:
    case JR_REPLY_ERROR:
      if (s == nullptr) fail("string without bytes");
      if (s[len] != '\0') fail("string not NUL-terminated");
      if (len != jr_reply_len(r)) fail("len mismatch");
      if (type == JR_REPLY_STRING && static_cast<int64_t>(len) > kMaxBulk)
        fail("bulk over max_bulk_len", std::to_string(len));
      if (jr_reply_element(r, 0) != nullptr) fail("element of a string");
      break;
    case JR_REPLY_INTEGER:
    case JR_REPLY_NIL:
      if (s != nullptr || jr_reply_len(r) != 0) fail("scalar with bytes");
      break;
    case JR_REPLY_ARRAY: {
      size_t n = jr_reply_len(r);
      if (static_cast<int64_t>(n) > kMaxElements) fail("array over max_elements");
      if (s != nullptr) fail("array with bytes");
      for (size_t i = 0; i < n; i++) check_tree(jr_reply_element(r, i), depth + 1);
      if (jr_reply_element(r, n) != nullptr) fail("element past the end");
      break;
    }
    default:
      fail("bad type", std::to_string(type));
  }
}

// Parses `data` fed in the given chunk sizes (0: all at once). Returns the
// canonical encodings of the replies, then "E<code>" if it failed.
std::vector<std::string> parse(const uint8_t *data, size_t size, const std::vector<size_t> &chunks,
                               bool deep_checks) {
  std::vector<std::string> out;
  jr::ReplyReader reader(limits());
  size_t off = 0, ci = 0;
  int err = 0;
  while (off < size && err == 0) {
    size_t n = chunks.empty() ? size - off : chunks[ci++ % chunks.size()];
    if (n == 0) n = 1;
    if (n > size - off) n = size - off;
    int rc = reader.feed(reinterpret_cast<const char *>(data) + off, n);
    off += n;
    if (rc != 0) {
      err = rc;
      break;
    }
    for (;;) {
      jr_reply *r = nullptr;
      int g = reader.next(&r);
      if (g == 0) break;
      if (g < 0) {
        if (r != nullptr) fail("reply with an error");
        if (reader.error().empty()) fail("error without a message");
        err = g;
        break;
      }
      if (g != 1 || r == nullptr) fail("bad next()");
      if (deep_checks) {
        check_tree(r, 0);
        // Every node, with what it allocates, is checked against the limit.
        if (r->arena->bytes() > kMaxReply)
          fail("reply over max_reply_bytes", std::to_string(r->arena->bytes()));
        // dup / free keep the reply alive independently.
        jr_reply *d = jr_reply_dup(r);
        if (d != r) fail("dup");
        jr_reply_free(d);
      }
      std::string enc;
      encode(r, enc);
      out.push_back(std::move(enc));
      if (deep_checks) {
        // Round trip: the canonical encoding parses back to itself.
        jr::ReaderLimits big;
        jr::ReplyReader again(big);
        const std::string &e = out.back();
        if (again.feed(e.data(), e.size()) != 0) fail("round trip feed");
        jr_reply *r2 = nullptr;
        if (again.next(&r2) != 1) fail("round trip parse", again.error());
        std::string enc2;
        encode(r2, enc2);
        if (enc2 != e) fail("round trip differs");
        jr::reply_release(r2);
        // The builder reproduces scalars and flat arrays of scalars.
        auto part_of = [](const jr_reply *x, jr::ReplyPart &p) {
          int t = jr_reply_get_type(x);
          if (t == JR_REPLY_ARRAY) return false;
          p.type = t;
          p.integer = jr_reply_integer(x);
          size_t l = 0;
          const char *s = jr_reply_str(x, &l);
          if (s != nullptr) p.str.assign(s, l);
          return true;
        };
        jr::ReplyPart p;
        if (part_of(r, p)) {
          jr_reply *b = jr::make_reply(p);
          if (b == nullptr) fail("make_reply");
          std::string eb;
          encode(b, eb);
          if (eb != e) fail("make_reply differs");
          jr::reply_release(b);
        } else {
          std::vector<jr::ReplyPart> parts;
          bool flat = true;
          for (size_t i = 0; i < jr_reply_len(r) && flat; i++) {
            jr::ReplyPart q;
            flat = part_of(jr_reply_element(r, i), q);
            parts.push_back(q);
          }
          if (flat) {
            jr_reply *b = jr::make_array_reply(parts);
            if (b == nullptr) fail("make_array_reply");
            std::string eb;
            encode(b, eb);
            if (eb != e) fail("make_array_reply differs");
            jr::reply_release(b);
          }
        }
      }
      jr::reply_release(r);
    }
  }
  if (err != 0) {
    out.push_back("E" + std::to_string(err));
    if (err != JR_EPROTO && err != JR_ETOOBIG && err != JR_ENOMEM)
      fail("unexpected error code", std::to_string(err));
    // A reset reader works again.
    reader.reset();
    if (reader.feed("+OK\r\n", 5) != 0) fail("feed after reset");
    jr_reply *r = nullptr;
    if (reader.next(&r) != 1 || jr_reply_get_type(r) != JR_REPLY_STATUS) fail("reset");
    jr::reply_release(r);
  } else {
    out.push_back("partial:" + std::to_string(reader.buffered() > 0));
  }
  return out;
}

#if JR_HIREDIS_RESP3
// ---- RESP3 differential ---------------------------------------------------
// Limits that 2 KiB of input can reach only through headers (a bulk or an
// aggregate announced longer), so both parsers see the same failures.
constexpr int64_t kR3MaxBulk = 1 << 20;
constexpr int64_t kR3MaxElements = 512;

// The canonical text of resp3_ref.hpp for a libjr reply.
void canon(const jr_reply *r, std::string &out) {
  size_t len = 0;
  const char *s = jr_reply_str(r, &len);
  auto text = [&] { return s != nullptr ? std::string(s, len) : std::string(); };
  switch (jr_reply_get_type(r)) {
    case JR_REPLY_STRING:
      out += "$" + std::to_string(len) + ":" + text();
      break;
    case JR_REPLY_STATUS:
      out += "+" + text();
      break;
    case JR_REPLY_ERROR:
      out += "-" + text();
      break;
    case JR_REPLY_INTEGER:
      out += ":" + std::to_string(jr_reply_integer(r));
      break;
    case JR_REPLY_NIL:
      out += "_";
      break;
    case JR_REPLY_DOUBLE: {
      out += "," + text();
      // The value is the text's (hiredis parsed it once).
      double d = jr_reply_double(r);
      std::string t = text();
      if (!std::isnan(d) && !std::isinf(d) && d != std::strtod(t.c_str(), nullptr))
        fail("double value differs from its text", t);
      break;
    }
    case JR_REPLY_BOOL:
      out += "#" + std::to_string(jr_reply_integer(r));
      break;
    case JR_REPLY_BIGNUM:
      out += "(" + text();
      break;
    case JR_REPLY_VERB: {
      const char *fmt = jr_reply_verb_format(r);
      // Any 3 bytes (NUL too), then the NUL libjr puts after them.
      if (fmt == nullptr || fmt[3] != '\0') fail("verbatim format");
      out += "=" + std::string(fmt, 3) + ":" + std::to_string(len) + ":" + text();
      break;
    }
    case JR_REPLY_ARRAY:
    case JR_REPLY_MAP:
    case JR_REPLY_SET:
    case JR_REPLY_PUSH: {
      int t = jr_reply_get_type(r);
      char c = t == JR_REPLY_MAP ? '%' : t == JR_REPLY_SET ? '~' : t == JR_REPLY_PUSH ? '>' : '*';
      size_t n = jr_reply_len(r);
      if (t == JR_REPLY_MAP && n % 2 != 0) fail("map of an odd length");
      out += std::string(1, c) + std::to_string(n) + "[";
      for (size_t i = 0; i < n; i++) {
        if (i > 0) out += ",";
        const jr_reply *e = jr_reply_element(r, i);
        if (e == nullptr) fail("NULL element");
        canon(e, out);
      }
      out += "]";
      if (jr_reply_element(r, n) != nullptr) fail("element past the end");
      break;
    }
    default:
      fail("unexpected RESP3 reply type", std::to_string(jr_reply_get_type(r)));
  }
}

resp3ref::Outcome parse_resp3(const uint8_t *data, size_t size, const std::vector<size_t> &chunks) {
  jr::ReaderLimits l;
  l.max_bulk_len = kR3MaxBulk;
  l.max_elements = kR3MaxElements;
  l.max_reply_bytes = size_t{64} << 20;
  l.resp3 = true;
  jr::ReplyReader reader(l);
  resp3ref::Outcome o;
  size_t off = 0, ci = 0;
  while (off < size) {
    size_t n = chunks.empty() ? size - off : chunks[ci++ % chunks.size()];
    if (n == 0) n = 1;
    if (n > size - off) n = size - off;
    if (reader.feed(reinterpret_cast<const char *>(data) + off, n) != 0) fail("resp3 feed");
    off += n;
    for (;;) {
      jr_reply *r = nullptr;
      int g = reader.next(&r);
      if (g == 0) break;
      if (g < 0) {
        if (g != JR_EPROTO && g != JR_ETOOBIG)
          fail("resp3: unexpected error code", std::to_string(g));
        if (reader.error().empty()) fail("resp3: error without a message");
        o.end = resp3ref::End::kError;
        return o;
      }
      std::string c;
      canon(r, c);
      o.replies.push_back(std::move(c));
      jr::reply_release(r);
    }
  }
  o.end = reader.partial() ? resp3ref::End::kPartial : resp3ref::End::kClean;
  return o;
}

std::string show(const resp3ref::Outcome &o) {
  std::string s;
  for (const auto &r : o.replies) s += r.substr(0, 200) + " | ";
  s += o.end == resp3ref::End::kClean     ? "clean"
       : o.end == resp3ref::End::kPartial ? "partial"
                                          : "error";
  return s;
}

bool same(const resp3ref::Outcome &a, const resp3ref::Outcome &b) {
  return a.replies == b.replies && a.end == b.end;
}

void check_resp3(const uint8_t *data, size_t size, const std::vector<size_t> &chunks) {
  resp3ref::Outcome lib = parse_resp3(data, size, {});
  resp3ref::Outcome ref = resp3ref::parse(std::string(reinterpret_cast<const char *>(data), size),
                                          resp3ref::Limits{kR3MaxBulk, kR3MaxElements});
  if (!same(lib, ref))
    fail("resp3: libjr and the reference parser differ", show(lib) + " vs " + show(ref));
  if (!chunks.empty()) {
    resp3ref::Outcome part = parse_resp3(data, size, chunks);
    if (!same(part, lib)) fail("resp3: chunked parse differs", show(part) + " vs " + show(lib));
  }
}
#endif

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<std::string> whole = parse(data, size, {}, true);
  // The outcome must not depend on how the bytes were split (the header
  // checks run wherever hiredis stops; only the bound on a line that never
  // ends waits for 64 KiB to be buffered). Chunks of 1 to 16 bytes cross
  // every kind of boundary; feeding every byte on its own costs a reader
  // round per byte (it was most of the time per input), so only short
  // inputs get it.
  if (size < 60000) {
    std::vector<size_t> chunks;
    uint32_t x = static_cast<uint32_t>(size) * 2654435761u + 1;
    for (int i = 0; i < 16; i++) {
      x = x * 1103515245u + 12345u;
      chunks.push_back(1 + (x >> 16) % 16);
    }
    if (parse(data, size, chunks, false) != whole) fail("chunked parse differs");
    if (size <= 64 && parse(data, size, {1}, false) != whole) fail("byte-wise parse differs");
#if JR_HIREDIS_RESP3
    check_resp3(data, size, chunks);
#endif
  }
  return 0;
}

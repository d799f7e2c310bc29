// SPDX-License-Identifier: MIT
// Unit tests without sockets: encoder, reader limits, command table,
// options and URL parsing, error table.
#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "interpret.hpp"
#include "jr/jr.h"
#include "options.hpp"
#include "resp/attributes.hpp"
#include "resp/encoder.hpp"
#include "resp/reply.hpp"
#include "saturate.hpp"

namespace jr {
bool table_is_sorted() noexcept;
}

using jr::Buffer;
using jr::ReplyReader;

TEST(Encoder, EncodesBinarySafeMultiBulk) {
  Buffer b;
  const char *argv[] = {"SET", "k\r\n", ""};
  const size_t lens[] = {3, 3, 0};
  ASSERT_TRUE(jr::encode_command(b, 3, argv, lens));
  EXPECT_EQ(std::string(b.data(), b.size()), "*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n");
  EXPECT_EQ(jr::encoded_size(3, argv, lens), b.size());
  // NULL lengths mean NUL-terminated; a 10-digit-ish length header.
  Buffer c;
  std::string big(1234567, 'x');
  const char *argv2[] = {"GET", big.c_str()};
  ASSERT_TRUE(jr::encode_command(c, 2, argv2, nullptr));
  EXPECT_EQ(std::string(c.data(), 24), "*2\r\n$3\r\nGET\r\n$1234567\r\nx");
  EXPECT_EQ(c.size(), jr::encoded_size(2, argv2, nullptr));
}

TEST(Buffer, KeepsCapacityAcrossClear) {
  Buffer b;
  b.append("hello", 5);
  size_t cap = b.capacity();
  b.clear();
  b.append("hi", 2);
  EXPECT_EQ(b.capacity(), cap);
  b.shrink(1);
  EXPECT_EQ(b.capacity(), 0u);
}

// Sizes a caller passes saturate: a length near SIZE_MAX made encoded_size
// wrap to a few bytes (then the copy ran past the argument), grow(SIZE_MAX)
// returned a pointer and shrank the buffer, and reserve's doubling wrapped
// to 0 and never ended.
TEST(Buffer, GrowAndEncodedSizeNeverWrap) {
  Buffer b;
  ASSERT_TRUE(b.append("x", 1));
  for (size_t huge : {SIZE_MAX, SIZE_MAX - 1, size_t{PTRDIFF_MAX} + 1}) {
    EXPECT_EQ(b.grow(huge), nullptr) << huge;
    EXPECT_EQ(b.size(), 1u) << huge;
    EXPECT_FALSE(b.reserve(huge)) << huge;
  }
  const char *argv[] = {"ECHO", "x"};
  for (size_t huge : {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 30, size_t{PTRDIFF_MAX} + 1}) {
    const size_t lens[] = {4, huge};
    EXPECT_GE(jr::encoded_size(2, argv, lens), huge) << huge;
    const size_t both[] = {huge, huge};
    EXPECT_EQ(jr::encoded_size(2, argv, both), SIZE_MAX) << huge;
  }
  // A name that cannot be in the command table is not read at all.
  EXPECT_EQ(jr_refusal_reason("SELECT", SIZE_MAX), nullptr);
  EXPECT_EQ(jr_refusal_reason("SELECT", SIZE_MAX - 14), nullptr);
  EXPECT_NE(jr_refusal_reason("SELECT", 6), nullptr);
}

TEST(Saturate, DeadlinesAndSizesClampInsteadOfWrapping) {
  EXPECT_EQ(jr::sat_add(INT64_MAX, int64_t{1}), INT64_MAX);
  EXPECT_EQ(jr::sat_add(int64_t{1}, INT64_MAX), INT64_MAX);
  EXPECT_EQ(jr::sat_add(INT64_MIN, int64_t{-1}), INT64_MIN);
  EXPECT_EQ(jr::sat_add(INT64_MAX, INT64_MIN), -1);
  EXPECT_EQ(jr::sat_add(SIZE_MAX, size_t{1}), SIZE_MAX);
  EXPECT_EQ(jr::sat_add(size_t{2}, size_t{3}), 5u);
  const int64_t now = 123456789;
  EXPECT_EQ(jr::deadline_after(now, INT64_MAX), INT64_MAX);
  EXPECT_EQ(jr::deadline_after(now, INT64_MAX - now), INT64_MAX);
  EXPECT_EQ(jr::deadline_after(now, 1), now + 1);
  for (int64_t none : {int64_t{0}, int64_t{-1}, INT64_MIN})
    EXPECT_EQ(jr::deadline_after(now, none), 0);
  EXPECT_EQ(jr::ms_until(INT64_MAX, now), INT64_MAX - now);
  EXPECT_EQ(jr::ms_until(INT64_MAX, INT64_MIN), INT64_MAX);
  EXPECT_EQ(jr::ms_until(now, now + 5), 0);
  EXPECT_EQ(jr::ms_until(INT64_MIN, INT64_MAX), 0);
  // A wait a condition variable can add to now() without overflow.
  for (int64_t ms : {INT64_MAX, INT64_MAX / 1000 + 1, int64_t{1} << 40}) {
    auto t = std::chrono::steady_clock::now();
    EXPECT_GT(t + jr::bounded_wait(ms), t) << ms;
  }
  EXPECT_EQ(jr::bounded_wait(INT64_MIN).count(), 0);
  EXPECT_EQ(jr::bounded_wait(-1).count(), 0);
  EXPECT_EQ(jr::bounded_wait(7).count(), 7);
  // check_argv: NULLs and impossible lengths, never read past them.
  const char *argv[] = {"PING", nullptr};
  size_t enc = 0;
  EXPECT_FALSE(jr::check_argv(SIZE_MAX, argv, nullptr, &enc));
  EXPECT_FALSE(jr::check_argv(0, argv, nullptr, &enc));
  EXPECT_FALSE(jr::check_argv(1, nullptr, nullptr, &enc));
  const size_t bad[] = {size_t{PTRDIFF_MAX} + 1};
  EXPECT_FALSE(jr::check_argv(1, argv, bad, &enc));
  ASSERT_TRUE(jr::check_argv(1, argv, nullptr, &enc));
  EXPECT_EQ(enc, 14u);  // *1\r\n$4\r\nPING\r\n
}

namespace {
struct Parsed {
  int rc = 0;
  jr_reply *root = nullptr;
  ~Parsed() { jr::reply_release(root); }
};

void parse(ReplyReader &r, const std::string &bytes, Parsed &out) {
  out.rc = r.feed(bytes.data(), bytes.size());
  if (out.rc == 0) out.rc = r.next(&out.root);
}
}  // namespace

TEST(Reader, ParsesEveryRESP2Type) {
  ReplyReader r{jr::ReaderLimits{}};
  Parsed p;
  parse(r, "*5\r\n$3\r\nfoo\r\n:-42\r\n+OK\r\n-ERR bad\r\n$-1\r\n", p);
  ASSERT_EQ(p.rc, 1);
  ASSERT_EQ(jr_reply_get_type(p.root), JR_REPLY_ARRAY);
  ASSERT_EQ(jr_reply_len(p.root), 5u);
  size_t len;
  EXPECT_STREQ(jr_reply_str(jr_reply_element(p.root, 0), &len), "foo");
  EXPECT_EQ(len, 3u);
  EXPECT_EQ(jr_reply_integer(jr_reply_element(p.root, 1)), -42);
  EXPECT_EQ(jr_reply_get_type(jr_reply_element(p.root, 2)), JR_REPLY_STATUS);
  EXPECT_EQ(jr_reply_get_type(jr_reply_element(p.root, 3)), JR_REPLY_ERROR);
  EXPECT_STREQ(jr_reply_str(jr_reply_element(p.root, 3), nullptr), "ERR bad");
  EXPECT_EQ(jr_reply_get_type(jr_reply_element(p.root, 4)), JR_REPLY_NIL);
  EXPECT_EQ(jr_reply_str(jr_reply_element(p.root, 1), &len), nullptr);
  EXPECT_EQ(len, 0u);
}

TEST(Reader, HandlesRepliesSplitAcrossFeeds) {
  ReplyReader r{jr::ReaderLimits{}};
  std::string bytes = "$11\r\nhello world\r\n*2\r\n:1\r\n:2\r\n";
  int got = 0;
  for (char ch : bytes) {
    ASSERT_EQ(r.feed(&ch, 1), 0);
    jr_reply *root = nullptr;
    int rc;
    while ((rc = r.next(&root)) == 1) {
      got++;
      jr::reply_release(root);
    }
    ASSERT_EQ(rc, 0);
  }
  EXPECT_EQ(got, 2);
}

TEST(Reader, OneLargeReadOfManyRepliesIsFedInPieces) {
  // 300 bulks of 1000 bytes and a 10000-byte bulk that spans pieces, all in
  // one feed (as one 64 KiB socket read brings them), then a reply cut in
  // two by the end of the buffer.
  ReplyReader r{jr::ReaderLimits{}};
  std::string bytes;
  for (int i = 0; i < 300; i++)
    bytes += "$1000\r\n" + std::string(1000, static_cast<char>('a' + i % 26)) + "\r\n";
  bytes += "$10000\r\n" + std::string(10000, 'z') + "\r\n";
  bytes += ":12";
  ASSERT_EQ(r.feed(bytes.data(), bytes.size()), 0);
  for (int i = 0; i < 301; i++) {
    jr_reply *root = nullptr;
    ASSERT_EQ(r.next(&root), 1) << i;
    size_t len = 0;
    const char *s = jr_reply_str(root, &len);
    if (i < 300) {
      ASSERT_EQ(len, 1000u);
      EXPECT_EQ(std::string(s, len), std::string(1000, static_cast<char>('a' + i % 26)));
    } else {
      ASSERT_EQ(len, 10000u);
      EXPECT_EQ(std::string(s, len), std::string(10000, 'z'));
    }
    jr::reply_release(root);
  }
  jr_reply *root = nullptr;
  EXPECT_EQ(r.next(&root), 0);  // ":12" waits for the rest
  std::string rest = "34\r\n";
  ASSERT_EQ(r.feed(rest.data(), rest.size()), 0);
  ASSERT_EQ(r.next(&root), 1);
  EXPECT_EQ(jr_reply_integer(root), 1234);
  jr::reply_release(root);
}

TEST(Reader, OwnedReplySurvivesReaderReuse) {
  ReplyReader r{jr::ReaderLimits{}};
  Parsed a, b;
  parse(r, "$5\r\nfirst\r\n", a);
  jr_reply *kept = jr_reply_dup(a.root);
  parse(r, "$6\r\nsecond\r\n", b);
  EXPECT_STREQ(jr_reply_str(kept, nullptr), "first");
  jr_reply_free(kept);
  EXPECT_STREQ(jr_reply_str(b.root, nullptr), "second");
}

TEST(Reader, MalformedInputIsAProtocolError) {
  for (const char *bad : {"?what\r\n", "$abc\r\n", "*-5\r\n", "$-7\r\n", ":12x\r\n"}) {
    ReplyReader r{jr::ReaderLimits{}};
    Parsed p;
    parse(r, bad, p);
    EXPECT_EQ(p.rc, JR_EPROTO) << bad;
    EXPECT_FALSE(r.error().empty());
    // After a reset the reader works again.
    r.reset();
    Parsed q;
    parse(r, "+OK\r\n", q);
    EXPECT_EQ(q.rc, 1);
  }
}

TEST(Reader, NestingBeyondHiredisDepthIsAnErrorNotACrash) {
  ReplyReader r{jr::ReaderLimits{}};
  std::string deep;
  for (int i = 0; i < 12; i++) deep += "*1\r\n";
  deep += ":1\r\n";
  Parsed p;
  parse(r, deep, p);
  EXPECT_LT(p.rc, 0);
}

TEST(Reader, LimitsOnBulkLengthElementsAndTotalSize) {
  jr::ReaderLimits lim;
  lim.max_bulk_len = 10;
  lim.max_elements = 4;
  lim.max_reply_bytes = 4096;
  {
    ReplyReader r{lim};
    Parsed p;
    parse(r, "$11\r\nhello world\r\n", p);
    EXPECT_EQ(p.rc, JR_ETOOBIG);
  }
  {
    ReplyReader r{lim};
    Parsed p;
    parse(r, "*5\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n", p);
    EXPECT_EQ(p.rc, JR_ETOOBIG);
  }
  {
    // A huge announced bulk fails as soon as the header is seen past 64 KiB,
    // not after buffering the announced length.
    jr::ReaderLimits l2;
    l2.max_bulk_len = 1 << 20;
    ReplyReader r{l2};
    std::string hdr = "$999999999999\r\n" + std::string(70000, 'x');
    ASSERT_EQ(r.feed(hdr.data(), hdr.size()), 0);
    jr_reply *root = nullptr;
    EXPECT_EQ(r.next(&root), JR_ETOOBIG);
    EXPECT_EQ(root, nullptr);
  }
  {
    lim.max_bulk_len = 1 << 20;
    lim.max_elements = 1 << 20;
    ReplyReader r{lim};
    std::string arr = "*3\r\n$3000\r\n" + std::string(3000, 'a') + "\r\n$3000\r\n" +
                      std::string(3000, 'b') + "\r\n:1\r\n";
    Parsed p;
    parse(r, arr, p);
    EXPECT_EQ(p.rc, JR_ETOOBIG);
  }
  {
    // Integers and nils count too: an array of 127 of them is over 4096
    // bytes of nodes (it used to pass, found by fuzz_reply); 50 are not.
    lim.max_elements = 1000;
    std::string ints = "*127\r\n";
    for (int i = 0; i < 127; i++) ints += i % 2 != 0 ? ":7\r\n" : "$-1\r\n";
    ReplyReader r{lim};
    Parsed p;
    parse(r, ints, p);
    EXPECT_EQ(p.rc, JR_ETOOBIG);
    std::string fewer = "*50\r\n";
    for (int i = 0; i < 50; i++) fewer += ":7\r\n";
    ReplyReader ok{lim};
    Parsed q;
    parse(ok, fewer, q);
    EXPECT_EQ(q.rc, 1);
  }
}

// A bulk header over the limits fails on the header alone: a server that
// announces a huge length and then sends nothing must not leave the reader
// waiting (it used to wait for 64 KiB of payload before it looked).
TEST(Reader, OversizedBulkHeaderFailsOnTheHeaderAlone) {
  struct Case {
    const char *bytes;
    int64_t max_bulk;
    size_t max_reply;
    int want;
  };
  const int64_t kDefBulk = jr::ReaderLimits{}.max_bulk_len;
  const size_t kDefReply = jr::ReaderLimits{}.max_reply_bytes;
  const Case cases[] = {
      {"$4611686018427387904\r\n", kDefBulk, kDefReply, JR_ETOOBIG},
      {"$9223372036854775807\r\n", kDefBulk, kDefReply, JR_ETOOBIG},
      {"$536870913\r\n", kDefBulk, kDefReply, JR_ETOOBIG},  // 512 MiB + 1
      {"$536870912\r\n", kDefBulk, kDefReply, 0},           // 512 MiB: within, waits
      {"$1048577\r\n", 1 << 20, kDefReply, JR_ETOOBIG},
      {"$5000\r\n", kDefBulk, 4096, JR_ETOOBIG},              // node + bytes over the reply
      {"*2\r\n:1\r\n$4000\r\n", kDefBulk, 4096, JR_ETOOBIG},  // with what the array holds
      {"*2\r\n:1\r\n$3000\r\n", kDefBulk, 4096, 0},
      {"$12345678901234567890123\r\n", kDefBulk, kDefReply, JR_EPROTO},  // too long a line
      {"$1234567890123456789012", kDefBulk, kDefReply, JR_EPROTO},       // ... not even ended
      {"$4611686018", kDefBulk, kDefReply, 0},  // the rest of the line may follow
  };
  for (const Case &k : cases) {
    jr::ReaderLimits lim;
    lim.max_bulk_len = k.max_bulk;
    lim.max_reply_bytes = k.max_reply;
    std::string bytes = k.bytes;
    for (bool bytewise : {false, true}) {
      ReplyReader r{lim};
      int rc = 0;
      for (size_t off = 0; off < bytes.size() && rc == 0;) {
        size_t n = bytewise ? 1 : bytes.size();
        ASSERT_EQ(r.feed(bytes.data() + off, n), 0);
        off += n;
        jr_reply *root = nullptr;
        rc = r.next(&root);
        ASSERT_NE(rc, 1) << k.bytes;
      }
      EXPECT_EQ(rc, k.want) << k.bytes << (bytewise ? " (byte by byte)" : "");
      if (k.want != 0) {
        EXPECT_FALSE(r.error().empty());
        jr_reply *root = nullptr;
        EXPECT_EQ(r.next(&root), k.want) << "the error sticks until reset()";
      }
    }
  }
}

// What the reader relies on hiredis for (0.14.1 as Debian ships it, with the
// CVE-2021-32765 fix): every length line is parsed strictly and range
// checked. An unpatched hiredis would truncate "*4294967297" to 1 element.
TEST(Reader, LengthLinesAreStrict) {
  const std::pair<const char *, int> cases[] = {
      {"$-2\r\n", JR_EPROTO},
      {"*-2\r\n", JR_EPROTO},
      {"$-9223372036854775808\r\n", JR_EPROTO},
      {"$+5\r\nhello\r\n", JR_EPROTO},
      {"$12a\r\n", JR_EPROTO},
      {"$ 5\r\n", JR_EPROTO},
      {"$05\r\nhello\r\n", JR_EPROTO},
      {"$99999999999999999999\r\n", JR_EPROTO},
      {"*4294967297\r\n:1\r\n", JR_EPROTO},
      {"*2147483648\r\n", JR_EPROTO},
      {"*18446744073709551615\r\n", JR_EPROTO},
      {"%3\r\n:1\r\n:2\r\n:3\r\n", JR_EPROTO},  // RESP3 is not spoken
      {"!3\r\nerr\r\n", JR_EPROTO},             // nor its blob error
      {"*2147483647\r\n", JR_ETOOBIG},          // max_elements, on the header alone
      {"*16777217\r\n", JR_ETOOBIG},
  };
  for (const auto &k : cases) {
    ReplyReader r{jr::ReaderLimits{}};
    Parsed p;
    parse(r, k.first, p);
    EXPECT_EQ(p.rc, k.second) << k.first;
    EXPECT_EQ(p.root, nullptr) << k.first;
  }
  for (const char *nil : {"$-1\r\n", "*-1\r\n"}) {
    ReplyReader r{jr::ReaderLimits{}};
    Parsed p;
    parse(r, nil, p);
    ASSERT_EQ(p.rc, 1) << nil;
    EXPECT_EQ(jr_reply_get_type(p.root), JR_REPLY_NIL) << nil;
  }
}

#if JR_HIREDIS_RESP3
// hiredis 1.x's reader with RESP3 negotiated: every type, and the layout
// the accessors rely on (a double's value and a verbatim string's format
// stored before their text).
TEST(Reader, ParsesEveryRESP3TypeWhenNegotiated) {
  jr::ReaderLimits lim;
  lim.resp3 = true;
  ReplyReader r{lim};
  Parsed p;
  parse(r,
        "%2\r\n+a\r\n,-1.5\r\n$1\r\nb\r\n~2\r\n#t\r\n#f\r\n"  // map of 2 pairs
        "",
        p);
  ASSERT_EQ(p.rc, 1);
  ASSERT_EQ(jr_reply_get_type(p.root), JR_REPLY_MAP);
  ASSERT_EQ(jr_reply_len(p.root), 4u);
  const jr_reply *d = jr_reply_element(p.root, 1);
  EXPECT_EQ(jr_reply_get_type(d), JR_REPLY_DOUBLE);
  EXPECT_DOUBLE_EQ(jr_reply_double(d), -1.5);
  EXPECT_STREQ(jr_reply_str(d, nullptr), "-1.5");
  const jr_reply *set = jr_reply_element(p.root, 3);
  EXPECT_EQ(jr_reply_get_type(set), JR_REPLY_SET);
  EXPECT_EQ(jr_reply_integer(jr_reply_element(set, 0)), 1);
  EXPECT_EQ(jr_reply_get_type(jr_reply_element(set, 1)), JR_REPLY_BOOL);
  EXPECT_EQ(jr_reply_integer(jr_reply_element(set, 1)), 0);
  Parsed v, b, n, inf, push;
  parse(r, "=15\r\nmkd:hello world\r\n", v);
  ASSERT_EQ(v.rc, 1);
  EXPECT_EQ(jr_reply_get_type(v.root), JR_REPLY_VERB);
  EXPECT_STREQ(jr_reply_verb_format(v.root), "mkd");
  size_t len = 0;
  EXPECT_STREQ(jr_reply_str(v.root, &len), "hello world");
  EXPECT_EQ(len, 11u);
  parse(r, "(-123456789012345678901234567890\r\n", b);
  ASSERT_EQ(b.rc, 1);
  EXPECT_EQ(jr_reply_get_type(b.root), JR_REPLY_BIGNUM);
  EXPECT_STREQ(jr_reply_str(b.root, nullptr), "-123456789012345678901234567890");
  parse(r, "_\r\n", n);
  EXPECT_EQ(jr_reply_get_type(n.root), JR_REPLY_NIL);
  parse(r, ",inf\r\n", inf);
  EXPECT_TRUE(std::isinf(jr_reply_double(inf.root)));
  parse(r, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n", push);
  ASSERT_EQ(push.rc, 1);
  EXPECT_EQ(jr_reply_get_type(push.root), JR_REPLY_PUSH);
  EXPECT_EQ(jr_reply_len(push.root), 2u);
}

// The limits hold for the new types: a verbatim string is a bulk, a map's
// count doubles (keys and values) against max_elements, nesting stops at 8.
TEST(Reader, RESP3TypesKeepTheLimits) {
  jr::ReaderLimits lim;
  lim.resp3 = true;
  lim.max_bulk_len = 10;
  lim.max_elements = 4;
  for (const auto &k : std::vector<std::pair<std::string, int>>{
           {"=16\r\ntxt:hello world!\r\n", JR_ETOOBIG},
           {"=99999999999\r\n", JR_ETOOBIG},  // on the header alone
           {"%3\r\n", JR_ETOOBIG},            // 6 elements
           {"~5\r\n", JR_ETOOBIG},
           {">2147483648\r\n", JR_EPROTO},
           {"%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", 1},
           {"=3\r\ntxt\r\n", JR_EPROTO},     // no room for "xxx:"
           {"|1\r\n+a\r\n+b\r\n+c\r\n", 1},  // the attribute is removed: +c
           {"|3\r\n", JR_ETOOBIG},           // 6 elements
           {"|1\r\n$11\r\n", JR_ETOOBIG},    // a bulk in it, on the header alone
       }) {
    ReplyReader r{lim};
    Parsed p;
    parse(r, k.first, p);
    EXPECT_EQ(p.rc, k.second) << k.first;
  }
  std::string deep;
  for (int i = 0; i < 9; i++) deep += i % 2 != 0 ? "~1\r\n" : "%1\r\n:0\r\n";
  deep += ":1\r\n";
  ReplyReader r{jr::ReaderLimits{.resp3 = true}};
  Parsed p;
  parse(r, deep, p);
  EXPECT_EQ(p.rc, JR_EPROTO);
  // Without RESP3 negotiated, each RESP3 type is a protocol error.
  for (const char *t :
       {",1.5\r\n", "#t\r\n", "=5\r\ntxt:a\r\n", "(1\r\n", "~1\r\n:1\r\n", ">1\r\n:1\r\n"}) {
    ReplyReader r2{jr::ReaderLimits{}};
    Parsed q;
    parse(r2, t, q);
    EXPECT_EQ(q.rc, JR_EPROTO) << t;
  }
}
#endif

// ---- RESP3 attributes ---------------------------------------------------------
// The filter alone (it does not depend on hiredis): what it keeps of a
// stream, fed at once and byte by byte.
namespace {
struct Filtered {
  int rc = 0;
  std::string kept;
};
Filtered filter(const std::string &in, size_t chunk,
                jr::AttributeFilter::Limits lim = {1024, 64, 4096}) {
  jr::AttributeFilter f;
  Filtered out;
  auto keep = [](void *ctx, const char *p, size_t n) {
    static_cast<std::string *>(ctx)->append(p, n);
    return 0;
  };
  for (size_t off = 0; off < in.size() && out.rc == 0; off += chunk)
    out.rc = f.scan(in.data() + off, std::min(chunk, in.size() - off), lim, keep, &out.kept);
  return out;
}
}  // namespace

TEST(Attributes, AreRemovedWhereverAnItemMayStart) {
  const std::pair<std::string, std::string> cases[] = {
      // DEBUG PROTOCOL attrib on Redis 7.0, then the next reply
      {"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
       "$39\r\nSome real reply following the attribute\r\n+OK\r\n",
       "$39\r\nSome real reply following the attribute\r\n+OK\r\n"},
      {"|0\r\n:1\r\n", ":1\r\n"},
      // on an element: not counted as one
      {"*2\r\n|1\r\n+k\r\n%1\r\n$1\r\nx\r\n,1.5\r\n:1\r\n:2\r\n", "*2\r\n:1\r\n:2\r\n"},
      // in front of the last element of a nested map, and of a push
      {"%1\r\n+a\r\n~1\r\n|1\r\n+k\r\n+v\r\n#t\r\n>1\r\n+p\r\n|1\r\n_\r\n(1\r\n>1\r\n+q\r\n",
       "%1\r\n+a\r\n~1\r\n#t\r\n>1\r\n+p\r\n>1\r\n+q\r\n"},
      // an attribute inside an attribute, nils and empty aggregates in it
      {"|2\r\n+a\r\n|1\r\n+x\r\n*0\r\n+b\r\n*-1\r\n$-1\r\n+v\r\n", "+v\r\n"},
      // '|' inside a bulk, a verbatim string and a line is data
      {"$5\r\n|1\r\n+\r\n=8\r\ntxt:|1\r\n\r\n+|1\r\n",
       "$5\r\n|1\r\n+\r\n=8\r\ntxt:|1\r\n\r\n+|1\r\n"},
      // a bulk's payload may hold CRLF; a line's content a lone CR
      {"|1\r\n$4\r\n\r\n\r\n\r\n+a\rb\r\n:7\r\n", ":7\r\n"},
      // what hiredis rejects is passed through (it fails there): no
      // filtering after it
      {"$x\r\n|1\r\n+a\r\n+b\r\n", "$x\r\n|1\r\n+a\r\n+b\r\n"},
      {"@3\r\nerr\r\n|1\r\n", "@3\r\nerr\r\n|1\r\n"},
      // a blob error goes on as a bulk string; one in an attribute is removed
      {"!3\r\nerr\r\n|1\r\n!1\r\nk\r\n!0\r\n\r\n:1\r\n", "$3\r\nerr\r\n:1\r\n"},
      {"*2\r\n-E\r\n!4\r\n!2\r\n\r\n", "*2\r\n-E\r\n$4\r\n!2\r\n\r\n"},
      {"*-2\r\n|1\r\n", "*-2\r\n|1\r\n"},
      {"$05\r\nhello\r\n|1\r\n", "$05\r\nhello\r\n|1\r\n"},
  };
  for (const auto &k : cases) {
    for (size_t chunk : {k.first.size(), size_t{1}, size_t{3}}) {
      Filtered f = filter(k.first, chunk);
      EXPECT_EQ(f.rc, 0) << k.first << " chunk " << chunk;
      EXPECT_EQ(f.kept, k.second) << k.first << " chunk " << chunk;
    }
  }
}

TEST(Attributes, KeepTheLimitsAndRejectWhatIsMalformed) {
  std::string deep;  // 8 levels of arrays, then an attribute in the 8th
  for (int i = 0; i < 8; i++) deep += "*1\r\n";
  std::string deep_in;  // an attribute holding 8 levels
  deep_in = "|1\r\n+k\r\n";
  for (int i = 0; i < 8; i++) deep_in += "*1\r\n";
  const std::pair<std::string, int> cases[] = {
      {"|-1\r\n", JR_EPROTO},
      {"|2147483648\r\n", JR_EPROTO},
      {"|01\r\n", JR_EPROTO},
      {"|1\n", JR_EPROTO},
      {"|1\r\n!-1\r\n", JR_EPROTO},  // a blob error has a length
      {"!-1\r\n", JR_EPROTO},        // (hiredis would read "$-1" as a nil)
      {"|1\r\n+k\r\n!1025\r\n", JR_ETOOBIG},
      {"|1\r\n$-2\r\n", JR_EPROTO},
      {"|1\r\n*2147483648\r\n", JR_EPROTO},
      {"|33\r\n", JR_ETOOBIG},              // 66 elements > 64
      {"|1\r\n+k\r\n%33\r\n", JR_ETOOBIG},  // a map counts twice
      {"|1\r\n+k\r\n$1025\r\n", JR_ETOOBIG},
      {"|1\r\n+k\r\n$1000\r\n", 0},                      // within the limits: waits for the bytes
      {"|1\r\n+" + std::string(5000, 'x'), JR_ETOOBIG},  // a line that never ends
      {deep + "|1\r\n", JR_EPROTO},
      {deep_in, JR_EPROTO},
  };
  for (const auto &k : cases) {
    for (size_t chunk : {k.first.size(), size_t{1}}) {
      Filtered f = filter(k.first, chunk);
      EXPECT_EQ(f.rc, k.second) << k.first.substr(0, 40) << " chunk " << chunk;
      // Nothing of a bad attribute reaches hiredis; what came before does.
      if (k.first == deep + "|1\r\n") {
        EXPECT_EQ(f.kept, deep);
      }
    }
  }
  // The error sticks.
  jr::AttributeFilter f;
  auto keep = [](void *, const char *, size_t) { return 0; };
  jr::AttributeFilter::Limits lim{1024, 64, 4096};
  EXPECT_EQ(f.scan("|-1\r\n", 5, lim, keep, nullptr), JR_EPROTO);
  EXPECT_EQ(f.scan(":1\r\n", 4, lim, keep, nullptr), JR_EPROTO);
  EXPECT_STRNE(f.error(), "");
  // 9 levels outside an attribute are hiredis's to refuse: passed through.
  Filtered nine = filter(deep + "*1\r\n|1\r\n", 1);
  EXPECT_EQ(nine.rc, 0);
  EXPECT_EQ(nine.kept, deep + "*1\r\n|1\r\n");
}

// Blob errors ('!') go on as bulk strings, and the filter remembers which
// of the bulk strings it kept were blob errors: the reader asks for each
// bulk string hiredis builds, in order.
TEST(Attributes, MarkWhichBulkStringsAreBlobErrors) {
  const std::string in =
      "$1\r\na\r\n!2\r\nE1\r\n=5\r\ntxt:x\r\n*2\r\n!0\r\n\r\n$0\r\n\r\n"
      "|1\r\n!1\r\nx\r\n$1\r\ny\r\n$-1\r\n!3\r\n!\r\n\r\n";
  const std::string want =
      "$1\r\na\r\n$2\r\nE1\r\n=5\r\ntxt:x\r\n*2\r\n$0\r\n\r\n$0\r\n\r\n$-1\r\n$3\r\n!\r\n\r\n";
  for (size_t chunk : {in.size(), size_t{1}, size_t{2}, size_t{5}}) {
    SCOPED_TRACE(chunk);
    jr::AttributeFilter f;
    std::string kept;
    auto keep = [](void *ctx, const char *p, size_t n) {
      static_cast<std::string *>(ctx)->append(p, n);
      return 0;
    };
    jr::AttributeFilter::Limits lim{1024, 64, 4096};
    for (size_t off = 0; off < in.size(); off += chunk)
      ASSERT_EQ(f.scan(in.data() + off, std::min(chunk, in.size() - off), lim, keep, &kept), 0);
    EXPECT_EQ(kept, want);
    EXPECT_TRUE(f.at_boundary());
    // Bulk strings 1..5 ("a", "E1", "", "", "!\r\n"): the 2nd, 3rd and 5th.
    const bool blob[] = {false, true, true, false, true};
    for (uint64_t n = 1; n <= 5; n++) EXPECT_EQ(f.take_blob_error(n), blob[n - 1]) << n;
    EXPECT_FALSE(f.take_blob_error(6));
  }
}

#if JR_HIREDIS_RESP3
// A blob error is an error reply like '-': at the top level, in arrays and
// maps, after an attribute, binary safe (CR, LF and NUL in it), fed at once
// or byte by byte. The limits of a bulk string hold for it.
TEST(Reader, RESP3BlobErrorIsAnErrorReply) {
  jr::ReaderLimits lim;
  lim.resp3 = true;
  lim.max_bulk_len = 64;
  const std::string text("SYNTAX invalid\r\nsyntax\0!", 25);
  const std::string stream =
      "!25\r\n" + text +
      "\r\n"
      "*4\r\n-ERR simple\r\n!3\r\nERR\r\n$3\r\nbob\r\n%1\r\n!1\r\nk\r\n!1\r\nv\r\n"
      "|1\r\n!1\r\na\r\n!1\r\nb\r\n!4\r\nlast\r\n$4\r\nlast\r\n";
  for (size_t chunk : {stream.size(), size_t{1}, size_t{7}}) {
    SCOPED_TRACE(chunk);
    ReplyReader r{lim};
    std::vector<jr_reply *> got;
    for (size_t off = 0; off < stream.size(); off += chunk) {
      ASSERT_EQ(r.feed(stream.data() + off, std::min(chunk, stream.size() - off)), 0);
      for (;;) {
        jr_reply *one = nullptr;
        int rc = r.next(&one);
        ASSERT_GE(rc, 0) << r.error();
        if (rc == 0) break;
        got.push_back(one);
      }
    }
    ASSERT_EQ(got.size(), 4u);
    size_t len = 0;
    EXPECT_EQ(jr_reply_get_type(got[0]), JR_REPLY_ERROR);
    const char *s = jr_reply_str(got[0], &len);
    EXPECT_EQ(std::string(s, len), text);
    const jr_reply *a = got[1];
    ASSERT_EQ(jr_reply_get_type(a), JR_REPLY_ARRAY);
    EXPECT_EQ(jr_reply_get_type(jr_reply_element(a, 0)), JR_REPLY_ERROR);
    EXPECT_STREQ(jr_reply_str(jr_reply_element(a, 0), nullptr), "ERR simple");
    EXPECT_EQ(jr_reply_get_type(jr_reply_element(a, 1)), JR_REPLY_ERROR);
    EXPECT_STREQ(jr_reply_str(jr_reply_element(a, 1), nullptr), "ERR");
    EXPECT_EQ(jr_reply_get_type(jr_reply_element(a, 2)), JR_REPLY_STRING);
    const jr_reply *m = jr_reply_element(a, 3);
    ASSERT_EQ(jr_reply_get_type(m), JR_REPLY_MAP);
    EXPECT_EQ(jr_reply_get_type(jr_reply_element(m, 0)), JR_REPLY_ERROR);
    EXPECT_EQ(jr_reply_get_type(jr_reply_element(m, 1)), JR_REPLY_ERROR);
    EXPECT_STREQ(jr_reply_str(jr_reply_element(m, 1), nullptr), "v");
    EXPECT_EQ(jr_reply_get_type(got[2]), JR_REPLY_ERROR);  // after an attribute of them
    EXPECT_STREQ(jr_reply_str(got[2], nullptr), "last");
    EXPECT_EQ(jr_reply_get_type(got[3]), JR_REPLY_STRING);  // a bulk string stays one
    EXPECT_STREQ(jr_reply_str(got[3], nullptr), "last");
    for (jr_reply *g : got) jr::reply_release(g);
  }
  for (const auto &k : std::vector<std::pair<std::string, int>>{
           {"!65\r\n", JR_ETOOBIG},  // max_bulk_len, on the header alone
           {"*1\r\n!99999999999\r\n", JR_ETOOBIG},
           {"!-1\r\n", JR_EPROTO},
           {"!x\r\n", JR_EPROTO},
           {"!01\r\nx\r\n", JR_EPROTO},
       }) {
    ReplyReader r{lim};
    Parsed p;
    parse(r, k.first, p);
    EXPECT_EQ(p.rc, k.second) << k.first;
    EXPECT_FALSE(r.error().empty()) << k.first;
  }
}
#endif

#if JR_HIREDIS_RESP3
// Through the reader: the caller sees the value; the reply before a bad
// attribute is delivered, then the error.
TEST(Reader, SkipsRESP3Attributes) {
  jr::ReaderLimits lim;
  lim.resp3 = true;
  ReplyReader r{lim};
  Parsed a;
  parse(r, "|1\r\n+ttl\r\n:3600\r\n*2\r\n|1\r\n+k\r\n+v\r\n$3\r\nfoo\r\n:1\r\n", a);
  ASSERT_EQ(a.rc, 1);
  ASSERT_EQ(jr_reply_get_type(a.root), JR_REPLY_ARRAY);
  ASSERT_EQ(jr_reply_len(a.root), 2u);
  EXPECT_STREQ(jr_reply_str(jr_reply_element(a.root, 0), nullptr), "foo");
  EXPECT_EQ(jr_reply_integer(jr_reply_element(a.root, 1)), 1);
  EXPECT_EQ(r.attributes_removed(), 2u);
  EXPECT_FALSE(r.partial());
  // Half an attribute: nothing for hiredis yet, but not at a boundary.
  Parsed h;
  parse(r, "|1\r\n+k", h);
  EXPECT_EQ(h.rc, 0);
  EXPECT_EQ(r.buffered(), 0u);
  EXPECT_TRUE(r.partial());
  Parsed h2;
  parse(r, "\r\n+v\r\n+done\r\n", h2);
  ASSERT_EQ(h2.rc, 1);
  EXPECT_STREQ(jr_reply_str(h2.root, nullptr), "done");
  // A whole attribute, not its item yet: still inside a reply.
  Parsed h3;
  parse(r, "|1\r\n+k\r\n+v\r\n", h3);
  EXPECT_EQ(h3.rc, 0);
  EXPECT_TRUE(r.partial());

  ReplyReader r2{lim};
  std::string two = ":1\r\n*2\r\n:2\r\n|-1\r\n";
  ASSERT_EQ(r2.feed(two.data(), two.size()), 0);
  jr_reply *one = nullptr;
  ASSERT_EQ(r2.next(&one), 1);
  EXPECT_EQ(jr_reply_integer(one), 1);
  jr::reply_release(one);
  jr_reply *none = nullptr;
  EXPECT_EQ(r2.next(&none), JR_EPROTO);
  EXPECT_NE(r2.error().find("attribute"), std::string::npos) << r2.error();
  EXPECT_EQ(r2.next(&none), JR_EPROTO) << "the error sticks until reset()";
  r2.reset();
  Parsed ok;
  parse(r2, "|1\r\n+a\r\n+b\r\n+OK\r\n", ok);
  EXPECT_EQ(ok.rc, 1);
  // Without RESP3 negotiated, '|' stays a protocol error (hiredis's).
  ReplyReader r3{jr::ReaderLimits{}};
  Parsed q;
  parse(r3, "|1\r\n+a\r\n+b\r\n+OK\r\n", q);
  EXPECT_EQ(q.rc, JR_EPROTO);
}
#endif

TEST(Commands, TableIsSortedAndClassifies) {
  EXPECT_TRUE(jr::table_is_sorted());
  auto cls = [](std::initializer_list<const char *> args) {
    std::vector<const char *> v(args);
    return jr::classify(v.size(), v.data(), nullptr).cls;
  };
  using jr::CommandClass;
  EXPECT_EQ(cls({"get", "k"}), CommandClass::kNormal);
  EXPECT_EQ(cls({"select", "1"}), CommandClass::kRefused);
  EXPECT_EQ(cls({"Multi"}), CommandClass::kRefused);
  EXPECT_EQ(cls({"BLPOP", "q", "0"}), CommandClass::kBlocking);
  EXPECT_EQ(cls({"XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "$"}),
            CommandClass::kBlocking);
  EXPECT_EQ(cls({"XREAD", "STREAMS", "BLOCK", "0"}), CommandClass::kNormal);
  EXPECT_EQ(cls({"CLIENT", "REPLY", "OFF"}), CommandClass::kRefused);
  EXPECT_EQ(cls({"CLIENT", "ID"}), CommandClass::kNormal);
  EXPECT_EQ(cls({"SELECTX"}), CommandClass::kNormal);
  EXPECT_EQ(cls({"averyveryverylongcommandname"}), CommandClass::kNormal);
}

TEST(Options, EndpointsAndUrls) {
  jr::Endpoint ep;
  ASSERT_EQ(jr::parse_endpoint("10.0.0.1:7000", ep), JR_OK);
  EXPECT_EQ(ep.host, "10.0.0.1");
  EXPECT_EQ(ep.port, 7000);
  ASSERT_EQ(jr::parse_endpoint("[::1]:6380", ep), JR_OK);
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.port, 6380);
  EXPECT_EQ(ep.display(), "[::1]:6380");
  ASSERT_EQ(jr::parse_endpoint("redis.local", ep), JR_OK);
  EXPECT_EQ(ep.port, 6379);
  ASSERT_EQ(jr::parse_endpoint("/run/redis.sock", ep), JR_OK);
  EXPECT_TRUE(ep.unix_socket);
  EXPECT_EQ(jr::parse_endpoint("host:0", ep), JR_EINVAL);
  EXPECT_EQ(jr::parse_endpoint("host:99999", ep), JR_EINVAL);
  EXPECT_EQ(jr::parse_endpoint("host:x", ep), JR_EINVAL);
  EXPECT_EQ(jr::parse_endpoint("", ep), JR_EINVAL);

  jr::Options o;
  ASSERT_EQ(o.set("url", "redis://us%40r:p%3Ass@[::1]:7001/5"), JR_OK);
  EXPECT_EQ(o.username, "us@r");
  EXPECT_EQ(o.password, "p:ss");
  EXPECT_EQ(o.database, 5);
  EXPECT_EQ(o.endpoints.at(0).port, 7001);
  ASSERT_EQ(o.set("url", "redis://onlypass@host"), JR_OK);
  EXPECT_EQ(o.password, "onlypass");
  EXPECT_EQ(o.username, "");
  ASSERT_EQ(o.set("url", "unix:///tmp/r.sock?db=2&password=x"), JR_OK);
  EXPECT_TRUE(o.endpoints.at(0).unix_socket);
  EXPECT_EQ(o.database, 2);
  EXPECT_EQ(o.password, "x");
  EXPECT_EQ(o.set("url", "http://x"), JR_EINVAL);
  EXPECT_EQ(o.set("url", "redis://h/-1"), JR_EINVAL);
  // valkey:// and valkeys:// are redis:// and rediss:// (scheme, then TLS).
  ASSERT_EQ(o.set("url", "valkeys://u:p@vk.example:6390/3?db=4"), JR_OK);
  EXPECT_TRUE(o.tls);
  EXPECT_EQ(o.endpoints.at(0).host, "vk.example");
  EXPECT_EQ(o.endpoints.at(0).port, 6390);
  EXPECT_EQ(o.username, "u");
  EXPECT_EQ(o.password, "p");
  EXPECT_EQ(o.database, 4);
  ASSERT_EQ(o.set("url", "valkey://vk.example"), JR_OK);
  EXPECT_FALSE(o.tls);
  EXPECT_EQ(o.endpoints.at(0).port, 6379);
  EXPECT_EQ(o.database, 0);
  ASSERT_EQ(o.set("url", "rediss://h"), JR_OK);
  EXPECT_TRUE(o.tls);
  ASSERT_EQ(o.set("url", "redis://h"), JR_OK);
  EXPECT_FALSE(o.tls);
  ASSERT_EQ(o.set("url", "valkey://"), JR_OK);
  EXPECT_EQ(o.endpoints.at(0).host, "127.0.0.1");
  for (const char *bad : {"valkey:/h", "valkey:h", "valkeyss://h", "VALKEY://h", "valkey://h/x",
                          "valkey://h:0", "valkeys://[::1"})
    EXPECT_EQ(o.set("url", bad), JR_EINVAL) << bad;
  EXPECT_EQ(o.set("url", "unix://relative?db=1"), JR_EINVAL);
  EXPECT_EQ(o.set("url", "unix:///x?bogus=1"), JR_EINVAL);
}

TEST(Options, KeysValuesAndErrors) {
  jr_options *o = jr_options_new();
  EXPECT_EQ(jr_options_set(o, "connect_timeout_ms", "250"), JR_OK);
  EXPECT_EQ(jr_options_set_int(o, "command_timeout_ms", 0), JR_OK);
  EXPECT_EQ(jr_options_set(o, "tcp_nodelay", "maybe"), JR_EINVAL);
  EXPECT_EQ(jr_options_set_int(o, "tcp_nodelay", 2), JR_EINVAL);
  EXPECT_EQ(jr_options_set_int(o, "connect_retry", -1), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o, "no_such_key", "1"), JR_ENOENT);
  EXPECT_EQ(jr_options_set(o, "no_such_key", "x"), JR_ENOENT);
  EXPECT_EQ(jr_options_set_int(o, "no_such_key", 1), JR_ENOENT);
  EXPECT_EQ(jr_options_set_int(o, "password", 1), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o, "tls_no_such_key", "1"), JR_ENOENT);
  EXPECT_EQ(jr_options_set_int(o, "tls_no_such_key", 1), JR_ENOENT);
  EXPECT_EQ(jr_options_set_int(o, "tls_ca_file", 1), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o, "dispatch", "poll"), JR_OK);
  EXPECT_EQ(jr_options_set(o, "dispatch", "threads"), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o, "client_name", "has space"), JR_EINVAL);
  EXPECT_EQ(jr_options_set(nullptr, "a", "b"), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o, nullptr, "b"), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o, "password", nullptr), JR_EINVAL);
  const char *argv[] = {"PING"};
  EXPECT_EQ(jr_options_add_connect_command(o, 0, argv, nullptr), JR_EINVAL);
  jr_options_free(o);
  jr_options_free(nullptr);
}

namespace {

std::string read_source(const char *rel) {
  std::ifstream f(std::string(JR_SOURCE_ROOT) + "/" + rel);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The row of docs/api.md's option table for one key, as the table renders
// it. On a mismatch the test prints every row: paste them into the docs.
std::string doc_row(const char *name, const char *type, int64_t min, int64_t max, const char *def,
                    const char *doc) {
  std::string range;
  if (std::string(type) == "int") range = std::to_string(min) + ".." + std::to_string(max);
  if (std::string(type) == "bool") range = "0, 1";
  std::string d = *def != '\0' ? "`" + std::string(def) + "`" : "";
  return "| `" + std::string(name) + "` | " + type + " | " + range + " | " + d + " | " + doc + " |";
}

}  // namespace

// One table (src/options.cpp) drives jr_options_set, jr_options_set_int,
// jr_options_describe and the docs. Walk it: every key takes its default and
// its range's ends, refuses what is outside (JR_EINVAL, never JR_ENOENT: that
// is only for unknown keys), its default is what a new jr_options holds, and
// it appears in jr.h and, row for row, in docs/api.md.
TEST(Options, TableDrivesSettersAndDocs) {
  std::string api = read_source("docs/api.md");
  std::string header = read_source("include/jr/jr.h");
  ASSERT_FALSE(api.empty()) << JR_SOURCE_ROOT "/docs/api.md";
  ASSERT_FALSE(header.empty());
  const jr::Options defaults;
  std::string all_rows;
  std::set<std::string> names;
  size_t i = 0;
  const char *name = nullptr, *type = nullptr, *def = nullptr, *doc = nullptr;
  int64_t min = 0, max = 0;
  for (; jr_options_describe(i, &name, &type, &min, &max, &def, &doc) == JR_OK; i++) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(names.insert(name).second) << "key twice in the table";
    const jr::OptionSpec *spec = jr::find_option(name);
    ASSERT_NE(spec, nullptr);
    std::string t = type;
    ASSERT_TRUE(t == "int" || t == "bool" || t == "string" || t == "enum") << t;
    EXPECT_GT(std::strlen(doc), 10u);
    EXPECT_EQ(std::string(doc).find('\n'), std::string::npos);
    jr_options *o = jr_options_new();
    // The default is accepted, and it is what a new jr_options holds.
    if (*def != '\0' || t != "string") {
      EXPECT_EQ(jr_options_set(o, name, def), JR_OK) << def;
    }
    if (spec->get != nullptr) {
      EXPECT_EQ(spec->get(defaults), def) << "default in the table";
    }
    for (const char *junk : {"abc", "1x", "x1", " 1", "1 ", "+1", "0x10", "1.5", "--1"}) {
      int want = t == "string" ? JR_OK : JR_EINVAL;
      if (t == "string" && (std::string(name) == "endpoint" || std::string(name) == "url" ||
                            std::string(name) == "sentinel")) {
        want = jr_options_set(o, name, junk);  // an endpoint may be named "abc"
        EXPECT_TRUE(want == JR_OK || want == JR_EINVAL);
      }
      if (std::string(name) == "client_name" && std::strchr(junk, ' ') != nullptr) want = JR_EINVAL;
      EXPECT_EQ(jr_options_set(o, name, junk), want) << "'" << junk << "'";
    }
    bool empty_ok = t == "string" && std::string(name) != "endpoint" &&
                    std::string(name) != "url" && std::string(name) != "sentinel";
    EXPECT_EQ(jr_options_set(o, name, ""), empty_ok ? JR_OK : JR_EINVAL) << "empty";
    if (t == "int" || t == "bool") {
      EXPECT_LE(min, max);
      for (int64_t v : {min, max}) {
        EXPECT_EQ(jr_options_set_int(o, name, v), JR_OK) << v;
        EXPECT_EQ(jr_options_set(o, name, std::to_string(v).c_str()), JR_OK) << v;
        EXPECT_EQ(spec->get(o->o), std::to_string(v));
      }
      // Every extreme of an int64_t: in range or JR_EINVAL.
      for (int64_t v : {INT64_MIN, INT64_MIN + 1, int64_t{-1}, int64_t{0}, int64_t{1},
                        int64_t{INT32_MAX}, int64_t{INT32_MAX} + 1, INT64_MAX - 1, INT64_MAX}) {
        int want = v >= min && v <= max ? JR_OK : JR_EINVAL;
        EXPECT_EQ(jr_options_set_int(o, name, v), want) << v;
        EXPECT_EQ(jr_options_set(o, name, std::to_string(v).c_str()), want) << v;
      }
      if (min > INT64_MIN) {
        EXPECT_EQ(jr_options_set_int(o, name, min - 1), JR_EINVAL);
      }
      if (max < INT64_MAX) {
        EXPECT_EQ(jr_options_set_int(o, name, max + 1), JR_EINVAL);
      }
      // Out of int64_t altogether.
      EXPECT_EQ(jr_options_set(o, name, "9223372036854775808"), JR_EINVAL);
      EXPECT_EQ(jr_options_set(o, name, "-9223372036854775809"), JR_EINVAL);
    } else {
      EXPECT_EQ(min, 0);
      EXPECT_EQ(max, 0);
      // A number for a string or enum key.
      for (int64_t v : {INT64_MIN, int64_t{-1}, int64_t{0}, int64_t{1}, INT64_MAX})
        EXPECT_EQ(jr_options_set_int(o, name, v), JR_EINVAL) << v;
    }
    if (t == "enum") {
      EXPECT_EQ(jr_options_set(o, name, "no_such_word"), JR_EINVAL);
    }
    jr_options_free(o);
    // The header names it, and the docs have its row.
    EXPECT_NE(header.find(" " + std::string(name) + " "), std::string::npos) << "not in jr.h";
    std::string row = doc_row(name, type, min, max, def, doc);
    EXPECT_NE(api.find(row + "\n"), std::string::npos) << "docs/api.md lacks the row\n" << row;
    all_rows += row + "\n";
  }
  EXPECT_EQ(i, names.size());
  EXPECT_GE(i, 30u);
  for (const char *k : {"max_queued_bytes", "read_from_replicas", "ready_batch", "cluster"})
    EXPECT_EQ(names.count(k), 1u) << k;
  // The docs' option table has no row for a key the table does not have.
  size_t from = api.find("## Configuration keys");
  ASSERT_NE(from, std::string::npos);
  std::string section = api.substr(from, api.find("\n## ", from + 1) - from);
  size_t pos = 0;
  while ((pos = section.find("\n| `", pos)) != std::string::npos) {
    size_t end = section.find('`', pos + 4);
    std::string key = section.substr(pos + 4, end - pos - 4);
    EXPECT_EQ(names.count(key), 1u) << "docs/api.md has a row for unknown key " << key;
    pos = end;
  }
  // Past the end, and NULL out pointers.
  EXPECT_EQ(jr_options_describe(i, &name, &type, &min, &max, &def, &doc), JR_ENOENT);
  EXPECT_EQ(jr_options_describe(SIZE_MAX, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr),
            JR_ENOENT);
  EXPECT_EQ(jr_options_describe(0, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr), JR_OK);
  // Unknown keys, by either setter and with any value.
  jr_options *o = jr_options_new();
  for (const char *k : {"no_such_key", "", "Database", "database ", "tls_", "max_queued_byte"}) {
    EXPECT_EQ(jr_options_set(o, k, "1"), JR_ENOENT) << k;
    EXPECT_EQ(jr_options_set(o, k, "abc"), JR_ENOENT) << k;
    EXPECT_EQ(jr_options_set(o, k, ""), JR_ENOENT) << k;
    EXPECT_EQ(jr_options_set_int(o, k, 1), JR_ENOENT) << k;
  }
  jr_options_free(o);
  if (HasFailure())
    std::printf("The option table of docs/api.md, from the table:\n%s", all_rows.c_str());
}

// The keys issue 11 found missing from the list of numeric keys: a bad
// value was reported as an unknown key.
TEST(Options, BadValueOfAKnownKeyIsEinvalNotEnoent) {
  jr_options *o = jr_options_new();
  for (const char *k : {"max_queued_bytes", "read_from_replicas"}) {
    EXPECT_EQ(jr_options_set(o, k, "abc"), JR_EINVAL) << k;
    EXPECT_EQ(jr_options_set(o, k, ""), JR_EINVAL) << k;
    EXPECT_EQ(jr_options_set(o, k, k[0] == 'm' ? "4096" : "1"), JR_OK) << k;
  }
  EXPECT_EQ(jr_options_set(o, "max_queued_bytes", "1023"), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o, "read_from_replicas", "2"), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o, "tcp_keepalive_s", " 5"), JR_EINVAL);
  jr_options_free(o);
}

// The dead-connection defaults: the silence rule and TCP keepalive are on.
TEST(Options, SilenceTimeoutAndKeepaliveAreOnByDefault) {
  jr_options *o = jr_options_new();
  EXPECT_EQ(o->o.silence_timeout_ms, 10000);
  EXPECT_EQ(o->o.tcp_keepalive_s, 60);
  EXPECT_EQ(jr_options_set(o, "silence_timeout_ms", "abc"), JR_EINVAL);
  EXPECT_EQ(jr_options_set_int(o, "silence_timeout_ms", -1), JR_EINVAL);
  EXPECT_EQ(jr_options_set_int(o, "silence_timeout_ms", int64_t{INT32_MAX} + 1), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o, "silence_timeout_ms", "0"), JR_OK);  // off
  EXPECT_EQ(o->o.silence_timeout_ms, 0);
  EXPECT_EQ(jr_options_set_int(o, "silence_timeout_ms", 2500), JR_OK);
  EXPECT_EQ(o->o.silence_timeout_ms, 2500);
  EXPECT_EQ(jr_options_set_int(o, "tcp_keepalive_s", 0), JR_OK);  // off
  jr_options_free(o);
}

TEST(Errors, TextNamesAndUnsentFlags) {
  for (int code = 0; code >= JR_ETLS; code--) {
    EXPECT_STRNE(jr_strerror(code), "unknown libjr error code") << code;
    EXPECT_STRNE(jr_err_name(code), "JR_E?") << code;
  }
  EXPECT_STREQ(jr_err_name(JR_ECONNLOST), "JR_ECONNLOST");
  EXPECT_STREQ(jr_err_name(-1000), "JR_E?");
  EXPECT_EQ(jr_err_unsent(JR_ECONNECT), 1);
  EXPECT_EQ(jr_err_unsent(JR_EQUEUETIMEOUT), 1);
  EXPECT_EQ(jr_err_unsent(JR_ECANCELED), 1);
  EXPECT_EQ(jr_err_unsent(JR_ECONNLOST), 0);
  EXPECT_EQ(jr_err_unsent(JR_ETIMEDOUT), 0);
  EXPECT_EQ(jr_err_unsent(JR_EABANDONED), 0);
  EXPECT_EQ(jr_err_unsent(JR_OK), 0);
  EXPECT_EQ(jr_version(), static_cast<unsigned>(JR_VERSION_HEX));
  EXPECT_STREQ(jr_version_string(), JR_VERSION_STRING);
  EXPECT_TRUE(JR_VERSION_AT_LEAST(0, 1, 0));
}

// jr_err_unsent answers for a command that ended with the code: 1 only when
// it certainly did not run. Codes that are no command's outcome (JR_OK,
// JR_ENOENT from jr_cancel / jr_options_set, JR_ETLS from jr_client_new,
// unknown codes) are 0; it returned 1 for JR_ENOENT and JR_ETLS. JR_ENOMEM
// is 0: a command completes with it after the write when its reply cannot
// be stored. Expectations written out here, not read from the library.
TEST(Errors, UnsentAnswersForEveryCode) {
  struct Want {
    int code;
    int unsent;
  };
  const Want table[] = {
      {JR_OK, 0},         {JR_EINVAL, 1},       {JR_ENOMEM, 0},     {JR_ECLOSED, 1},
      {JR_ECONNECT, 1},   {JR_ECONNLOST, 0},    {JR_ETIMEDOUT, 0},  {JR_EQUEUETIMEOUT, 1},
      {JR_EPROTO, 0},     {JR_ETOOBIG, 0},      {JR_EREFUSED, 1},   {JR_ECANCELED, 1},
      {JR_EABANDONED, 0}, {JR_EAUTH, 1},        {JR_ESHUTDOWN, 0},  {JR_EMISUSE, 1},
      {JR_ENOENT, 0},     {JR_EINTERNAL, 0},    {JR_EFULL, 1},      {JR_EDISCARDED, 1},
      {JR_EWATCH, 1},     {JR_EPOOLTIMEOUT, 1}, {JR_ECROSSSLOT, 1}, {JR_ECLUSTER, 1},
      {JR_EFORKED, 1},    {JR_ETLS, 0},
  };
  ASSERT_EQ(sizeof table / sizeof table[0], static_cast<size_t>(1 - JR_ETLS)) << "a new code?";
  for (const Want &w : table) {
    EXPECT_EQ(jr_err_unsent(w.code), w.unsent) << jr_err_name(w.code);
    // Every code's text says the same as the flag.
    std::string text = jr_strerror(w.code);
    bool says_unsent = text.find("not sent") != std::string::npos ||
                       text.find("nothing ran") != std::string::npos ||
                       text.find("nothing was sent") != std::string::npos;
    if (w.unsent == 1) {
      EXPECT_TRUE(says_unsent) << jr_err_name(w.code) << ": " << text;
    }
    if (text.find("may have run") != std::string::npos) {
      EXPECT_EQ(w.unsent, 0) << text;
    }
  }
  for (int code : {1, 2, INT_MAX, JR_ETLS - 1, -1000, INT_MIN + 1, INT_MIN})
    EXPECT_EQ(jr_err_unsent(code), 0) << code;
}

TEST(Replies, AccessorsAreNullSafe) {
  EXPECT_EQ(jr_reply_get_type(nullptr), 0);
  EXPECT_EQ(jr_reply_len(nullptr), 0u);
  EXPECT_EQ(jr_reply_integer(nullptr), 0);
  EXPECT_EQ(jr_reply_element(nullptr, 0), nullptr);
  EXPECT_EQ(jr_reply_str(nullptr, nullptr), nullptr);
  EXPECT_EQ(jr_reply_dup(nullptr), nullptr);
  jr_reply_free(nullptr);
}

// ---- Redis Sentinel: what sentinels send, and the options --------------------------

namespace {
// The reply tree of `bytes` (RESP2); status of the parse in p.rc.
void tree(const std::string &bytes, Parsed &p) {
  static ReplyReader r{jr::ReaderLimits{}};
  r.reset();
  parse(r, bytes, p);
  ASSERT_EQ(p.rc, 1) << bytes;
}
}  // namespace

// A COMMAND entry: [name, arity, flags, first, last, step, ...]; the flags
// are an array in RESP2 and a set in RESP3. Anything else is refused.
TEST(CommandTable, EntryFlagsAsArrayOrSet) {
  const std::string rest = ":1\r\n:-1\r\n:1\r\n";  // first, last, step
  jr::CommandEntry e;
  Parsed a, bad;
  tree("*6\r\n$4\r\nMGET\r\n:-2\r\n*1\r\n+readonly\r\n" + rest, a);
  ASSERT_TRUE(jr::parse_command_entry(a.root, e));
  EXPECT_EQ(e.name, "mget");
  EXPECT_TRUE(e.readonly);
  EXPECT_EQ(e.last, -1);
  tree("*6\r\n$4\r\nMGET\r\n:-2\r\n+readonly\r\n" + rest, bad);  // flags not a list
  EXPECT_FALSE(jr::parse_command_entry(bad.root, e));
#if JR_HIREDIS_RESP3
  jr::ReaderLimits lim;
  lim.resp3 = true;
  ReplyReader r{lim};
  Parsed set;
  parse(r, "*6\r\n$4\r\nMGET\r\n:-2\r\n~2\r\n+readonly\r\n+fast\r\n" + rest, set);
  ASSERT_EQ(set.rc, 1);
  jr::CommandEntry s;
  ASSERT_TRUE(jr::parse_command_entry(set.root, s));
  EXPECT_TRUE(s.readonly);
  EXPECT_EQ(s.last, -1);
#endif
}

TEST(Sentinel, MasterAddrIsValidated) {
  std::string addr, why;
  {
    Parsed p;
    tree("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n", p);
    EXPECT_EQ(jr::parse_master_addr(p.root, addr, why), JR_OK);
    EXPECT_EQ(addr, "127.0.0.1:6380");
  }
  {
    Parsed p;
    tree("*2\r\n$3\r\n::1\r\n$4\r\n6380\r\n", p);
    EXPECT_EQ(jr::parse_master_addr(p.root, addr, why), JR_OK);
    EXPECT_EQ(addr, "[::1]:6380");
  }
  {
    Parsed p;
    tree("$-1\r\n", p);  // an unknown master name
    EXPECT_EQ(jr::parse_master_addr(p.root, addr, why), JR_ENOENT);
  }
  for (const char *bad : {"*2\r\n$9\r\n127.0.0.1\r\n$1\r\n0\r\n",      // port 0
                          "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n65536\r\n",  // past 65535
                          "*2\r\n$9\r\n127.0.0.1\r\n$3\r\n-12\r\n",    // sign
                          "*2\r\n$9\r\n127.0.0.1\r\n:6379\r\n",        // an integer port
                          "*2\r\n$5\r\n/tmp/\r\n$4\r\n6379\r\n",       // a path
                          "*2\r\n$3\r\na b\r\n$4\r\n6379\r\n",         // a space
                          "*2\r\n$0\r\n\r\n$4\r\n6379\r\n",            // empty ip
                          "*3\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\n1\r\n",   // three elements
                          "$9\r\n127.0.0.1\r\n",                       // a string
                          "-IDONTKNOW\r\n",                            // an error
                          "*0\r\n"}) {
    Parsed p;
    tree(bad, p);
    why.clear();
    EXPECT_EQ(jr::parse_master_addr(p.root, addr, why), JR_EPROTO) << bad;
    EXPECT_FALSE(why.empty());
  }
}

TEST(Sentinel, RoleIsValidated) {
  std::string role, why;
  Parsed m, s, bad, empty;
  tree("*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n", m);
  EXPECT_EQ(jr::parse_role(m.root, role, why), JR_OK);
  EXPECT_EQ(role, "master");
  tree("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:1\r\n", s);
  EXPECT_EQ(jr::parse_role(s.root, role, why), JR_OK);
  EXPECT_EQ(role, "slave");
  Parsed rep;
  tree("*1\r\n$7\r\nreplica\r\n", rep);
  EXPECT_EQ(jr::parse_role(rep.root, role, why), JR_OK);
  EXPECT_EQ(role, "replica");
  tree("*1\r\n$6\r\nMASTER\r\n", bad);
  EXPECT_EQ(jr::parse_role(bad.root, role, why), JR_EPROTO);
  tree("*0\r\n", empty);
  EXPECT_EQ(jr::parse_role(empty.root, role, why), JR_EPROTO);
}

TEST(Sentinel, InstancesSkipTheDownOnes) {
  std::vector<std::string> addrs;
  std::string why;
  Parsed p;
  tree(
      "*3\r\n"
      "*6\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$5\r\n26380\r\n$5\r\nflags\r\n$8\r\n"
      "sentinel\r\n"
      "*6\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$5\r\n26381\r\n$5\r\nflags\r\n$15\r\n"
      "s_down,sentinel\r\n"
      "*4\r\n$4\r\nport\r\n$5\r\n26382\r\n$2\r\nip\r\n$3\r\n::1\r\n",
      p);
  ASSERT_EQ(jr::parse_sentinel_instances(p.root, addrs, why), JR_OK) << why;
  EXPECT_EQ(addrs, (std::vector<std::string>{"127.0.0.1:26380", "[::1]:26382"}));
  Parsed odd, noport;
  tree("*1\r\n*3\r\n$2\r\nip\r\n$1\r\nh\r\n$4\r\nport\r\n", odd);
  EXPECT_EQ(jr::parse_sentinel_instances(odd.root, addrs, why), JR_EPROTO);
  tree("*1\r\n*2\r\n$2\r\nip\r\n$1\r\nh\r\n", noport);
  EXPECT_EQ(jr::parse_sentinel_instances(noport.root, addrs, why), JR_EPROTO);
}

TEST(Sentinel, ReplicasAreValidated) {
  std::vector<std::string> addrs;
  size_t skipped = 0;
  std::string why;
  Parsed p;
  // Usable: 6380 and [::1]:6385. Skipped: s_down, disconnected, a link
  // that is not ok, no link status, 6380 again, a master.
  tree(
      "*8\r\n*10\r\n$4\r\nname\r\n$14\r\n127.0.0.1:6380\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$"
      "4\r\nport\r\n$4\r\n6380\r\n$5\r\nflags\r\n$5\r\nslave\r\n$18\r\nmaster-link-status\r\n$"
      "2\r\nok\r\n*8\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$4\r\n6381\r\n$5\r\nflags\r\n$"
      "12\r\ns_down,slave\r\n$18\r\nmaster-link-status\r\n$2\r\nok\r\n*8\r\n$2\r\nip\r\n$9\r\n127."
      "0.0.1\r\n$4\r\nport\r\n$4\r\n6382\r\n$5\r\nflags\r\n$18\r\nslave,disconnected\r\n$"
      "18\r\nmaster-link-status\r\n$2\r\nok\r\n*8\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$"
      "4\r\n6383\r\n$5\r\nflags\r\n$5\r\nslave\r\n$18\r\nmaster-link-status\r\n$3\r\nerr\r\n*6\r\n$"
      "2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$4\r\n6384\r\n$5\r\nflags\r\n$5\r\nslave\r\n*"
      "8\r\n$2\r\nip\r\n$3\r\n::1\r\n$4\r\nport\r\n$4\r\n6385\r\n$5\r\nflags\r\n$5\r\nslave\r\n$"
      "18\r\nmaster-link-status\r\n$2\r\nok\r\n*8\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$"
      "4\r\n6380\r\n$5\r\nflags\r\n$5\r\nslave\r\n$18\r\nmaster-link-status\r\n$2\r\nok\r\n*8\r\n$"
      "2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$4\r\n6386\r\n$5\r\nflags\r\n$6\r\nmaster\r\n$"
      "18\r\nmaster-link-status\r\n$2\r\nok\r\n",
      p);
  ASSERT_EQ(jr::parse_sentinel_replicas(p.root, addrs, skipped, why), JR_OK) << why;
  EXPECT_EQ(addrs, (std::vector<std::string>{"127.0.0.1:6380", "[::1]:6385"}));
  EXPECT_EQ(skipped, 6u);
  Parsed none;
  tree("*0\r\n", none);
  EXPECT_EQ(jr::parse_sentinel_replicas(none.root, addrs, skipped, why), JR_OK);
  EXPECT_TRUE(addrs.empty());
  {
    Parsed bad;  // no flags
    tree(
        "*1\r\n*6\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$4\r\n6380\r\n$18\r\nmaster-link-"
        "status\r\n$2\r\nok\r\n",
        bad);
    why.clear();
    addrs = {"stale"};
    EXPECT_EQ(jr::parse_sentinel_replicas(bad.root, addrs, skipped, why), JR_EPROTO) << "no flags";
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(addrs.empty());
  }
  {
    Parsed bad;  // two ips
    tree(
        "*1\r\n*8\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$2\r\nip\r\n$9\r\n127.0.0.2\r\n$4\r\nport\r\n$"
        "4\r\n6380\r\n$5\r\nflags\r\n$5\r\nslave\r\n",
        bad);
    why.clear();
    addrs = {"stale"};
    EXPECT_EQ(jr::parse_sentinel_replicas(bad.root, addrs, skipped, why), JR_EPROTO) << "two ips";
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(addrs.empty());
  }
  {
    Parsed bad;  // port 0
    tree(
        "*1\r\n*6\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$1\r\n0\r\n$5\r\nflags\r\n$"
        "5\r\nslave\r\n",
        bad);
    why.clear();
    addrs = {"stale"};
    EXPECT_EQ(jr::parse_sentinel_replicas(bad.root, addrs, skipped, why), JR_EPROTO) << "port 0";
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(addrs.empty());
  }
  {
    Parsed bad;  // bad ip
    tree(
        "*1\r\n*6\r\n$2\r\nip\r\n$3\r\na "
        "b\r\n$4\r\nport\r\n$4\r\n6380\r\n$5\r\nflags\r\n$5\r\nslave\r\n",
        bad);
    why.clear();
    addrs = {"stale"};
    EXPECT_EQ(jr::parse_sentinel_replicas(bad.root, addrs, skipped, why), JR_EPROTO) << "bad ip";
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(addrs.empty());
  }
  {
    Parsed bad;  // flags with a space
    tree(
        "*1\r\n*6\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$4\r\n6380\r\n$5\r\nflags\r\n$"
        "8\r\nslave, x\r\n",
        bad);
    why.clear();
    addrs = {"stale"};
    EXPECT_EQ(jr::parse_sentinel_replicas(bad.root, addrs, skipped, why), JR_EPROTO)
        << "flags with a space";
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(addrs.empty());
  }
  {
    Parsed bad;  // empty flag word
    tree(
        "*1\r\n*6\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$4\r\n6380\r\n$5\r\nflags\r\n$"
        "8\r\nslave,,x\r\n",
        bad);
    why.clear();
    addrs = {"stale"};
    EXPECT_EQ(jr::parse_sentinel_replicas(bad.root, addrs, skipped, why), JR_EPROTO)
        << "empty flag word";
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(addrs.empty());
  }
  {
    Parsed bad;  // odd row
    tree("*1\r\n*3\r\n$2\r\nip\r\n$1\r\nh\r\n$4\r\nport\r\n", bad);
    why.clear();
    addrs = {"stale"};
    EXPECT_EQ(jr::parse_sentinel_replicas(bad.root, addrs, skipped, why), JR_EPROTO) << "odd row";
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(addrs.empty());
  }
  {
    Parsed bad;  // integer value
    tree(
        "*1\r\n*6\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n:6380\r\n$5\r\nflags\r\n$"
        "5\r\nslave\r\n",
        bad);
    why.clear();
    addrs = {"stale"};
    EXPECT_EQ(jr::parse_sentinel_replicas(bad.root, addrs, skipped, why), JR_EPROTO)
        << "integer value";
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(addrs.empty());
  }
  {
    Parsed bad;  // a string
    tree("$5\r\nslave\r\n", bad);
    why.clear();
    addrs = {"stale"};
    EXPECT_EQ(jr::parse_sentinel_replicas(bad.root, addrs, skipped, why), JR_EPROTO) << "a string";
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(addrs.empty());
  }
  {
    Parsed bad;  // an error
    tree("-ERR No such master with that name\r\n", bad);
    why.clear();
    addrs = {"stale"};
    EXPECT_EQ(jr::parse_sentinel_replicas(bad.root, addrs, skipped, why), JR_EPROTO) << "an error";
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(addrs.empty());
  }
}

TEST(Sentinel, SwitchMasterPayload) {
  std::string addr, why;
  EXPECT_EQ(jr::parse_switch_master("m 127.0.0.1 6379 127.0.0.1 6380", "m", addr, why), JR_OK);
  EXPECT_EQ(addr, "127.0.0.1:6380");
  EXPECT_EQ(jr::parse_switch_master("other 127.0.0.1 6379 ::1 6380", "m", addr, why), JR_ENOENT);
  for (const char *bad : {"", "m", "m 127.0.0.1 6379 127.0.0.1", "m 127.0.0.1 6379 127.0.0.1 0",
                          "m 127.0.0.1 6379 127.0.0.1 6380 extra", "m  6379 127.0.0.1 6380",
                          "m 127.0.0.1 x 127.0.0.1 6380", " 127.0.0.1 6379 127.0.0.1 6380"}) {
    why.clear();
    EXPECT_EQ(jr::parse_switch_master(bad, "m", addr, why), JR_EPROTO) << "'" << bad << "'";
    EXPECT_FALSE(why.empty());
  }
}

TEST(Sentinel, LettuceUrl) {
  jr::Options o;
  ASSERT_EQ(o.set_url("redis-sentinel://u:p%40ss@h1,h2:26380,[::1]:7/4#mymaster"), JR_OK);
  ASSERT_EQ(o.sentinels.size(), 3u);
  EXPECT_EQ(o.sentinels[0].display(), "h1:26379");
  EXPECT_EQ(o.sentinels[1].display(), "h2:26380");
  EXPECT_EQ(o.sentinels[2].display(), "[::1]:7");
  EXPECT_EQ(o.sentinel_master, "mymaster");
  EXPECT_EQ(o.username, "u");
  EXPECT_EQ(o.password, "p@ss");
  EXPECT_EQ(o.database, 4);
  EXPECT_FALSE(o.tls);
  jr::Options t;
  ASSERT_EQ(t.set_url("rediss-sentinel://h1?sentinelMasterId=m2&db=2"), JR_OK);
  EXPECT_TRUE(t.tls);
  EXPECT_EQ(t.sentinel_master, "m2");
  EXPECT_EQ(t.database, 2);
  for (const char *bad :
       {"redis-sentinel://h1", "redis-sentinel://#m", "redis-sentinel://h1,#m",
        "redis-sentinel://h1:0#m", "redis-sentinel://h1/x#m", "redis-sentinel:///tmp/s#m",
        "redis-sentinel://h1?nope=1#m", "redis://h1?sentinelMasterId=m"}) {
    jr::Options b;
    EXPECT_EQ(b.set_url(bad), JR_EINVAL) << bad;
  }
  jr::Endpoint ep;
  EXPECT_EQ(jr::parse_sentinel_endpoint("host", ep), JR_OK);
  EXPECT_EQ(ep.port, 26379);
  EXPECT_EQ(jr::parse_sentinel_endpoint("[::1]", ep), JR_OK);
  EXPECT_EQ(ep.port, 26379);
  EXPECT_EQ(jr::parse_sentinel_endpoint("::1", ep), JR_OK);  // bare v6: no port
  EXPECT_EQ(ep.port, 26379);
  EXPECT_EQ(jr::parse_sentinel_endpoint("h:80", ep), JR_OK);
  EXPECT_EQ(ep.port, 80);
  EXPECT_EQ(jr::parse_sentinel_endpoint("/tmp/s", ep), JR_EINVAL);
}

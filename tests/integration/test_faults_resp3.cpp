// SPDX-License-Identifier: MIT
// A hostile RESP3 server (protocol=3; built with hiredis >= 1.0 only): a
// scripted fake server answers HELLO 3 correctly, then sends what a real
// server would not. Every case checks the same things: each accepted
// command completes exactly once, with a library error that says what was
// wrong (the event log carries the reader's or the handshake's words), in
// well under the command deadline (no hang); the bad connection is
// replaced and the next command succeeds on a fresh one. What is valid
// (pushes between replies, attributes, blob errors) must not cost the
// connection. Suite "faults-resp3": scripts/test runs it in build/hiredis1.
#include <gtest/gtest.h>
#include <jr/jr.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_server.hpp"
#include "jr_test.hpp"

using namespace jrtest;

namespace {

// A valid HELLO 3 reply (Redis 7's, shortened).
const std::string kHello =
    "%3\r\n$6\r\nserver\r\n$4\r\nfake\r\n$5\r\nproto\r\n:3\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n";

struct Want {
  int status;
  std::string text;  // JR_OK: the reply's text ("" for an aggregate)
  int type = JR_REPLY_STATUS;
};

// What the first connection's server does after HELLO: reads `reads`
// commands, sends `bytes`, then closes (`close`) or goes on answering
// +fine to every command. Every later connection answers HELLO correctly
// and +fine to everything.
struct Script {
  std::string hello = kHello;
  int reads = 0;
  std::string bytes;
  bool close = false;
};

class Hostile {
 public:
  explicit Hostile(Script script)
      : script_(std::move(script)), srv_([this](int fd, int index) { serve(fd, index); }) {
    ready_ = true;
  }
  FakeServer &srv() { return srv_; }

 private:
  void serve(int fd, int index) {
    while (!ready_) std::this_thread::yield();
    if (srv_.read_commands(fd, 1).empty()) return;  // HELLO 3
    if (index == 0) {
      FakeServer::send_all(fd, script_.hello);
      if (script_.reads > 0 && srv_.read_commands(fd, script_.reads).empty()) return;
      FakeServer::send_all(fd, script_.bytes);
      if (script_.close) return;
    } else {
      FakeServer::send_all(fd, kHello);
    }
    while (!srv_.stopping()) {
      std::string in = srv_.read_commands(fd, 1);
      if (in.empty()) return;
      for (int i = FakeServer::count_commands(in); i > 0; i--)
        FakeServer::send_all(fd, "+fine\r\n");
    }
  }

  Script script_;
  std::atomic<bool> ready_{false};
  FakeServer srv_;  // last: its threads use the members above
};

OptionsPtr resp3_opts(FakeServer &s, EventLog &log) {
  OptionsPtr o;
  o.set("endpoint", s.endpoint())
      .set("cluster", "no")
      .set_int("protocol", 3)
      .set_int("connect_retry", 0)
      .set_int("command_timeout_ms", 5000);
  jr_options_set_event_cb(o.o, EventLog::cb, &log);
  return o;
}

int64_t ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}

struct Case {
  const char *name;
  Script script;
  std::vector<Want> want;
  const char *detail;  // in the event log ("" when the connection stays)
};

// Runs one case: want.size() commands pipelined, each outcome checked, then
// a command on the connection that follows (the same one when detail is "").
void run(const Case &k) {
  SCOPED_TRACE(k.name);
  Hostile h(k.script);
  EventLog log;
  auto o = resp3_opts(h.srv(), log);
  ClientPtr c(o);
  Recorder rec;
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < k.want.size(); i++)
    ASSERT_EQ(submit(c, {"GET", "k" + std::to_string(i)}, rec, i), JR_OK);
  ASSERT_TRUE(rec.wait_all(8000)) << "a command never completed";
  EXPECT_LT(ms_since(t0), 2500) << "the stream's fault was not seen: the deadline ended it";
  EXPECT_EQ(rec.duplicates(), 0u);
  for (size_t i = 0; i < k.want.size(); i++) {
    Recorder::Outcome got = rec.get(i);
    const Want &w = k.want[i];
    EXPECT_EQ(got.count, 1) << "command " << i;
    EXPECT_EQ(got.status, w.status) << "command " << i << ": " << jr_err_name(got.status) << "\n"
                                    << log.all();
    if (w.status == JR_OK && got.status == JR_OK) {
      EXPECT_EQ(got.type, w.type) << "command " << i;
      if (!w.text.empty()) {
        EXPECT_EQ(got.text, w.text) << "command " << i;
      }
    }
  }
  bool replaced = k.detail[0] != '\0';
  // The event comes after the completions.
  if (replaced) {
    EXPECT_TRUE(eventually([&] { return log.has(k.detail); }, 2000))
        << "the failure says why; the log:\n"
        << log.all();
  }
  std::string outcomes;
  for (size_t i = 0; i < k.want.size(); i++)
    outcomes += std::string(i > 0 ? ", " : "") + jr_err_name(rec.get(i).status);
  std::printf("[ resp3 ] %s: %s; event: \"%s\"\n", k.name, outcomes.c_str(),
              replaced ? log.find(k.detail).c_str() : "(connection kept)");
  Result next = call(c, {"PING"}, 3000);
  EXPECT_EQ(next.status, JR_OK) << jr_err_name(next.status) << " " << next.detail;
  EXPECT_EQ(next.str(), "fine");
  EXPECT_EQ(h.srv().accepted(), replaced ? 2 : 1) << log.all();
}

Script after(int reads, std::string bytes, bool close = false) {
  Script s;
  s.reads = reads;
  s.bytes = std::move(bytes);
  s.close = close;
  return s;
}

// A blob error's frame.
std::string blob(const std::string &text) {
  return "!" + std::to_string(text.size()) + "\r\n" + text + "\r\n";
}

std::string nested(int levels) {
  std::string s;
  for (int i = 0; i < levels; i++) s += i % 2 != 0 ? "~1\r\n" : "%1\r\n:0\r\n";
  return s + ":1\r\n";
}

const Want kOk0{JR_OK, "r0"};
const Want kOk1{JR_OK, "r1"};
const Want kOk2{JR_OK, "r2"};
const Want kProto{JR_EPROTO, ""};
const Want kBig{JR_ETOOBIG, ""};
const Want kLost{JR_ECONNLOST, ""};

}  // namespace

// Valid RESP3 that is not a command's reply, or not only: the connection
// stays, and FIFO matching is not disturbed.
TEST(HostileResp3, PushesAndAttributesBetweenRepliesKeepTheConnection) {
  const Case cases[] = {
      {"pushes between pipelined replies",
       after(3,
             ">2\r\n$7\r\nmessage\r\n$2\r\nhi\r\n+r0\r\n>1\r\n$4\r\nkind\r\n+r1\r\n"
             ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nx\r\n>1\r\n$1\r\ny\r\n+r2\r\n"),
       {kOk0, kOk1, kOk2},
       ""},
      {"a push with a non-string kind, an empty push, a push of a map, of a null",
       after(3, ">0\r\n+r0\r\n>2\r\n:1\r\n:2\r\n>1\r\n%1\r\n+a\r\n+b\r\n+r1\r\n>1\r\n_\r\n+r2\r\n"),
       {kOk0, kOk1, kOk2},
       ""},
      {"an invalidation push with a wrong shape while caching is off (ignored)",
       after(2, ">2\r\n$10\r\ninvalidate\r\n:1\r\n+r0\r\n>1\r\n$10\r\ninvalidate\r\n+r1\r\n"),
       {kOk0, kOk1},
       ""},
      {"attributes before a reply, nested in an attribute, on an element, before a push",
       after(
           3,
           "|1\r\n+a\r\n+b\r\n+r0\r\n|1\r\n+k\r\n|1\r\n+x\r\n+y\r\n+v\r\n+r1\r\n"
           "|1\r\n+p\r\n:1\r\n>1\r\n+pushed\r\n*1\r\n|2\r\n+k\r\n+v\r\n+k2\r\n*0\r\n$2\r\nr2\r\n"),
       {kOk0, kOk1, Want{JR_OK, "", JR_REPLY_ARRAY}},
       ""},
  };
  for (const Case &k : cases) run(k);
}

// Malformed or over-limit RESP3: JR_EPROTO (JR_ETOOBIG for what is over
// libjr's limits) for the command whose reply it was, JR_ECONNLOST for
// those behind it, a fresh connection for the next.
TEST(HostileResp3, MalformedItemsFailTheConnectionWithTheReason) {
  const Case cases[] = {
      {"a map with a count over INT_MAX",
       after(3, "+r0\r\n%9999999999\r\n"),
       {kOk0, kProto, kLost},
       "protocol error"},
      {"a map of more pairs than max_elements allows",
       after(2, "+r0\r\n%8388609\r\n"),
       {kOk0, kBig},
       "max_elements"},
      {"a map with a negative count", after(2, "%-2\r\n+a\r\n"), {kProto, kLost}, "protocol error"},
      {"a map that declares more pairs than it sends, cut by the server",
       after(3, "+r0\r\n%2\r\n+a\r\n:1\r\n+b", true),
       {kOk0, kLost, kLost},
       "server closed the connection"},
      {"nesting one level deeper than libjr's limit",
       after(2, "+r0\r\n" + nested(9)),
       {kOk0, kProto},
       "nested deeper than 8"},
      {"an attribute nested one level too deep",
       after(1, "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n|1\r\n+a\r\n+b\r\n:1\r\n"),
       {kProto},
       "attribute nested deeper"},
      {"an attribute of more pairs than max_elements allows",
       after(1, "|8388609\r\n"),
       {kBig},
       "attribute longer than max_elements"},
      {"an attribute at the end of the stream",
       after(2, "+r0\r\n|1\r\n+a\r\n+b\r\n", true),
       {kOk0, kLost},
       "server closed the connection"},
      {"a stream cut inside an attribute",
       after(2, "+r0\r\n|1\r\n+a", true),
       {kOk0, kLost},
       "server closed the connection"},
      {"a double that is no number", after(2, "+r0\r\n,abc\r\n"), {kOk0, kProto}, "protocol error"},
      {"a double with garbage after it", after(1, ",1.5x\r\n"), {kProto}, "protocol error"},
      {"a bignum with a letter", after(2, "+r0\r\n(12x\r\n"), {kOk0, kProto}, "protocol error"},
      {"a verbatim string too short for its format",
       after(2, "=3\r\nab:\r\n+r1\r\n"),
       {kProto, kLost},
       "protocol error"},
      {"a verbatim string without the ':' after its format",
       after(1, "=5\r\ntxtxy\r\n"),
       {kProto},
       "protocol error"},
      {"a boolean other than t or f", after(2, "+r0\r\n#x\r\n"), {kOk0, kProto}, "protocol error"},
      {"a boolean of two letters", after(1, "#tt\r\n"), {kProto}, "protocol error"},
      {"a null with trailing bytes", after(2, "_x\r\n+r1\r\n"), {kProto, kLost}, "protocol error"},
      {"a null inside a map with trailing bytes",
       after(1, "%1\r\n+k\r\n_ \r\n"),
       {kProto},
       "protocol error"},
      {"a bulk string longer than max_bulk_len",
       after(2, "+r0\r\n$99999999999\r\n"),
       {kOk0, kBig},
       "max_bulk_len"},
      {"a verbatim string longer than max_bulk_len",
       after(1, "=99999999999\r\n"),
       {kBig},
       "max_bulk_len"},
      {"a blob error longer than max_bulk_len",
       after(2, "+r0\r\n!99999999999\r\n"),
       {kOk0, kBig},
       "max_bulk_len"},
      {"a blob error in a map longer than max_bulk_len",
       after(1, "%1\r\n+k\r\n!600000000\r\n"),
       {kBig},
       "max_bulk_len"},
      {"a blob error of length -1",
       after(2, "!-1\r\n+r1\r\n"),
       {kProto, kLost},
       "blob error of length -1"},
      {"a blob error with a bad length", after(1, "!1x\r\nab\r\n"), {kProto}, "protocol error"},
      {"an unknown type byte", after(2, "+r0\r\n@1\r\n"), {kOk0, kProto}, "protocol error"},
  };
  for (const Case &k : cases) run(k);
}

// With client-side caching (RESP3: invalidations arrive as pushes on the
// command connection), an invalidation of the wrong shape cannot be
// applied: the connection is replaced and the cache flushed.
TEST(HostileResp3, MalformedInvalidationPushReplacesTheConnection) {
  const std::string pushes[] = {
      ">2\r\n$10\r\ninvalidate\r\n:5\r\n",                   // payload: an integer
      ">3\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n:1\r\n",  // 3 elements
      ">1\r\n$10\r\ninvalidate\r\n",                         // no payload
      ">2\r\n$10\r\ninvalidate\r\n*1\r\n:7\r\n",             // a key that is no string
  };
  for (const std::string &push : pushes) {
    SCOPED_TRACE(push);
    // CLIENT TRACKING on (+OK), GET k0 (a bulk), then the push and GET k1's
    // reply: GET k1 was in flight when the connection was dropped.
    Hostile h(after(3, "+OK\r\n$2\r\nv0\r\n" + push + "$2\r\nv1\r\n"));
    EventLog log;
    auto o = resp3_opts(h.srv(), log);
    o.set_int("client_cache_bytes", 1 << 20);
    ClientPtr c(o);
    Recorder rec;
    ASSERT_EQ(submit(c, {"GET", "k0"}, rec, 0), JR_OK);
    ASSERT_EQ(submit(c, {"GET", "k1"}, rec, 1), JR_OK);
    ASSERT_TRUE(rec.wait_all(8000));
    EXPECT_EQ(rec.duplicates(), 0u);
    EXPECT_EQ(rec.get(0).status, JR_OK);
    EXPECT_EQ(rec.get(0).text, "v0");
    EXPECT_EQ(rec.get(1).status, JR_EPROTO) << jr_err_name(rec.get(1).status) << "\n" << log.all();
    EXPECT_TRUE(eventually([&] { return log.has("client-side caching: invalidat"); }, 2000))
        << log.all();
    // k0 may not be answered from the cache: what invalidated it is unknown.
    Result again = call(c, {"GET", "k0"}, 3000);
    EXPECT_EQ(again.status, JR_OK) << jr_err_name(again.status);
    EXPECT_EQ(again.str(), "fine") << "k0 came from the cache";
    EXPECT_EQ(h.srv().accepted(), 2);
  }
}

// The handshake's reply: HELLO 3 answered by something that is not RESP3's
// map with proto 3. A failed connect attempt (JR_ECONNECT for the waiting
// command, with connect_retry=0) whose reason names the HELLO reply; the
// next command connects again.
TEST(HostileResp3, HelloReplyThatIsNotAMapWithProto3FailsTheConnect) {
  const std::pair<const char *, const char *> cases[] = {
      {"+OK\r\n", "is of type 5, not a map"},
      {"*2\r\n$5\r\nproto\r\n:3\r\n", "is of type 2, not a map"},
      {"_\r\n", "is of type 4, not a map"},
      {"%1\r\n$6\r\nserver\r\n$4\r\nfake\r\n", "has no proto"},
      {"%0\r\n", "has no proto"},
      {"%1\r\n$5\r\nproto\r\n:2\r\n", "proto is not the integer 3"},
      {"%1\r\n$5\r\nproto\r\n$1\r\n3\r\n", "proto is not the integer 3"},
      {"%1\r\n$5\r\nproto\r\n,abc\r\n", "protocol error"},        // the reader's
      {"%1\r\n$5\r\nproto\r\n", "server closed the connection"},  // cut
  };
  for (const auto &k : cases) {
    SCOPED_TRACE(k.first);
    // The server goes on answering +fine: the client must drop the
    // connection itself (the cut reply's server closes).
    Script s;
    s.hello = k.first;
    s.close = std::string(k.second) == "server closed the connection";
    Hostile h(s);
    EventLog log;
    auto o = resp3_opts(h.srv(), log);
    ClientPtr c(o);
    auto t0 = std::chrono::steady_clock::now();
    Result r = call(c, {"PING"});
    EXPECT_LT(ms_since(t0), 2500);
    EXPECT_EQ(r.status, JR_ECONNECT) << jr_err_name(r.status) << " " << r.detail;
    EXPECT_TRUE(eventually([&] { return log.has(k.second); }, 2000)) << log.all();
    std::string shown;
    for (char ch : std::string(k.first))
      shown += ch == '\r' ? "\\r" : ch == '\n' ? "\\n" : std::string(1, ch);
    std::printf("[ resp3 ] HELLO answered %s: %s; event: \"%s\"\n", shown.c_str(),
                jr_err_name(r.status), log.find(k.second).c_str());
    Result next = call(c, {"PING"}, 3000);
    EXPECT_EQ(next.status, JR_OK) << jr_err_name(next.status) << " " << next.detail;
    EXPECT_EQ(next.str(), "fine");
    EXPECT_EQ(h.srv().accepted(), 2);
  }
}

// ---- Blob errors ('!') ---------------------------------------------------------------
// A server error reply like '-ERR', binary safe: JR_OK with a JR_REPLY_ERROR
// reply holding the whole text; the connection stays.
TEST(Resp3BlobError, IsAServerErrorReplyWithItsWholeText) {
  const std::string text("SYNTAX invalid\r\nsecond line\0end", 31);
  ASSERT_EQ(text.back(), 'd');
  Hostile h(after(3, blob(text) + blob("") + "-ERR simple\r\n"));
  EventLog log;
  auto o = resp3_opts(h.srv(), log);
  ClientPtr c(o);
  Recorder rec;
  for (size_t i = 0; i < 3; i++)
    ASSERT_EQ(submit(c, {"GET", "k" + std::to_string(i)}, rec, i), JR_OK);
  ASSERT_TRUE(rec.wait_all(8000));
  EXPECT_EQ(rec.get(0).status, JR_OK) << jr_err_name(rec.get(0).status) << "\n" << log.all();
  EXPECT_EQ(rec.get(0).type, JR_REPLY_ERROR);
  EXPECT_EQ(rec.get(0).text, text);
  EXPECT_EQ(rec.get(1).status, JR_OK);
  EXPECT_EQ(rec.get(1).type, JR_REPLY_ERROR);
  EXPECT_EQ(rec.get(1).text, "");
  EXPECT_EQ(rec.get(2).type, JR_REPLY_ERROR);
  EXPECT_EQ(rec.get(2).text, "ERR simple");
  EXPECT_EQ(call(c, {"PING"}).str(), "fine");
  EXPECT_EQ(h.srv().accepted(), 1);
}

// Inside aggregates, a blob error is an element of type JR_REPLY_ERROR, as
// a simple error is ('-' in an array: EXEC's results); the aggregate itself
// is the command's reply (JR_OK).
TEST(Resp3BlobError, InsideArraysAndMapsIsAnErrorElement) {
  Hostile h(after(1, "*3\r\n-ERR simple\r\n" + blob("ERR blob") + "%2\r\n$1\r\na\r\n" +
                         blob("ERR\r\n") + blob("k") + "-v\r\n"));
  EventLog log;
  auto o = resp3_opts(h.srv(), log);
  ClientPtr c(o);
  Result r = call(c, {"GET", "k"});
  ASSERT_EQ(r.status, JR_OK) << log.all();
  ASSERT_EQ(r.type(), JR_REPLY_ARRAY);
  ASSERT_EQ(jr_reply_len(r.reply.get()), 3u);
  auto text = [](const jr_reply *e) {
    size_t len = 0;
    const char *s = jr_reply_str(e, &len);
    return std::string(s != nullptr ? s : "", len);
  };
  const jr_reply *e0 = jr_reply_element(r.reply.get(), 0);
  const jr_reply *e1 = jr_reply_element(r.reply.get(), 1);
  EXPECT_EQ(jr_reply_get_type(e0), JR_REPLY_ERROR);
  EXPECT_EQ(text(e0), "ERR simple");
  EXPECT_EQ(jr_reply_get_type(e1), JR_REPLY_ERROR);
  EXPECT_EQ(text(e1), "ERR blob");
  const jr_reply *m = jr_reply_element(r.reply.get(), 2);
  ASSERT_EQ(jr_reply_get_type(m), JR_REPLY_MAP);
  ASSERT_EQ(jr_reply_len(m), 4u);
  EXPECT_EQ(jr_reply_get_type(jr_reply_element(m, 0)), JR_REPLY_STRING);
  EXPECT_EQ(jr_reply_get_type(jr_reply_element(m, 1)), JR_REPLY_ERROR);
  EXPECT_EQ(text(jr_reply_element(m, 1)), "ERR\r\n");
  EXPECT_EQ(jr_reply_get_type(jr_reply_element(m, 2)), JR_REPLY_ERROR);
  EXPECT_EQ(jr_reply_get_type(jr_reply_element(m, 3)), JR_REPLY_ERROR);
  EXPECT_EQ(call(c, {"PING"}).str(), "fine");
  EXPECT_EQ(h.srv().accepted(), 1);
}

// HELLO refused with a blob error: the same path as '-' (JR_EAUTH, the
// server's text first, the option named).
TEST(Resp3BlobError, RefusingHelloIsAHandshakeError) {
  Script s;
  s.hello = blob("NOPROTO sorry, this is\r\nblob");
  Hostile h(s);
  EventLog log;
  auto o = resp3_opts(h.srv(), log);
  ClientPtr c(o);
  Result r = call(c, {"PING"});
  EXPECT_EQ(r.status, JR_EAUTH) << jr_err_name(r.status) << " " << r.detail << "\n" << log.all();
  EXPECT_EQ(r.type(), JR_REPLY_ERROR);
  EXPECT_EQ(r.str().rfind("NOPROTO sorry, this is\r\nblob", 0), 0u) << r.str();
  EXPECT_NE(r.str().find("protocol=3"), std::string::npos) << r.str();
  EXPECT_EQ(call(c, {"PING"}, 3000).str(), "fine");
}

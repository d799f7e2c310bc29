// SPDX-License-Identifier: MIT
// RESP3 (option protocol=3) against a real redis-server: the HELLO
// handshake, typed replies from real commands and DEBUG PROTOCOL, pushes
// mixed with pipelined replies in both delivery modes. Built with hiredis
// 0.14 (JR_TEST_HIREDIS_MAJOR 0), protocol=3 must be refused at
// jr_client_new instead.
#include <gtest/gtest.h>
#include <jr/jr.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fake_server.hpp"
#include "jr_test.hpp"
#include "redis_server.hpp"
#include "shared_server.hpp"

using namespace jrtest;

namespace {

std::string text(const jr_reply *r) {
  size_t len = 0;
  const char *s = jr_reply_str(r, &len);
  return s != nullptr ? std::string(s, len) : std::string();
}

class Resp3 : public jrtest::SharedServer<Resp3> {
 public:
  // No server at all when the build cannot speak RESP3.
  static RedisServer *make() { return JR_TEST_HIREDIS_MAJOR >= 1 ? new RedisServer() : nullptr; }

 protected:
  void SetUp() override {
    if (JR_TEST_HIREDIS_MAJOR < 1) GTEST_SKIP() << "built with hiredis 0.14: no RESP3";
    SharedServer::SetUp();
  }
  static OptionsPtr opts() {
    OptionsPtr o;
    o.set("endpoint", server_->endpoint()).set("cluster", "no").set_int("protocol", 3);
    return o;
  }
};

}  // namespace

TEST(Resp3Option, NeedsHiredis1OrIsRefusedAtClientNew) {
  OptionsPtr o;
  EXPECT_EQ(jr_options_set(o.o, "protocol", "4"), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o.o, "url", "redis://127.0.0.1:1/?protocol=4"), JR_EINVAL);
  o.set("url", "redis://127.0.0.1:1/0?protocol=3").set("cluster", "no");
  EventLog log;
  jr_options_set_event_cb(o.o, EventLog::cb, &log);
  jr_client *c = nullptr;
  int rc = jr_client_new(o.o, &c);
  if (JR_TEST_HIREDIS_MAJOR >= 1) {
    EXPECT_EQ(rc, JR_OK);
  } else {
    EXPECT_EQ(rc, JR_EINVAL);
    EXPECT_EQ(c, nullptr);
    EXPECT_TRUE(log.has("hiredis >= 1.0")) << "the refusal says why";
    const char *d = jr_error_detail();
    ASSERT_NE(d, nullptr) << "and jr_error_detail too";
    EXPECT_NE(std::string(d).find("hiredis >= 1.0"), std::string::npos) << d;
  }
  if (c != nullptr) jr_client_free(c);
}

TEST_F(Resp3, TypesFromRealCommands) {
  auto o = opts();
  o.set("client_name", "resp3-client");
  ClientPtr c(o);
  // The connection speaks RESP3 and HELLO set the name.
  Result info = call(c, {"CLIENT", "INFO"});
  ASSERT_TRUE(info.ok()) << info.str();
  EXPECT_NE(info.str().find("resp=3"), std::string::npos) << info.str();
  EXPECT_NE(info.str().find("name=resp3-client"), std::string::npos) << info.str();

  call(c, {"DEL", "r3:h", "r3:s"});
  ASSERT_TRUE(call(c, {"HSET", "r3:h", "a", "1", "b", "2"}).ok());
  Result h = call(c, {"HGETALL", "r3:h"});
  ASSERT_EQ(h.type(), JR_REPLY_MAP);
  ASSERT_EQ(jr_reply_len(h.reply.get()), 4u);  // keys and values
  std::map<std::string, std::string> m;
  for (size_t i = 0; i < 4; i += 2)
    m[text(jr_reply_element(h.reply.get(), i))] = text(jr_reply_element(h.reply.get(), i + 1));
  EXPECT_EQ(m, (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(jr_reply_element(h.reply.get(), 4), nullptr);

  ASSERT_TRUE(call(c, {"SADD", "r3:s", "x", "y", "z"}).ok());
  Result s = call(c, {"SMEMBERS", "r3:s"});
  ASSERT_EQ(s.type(), JR_REPLY_SET);
  std::set<std::string> members;
  for (size_t i = 0; i < jr_reply_len(s.reply.get()); i++)
    members.insert(text(jr_reply_element(s.reply.get(), i)));
  EXPECT_EQ(members, (std::set<std::string>{"x", "y", "z"}));

  Result d = call(c, {"DEBUG", "PROTOCOL", "double"});
  ASSERT_EQ(d.type(), JR_REPLY_DOUBLE) << d.str();
  EXPECT_DOUBLE_EQ(jr_reply_double(d.reply.get()), 3.141);
  EXPECT_EQ(d.str(), "3.141");
  EXPECT_EQ(jr_reply_integer(d.reply.get()), 0);

  Result b = call(c, {"DEBUG", "PROTOCOL", "bignum"});
  ASSERT_EQ(b.type(), JR_REPLY_BIGNUM);
  EXPECT_EQ(b.str(), "1234567999999999999999999999999999999");

  Result t = call(c, {"DEBUG", "PROTOCOL", "true"});
  ASSERT_EQ(t.type(), JR_REPLY_BOOL);
  EXPECT_EQ(jr_reply_integer(t.reply.get()), 1);
  Result f = call(c, {"DEBUG", "PROTOCOL", "false"});
  ASSERT_EQ(f.type(), JR_REPLY_BOOL);
  EXPECT_EQ(jr_reply_integer(f.reply.get()), 0);

  Result v = call(c, {"DEBUG", "PROTOCOL", "verbatim"});
  ASSERT_EQ(v.type(), JR_REPLY_VERB);
  EXPECT_STREQ(jr_reply_verb_format(v.reply.get()), "txt");
  EXPECT_EQ(v.str(), "This is a verbatim\nstring");
  EXPECT_EQ(jr_reply_len(v.reply.get()), v.str().size());
  EXPECT_EQ(jr_reply_verb_format(d.reply.get()), nullptr);
  EXPECT_EQ(jr_reply_double(v.reply.get()), 0.0);

  Result n = call(c, {"DEBUG", "PROTOCOL", "null"});
  EXPECT_EQ(n.status, JR_OK);
  EXPECT_EQ(n.type(), JR_REPLY_NIL);

  Result mp = call(c, {"DEBUG", "PROTOCOL", "map"});
  ASSERT_EQ(mp.type(), JR_REPLY_MAP);
  EXPECT_EQ(jr_reply_len(mp.reply.get()), 6u);  // 3 pairs {0: false, 1: true, 2: false}
  EXPECT_EQ(jr_reply_get_type(jr_reply_element(mp.reply.get(), 0)), JR_REPLY_INTEGER);
  EXPECT_EQ(jr_reply_get_type(jr_reply_element(mp.reply.get(), 1)), JR_REPLY_BOOL);

  Result st = call(c, {"DEBUG", "PROTOCOL", "set"});
  ASSERT_EQ(st.type(), JR_REPLY_SET);
  EXPECT_EQ(jr_reply_len(st.reply.get()), 3u);
}

// DEBUG PROTOCOL push sends a push frame, then the command's reply. With
// other commands pipelined around it, every command gets its own reply: the
// push never takes a place in the FIFO.
namespace {
void pushes_mixed_with_pipeline(OptionsPtr &o, bool poll) {
  EventLog log;
  jr_options_set_event_cb(o.o, EventLog::cb, &log);
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"SET", "r3:k", "v"}).ok());
  Recorder rec;
  constexpr size_t kN = 200;
  for (size_t i = 0; i < kN; i++) {
    if (i % 10 == 5) {
      ASSERT_EQ(submit(c, {"DEBUG", "PROTOCOL", "push"}, rec, i), JR_OK);
    } else {
      ASSERT_EQ(submit(c, {"ECHO", std::to_string(i)}, rec, i), JR_OK);
    }
  }
  if (poll) {
    for (int spins = 0; spins < 2000 && rec.done() < kN; spins++) {
      jr_dispatch(c, 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ASSERT_TRUE(rec.wait_all());
  for (size_t i = 0; i < kN; i++) {
    auto out = rec.get(i);
    ASSERT_EQ(out.status, JR_OK) << i;
    if (i % 10 == 5) {
      EXPECT_EQ(out.type, JR_REPLY_STRING) << i;
      EXPECT_EQ(out.text, "Some real reply following the push reply") << i;
    } else {
      EXPECT_EQ(out.text, std::to_string(i)) << i;
    }
  }
  EXPECT_EQ(rec.duplicates(), 0u);
  EXPECT_TRUE(log.has("RESP3 push ignored: server-cpu-usage"));
  EXPECT_EQ(call(c, {"GET", "r3:k"}).str(), "v");
}
}  // namespace

TEST_F(Resp3, PushesMixedWithPipelinedRepliesLoopDispatch) {
  auto o = opts();
  pushes_mixed_with_pipeline(o, false);
}

TEST_F(Resp3, PushesMixedWithPipelinedRepliesPollDispatch) {
  auto o = opts();
  o.set("dispatch", "poll");
  pushes_mixed_with_pipeline(o, true);
}

// Subscriptions keep their own connection, which stays RESP2: messages are
// arrays whatever the protocol, and the command connection's FIFO never
// sees them.
TEST_F(Resp3, SubscriptionsWorkBesideARESP3Connection) {
  auto o = opts();
  ClientPtr c(o);
  Inbox in;
  jr_sub *sub = nullptr;
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &in, &sub), JR_OK);
  const char *ch[] = {"r3:chan"};
  ASSERT_EQ(jr_sub_subscribe(sub, 0, 1, ch, nullptr), JR_OK);
  EXPECT_EQ(in.next().second, (std::vector<std::string>{"subscribe", "r3:chan", "1"}));
  EXPECT_EQ(call(c, {"PUBLISH", "r3:chan", "hi"}).integer(), 1);
  EXPECT_EQ(in.next_of("message"), (std::vector<std::string>{"message", "r3:chan", "hi"}));
  jr_sub_free(sub);
  EXPECT_EQ(call(c, {"ECHO", "after"}).str(), "after");
}

// A password goes inside HELLO (AUTH default pass): a wrong one fails the
// handshake with JR_EAUTH, the right one connects.
TEST_F(Resp3, HelloCarriesAuth) {
  RedisServer secured({"--requirepass", "s3cret"});
  OptionsPtr o;
  o.set("endpoint", secured.endpoint()).set("cluster", "no").set_int("protocol", 3);
  o.set("password", "wrong").set_int("connect_retry", 0);
  {
    ClientPtr c(o);
    Result r = call(c, {"PING"});
    EXPECT_EQ(r.status, JR_EAUTH);
  }
  o.set("password", "s3cret");
  ClientPtr c(o);
  EXPECT_EQ(call(c, {"PING"}).str(), "PONG");
}

// A server without HELLO (before Redis 6): JR_EAUTH, and the error names
// the protocol.
TEST_F(Resp3, ServerWithoutHelloIsAClearAuthError) {
  std::atomic<FakeServer *> self{nullptr};
  FakeServer srv([&](int fd, int) {
    FakeServer *s = self.load();
    while (s == nullptr) s = self.load();
    s->read_commands(fd, 1);
    FakeServer::send_all(fd, "-ERR unknown command 'HELLO'\r\n");
    s->hold(fd);
  });
  self = &srv;
  OptionsPtr o;
  o.set("endpoint", srv.endpoint()).set("cluster", "no").set_int("protocol", 3);
  o.set_int("connect_retry", 0).set_int("command_timeout_ms", 3000);
  ClientPtr c(o);
  Result r = call(c, {"PING"});
  EXPECT_EQ(r.status, JR_EAUTH);
  EXPECT_NE(r.str().find("unknown command 'HELLO'"), std::string::npos) << r.str();
  EXPECT_NE(r.str().find("protocol=3"), std::string::npos) << r.str();
}

// Attributes ('|'), which hiredis 1.2's reader does not parse, are removed
// by libjr ahead of it: DEBUG PROTOCOL attrib answers with an attribute
// ("key-popularity") and then the real reply, which is what the caller sees.
TEST_F(Resp3, AttributeIsSkippedAndTheValueDelivered) {
  auto o = opts();
  ClientPtr c(o);
  Result a = call(c, {"DEBUG", "PROTOCOL", "attrib"});
  ASSERT_EQ(a.status, JR_OK) << a.str();
  EXPECT_EQ(a.type(), JR_REPLY_STRING);
  EXPECT_EQ(a.str(), "Some real reply following the attribute");
  EXPECT_EQ(call(c, {"ECHO", "after"}).str(), "after");
}

// A scripted server puts attributes where the spec allows them: before
// the HELLO reply, a reply, a push, an element; one split across writes.
// A bad one fails that connection with JR_EPROTO; the next one works.
TEST_F(Resp3, AttributesAnywhereFromAFakeServer) {
  std::atomic<FakeServer *> self{nullptr};
  FakeServer srv([&](int fd, int index) {
    FakeServer *s = self.load();
    while (s == nullptr) s = self.load();
    s->read_commands(fd, 1);  // HELLO 3
    FakeServer::send_all(fd, "|1\r\n+a\r\n+b\r\n%2\r\n+server\r\n+fake\r\n+proto\r\n:3\r\n");
    if (index > 0) {
      s->read_commands(fd, 1);
      FakeServer::send_all(fd, "|1\r\n+a\r\n+b\r\n+after\r\n");
      s->hold(fd);
      return;
    }
    s->read_commands(fd, 1);
    FakeServer::send_all(fd, "|1\r\n+ttl\r\n:3600\r\n$3\r\none\r\n");
    s->read_commands(fd, 1);
    FakeServer::send_all(fd,
                         "|1\r\n+k\r\n+v\r\n>2\r\n+pushed\r\n|1\r\n+k\r\n+v\r\n+x\r\n"
                         "*2\r\n|1\r\n+a\r\n%1\r\n+b\r\n$2\r\n|1\r\n:1\r\n:2\r\n");
    s->read_commands(fd, 1);
    FakeServer::send_all(fd, "|1\r\n$3\r\nk");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    FakeServer::send_all(fd, "ey\r\n+v\r\n+three\r\n");
    s->read_commands(fd, 1);
    FakeServer::send_all(fd, "|-1\r\n");
    s->hold(fd);
  });
  self = &srv;
  OptionsPtr o;
  o.set("endpoint", srv.endpoint()).set("cluster", "no").set_int("protocol", 3);
  o.set_int("command_timeout_ms", 5000);
  EventLog log;
  jr_options_set_event_cb(o.o, EventLog::cb, &log);
  ClientPtr c(o);
  EXPECT_EQ(call(c, {"GET", "a"}).str(), "one");
  Result two = call(c, {"GET", "b"});
  ASSERT_EQ(two.status, JR_OK);
  ASSERT_EQ(two.type(), JR_REPLY_ARRAY);
  ASSERT_EQ(jr_reply_len(two.reply.get()), 2u);
  EXPECT_EQ(jr_reply_integer(jr_reply_element(two.reply.get(), 0)), 1);
  EXPECT_EQ(jr_reply_integer(jr_reply_element(two.reply.get(), 1)), 2);
  EXPECT_EQ(call(c, {"GET", "c"}).str(), "three");
  Result bad = call(c, {"GET", "d"});
  EXPECT_EQ(bad.status, JR_EPROTO);
  // The event is emitted on the loop thread after the failed command's
  // completion (seen late once under ASan).
  EXPECT_TRUE(eventually([&] { return log.has("bad attribute length"); }, 2000))
      << "the connection's failure says why";
  EXPECT_EQ(call(c, {"GET", "e"}).str(), "after");
  EXPECT_EQ(srv.accepted(), 2);
}

// SPDX-License-Identifier: MIT
// libjr against a real 6-node Redis Cluster (3 masters, 3 replicas).
#include <gtest/gtest.h>
#include <jr/jr.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "cache_race.hpp"
#include "callback_rule.hpp"
#include "jr_test.hpp"
#include "redis_cluster.hpp"
#include "redis_server.hpp"

using namespace jrtest;

namespace {

class Cluster : public ::testing::Test {
 public:  // the helpers: also for the cache tests' bodies (shared by both protocols)
  static void SetUpTestSuite() { cluster_ = new RedisCluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { cluster_->reset(true); }
  static OptionsPtr opts() {
    OptionsPtr o;
    // One seed is enough: the client discovers the rest.
    o.set("endpoint", cluster_->endpoints().front());
    return o;
  }
  static std::string on_master(const std::string &key) {
    return cluster_->cmd(cluster_->master_of_key(key), {"GET", key}).str;
  }
  // Calls of a command on a node (INFO commandstats): MOVED/ASK are not in
  // errorstats, so routing is checked by where the commands ran.
  static int64_t calls(int port, const std::string &cmd) {
    std::string info = cluster_->cmd(port, {"INFO", "commandstats"}).str;
    std::string tag = "cmdstat_" + cmd + ":calls=";
    size_t p = info.find(tag);
    if (p == std::string::npos) return 0;
    return std::atoll(info.c_str() + p + tag.size());
  }
  // PUBSUB SHARDNUMSUB <channel> on one node: its own subscribers.
  static int64_t shard_subscribers(int port, const std::string &channel) {
    RespReply r = cluster_->cmd(port, {"PUBSUB", "SHARDNUMSUB", channel});
    return r.elements.size() == 2 ? r.elements[1].integer : -1;
  }
  // A name (key or channel) whose slot is served by the master on `port`.
  static std::string channel_on(int port, const std::string &prefix) {
    for (int i = 0;; i++) {
      std::string ch = prefix + std::to_string(i);
      if (cluster_->master_of_key(ch) == port) return ch;
    }
  }
  static RedisCluster *cluster_;
};
RedisCluster *Cluster::cluster_ = nullptr;

// The redirects counted for `endpoint` ("127.0.0.1:port"); -1 if libjr has
// no figures for it.
int64_t redirects_from(jr_client *c, const std::string &endpoint) {
  for (size_t i = 0;; i++) {
    jr_endpoint_stats e{};
    e.size = sizeof e;
    if (jr_client_endpoint_stats(c, i, &e) != JR_OK) return -1;
    if (endpoint == e.endpoint) return static_cast<int64_t>(e.redirects);
  }
}

std::string endpoint_of(int port) {
  return "127.0.0.1:" + std::to_string(port);
}

std::vector<std::string> strings_of(const jr_reply *r) {
  std::vector<std::string> out;
  for (size_t i = 0; i < jr_reply_len(r); i++) {
    size_t len = 0;
    const char *s = jr_reply_str(jr_reply_element(r, i), &len);
    out.push_back(s != nullptr ? std::string(s, len) : std::string("(nil)"));
  }
  return out;
}

}  // namespace

TEST_F(Cluster, RoutesEveryKeyShapeToItsMaster) {
  auto o = opts();
  ClientPtr c(o);
  const std::vector<std::string> keys = {"",
                                         "a",
                                         "foo",
                                         "{}",
                                         "{}x",
                                         "}{a}",
                                         "{a}b",
                                         "x{a}y",
                                         "{user1000}.following",
                                         "{user1000}.followers",
                                         "a{b}{c}",
                                         "{{a}}",
                                         "k\r\n\0z"};
  for (size_t i = 0; i < keys.size(); i++) {
    Result r = call(c, {"SET", keys[i], "v" + std::to_string(i)});
    ASSERT_TRUE(r.ok()) << "key '" << keys[i] << "': " << r.status << " " << r.str();
  }
  for (size_t i = 0; i < keys.size(); i++) {
    EXPECT_EQ(call(c, {"GET", keys[i]}).str(), "v" + std::to_string(i)) << keys[i];
    EXPECT_EQ(on_master(keys[i]), "v" + std::to_string(i)) << keys[i];
  }
  // Routed by slot from the start: each GET ran once, on its key's master.
  int64_t gets = 0;
  for (int p : cluster_->master_ports()) gets += calls(p, "get");
  EXPECT_EQ(gets, static_cast<int64_t>(2 * keys.size()));
}

TEST_F(Cluster, MovedAfterAReshardUpdatesTheMap) {
  auto o = opts();
  ClientPtr c(o);
  std::string key = key_in_slot(100, "mv");
  ASSERT_TRUE(call(c, {"SET", key, "before"}).ok());
  int from = cluster_->master_of_slot(100);
  int to = 0;
  for (int p : cluster_->master_ports())
    if (p != from) to = p;
  cluster_->migrate_slot(100, to);
  EXPECT_EQ(stats_of(c).redirects, 0u);
  // The client still thinks `from`: it gets MOVED, follows it, refreshes.
  EXPECT_EQ(call(c, {"GET", key}).str(), "before");
  // One MOVED, one redirect: counted for the client and for `from`.
  EXPECT_EQ(stats_of(c).redirects, 1u);
  EXPECT_EQ(redirects_from(c, endpoint_of(from)), 1);
  EXPECT_EQ(redirects_from(c, endpoint_of(to)), 0);
  ASSERT_TRUE(call(c, {"SET", key, "after"}).ok());
  int64_t at_source = calls(from, "get");
  for (int i = 0; i < 20; i++) EXPECT_EQ(call(c, {"GET", key}).str(), "after");
  EXPECT_EQ(calls(from, "get"), at_source) << "the map was not updated";
  EXPECT_EQ(cluster_->cmd(to, {"GET", key}).str, "after");
  // The map was right from then on: no more redirects.
  EXPECT_EQ(stats_of(c).redirects, 1u);
}

TEST_F(Cluster, AskDuringAMigrationLeavesTheMapAlone) {
  auto o = opts();
  ClientPtr c(o);
  auto keys = keys_in_slot(200, 2, "ask");
  ASSERT_TRUE(call(c, {"SET", keys[0], "moved-key"}).ok());
  ASSERT_TRUE(call(c, {"SET", keys[1], "stays"}).ok());
  int from = cluster_->master_of_slot(200);
  int to = 0;
  for (int p : cluster_->master_ports())
    if (p != from) to = p;
  SlotMigration m = cluster_->migrate_begin(200, to);
  cluster_->migrate_key(m, keys[0]);
  int64_t asking_before = calls(to, "asking");
  // keys[0] lives on `to` now: ASK, then ASKING + GET there.
  EXPECT_EQ(call(c, {"GET", keys[0]}).str(), "moved-key");
  EXPECT_EQ(calls(to, "asking"), asking_before + 1);
  int64_t at_source = calls(from, "get");
  // keys[1] is still on `from`, and the client still sends there.
  EXPECT_EQ(call(c, {"GET", keys[1]}).str(), "stays");
  EXPECT_EQ(call(c, {"GET", keys[0]}).str(), "moved-key");
  // The map was not changed by ASK: the second GET of keys[0] went to the
  // source again and was sent on with ASKING again; keys[1] ran there.
  EXPECT_EQ(calls(to, "asking"), asking_before + 2);
  EXPECT_EQ(calls(from, "get"), at_source + 1);
  // Each ASK is a redirect, sent by the source.
  EXPECT_EQ(stats_of(c).redirects, 2u);
  EXPECT_EQ(redirects_from(c, endpoint_of(from)), 2);
  cluster_->migrate_finish(m);
  EXPECT_EQ(call(c, {"GET", keys[1]}).str(), "stays");
}

TEST_F(Cluster, CrossSlotMultiKeyCommandsAreSplitAndReassembled) {
  auto o = opts();
  ClientPtr c(o);
  std::vector<std::string> keys;
  for (int i = 0; i < 30; i++) keys.push_back("split:" + std::to_string(i));
  std::vector<std::string> mset = {"MSET"};
  for (auto &k : keys) {
    mset.push_back(k);
    mset.push_back("val-" + k);
  }
  Result r = call(c, mset);
  ASSERT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.str(), "OK");
  std::vector<std::string> mget = {"MGET"};
  for (auto &k : keys) mget.push_back(k);
  mget.push_back("split:missing");
  r = call(c, mget);
  ASSERT_EQ(r.status, JR_OK);
  ASSERT_EQ(r.type(), JR_REPLY_ARRAY);
  auto got = strings_of(r.reply.get());
  ASSERT_EQ(got.size(), keys.size() + 1);
  for (size_t i = 0; i < keys.size(); i++) EXPECT_EQ(got[i], "val-" + keys[i]);
  EXPECT_EQ(jr_reply_get_type(jr_reply_element(r.reply.get(), keys.size())), JR_REPLY_NIL);
  std::vector<std::string> exists = {"EXISTS"};
  for (auto &k : keys) exists.push_back(k);
  EXPECT_EQ(call(c, exists).integer(), 30);
  std::vector<std::string> del = {"DEL"};
  for (auto &k : keys) del.push_back(k);
  del.push_back("split:missing");
  EXPECT_EQ(call(c, del).integer(), 30);
  EXPECT_EQ(call(c, exists).integer(), 0);
  // Not splittable: refused before anything is sent.
  Result u = call(c, {"SUNIONSTORE", "split:a", "split:b", "split:c"});
  EXPECT_EQ(u.status, JR_ECROSSSLOT);
  EXPECT_EQ(jr_err_unsent(u.status), 1);
  // Same slot (hash tag): one command.
  EXPECT_TRUE(call(c, {"MSET", "{t}a", "1", "{t}b", "2"}).ok());
  EXPECT_EQ(call(c, {"SUNIONSTORE", "{t}c", "{t}d", "{t}e"}).integer(), 0);
}

TEST_F(Cluster, AllMastersFanOutAndEndpoints) {
  auto o = opts();
  ClientPtr c(o);
  struct Out {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int status = 0;
    ReplyPtr reply;
  };
  auto cb = [](void *ud, int st, const jr_reply *r) {
    auto *o = static_cast<Out *>(ud);
    std::lock_guard<std::mutex> lk(o->mu);
    o->status = st;
    o->reply.reset(jr_reply_dup(r));
    o->done = true;
    o->cv.notify_all();
  };
  auto wait = [](Out &o) {
    std::unique_lock<std::mutex> lk(o.mu);
    return o.cv.wait_for(lk, std::chrono::seconds(5), [&] { return o.done; });
  };
  // As the very first call of a client: it waits for the cluster detection.
  Out first;
  ASSERT_EQ(jr_client_endpoints(c, cb, &first), JR_OK);
  ASSERT_TRUE(wait(first));
  EXPECT_EQ(jr_reply_len(first.reply.get()), 6u);
  ASSERT_TRUE(call(c, {"SET", "fan:1", "x"}).ok());
  Out all;
  const char *argv[] = {"DBSIZE"};
  ASSERT_EQ(jr_client_submit_all_masters(c, 1, argv, nullptr, -1, cb, &all), JR_OK);
  ASSERT_TRUE(wait(all));
  ASSERT_EQ(all.status, JR_OK);
  ASSERT_EQ(jr_reply_len(all.reply.get()), 3u);
  int64_t total = 0;
  std::set<std::string> addrs;
  for (size_t i = 0; i < 3; i++) {
    const jr_reply *pair = jr_reply_element(all.reply.get(), i);
    addrs.insert(jr_reply_str(jr_reply_element(pair, 0), nullptr));
    total += jr_reply_integer(jr_reply_element(pair, 1));
  }
  EXPECT_EQ(addrs.size(), 3u);
  EXPECT_EQ(total, 1);
  Out eps;
  ASSERT_EQ(jr_client_endpoints(c, cb, &eps), JR_OK);
  ASSERT_TRUE(wait(eps));
  ASSERT_EQ(jr_reply_len(eps.reply.get()), 6u);
  int masters = 0;
  for (size_t i = 0; i < 6; i++) {
    auto row = strings_of(jr_reply_element(eps.reply.get(), i));
    if (row[1] == "master") masters++;
  }
  EXPECT_EQ(masters, 3);
  // One chosen node.
  Out one;
  const char *role[] = {"ROLE"};
  std::string target = "127.0.0.1:" + std::to_string(cluster_->replica_ports().front());
  ASSERT_EQ(jr_client_submit_to(c, target.c_str(), 1, role, nullptr, -1, cb, &one), JR_OK);
  ASSERT_TRUE(wait(one));
  EXPECT_EQ(strings_of(one.reply.get()).at(0), "slave");
}

TEST_F(Cluster, TransactionsScriptsBlockingAndPubSubFollowTheirKeys) {
  auto o = opts();
  ClientPtr c(o);
  Recorder rec;
  jr_multi *m = nullptr;
  ASSERT_EQ(jr_multi_new(c, -1, &m), JR_OK);
  const char *a1[] = {"SET", "{tx}a", "1"};
  const char *a2[] = {"INCR", "{tx}a"};
  ASSERT_EQ(jr_multi_add(m, 3, a1, nullptr, Recorder::cb, rec.expect(0)), JR_OK);
  ASSERT_EQ(jr_multi_add(m, 2, a2, nullptr, Recorder::cb, rec.expect(1)), JR_OK);
  ASSERT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(1).integer, 2);
  // Cross-slot transaction: refused before anything is sent.
  ASSERT_EQ(jr_multi_new(c, -1, &m), JR_OK);
  const char *b1[] = {"SET", "txa", "1"};
  const char *b2[] = {"SET", "txb", "1"};
  ASSERT_EQ(jr_multi_add(m, 3, b1, nullptr, Recorder::cb, rec.expect(2)), JR_OK);
  ASSERT_EQ(jr_multi_add(m, 3, b2, nullptr, Recorder::cb, rec.expect(3)), JR_OK);
  ASSERT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(2).status, JR_ECROSSSLOT);
  // EVAL routed by its keys, twice (EVAL then EVALSHA on that node).
  for (int i = 0; i < 2; i++) {
    Result r = call(c, {"EVAL", "return redis.call('INCR', KEYS[1])", "1", "script:key"});
    EXPECT_EQ(r.status, JR_OK);
    EXPECT_EQ(r.integer(), i + 1);
  }
  // The EVALSHA cache is per node: on every master, EVAL the first time
  // the script is seen there, EVALSHA afterwards.
  for (int port : cluster_->master_ports()) {
    std::string key;
    for (int i = 0; key.empty(); i++)
      if (cluster_->master_of_key("sc:" + std::to_string(i)) == port)
        key = "sc:" + std::to_string(i);
    int64_t eval0 = calls(port, "eval"), sha0 = calls(port, "evalsha");
    for (int i = 0; i < 3; i++)
      EXPECT_EQ(call(c, {"EVAL", "return redis.call('EXISTS', KEYS[1])", "1", key}).status, JR_OK);
    EXPECT_EQ(calls(port, "eval") - eval0, 1) << port;
    EXPECT_EQ(calls(port, "evalsha") - sha0, 2) << port;
  }
  // BLPOP on the node of its key, woken by an RPUSH from the client.
  ASSERT_EQ(submit(c, {"BLPOP", "bq:1", "5"}, rec, 4), JR_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(call(c, {"RPUSH", "bq:1", "item"}).ok());
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(4).type, JR_REPLY_ARRAY);
  // WATCH on its key's node.
  jr_watch *w = nullptr;
  const char *wk[] = {"{w}counter"};
  ASSERT_EQ(jr_watch_new(c, -1, 1, wk, nullptr, &w), JR_OK);
  ASSERT_EQ(jr_watch_multi(w, &m), JR_OK);
  const char *inc[] = {"INCR", "{w}counter"};
  ASSERT_EQ(jr_multi_add(m, 2, inc, nullptr, Recorder::cb, rec.expect(5)), JR_OK);
  ASSERT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(5).integer, 1);
  jr_watch_free(w);
}

// ---- Sharded pub/sub ----------------------------------------------------------------

namespace {
int64_t ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}
}  // namespace

TEST_F(Cluster, ShardedChannelsAreSubscribedOnTheirSlotsMaster) {
  auto o = opts();
  Inbox in;  // declared first: outlives the client's final callbacks
  ClientPtr c(o);
  std::vector<int> masters = cluster_->master_ports();
  ASSERT_EQ(masters.size(), 3u);
  std::vector<std::string> chans;
  for (int p : masters) chans.push_back(channel_on(p, "shc:"));
  jr_sub *sub = nullptr;
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &in, &sub), JR_OK);
  // One call with channels of three slots on three nodes.
  std::vector<const char *> names;
  for (auto &ch : chans) names.push_back(ch.c_str());
  ASSERT_EQ(jr_sub_subscribe(sub, JR_SUB_SHARDED, names.size(), names.data(), nullptr), JR_OK);
  std::set<std::string> confirmed;
  for (size_t i = 0; i < chans.size(); i++) {
    auto m = in.next_of("ssubscribe");
    ASSERT_EQ(m.size(), 3u);
    confirmed.insert(m[1]);
    EXPECT_EQ(m[2], "1") << m[1];  // the server's count: one channel per node's connection
  }
  EXPECT_EQ(confirmed, std::set<std::string>(chans.begin(), chans.end()));
  // Each channel is subscribed on its own master and nowhere else.
  std::vector<int> all_ports = masters;
  for (int p : cluster_->replica_ports()) all_ports.push_back(p);
  for (size_t i = 0; i < chans.size(); i++)
    for (int p : all_ports)
      EXPECT_EQ(shard_subscribers(p, chans[i]), p == masters[i] ? 1 : 0) << chans[i] << " on " << p;
  // SPUBLISH goes to the channel's slot; every message arrives.
  for (auto &ch : chans) {
    EXPECT_EQ(call(c, {"SPUBLISH", ch, "to " + ch}).integer(), 1) << ch;
    EXPECT_EQ(in.next_of("smessage"), (std::vector<std::string>{"smessage", ch, "to " + ch}));
  }
  // A channel of another slot on a node that has one already: no new link,
  // and its own SSUBSCRIBE (not CROSSSLOT).
  std::string more = chans[0] + "x";
  while (cluster_->master_of_key(more) != masters[0] || key_slot(more) == key_slot(chans[0]))
    more += "x";
  const char *m1[] = {more.c_str()};
  ASSERT_EQ(jr_sub_subscribe(sub, JR_SUB_SHARDED, 1, m1, nullptr), JR_OK);
  // The server's count for that node's connection: chans[0] and this one.
  EXPECT_EQ(in.next_of("ssubscribe"), (std::vector<std::string>{"ssubscribe", more, "2"}));
  EXPECT_EQ(shard_subscribers(masters[0], more), 1);
  const char *u[] = {chans[1].c_str()};
  ASSERT_EQ(jr_sub_unsubscribe(sub, JR_SUB_SHARDED, 1, u, nullptr), JR_OK);
  EXPECT_EQ(in.next_of("sunsubscribe"), (std::vector<std::string>{"sunsubscribe", chans[1], "0"}));
  EXPECT_TRUE(eventually([&] { return shard_subscribers(masters[1], chans[1]) == 0; }));
  jr_sub_free(sub);
  EXPECT_TRUE(in.wait_closed());
  EXPECT_TRUE(eventually([&] { return shard_subscribers(masters[0], chans[0]) == 0; }));
}

TEST_F(Cluster, ShardedChannelFollowsItsSlotToAnotherMaster) {
  auto o = opts();
  Inbox in;  // declared first: outlives the client's final callbacks
  ClientPtr c(o);
  std::string ch = key_in_slot(300, "shm");
  int from = cluster_->master_of_slot(300);
  int to = 0;
  for (int p : cluster_->master_ports())
    if (p != from) to = p;
  // A second channel on the same node, in a slot that stays there.
  std::string stays = channel_on(from, "shs:");
  jr_sub *sub = nullptr;
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &in, &sub), JR_OK);
  const char *names[] = {ch.c_str(), stays.c_str()};
  ASSERT_EQ(jr_sub_subscribe(sub, JR_SUB_SHARDED, 2, names, nullptr), JR_OK);
  ASSERT_FALSE(in.next_of("ssubscribe").empty());
  ASSERT_FALSE(in.next_of("ssubscribe").empty());
  ASSERT_EQ(shard_subscribers(from, ch), 1);
  auto t0 = std::chrono::steady_clock::now();
  cluster_->migrate_slot(300, to);
  // The source node drops the channel ("sunsubscribe"): the subscriber
  // hears of it, libjr subscribes on the new owner (whose confirmation,
  // with that connection's count, comes first).
  EXPECT_EQ(in.next(3000).first, JR_SUB_LOST);
  EXPECT_EQ(in.next(5000).second, (std::vector<std::string>{"ssubscribe", ch, "1"}));
  auto back = in.next(5000);
  EXPECT_EQ(back.first, JR_SUB_RESUBSCRIBED);
  int64_t resub_ms = ms_since(t0);
  EXPECT_EQ(shard_subscribers(to, ch), 1);
  EXPECT_EQ(shard_subscribers(from, ch), 0);
  EXPECT_EQ(shard_subscribers(from, stays), 1);
  EXPECT_EQ(call(c, {"SPUBLISH", ch, "moved"}).integer(), 1);
  EXPECT_EQ(in.next_of("smessage"), (std::vector<std::string>{"smessage", ch, "moved"}));
  EXPECT_EQ(call(c, {"SPUBLISH", stays, "still here"}).integer(), 1);
  EXPECT_EQ(in.next_of("smessage"), (std::vector<std::string>{"smessage", stays, "still here"}));
  std::printf(
      "[ measure  ] sharded channel resubscribed on the new master %lld ms after "
      "the slot migration began\n",
      static_cast<long long>(resub_ms));
  jr_sub_free(sub);
  EXPECT_TRUE(in.wait_closed());
}

TEST_F(Cluster, ShardedChannelIsResubscribedAfterAFailover) {
  OptionsPtr o;
  o.set("endpoint", cluster_->endpoints().front())
      .set_int("connect_timeout_ms", 300)
      .set_int("connect_retry", 1);
  Inbox in;  // declared first: outlives the client's final callbacks
  ClientPtr c(o);
  std::vector<int> masters = cluster_->master_ports();
  int victim = masters[0];
  std::string ch = channel_on(victim, "shf:");
  std::string other = channel_on(masters[1], "shf:");
  jr_sub *sub = nullptr;
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &in, &sub), JR_OK);
  const char *names[] = {ch.c_str(), other.c_str()};
  ASSERT_EQ(jr_sub_subscribe(sub, JR_SUB_SHARDED, 2, names, nullptr), JR_OK);
  ASSERT_FALSE(in.next_of("ssubscribe").empty());
  ASSERT_FALSE(in.next_of("ssubscribe").empty());
  auto t0 = std::chrono::steady_clock::now();
  cluster_->node_at_port(victim).kill9();
  EXPECT_EQ(in.next(3000).first, JR_SUB_LOST);
  // Meanwhile the other shard's channel still works.
  EXPECT_EQ(call(c, {"SPUBLISH", other, "during"}).integer(), 1);
  EXPECT_EQ(in.next_of("smessage"), (std::vector<std::string>{"smessage", other, "during"}));
  int promoted = cluster_->wait_failover(victim);
  EXPECT_TRUE(in.next_of_status(JR_SUB_RESUBSCRIBED, 10000));
  int64_t resub_ms = ms_since(t0);
  EXPECT_EQ(shard_subscribers(promoted, ch), 1);
  EXPECT_TRUE(eventually([&] { return call(c, {"SPUBLISH", ch, "after"}).integer() == 1; }));
  EXPECT_EQ(in.next_of("smessage"), (std::vector<std::string>{"smessage", ch, "after"}));
  std::printf(
      "[ measure  ] sharded channel: master killed, replica promoted after %lld ms "
      "(fixture), resubscribed on it %lld ms after the kill\n",
      static_cast<long long>(cluster_->last_failover_ms()), static_cast<long long>(resub_ms));
  jr_sub_free(sub);
  EXPECT_TRUE(in.wait_closed());
}

TEST_F(Cluster, FailoverUnderLoadCompletesEveryCommandOnce) {
  OptionsPtr o;
  o.set("endpoint", cluster_->endpoints().front())
      .set_int("command_timeout_ms", 1500)
      .set_int("connect_timeout_ms", 300)
      .set_int("connect_retry", 1);
  ClientPtr c(o);
  // Keys on each master.
  std::vector<int> masters = cluster_->master_ports();
  ASSERT_EQ(masters.size(), 3u);
  int victim = masters[0];
  std::vector<std::string> victim_keys, other_keys;
  for (int i = 0; victim_keys.size() < 20 || other_keys.size() < 40; i++) {
    std::string k = "fo:" + std::to_string(i);
    (cluster_->master_of_key(k) == victim ? victim_keys : other_keys).push_back(k);
  }
  ASSERT_TRUE(call(c, {"SET", victim_keys[0], "0"}).ok());
  // Counters on every shard, incremented asynchronously throughout.
  std::vector<std::string> async_keys;
  for (int m : masters) async_keys.push_back(channel_on(m, "fo:async:"));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> other_ok_during{0}, other_fail_during{0}, victim_fail{0};
  std::mutex fail_mu;
  std::map<std::string, int> other_fail_what;  // why commands to other shards failed
  std::atomic<bool> failing_over{false};
  Recorder rec;
  std::vector<size_t> token_key;  // token -> index into async_keys (async thread only)
  std::vector<std::thread> ts;
  ts.emplace_back([&] {
    for (size_t i = 0; !stop; i++) {
      while (!stop && rec.expected() - rec.done() >= 64)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      token_key.push_back(i % async_keys.size());
      if (submit(c, {"INCR", async_keys[i % async_keys.size()]}, rec, i) != JR_OK)
        token_key.back() = SIZE_MAX;
    }
  });
  for (int t = 0; t < 4; t++) {
    ts.emplace_back([&, t] {
      size_t i = 0;
      while (!stop) {
        // Threads 0-2 use the other shards, thread 3 the failing one.
        bool other = t != 3;
        const std::string &k =
            other ? other_keys[i % other_keys.size()] : victim_keys[i % victim_keys.size()];
        Result r = call(c, {"INCR", k});
        if (other && failing_over) (r.ok() ? other_ok_during : other_fail_during)++;
        if (other && failing_over && !r.ok()) {
          std::lock_guard<std::mutex> lk(fail_mu);
          other_fail_what[r.status != JR_OK ? jr_err_name(r.status) : r.str().substr(0, 40)]++;
        }
        if (!other && !r.ok()) victim_fail++;
        i++;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  failing_over = true;
  auto t0 = std::chrono::steady_clock::now();
  cluster_->node_at_port(victim).kill9();
  int promoted = cluster_->wait_failover(victim);
  failing_over = false;
  // Commands to the failed shard succeed again once the replica is promoted.
  auto ok_again = std::chrono::steady_clock::now();
  bool recovered = eventually([&] { return call(c, {"INCR", victim_keys[0]}).ok(); }, 10000);
  auto recovered_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  stop = true;
  for (auto &th : ts) th.join();
  EXPECT_TRUE(recovered);
  EXPECT_NE(promoted, victim);
  EXPECT_GT(other_ok_during.load(), 50) << "other shards stalled during the failover";
  std::printf(
      "[ measure  ] failover: promoted after %lld ms (fixture), client recovered "
      "after %lld ms; other shards during failover: %lld ok, %lld failed; "
      "failed-shard commands failed: %lld\n",
      static_cast<long long>(cluster_->last_failover_ms()), static_cast<long long>(recovered_ms),
      static_cast<long long>(other_ok_during.load()),
      static_cast<long long>(other_fail_during.load()), static_cast<long long>(victim_fail.load()));
  // The other shards fail only when the servers say so: while the failed
  // master's slots are uncovered (cluster-require-full-coverage, the
  // default) every node answers CLUSTERDOWN, which libjr retries within the
  // deadline and then hands over; libjr itself fails none of them.
  for (auto &kv : other_fail_what) {
    std::printf("[ measure  ] failover: other-shard failure %s x %d\n", kv.first.c_str(),
                kv.second);
    EXPECT_EQ(kv.first.rfind("CLUSTERDOWN", 0), 0u) << kv.first << " x " << kv.second;
  }
  (void)ok_again;
  // Exactly once under the same fault, asynchronously: every accepted
  // submit gets one completion, and a counter never moved more than the
  // replies that may have run (nor less than the OK ones).
  ASSERT_TRUE(rec.wait_all(15000)) << rec.done() << " of " << rec.expected();
  EXPECT_EQ(rec.duplicates(), 0u);
  std::vector<int64_t> ok(async_keys.size()), maybe(async_keys.size());
  for (size_t t = 0; t < token_key.size(); t++) {
    if (token_key[t] == SIZE_MAX) continue;
    Recorder::Outcome out = rec.get(t);
    EXPECT_EQ(out.count, 1) << "token " << t;
    if (out.status == JR_OK && out.type == JR_REPLY_INTEGER) {
      ok[token_key[t]]++;
    } else if (out.status == JR_OK || jr_err_unsent(out.status) == 0) {
      maybe[token_key[t]]++;
    }
  }
  std::string by_status;
  for (auto &kv : rec.by_status())
    by_status += std::string(" ") + jr_err_name(kv.first) + "=" + std::to_string(kv.second);
  for (size_t k = 0; k < async_keys.size(); k++) {
    int64_t v = std::atoll(on_master(async_keys[k]).c_str());
    EXPECT_GE(v, ok[k]) << async_keys[k];
    EXPECT_LE(v, ok[k] + maybe[k]) << async_keys[k];
  }
  std::printf("[ measure  ] failover, async INCRs: %zu submitted, completions:%s\n", rec.expected(),
              by_status.c_str());
}

TEST(OneNodeCluster, EmptyHostInClusterSlotsMeansTheNodeAsked) {
  // A node that never met a peer reports "" as its host in CLUSTER SLOTS.
  char tmpl[] = "/tmp/jr1node-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  // Its own bus port: the default (port + 10000) does not exist above 55535.
  RedisServer s({"--cluster-enabled", "yes", "--cluster-config-file", dir + "/nodes.conf",
                 "--cluster-port", std::to_string(jrtest::free_port())});
  s.cmd("CLUSTER ADDSLOTSRANGE 0 16383");
  ASSERT_TRUE(eventually(
      [&] { return s.cmd("CLUSTER INFO").find("cluster_state:ok") != std::string::npos; }, 10000));
  OptionsPtr o;
  o.set("endpoint", s.endpoint()).set_int("command_timeout_ms", 3000);
  ClientPtr c(o);
  for (int i = 0; i < 20; i++) {
    std::string k = "one:" + std::to_string(i);
    ASSERT_TRUE(call(c, {"SET", k, "v"}).ok()) << k;
  }
  std::vector<std::string> mget = {"MGET"};
  for (int i = 0; i < 20; i++) mget.push_back("one:" + std::to_string(i));
  EXPECT_EQ(jr_reply_len(call(c, mget).reply.get()), 20u);
  if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
  }
}

TEST(HostnameCluster, SlotsAndRedirectsGiveHostNames) {
  // cluster-preferred-endpoint-type hostname (how Valkey and Redis clusters
  // behind DNS run): CLUSTER SLOTS and -MOVED name "localhost:port", not the
  // IP. A cluster of its own (a couple of seconds), seeded by IP.
  RedisCluster::Options co;
  co.extra_args = {"--cluster-announce-hostname", "localhost", "--cluster-preferred-endpoint-type",
                   "hostname"};
  RedisCluster cl(co);
  int first = cl.node(0).port();
  RespReply slots = cl.cmd(first, "CLUSTER SLOTS");
  ASSERT_FALSE(slots.elements.empty()) << slots.text();
  ASSERT_EQ(slots.elements[0].elements.at(2).elements.at(0).str, "localhost") << slots.text();
  OptionsPtr o;
  o.set("endpoint", cl.endpoints().front());
  ClientPtr c(o);
  for (int i = 0; i < 60; i++) {
    std::string k = "hn:" + std::to_string(i);
    ASSERT_TRUE(call(c, {"SET", k, k}).ok()) << k;
  }
  for (int i = 0; i < 60; i++) {
    std::string k = "hn:" + std::to_string(i);
    EXPECT_EQ(cl.cmd(cl.master_of_key(k), {"GET", k}).str, k);
  }
  // A slot moves: the client follows "-MOVED slot localhost:port".
  std::string key = key_in_slot(100, "hn");
  ASSERT_TRUE(call(c, {"SET", key, "before"}).ok());
  int from = cl.master_of_slot(100), to = 0;
  for (int p : cl.master_ports())
    if (p != from) to = p;
  cl.migrate_slot(100, to);
  std::string moved = cl.cmd(from, {"GET", key}).text();
  EXPECT_EQ(moved, "-MOVED 100 localhost:" + std::to_string(to));
  EXPECT_EQ(call(c, {"GET", key}).str(), "before");
  ASSERT_TRUE(call(c, {"SET", key, "after"}).ok());
  EXPECT_EQ(cl.cmd(to, {"GET", key}).str, "after");
}

TEST_F(Cluster, ReadFromReplicasSpreadsReadsAndKeepsWritesOnMasters) {
  std::string key = "rr:key";
  int master = cluster_->master_of_key(key);
  ASSERT_EQ(cluster_->cmd(master, {"SET", key, "v"}).str, "OK");
  // CLUSTER SLOTS lists a replica only once the node asked has seen a
  // non-zero replication offset for it (Redis 7): wait for that first.
  int seed = std::atoi(cluster_->endpoints().front().substr(10).c_str());
  ASSERT_TRUE(eventually(
      [&] {
        RespReply r = cluster_->cmd(seed, {"CLUSTER", "SLOTS"});
        for (auto &range : r.elements)
          if (range.elements.size() < 4) return false;
        return !r.elements.empty();
      },
      10000));
  OptionsPtr o;
  o.set("endpoint", cluster_->endpoints().front()).set_int("read_from_replicas", 1);
  ClientPtr c(o);
  auto reps = cluster_->replicas_of(master);
  ASSERT_FALSE(reps.empty());
  // Let the replica catch up with the SET, then read many times.
  ASSERT_TRUE(eventually([&] {
    RespConn rc(reps.front());
    rc.cmd({"READONLY"});
    return rc.cmd({"GET", key}).str == "v";
  }));
  int64_t on_replica = calls(reps.front(), "get");
  int64_t sets_on_master = calls(master, "set");
  for (int i = 0; i < 40; i++) EXPECT_EQ(call(c, {"GET", key}).str(), "v");
  EXPECT_GT(calls(reps.front(), "get") - on_replica, 5) << "no read went to the replica";
  ASSERT_TRUE(call(c, {"SET", key, "w"}).ok());
  EXPECT_EQ(calls(master, "set"), sets_on_master + 1);  // writes stay on the master
}

TEST_F(Cluster, DatabaseOtherThanZeroIsRefusedWithoutSendingSelect) {
  auto o = opts();
  ClientPtr c(o);
  auto selects = [&] {
    int64_t n = 0;
    for (int p : cluster_->master_ports()) n += calls(p, "select");
    for (int p : cluster_->replica_ports()) n += calls(p, "select");
    return n;
  };
  int64_t selects_before = selects();
  // Made before the client knows it talks to a cluster: accepted; its
  // first command (which makes the detection) fails unsent.
  jr_db *early = nullptr;
  ASSERT_EQ(jr_db_new(c, 3, &early), JR_OK);
  Recorder rec;
  ASSERT_EQ(submit(early, {"SET", "db3:k", "v"}, rec, 0), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(0).status, JR_ECLUSTER) << rec.get(0).text;
  EXPECT_EQ(jr_err_unsent(JR_ECLUSTER), 1);
  // Known now: refused at once, without a callback.
  EXPECT_EQ(submit(early, {"GET", "db3:k"}, rec, 1), JR_ECLUSTER);
  jr_db *late = nullptr;
  EXPECT_EQ(jr_db_new(c, 1, &late), JR_ECLUSTER);
  EXPECT_EQ(late, nullptr);
  jr_multi *m = nullptr;
  EXPECT_EQ(jr_multi_new(c, 2, &m), JR_ECLUSTER);
  const char *keys[] = {"db3:k"};
  jr_watch *w = nullptr;
  EXPECT_EQ(jr_watch_new(c, 2, 1, keys, nullptr, &w), JR_ECLUSTER);
  // Database 0 works as always.
  jr_db *zero = nullptr;
  ASSERT_EQ(jr_db_new(c, 0, &zero), JR_OK);
  EXPECT_TRUE(call(zero, {"SET", "db3:k", "zero"}).ok());
  EXPECT_EQ(call(c, {"GET", "db3:k"}).str(), "zero");
  EXPECT_EQ(selects(), selects_before) << "a SELECT reached a node";
  EXPECT_EQ(rec.done(), 1u);
  jr_db_free(zero);
  jr_db_free(early);
}

namespace {
struct AllOut {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int status = 1;
  ReplyPtr reply;
  static void cb(void *ud, int st, const jr_reply *r) {
    auto *o = static_cast<AllOut *>(ud);
    std::lock_guard<std::mutex> lk(o->mu);
    o->status = st;
    o->reply.reset(jr_reply_dup(r));
    o->done = true;
    o->cv.notify_all();
  }
  bool wait(int ms = 10000) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, std::chrono::milliseconds(ms), [&] { return done; });
  }
  // address -> the reply's text (an integer in decimal, an error as "-...").
  std::map<std::string, std::string> rows() {
    std::map<std::string, std::string> m;
    for (size_t i = 0; i < jr_reply_len(reply.get()); i++) {
      const jr_reply *pair = jr_reply_element(reply.get(), i);
      const jr_reply *v = jr_reply_element(pair, 1);
      size_t len = 0;
      const char *s = jr_reply_str(v, &len);
      std::string text = s != nullptr ? std::string(s, len) : std::to_string(jr_reply_integer(v));
      if (jr_reply_get_type(v) == JR_REPLY_ERROR) text = "-" + text;
      m[jr_reply_str(jr_reply_element(pair, 0), nullptr)] = text;
    }
    return m;
  }
};

std::unique_ptr<AllOut> all_masters(jr_client *c, const std::vector<std::string> &args) {
  std::vector<size_t> lens;
  auto argv = argv_of(args, lens);
  auto o = std::make_unique<AllOut>();
  EXPECT_EQ(jr_client_submit_all_masters(c, argv.size(), argv.data(), lens.data(), -1, AllOut::cb,
                                         o.get()),
            JR_OK);
  EXPECT_TRUE(o->wait());
  return o;
}
}  // namespace

TEST_F(Cluster, AllMastersReachesTheCurrentMastersAfterAFailoverItHasNotSeen) {
  auto o = opts();
  ClientPtr c(o);
  std::vector<int> masters = cluster_->master_ports();
  ASSERT_EQ(masters.size(), 3u);
  std::string key = channel_on(masters[1], "amf:");
  ASSERT_TRUE(call(c, {"SET", key, "v"}).ok());
  // The client knows the initial layout and is connected to every master.
  auto before = all_masters(c, {"DBSIZE"});
  ASSERT_EQ(before->status, JR_OK);
  ASSERT_EQ(before->rows().size(), 3u);
  // A keyed command follows MOVED: every master's entry is the key's value.
  auto keyed = all_masters(c, {"GET", key});
  ASSERT_EQ(keyed->status, JR_OK);
  for (auto &[addr, v] : keyed->rows()) EXPECT_EQ(v, "v") << addr;
  // A replica takes over masters[0]'s slots; the client is not told (no
  // MOVED, no connection lost, the periodic refresh is 15 s away).
  int replica = cluster_->replicas_of(masters[0]).at(0);
  auto promoted = [&] {
    auto now = cluster_->master_ports();
    return std::find(now.begin(), now.end(), replica) != now.end() &&
           std::find(now.begin(), now.end(), masters[0]) == now.end();
  };
  ASSERT_EQ(cluster_->cmd(replica, {"CLUSTER", "FAILOVER"}).text(), "OK");
  // A manual failover gives up if the master does not answer in time (seen
  // once on this machine right after another test's failover): FORCE then.
  if (!eventually(promoted, 5000)) {
    ASSERT_EQ(cluster_->cmd(replica, {"CLUSTER", "FAILOVER", "FORCE"}).text(), "OK");
  }
  ASSERT_TRUE(eventually(promoted, 15000)) << cluster_->dump();
  // One node's view has the new master; wait until every node's does (on a
  // loaded machine the client's refresh met a node still mid-failover and
  // fanned out to 2 masters).
  cluster_->wait_healthy();
  std::set<std::string> current;
  for (int p : cluster_->master_ports()) current.insert("127.0.0.1:" + std::to_string(p));
  for (const auto &args : std::vector<std::vector<std::string>>{
           {"DBSIZE"}, {"GET", key}, {"CONFIG", "SET", "maxmemory-policy", "noeviction"}}) {
    auto after = all_masters(c, args);
    ASSERT_EQ(after->status, JR_OK);
    std::set<std::string> got;
    for (auto &[addr, v] : after->rows()) {
      got.insert(addr);
      EXPECT_NE(v.rfind('-', 0), 0u) << args[0] << " on " << addr << ": " << v;
    }
    EXPECT_EQ(got, current) << args[0];
  }
  auto keyed_after = all_masters(c, {"GET", key});
  for (auto &[addr, v] : keyed_after->rows()) EXPECT_EQ(v, "v") << addr;
}

// all-masters while a failover is under way: a master killed (-9), the
// call made before its replica is promoted. The entries cover every slot,
// or one of them is an error that says what is missing (the dead master's,
// or the slots no master was reached for); never a JR_OK that quietly
// reached 2 of 3 masters. After the failover: the 3 current masters.
TEST_F(Cluster, AllMastersDuringAFailoverCoversEverySlotOrSaysSo) {
  OptionsPtr o;
  o.set("endpoint", cluster_->endpoints().front())
      .set_int("connect_timeout_ms", 300)
      .set_int("connect_retry", 0);
  ClientPtr c(o);
  std::vector<int> masters = cluster_->master_ports();
  ASSERT_EQ(masters.size(), 3u);
  ASSERT_EQ(all_masters(c, {"DBSIZE"})->rows().size(), 3u);
  int victim = masters[0];
  std::string dead = "127.0.0.1:" + std::to_string(victim);
  cluster_->node_at_port(victim).kill9();
  for (int i = 0; i < 2; i++) {
    auto during = all_masters(c, {"DBSIZE"});
    ASSERT_EQ(during->status, JR_OK);
    auto rows = during->rows();
    std::string all;
    bool said = false;
    for (auto &[addr, v] : rows) {
      all += addr + "=" + v + "; ";
      said = said || v.rfind("-JR_E", 0) == 0;
    }
    if (!said) {
      // Every slot answered: three masters, the dead one not among them.
      EXPECT_EQ(rows.size(), 3u) << all;
      EXPECT_EQ(rows.count(dead), 0u) << all;
    }
  }
  cluster_->wait_failover(victim);
  cluster_->wait_healthy();
  std::set<std::string> current;
  for (int p : cluster_->master_ports()) current.insert("127.0.0.1:" + std::to_string(p));
  auto after = all_masters(c, {"DBSIZE"});
  ASSERT_EQ(after->status, JR_OK);
  std::set<std::string> got;
  for (auto &[addr, v] : after->rows()) {
    got.insert(addr);
    EXPECT_NE(v.rfind('-', 0), 0u) << addr << ": " << v;
  }
  EXPECT_EQ(got, current);
  EXPECT_EQ(got.size(), 3u);
}

TEST_F(Cluster, CallbacksNeverRunInsideTheCallThatCausedThem) {
  auto o = opts();
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"PING"}).ok());  // detected: the cluster paths
  std::string node = cluster_->endpoints().front();
  for (bool from_callback : {true, false}) {
    SCOPED_TRACE(from_callback ? "from a loop-mode callback" : "from an application thread");
    LockedCaller lc;
    struct Trigger {
      LockedCaller *lc;
      jr_client *client;
      std::string node;
      std::atomic<bool> done{false};
      static void cb(void *ud, int, const jr_reply *) {
        auto *t = static_cast<Trigger *>(ud);
        t->lc->lock();
        exercise_callback_apis(*t->lc, t->client, t->node);
        t->lc->unlock();
        t->done.store(true);
      }
    } t{&lc, c, node};
    if (from_callback) {
      const char *argv[] = {"PING"};
      ASSERT_EQ(jr_client_submit(c, 1, argv, nullptr, -1, Trigger::cb, &t, nullptr), JR_OK);
      ASSERT_TRUE(eventually([&] { return t.done.load(); }, 10000));
    } else {
      lc.lock();
      exercise_callback_apis(lc, c, node);
      lc.unlock();
    }
    ASSERT_TRUE(eventually([&] { return lc.all_done(); }, 10000));
    EXPECT_EQ(lc.violations(), std::vector<std::string>{});
    EXPECT_EQ(lc.status_of("submit cross-slot"), JR_ECROSSSLOT);
    EXPECT_EQ(lc.status_of("all masters"), JR_OK);
    EXPECT_EQ(lc.status_of("multi discard"), JR_EDISCARDED);
  }
}

TEST_F(Cluster, CancelOfASplitCommandCompletesItOnce) {
  auto o = opts();
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"MSET", "cx:a", "1", "cx:b", "2", "cx:c", "3"}).ok());
  // Cancelled right after it was split (the cancel often lands in the same
  // loop turn): JR_EABANDONED, and the children's replies must not
  // complete it a second time (the parent was recycled under them).
  Recorder rec;
  std::map<int, int> outcomes;
  for (size_t i = 0; i < 300; i++) {
    jr_req_id id = 0;
    ASSERT_EQ(submit(c, {"MGET", "cx:a", "cx:b", "cx:c"}, rec, i, -1, &id), JR_OK);
    jr_cancel(c, id);
  }
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.duplicates(), 0u);
  EXPECT_EQ(rec.done(), 300u);
  for (auto &[st, n] : rec.by_status()) {
    EXPECT_TRUE(st == JR_OK || st == JR_EABANDONED || st == JR_ECANCELED) << st;
    outcomes[st] += static_cast<int>(n);
  }
  EXPECT_TRUE(call(c, {"PING"}).ok());
  std::printf("[ measure  ] split MGET cancelled at once: %d abandoned, %d ok, %d cancelled\n",
              outcomes[JR_EABANDONED], outcomes[JR_OK], outcomes[JR_ECANCELED]);
}

// ---- Client-side caching on a cluster: tracking per node --------------------------
// Each case runs in both protocols: Cluster.Cache* with protocol=3 (the
// node's invalidations come as pushes on its connection: hiredis >= 1.0,
// scripts/test's build/asan), Cluster.Resp2Cache* with
// protocol=2 (each node's connection redirects its tracking to an
// invalidation connection of its own: every build's cluster suite).

namespace {

#ifndef JR_TEST_HIREDIS_MAJOR
#define JR_TEST_HIREDIS_MAJOR 0
#endif

OptionsPtr cache_opts(const std::string &seed, int protocol) {
  OptionsPtr o;
  o.set("endpoint", seed).set_int("protocol", protocol);
  o.set_int("client_cache_bytes", 1 << 20).set_int("client_cache_ttl_ms", 600000);
  return o;
}

// Reads `key` until a read is answered from the cache (the node's tracking
// is established: reads sent before its +OK miss without filling).
bool cached_now(jr_client *c, const std::string &key) {
  return eventually([&] {
    uint64_t before = stats_of(c).cache_hits;
    call(c, {"GET", key});
    return stats_of(c).cache_hits > before;
  });
}

// The CLIENT LIST lines of the node at `port` whose flags have `flag`:
// field -> value per line.
std::vector<std::map<std::string, std::string>> clients_with_flag(RedisCluster &cl, int port,
                                                                  char flag) {
  std::vector<std::map<std::string, std::string>> out;
  std::string list = cl.cmd(port, {"CLIENT", "LIST"}).str;
  size_t pos = 0;
  while (pos < list.size()) {
    size_t eol = list.find('\n', pos);
    if (eol == std::string::npos) eol = list.size();
    std::string line = list.substr(pos, eol - pos);
    pos = eol + 1;
    std::map<std::string, std::string> fields;
    size_t f = 0;
    while (f < line.size()) {
      size_t sp = line.find(' ', f);
      if (sp == std::string::npos) sp = line.size();
      std::string kv = line.substr(f, sp - f);
      size_t eq = kv.find('=');
      if (eq != std::string::npos) fields[kv.substr(0, eq)] = kv.substr(eq + 1);
      f = sp + 1;
    }
    if (fields["flags"].find(flag) != std::string::npos) out.push_back(fields);
  }
  return out;
}

// The ids of the tracking connections on the node at `port` (this client's
// connection to that node, and its seed connection when the seed is there).
std::vector<std::string> tracking_client_ids(RedisCluster &cl, int port) {
  std::vector<std::string> ids;
  for (auto &f : clients_with_flag(cl, port, 't')) ids.push_back(f["id"]);
  return ids;
}

using C = Cluster;

void cache_ServesReadsOfEveryMasterAndEachNodeInvalidates(int protocol) {
  auto wo = C::opts();
  ClientPtr writer(wo);
  auto o = cache_opts(C::cluster_->endpoints().front(), protocol);
  ClientPtr c(o);
  std::vector<int> masters = C::cluster_->master_ports();
  ASSERT_EQ(masters.size(), 3u);
  std::vector<std::string> keys;
  for (int p : masters) keys.push_back(C::channel_on(p, "cc:"));
  for (const auto &k : keys) ASSERT_TRUE(call(writer, {"SET", k, "v1"}).ok());
  for (const auto &k : keys) ASSERT_TRUE(cached_now(c, k)) << k;
  // Answered from the cache: no GET reaches any node.
  std::vector<int64_t> gets;
  for (int p : masters) gets.push_back(C::calls(p, "get"));
  jr_stats s0 = stats_of(c);
  for (int i = 0; i < 10; i++)
    for (const auto &k : keys) EXPECT_EQ(call(c, {"GET", k}).str(), "v1");
  EXPECT_EQ(stats_of(c).cache_hits - s0.cache_hits, 30u);
  for (size_t i = 0; i < masters.size(); i++) EXPECT_EQ(C::calls(masters[i], "get"), gets[i]);
  // Another connection writes on each node: each node's invalidation comes
  // back to this client (RESP3: on its connection to that node; RESP2: on
  // that node's invalidation connection).
  for (const auto &k : keys) ASSERT_TRUE(call(writer, {"SET", k, "v2"}).ok());
  for (const auto &k : keys)
    EXPECT_TRUE(eventually([&] { return call(c, {"GET", k}).str() == "v2"; })) << k;
  EXPECT_GE(stats_of(c).cache_invalidations - s0.cache_invalidations, 3u);
  // And caching goes on after them.
  for (const auto &k : keys) EXPECT_TRUE(cached_now(c, k)) << k;
  // A cross-slot MGET (split: never cached, still right).
  Result m = call(c, {"MGET", keys[1], keys[2]});
  ASSERT_TRUE(m.ok()) << m.status << " " << m.str();
  uint64_t hits = stats_of(c).cache_hits;
  EXPECT_TRUE(call(c, {"MGET", keys[1], keys[2]}).ok());
  EXPECT_EQ(stats_of(c).cache_hits, hits) << "a split read was answered from the cache";
  if (protocol == 2) {
    // RESP2: each master's tracking connection redirects to a subscriber
    // of __redis__:invalidate on that same node.
    for (int p : masters) {
      auto tracked = clients_with_flag(*C::cluster_, p, 't');
      auto subscribers = clients_with_flag(*C::cluster_, p, 'P');
      bool redirected = false;
      for (auto &t : tracked)
        for (auto &s : subscribers) redirected |= t["redir"] == s["id"];
      EXPECT_TRUE(redirected) << "no tracking on node " << p
                              << " redirects to an invalidation connection there";
    }
  }
}

void cache_IsFlushedWhenANodeConnectionIsLost(int protocol) {
  auto wo = C::opts();
  ClientPtr writer(wo);
  auto o = cache_opts(C::cluster_->endpoints().front(), protocol);
  ClientPtr c(o);
  std::vector<int> masters = C::cluster_->master_ports();
  std::string victim_key = C::channel_on(masters[0], "cl:");
  std::string other_key = C::channel_on(masters[1], "cl:");
  ASSERT_TRUE(call(writer, {"SET", victim_key, "old"}).ok());
  ASSERT_TRUE(call(writer, {"SET", other_key, "other"}).ok());
  ASSERT_TRUE(cached_now(c, victim_key));
  ASSERT_TRUE(cached_now(c, other_key));
  std::vector<std::string> ids = tracking_client_ids(*C::cluster_, masters[0]);
  ASSERT_FALSE(ids.empty());
  uint64_t inv = stats_of(c).cache_invalidations;
  for (const std::string &id : ids)
    ASSERT_EQ(C::cluster_->cmd(masters[0], {"CLIENT", "KILL", "ID", id}).integer, 1);
  // Written while this client has no tracking on that node: no
  // invalidation of it can come.
  ASSERT_TRUE(call(writer, {"SET", victim_key, "new"}).ok());
  // The loss flushed the whole cache (one flush counts 1).
  ASSERT_TRUE(eventually([&] { return stats_of(c).cache_invalidations > inv; }));
  EXPECT_EQ(call(c, {"GET", victim_key}).str(), "new");
  uint64_t hits = stats_of(c).cache_hits;
  EXPECT_EQ(call(c, {"GET", other_key}).str(), "other");
  EXPECT_EQ(stats_of(c).cache_hits, hits) << "another node's entry survived the flush";
  // Tracking comes back on the new connection; caching resumes.
  EXPECT_TRUE(cached_now(c, victim_key));
  ASSERT_TRUE(call(writer, {"SET", victim_key, "newer"}).ok());
  EXPECT_TRUE(eventually([&] { return call(c, {"GET", victim_key}).str() == "newer"; }));
}

void cache_IsFlushedWhenASlotMovesAndReadsStayFresh(int protocol) {
  auto wo = C::opts();
  ClientPtr writer(wo);
  auto o = cache_opts(C::cluster_->endpoints().front(), protocol);
  ClientPtr c(o);
  auto in_slot = keys_in_slot(100, 2, "cm");
  int from = C::cluster_->master_of_slot(100);
  int to = 0;
  for (int p : C::cluster_->master_ports())
    if (p != from) to = p;
  std::string elsewhere;
  for (int p : C::cluster_->master_ports())
    if (p != from && p != to) elsewhere = C::channel_on(p, "cm:");
  ASSERT_TRUE(call(writer, {"SET", in_slot[0], "before"}).ok());
  ASSERT_TRUE(call(writer, {"SET", elsewhere, "else"}).ok());
  ASSERT_TRUE(cached_now(c, in_slot[0]));
  ASSERT_TRUE(cached_now(c, elsewhere));
  C::cluster_->migrate_slot(100, to);
  ASSERT_TRUE(call(writer, {"SET", in_slot[0], "after"}).ok());
  // A read of the moved slot meets MOVED: the whole cache is flushed.
  EXPECT_TRUE(call(c, {"GET", in_slot[1]}).ok());
  EXPECT_GE(stats_of(c).redirects, 1u);
  uint64_t hits = stats_of(c).cache_hits;
  EXPECT_EQ(call(c, {"GET", elsewhere}).str(), "else");
  EXPECT_EQ(stats_of(c).cache_hits, hits) << "not flushed when the slot moved";
  EXPECT_EQ(call(c, {"GET", in_slot[0]}).str(), "after");
  // Cached again, from the new master, and invalidated by it.
  EXPECT_TRUE(cached_now(c, in_slot[0]));
  EXPECT_EQ(call(c, {"GET", in_slot[0]}).str(), "after");
  ASSERT_TRUE(call(writer, {"SET", in_slot[0], "later"}).ok());
  EXPECT_TRUE(eventually([&] { return call(c, {"GET", in_slot[0]}).str() == "later"; }));
}

void cache_GivesNoStaleReadAfterAFailover(int protocol) {
  auto wo = C::opts();
  ClientPtr writer(wo);
  auto o = cache_opts(C::cluster_->endpoints().front(), protocol);
  o.set_int("connect_timeout_ms", 300).set_int("connect_retry", 1);
  ClientPtr c(o);
  std::vector<int> masters = C::cluster_->master_ports();
  int victim = masters[0];
  std::string k = C::channel_on(victim, "cf:");
  ASSERT_TRUE(call(writer, {"SET", k, "old"}).ok());
  ASSERT_TRUE(cached_now(c, k));
  C::cluster_->node_at_port(victim).kill9();
  C::cluster_->wait_failover(victim);
  ASSERT_TRUE(eventually([&] { return call(writer, {"SET", k, "new"}).ok(); }, 10000));
  // Every read that succeeds from now on sees the write.
  int ok = 0;
  for (int i = 0; i < 200 && ok < 20; i++) {
    Result r = call(c, {"GET", k});
    if (!r.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    EXPECT_EQ(r.str(), "new") << "a stale read after the failover";
    ok++;
  }
  EXPECT_EQ(ok, 20);
  // Caching works on the promoted master.
  EXPECT_TRUE(cached_now(c, k));
  ASSERT_TRUE(call(writer, {"SET", k, "newer"}).ok());
  EXPECT_TRUE(eventually([&] { return call(c, {"GET", k}).str() == "newer"; }));
}

void cache_IsNotFilledFromANodeWhoseTrackingFailed(int protocol) {
  // A user that may not CLIENT TRACKING on one master: that node's
  // connection is never tracked, so its reads must never fill.
  std::vector<int> masters = C::cluster_->master_ports();
  int untracked = masters[1];
  for (int p : C::cluster_->ports()) {
    std::vector<std::string> acl = {"ACL",      "SETUSER", "cc-user", "on",
                                    ">cc-pass", "~*",      "&*",      "+@all"};
    if (p == untracked) acl.push_back("-client|tracking");
    ASSERT_EQ(C::cluster_->cmd(p, acl).str, "OK");
  }
  auto wo = C::opts();
  ClientPtr writer(wo);
  auto o = cache_opts(C::cluster_->endpoints().front(), protocol);
  o.set("username", "cc-user").set("password", "cc-pass");
  ClientPtr c(o);
  std::string tracked_key = C::channel_on(masters[0], "cu:");
  std::string key = C::channel_on(untracked, "cu:");
  ASSERT_TRUE(call(writer, {"SET", tracked_key, "t"}).ok());
  ASSERT_TRUE(call(writer, {"SET", key, "v0"}).ok());
  ASSERT_TRUE(cached_now(c, tracked_key));  // caching works elsewhere
  uint64_t hits = stats_of(c).cache_hits;
  for (int i = 1; i <= 20; i++) {
    EXPECT_EQ(call(c, {"GET", key}).str(), "v" + std::to_string(i - 1));
    ASSERT_TRUE(call(writer, {"SET", key, "v" + std::to_string(i)}).ok());
  }
  EXPECT_EQ(stats_of(c).cache_hits, hits) << "a read of an untracked node was cached";
  for (int p : C::cluster_->ports()) C::cluster_->cmd(p, {"ACL", "DELUSER", "cc-user"});
}

// The race on every node: readers on two threads of the caching client,
// writers on other clients. A reader never goes back to an older value,
// and after each write the cache converges to it: a read that filled the
// cache with a value an invalidation had already replaced would stay stale
// (the TTL is 10 min). In RESP2 the invalidation and the reply come on two
// different connections, in either order.
void cache_ConcurrentWritersNeverLeaveAStaleValue(int protocol) {
  auto wo = C::opts();
  ClientPtr writer(wo);
  auto o = cache_opts(C::cluster_->endpoints().front(), protocol);
  ClientPtr c(o);
  std::vector<int> masters = C::cluster_->master_ports();
  std::vector<std::string> slow, fast_keys, all;
  for (int p : masters) {
    slow.push_back(C::channel_on(p, "cr:"));
    fast_keys.push_back(C::channel_on(p, "crf:"));
  }
  all = slow;
  all.insert(all.end(), fast_keys.begin(), fast_keys.end());
  for (const auto &k : all) ASSERT_TRUE(call(writer, {"SET", k, "0"}).ok());
  for (const auto &k : slow) ASSERT_TRUE(cached_now(c, k)) << k;
  // Two readers over every key; the slow keys written in turn, 90 times,
  // each value awaited through the cache; the fast keys as fast as a
  // second writer can.
  auto fo = C::opts();
  ClientPtr w2(fo);
  CacheRace race = run_cache_race(c, writer, w2, slow, fast_keys, 90, 2);
  expect_consistent(race);
  jr_stats s = stats_of(c);
  EXPECT_GT(race.reads, 1000u);
  EXPECT_GT(s.cache_hits, 100u) << "the readers were answered from the cache";
  EXPECT_GT(s.cache_invalidations, 90u);
}

}  // namespace

#define CLUSTER_CACHE_TEST(Name)                                                                   \
  TEST_F(Cluster, Cache##Name) {                                                                   \
    if (JR_TEST_HIREDIS_MAJOR < 1)                                                                 \
      GTEST_SKIP() << "built with hiredis 0.14: no RESP3 (Resp2Cache" #Name " is the RESP2 case)"; \
    cache_##Name(3);                                                                               \
  }                                                                                                \
  TEST_F(Cluster, Resp2Cache##Name) {                                                              \
    cache_##Name(2);                                                                               \
  }

CLUSTER_CACHE_TEST(ServesReadsOfEveryMasterAndEachNodeInvalidates)
CLUSTER_CACHE_TEST(IsFlushedWhenANodeConnectionIsLost)
CLUSTER_CACHE_TEST(IsFlushedWhenASlotMovesAndReadsStayFresh)
CLUSTER_CACHE_TEST(GivesNoStaleReadAfterAFailover)
CLUSTER_CACHE_TEST(IsNotFilledFromANodeWhoseTrackingFailed)
CLUSTER_CACHE_TEST(ConcurrentWritersNeverLeaveAStaleValue)

// RESP2 only: killing a node's invalidation connection (the one its
// tracking redirects to) drops the whole cache, as the node's invalidations
// have nowhere to go; a new one is made, the node's connection is
// redirected to it, and caching resumes.
TEST_F(Cluster, Resp2CacheIsFlushedWhenANodesInvalidationConnectionIsLost) {
  auto wo = opts();
  ClientPtr writer(wo);
  auto o = cache_opts(cluster_->endpoints().front(), 2);
  ClientPtr c(o);
  std::vector<int> masters = cluster_->master_ports();
  std::string victim_key = channel_on(masters[0], "ci:");
  std::string other_key = channel_on(masters[1], "ci:");
  ASSERT_TRUE(call(writer, {"SET", victim_key, "old"}).ok());
  ASSERT_TRUE(call(writer, {"SET", other_key, "other"}).ok());
  ASSERT_TRUE(cached_now(c, victim_key));
  ASSERT_TRUE(cached_now(c, other_key));
  std::set<std::string> redirs;
  for (auto &t : clients_with_flag(*cluster_, masters[0], 't'))
    if (t["redir"] != "-1") redirs.insert(t["redir"]);
  ASSERT_EQ(redirs.size(), 1u);
  std::string inv_id = *redirs.begin();
  uint64_t inv = stats_of(c).cache_invalidations;
  ASSERT_EQ(cluster_->cmd(masters[0], {"CLIENT", "KILL", "ID", inv_id}).integer, 1);
  // The server has nowhere to send this invalidation.
  ASSERT_TRUE(call(writer, {"SET", victim_key, "new"}).ok());
  ASSERT_TRUE(eventually([&] { return stats_of(c).cache_invalidations > inv; }));
  EXPECT_EQ(call(c, {"GET", victim_key}).str(), "new");
  uint64_t hits = stats_of(c).cache_hits;
  EXPECT_EQ(call(c, {"GET", other_key}).str(), "other");
  EXPECT_EQ(stats_of(c).cache_hits, hits) << "another node's entry survived the flush";
  // Redirected to the new invalidation connection: cached and invalidated again.
  EXPECT_TRUE(cached_now(c, victim_key));
  ASSERT_TRUE(eventually([&] {
    for (auto &t : clients_with_flag(*cluster_, masters[0], 't'))
      if (t["redir"] != "-1" && t["redir"] != inv_id) return true;
    return false;
  }));
  ASSERT_TRUE(call(writer, {"SET", victim_key, "newer"}).ok());
  EXPECT_TRUE(eventually([&] { return call(c, {"GET", victim_key}).str() == "newer"; }));
}

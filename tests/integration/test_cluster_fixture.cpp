// SPDX-License-Identifier: MIT
// Tests of the cluster fixture itself (tests/fixtures/redis_cluster.hpp),
// with raw commands only: it starts healthy, slot migration steps give ASK
// then MOVED, a killed master is replaced by its replica, and reset() brings
// the initial layout back. One cluster is shared by the whole suite.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "redis_cluster.hpp"

using namespace jrtest;

namespace {

class ClusterFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      cluster_ = new RedisCluster();
      std::printf("[cluster] 6 nodes up, synced and agreeing in %lld ms\n",
                  static_cast<long long>(cluster_->startup_ms()));
    } catch (const std::exception &e) {
      setup_error_ = new std::string(e.what());
    }
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr) << (setup_error_ != nullptr ? *setup_error_ : "");
    auto t0 = std::chrono::steady_clock::now();
    cluster_->reset(/*flush=*/true);
    RecordProperty("reset_ms", static_cast<int>(ms_since(t0)));
  }
  static int64_t ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t0)
        .count();
  }
  static std::string moved(int slot, int port) {
    return "-MOVED " + std::to_string(slot) + " 127.0.0.1:" + std::to_string(port);
  }
  static std::string ask(int slot, int port) {
    return "-ASK " + std::to_string(slot) + " 127.0.0.1:" + std::to_string(port);
  }

  static RedisCluster *cluster_;
  static std::string *setup_error_;
};
RedisCluster *ClusterFixture::cluster_ = nullptr;
std::string *ClusterFixture::setup_error_ = nullptr;

TEST_F(ClusterFixture, StartsHealthyWithThreeMastersAndThreeSyncedReplicas) {
  RedisCluster &c = *cluster_;
  EXPECT_TRUE(c.healthy()) << c.health_problem();
  EXPECT_TRUE(c.layout_is_initial());
  std::vector<int> masters = c.master_ports();
  std::vector<int> replicas = c.replica_ports();
  ASSERT_EQ(masters.size(), 3u);
  ASSERT_EQ(replicas.size(), 3u);
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(masters[static_cast<size_t>(i)], c.node(i).port());
    EXPECT_EQ(c.replicas_of(c.node(i).port()), std::vector<int>{c.node(i + 3).port()});
  }
  for (int p : c.ports()) {
    std::string info = c.cmd(p, "CLUSTER INFO").str;
    EXPECT_EQ(info_value(info, "cluster_state"), "ok") << p;
    EXPECT_EQ(info_value(info, "cluster_known_nodes"), "6") << p;
    EXPECT_EQ(info_value(info, "cluster_size"), "3") << p;
    EXPECT_EQ(info_value(info, "cluster_slots_assigned"), "16384") << p;
  }
  for (int r : replicas) {
    std::string repl = c.cmd(r, "INFO replication").str;
    EXPECT_EQ(info_value(repl, "role"), "slave");
    EXPECT_EQ(info_value(repl, "master_link_status"), "up");
  }
  EXPECT_EQ(c.master_of_slot(0), c.node(0).port());
  EXPECT_EQ(c.master_of_slot(8000), c.node(1).port());
  EXPECT_EQ(c.master_of_slot(16383), c.node(2).port());
  // The helper speaks RESP: binary-safe arguments, replies of every type.
  int p = c.master_of_key("fixture:greeting");
  EXPECT_EQ(c.cmd(p, {"SET", "fixture:greeting", "hello world\r\n"}).text(), "OK");
  EXPECT_EQ(c.cmd(p, "GET fixture:greeting").text(), "hello world\r\n");
  EXPECT_EQ(c.cmd(p, "GET fixture:nothing").text(), "(nil)");
  EXPECT_EQ(c.cmd(p, "EXISTS fixture:greeting fixture:greeting").text(), "2");
  EXPECT_EQ(c.cmd(p, "NOSUCHCOMMAND").type, '-');
}

TEST_F(ClusterFixture, KeySlotMatchesTheServer) {
  RedisCluster &c = *cluster_;
  int p = c.node(0).port();
  for (std::string k :
       {"", "a", "foo", "123456789", "{user1000}.following", "{}x", "a{b}c{d}", "{{x}}", "Hello"})
    EXPECT_EQ(key_slot(k), c.cmd(p, {"CLUSTER", "KEYSLOT", k}).integer) << k;
  EXPECT_EQ(key_slot("123456789"), 0x31C3 & 16383);
  for (int slot : {0, 1, 5460, 5461, 12182, 16383}) {
    EXPECT_EQ(key_slot(key_in_slot(slot)), slot);
    for (const auto &k : keys_in_slot(slot, 3)) EXPECT_EQ(key_slot(k), slot);
  }
}

TEST_F(ClusterFixture, WrongNodeAnswersMoved) {
  RedisCluster &c = *cluster_;
  std::string key = key_in_slot(100);
  int owner = c.master_of_slot(100);
  ASSERT_EQ(owner, c.node(0).port());
  EXPECT_EQ(c.cmd(owner, {"SET", key, "v"}).text(), "OK");
  EXPECT_EQ(c.cmd(c.node(1).port(), {"GET", key}).text(), moved(100, owner));
  // A replica redirects too, unless READONLY.
  RespConn r(c.node(3).port());
  EXPECT_EQ(r.cmd({"GET", key}).text(), moved(100, owner));
}

TEST_F(ClusterFixture, SlotMigrationStepsGiveAskThenMoved) {
  RedisCluster &c = *cluster_;
  const int slot = 1234;
  const int from = c.master_of_slot(slot);
  const int to = c.node(2).port();
  ASSERT_EQ(from, c.node(0).port());
  std::vector<std::string> keys = keys_in_slot(slot, 3);
  for (const auto &k : keys) ASSERT_EQ(c.cmd(from, {"SET", k, "v-" + k}).text(), "OK");
  const std::string fresh = keys_in_slot(slot, 4)[3];

  SlotMigration m = c.migrate_begin(slot, to);
  EXPECT_EQ(m.from_port, from);
  // Open on both sides; nothing moved yet: the source serves everything.
  std::string src = c.cmd(from, "CLUSTER NODES").str;
  EXPECT_NE(src.find("[" + std::to_string(slot) + "->-" + m.to_id + "]"), std::string::npos);
  std::string dst = c.cmd(to, "CLUSTER NODES").str;
  EXPECT_NE(dst.find("[" + std::to_string(slot) + "-<-" + m.from_id + "]"), std::string::npos);
  for (const auto &k : keys) EXPECT_EQ(c.cmd(from, {"GET", k}).text(), "v-" + k);

  // One key moved: the source answers ASK for it (and for keys it does not
  // have), the target serves it after ASKING only.
  c.migrate_key(m, keys[0]);
  EXPECT_EQ(c.cmd(from, {"GET", keys[0]}).text(), ask(slot, to));
  EXPECT_EQ(c.cmd(from, {"GET", fresh}).text(), ask(slot, to));
  EXPECT_EQ(c.cmd(from, {"GET", keys[1]}).text(), "v-" + keys[1]);
  EXPECT_EQ(c.cmd(to, {"GET", keys[0]}).text(), moved(slot, from));
  {
    RespConn t(to);
    EXPECT_EQ(t.cmd("ASKING").text(), "OK");
    EXPECT_EQ(t.cmd({"GET", keys[0]}).text(), "v-" + keys[0]);
    // ASKING is good for one command only.
    EXPECT_EQ(t.cmd({"GET", keys[0]}).text(), moved(slot, from));
  }
  // A multi-key command over keys split between the two: TRYAGAIN.
  EXPECT_EQ(c.cmd(from, {"MGET", keys[0], keys[1]}).text().rfind("-TRYAGAIN", 0), 0u);

  EXPECT_EQ(c.migrate_keys(m, 1), 1u);
  c.migrate_finish(m);
  for (int p : c.ports()) EXPECT_EQ(c.master_of_slot(slot, p), to) << p;
  for (const auto &k : keys) {
    EXPECT_EQ(c.cmd(from, {"GET", k}).text(), moved(slot, to));
    EXPECT_EQ(c.cmd(to, {"GET", k}).text(), "v-" + k);
  }
  EXPECT_EQ(c.cmd(c.node(1).port(), {"GET", keys[0]}).text(), moved(slot, to));
  EXPECT_EQ(c.cmd(from, "CLUSTER COUNTKEYSINSLOT " + std::to_string(slot)).integer, 0);
  EXPECT_FALSE(c.layout_is_initial());

  // reset() moves the slot (and its keys) back.
  c.reset();
  EXPECT_TRUE(c.layout_is_initial());
  EXPECT_EQ(c.master_of_slot(slot), from);
  for (const auto &k : keys) EXPECT_EQ(c.cmd(from, {"GET", k}).text(), "v-" + k);
}

TEST_F(ClusterFixture, ResetClosesAnOpenMigration) {
  RedisCluster &c = *cluster_;
  const int slot = 9000;
  std::string key = key_in_slot(slot);
  int from = c.master_of_slot(slot);
  ASSERT_EQ(c.cmd(from, {"SET", key, "x"}).text(), "OK");
  ASSERT_EQ(from, c.node(1).port());
  // Between nodes 1 and 2: node 0's CLUSTER NODES does not show it.
  SlotMigration m = c.migrate_begin(slot, c.node(2).port());
  c.migrate_key(m, key);
  EXPECT_EQ(c.cmd(c.node(0).port(), "CLUSTER NODES").str.find('['), std::string::npos);
  c.reset();  // a test that failed half way
  EXPECT_TRUE(c.layout_is_initial());
  EXPECT_EQ(c.master_of_slot(slot), from);
  EXPECT_EQ(c.cmd(from, {"GET", key}).text(), "x");
  for (int p : c.ports()) EXPECT_EQ(c.cmd(p, "CLUSTER NODES").str.find('['), std::string::npos);
}

TEST_F(ClusterFixture, KilledMasterIsReplacedByItsReplica) {
  RedisCluster &c = *cluster_;
  const int old_master = c.master_ports()[1];
  const std::vector<int> reps = c.replicas_of(old_master);
  ASSERT_EQ(reps.size(), 1u);
  std::string key = key_in_slot(7000);
  ASSERT_EQ(c.master_of_slot(7000), old_master);
  ASSERT_EQ(c.cmd(old_master, {"SET", key, "survives"}).text(), "OK");
  // Written to the replica before the kill. WAIT answers once the replica
  // acknowledged, within 10 s; the socket waits longer than WAIT does.
  ASSERT_EQ(c.cmd(old_master, "WAIT 1 10000", 15000).text(), "1") << c.dump();

  c.node_at_port(old_master).kill9();
  int new_master = c.wait_failover(old_master);
  std::printf("[cluster] failover after kill -9 of a master: %lld ms\n",
              static_cast<long long>(c.last_failover_ms()));
  RecordProperty("failover_ms", static_cast<int>(c.last_failover_ms()));
  EXPECT_EQ(new_master, reps[0]) << c.dump();
  EXPECT_EQ(c.master_of_slot(7000), new_master) << c.dump();
  EXPECT_EQ(c.cmd(new_master, {"GET", key}).text(), "survives") << c.dump();
  EXPECT_EQ(info_value(c.cmd(new_master, "INFO replication").str, "role"), "master");
  for (int p : c.ports()) {
    if (p == old_master) continue;
    EXPECT_EQ(info_value(c.cmd(p, "CLUSTER INFO").str, "cluster_state"), "ok") << p;
  }
  EXPECT_EQ(c.master_ports().size(), 3u);

  // The old master comes back as a replica of the new one.
  auto t0 = std::chrono::steady_clock::now();
  c.node_at_port(old_master).start();
  c.wait_healthy();
  std::printf("[cluster] old master back and synced as a replica in %lld ms\n",
              static_cast<long long>(ms_since(t0)));
  EXPECT_EQ(c.replicas_of(new_master), std::vector<int>{old_master}) << c.dump();

  // reset() gives it its master role back.
  t0 = std::chrono::steady_clock::now();
  c.reset();
  std::printf("[cluster] reset (manual failover back) in %lld ms\n",
              static_cast<long long>(ms_since(t0)));
  EXPECT_TRUE(c.layout_is_initial()) << c.dump();
  EXPECT_EQ(c.master_of_slot(7000), old_master);
  EXPECT_EQ(c.cmd(old_master, {"GET", key}).text(), "survives") << c.dump();
}

// The master that takes a slot bumps its config epoch without consensus;
// the others learn it only from that master's own cluster-bus messages. On
// Valkey 8 every node may give the slot to the new owner (SETSLOT NODE, sent
// to every master and replicated to the replicas) before any of them heard
// the new epoch: a failover then (its replica elected with the epoch the
// master already has) lost the master's data when it came back. The move
// returns only once every live node knows the epoch. Without that wait, 2 to
// 10 of these 24 checks failed in each run on Valkey 8.0.1 (none on Redis
// 7.0, where the nodes learn the owner from the owner's own messages).
TEST_F(ClusterFixture, SlotMoveReturnsOnceEveryNodeKnowsTheNewEpoch) {
  RedisCluster &c = *cluster_;
  for (int i = 0; i < 4; i++) {
    const int slot = 50 + i;
    const int to = c.node(1 + i % 2).port();
    c.migrate_slot(slot, to);
    uint64_t own = 0;
    for (const auto &n : c.view(to))
      if (n.myself) own = n.config_epoch;
    for (int p : c.ports()) {
      for (const auto &n : c.view(p)) {
        if (n.port != to) continue;
        EXPECT_EQ(n.config_epoch, own) << "slot " << slot << ": " << p << " sees " << to << "\n"
                                       << c.dump();
      }
    }
  }
  EXPECT_TRUE(c.healthy()) << c.health_problem();
}

TEST_F(ClusterFixture, ResetRestartsAKilledReplicaAndIsCheapOtherwise) {
  RedisCluster &c = *cluster_;
  c.node(4).kill9();
  EXPECT_FALSE(c.node(4).alive());
  c.reset();
  EXPECT_TRUE(c.node(4).alive());
  EXPECT_TRUE(c.layout_is_initial());
  auto t0 = std::chrono::steady_clock::now();
  c.reset();
  int64_t ms = ms_since(t0);
  std::printf("[cluster] reset of a healthy cluster: %lld ms\n", static_cast<long long>(ms));
  EXPECT_LT(ms, 1000);
}

}  // namespace

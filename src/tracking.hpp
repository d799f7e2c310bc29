// SPDX-License-Identifier: MIT
// Client-side caching's server side: CLIENT TRACKING on the data connection
// (the client's shared connection) and the invalidations that come back.
//   RESP3 (protocol=3): CLIENT TRACKING on [BCAST PREFIX p ...] on the data
//     connection; invalidations are pushes on that same connection.
//   RESP2: a connection of its own (push mode) asks CLIENT ID, subscribes to
//     __redis__:invalidate, and the data connection is told CLIENT TRACKING
//     on REDIRECT <that id> [BCAST PREFIX p ...] (hiredis 0.14 too).
// The cache is live (it fills) only from the tracking's +OK on the current
// data connection, with the invalidation connection subscribed (RESP2). The
// loss of either connection flushes the whole cache at once and stops the
// fills until the tracking is back.
// A cluster is tracked per node, in either protocol: each node connection
// turns CLIENT TRACKING on when it is ready (RESP2: redirected to an
// invalidation connection of that node's own, an Invalidator); a read fills
// only when it was sent on a node connection whose tracking answered +OK in
// that session (Connection::cache_tracked) and, in RESP2, while that
// node's invalidation connection is still the one subscribed; never from a
// replica. The loss of any node connection or of a node's invalidation
// connection, a MOVED or a topology refresh that moves a slot flushes the
// whole cache (the entries do not say which node filled them, and a slot's
// node can change under them: one rule, the same in both protocols). Loop
// thread only.
#ifndef JR_SRC_TRACKING_HPP
#define JR_SRC_TRACKING_HPP

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache.hpp"
#include "conn/connection.hpp"

namespace jr {

class Client;
class Tracking;

// RESP2: a push-mode connection that asks CLIENT ID and subscribes to
// __redis__:invalidate; the data connection it serves (the client's shared
// connection, or one cluster node's connection) redirects its tracking to
// that id. Everything it receives is checked (parse_invalidation).
class Invalidator final : public PushHandler {
 public:
  // node: the cluster node connection it serves (nullptr: the standalone
  // data connection).
  Invalidator(Tracking &t, Client &client, const std::vector<Endpoint> &eps, Connection *node);
  ~Invalidator() override;
  Connection &conn() noexcept { return *conn_; }
  [[nodiscard]] Connection *node() const noexcept { return node_; }
  // Subscribed: its id is the one to redirect to.
  [[nodiscard]] bool subscribed() const noexcept { return subscribed_; }
  [[nodiscard]] int64_t id() const noexcept { return id_; }
  // Changes when it is lost: a tracking request names the one it redirected to.
  [[nodiscard]] uint64_t generation() const noexcept { return gen_; }

  void on_ready(Connection &conn) override;
  void on_push(Connection &conn, jr_reply *reply) override;
  void on_lost(Connection &conn) override;
  [[nodiscard]] bool wants_connection(const Connection &conn) const override;
  [[nodiscard]] bool awaiting_reply(const Connection &conn) const override;

 private:
  Tracking &t_;
  Client &client_;
  Connection *node_;
  std::unique_ptr<Connection> conn_;
  int64_t id_ = -1;
  uint64_t gen_ = 1;
  bool want_id_ = false;
  bool want_sub_ = false;
  bool subscribed_ = false;
};

class Tracking final {
 public:
  Tracking(Client &client, ClientCache &cache);
  ~Tracking();
  // The data connection finished its handshake / was lost.
  void data_ready(Connection &conn);
  void data_lost(Connection &conn);
  // A RESP3 push on the data connection: true when it was an invalidation
  // (taken: the reply is released).
  bool data_push(Connection &conn, jr_reply *reply);
  void shutdown();
  [[nodiscard]] bool stopped() const noexcept { return stopped_; }
  // Sentinel: the master moved; the invalidation connection follows it.
  void set_endpoints(const std::vector<Endpoint> &eps);
  // The cluster detection is done (Cluster::release_held): a tracking that
  // answered before it goes live now on a standalone server; on a cluster
  // the cache is live (reads fill from tracked node connections only).
  void detection_done();
  // Cluster: a node connection finished its handshake / was lost.
  void node_ready(Connection &conn);
  void node_lost(Connection &conn);
  // Cluster: slots moved (a MOVED, a refresh that changed the map).
  void topology_changed(const char *why);

  // An Invalidator's news: subscribed (its id known), lost (was subscribed
  // or not), and the keys of an invalidation (all: a flush).
  void invalidator_subscribed(Invalidator &inv);
  void invalidator_lost(Invalidator &inv, bool was_subscribed);
  void apply(const std::vector<std::string_view> &keys, bool all);

 private:
  void start_resp2();  // standalone RESP2: the invalidation connection, then enable()
  void enable();       // CLIENT TRACKING on the data connection
  // CLIENT TRACKING on [REDIRECT id] [BCAST PREFIX p ...]
  [[nodiscard]] std::vector<std::string> tracking_on(int64_t redirect) const;
  void track_node(Connection &conn);  // CLIENT TRACKING on a node connection
  Invalidator &node_invalidator(Connection &conn);
  void send(Connection &conn, const std::vector<std::string> &args, bool last,
            Connection *node = nullptr, uint64_t gen = 0);
  void node_tracked(Connection &conn, uint64_t epoch, uint64_t gen, int status,
                    const jr_reply *reply);
  void flush_all(const std::string &why);
  void off(const std::string &why);
  static void on_tracking_reply(void *ud, int status, const jr_reply *reply);

  Client &client_;
  ClientCache &cache_;
  bool resp3_;
  bool stopped_ = false;
  Connection *data_ = nullptr;  // the ready data connection
  uint64_t data_epoch_ = 0;
  uint64_t tracked_seq_ = 0;  // the request that answered +OK (0: none)
  uint64_t seq_ = 1;          // the tracking request that counts; older replies are ignored
  // RESP2 on a standalone server: the data connection waits for the
  // cluster detection before its invalidation connection is made (a
  // cluster has one per node instead).
  bool start_pending_ = false;
  std::unique_ptr<Invalidator> inv_;  // RESP2, standalone
  // RESP2, cluster: each node connection's invalidation connection.
  std::vector<std::unique_ptr<Invalidator>> node_invs_;
};

}  // namespace jr

#endif  // JR_SRC_TRACKING_HPP

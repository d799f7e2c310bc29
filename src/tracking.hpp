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
// A cluster (RESP3 only) is tracked per node: each node connection sends
// CLIENT TRACKING on when ready and gets its invalidations as pushes; a
// read fills only when it was sent on a node connection whose tracking
// answered +OK in that session (Connection::cache_tracked), never from a
// replica. The loss of any node connection, a MOVED or a topology refresh
// that moves a slot flushes the whole cache. A RESP2 cluster is not
// tracked (it would need an invalidation connection per node): the cache
// stays off there. Loop thread only.
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

class Tracking final : public PushHandler {
 public:
  Tracking(Client &client, ClientCache &cache);
  ~Tracking() override;
  // The data connection finished its handshake / was lost.
  void data_ready(Connection &conn);
  void data_lost(Connection &conn);
  // A RESP3 push on the data connection: true when it was an invalidation
  // (taken: the reply is released).
  bool data_push(Connection &conn, jr_reply *reply);
  void shutdown();
  // Sentinel: the master moved; the invalidation connection follows it.
  void set_endpoints(const std::vector<Endpoint> &eps);
  // The cluster detection is done (Cluster::release_held): a tracking that
  // answered before it goes live now on a standalone server.
  void detection_done();
  // Cluster (RESP3): a node connection finished its handshake / was lost.
  void node_ready(Connection &conn);
  void node_lost(Connection &conn);
  // Cluster: slots moved (a MOVED, a refresh that changed the map).
  void topology_changed(const char *why);
  // Cluster: node connections are tracked per node (protocol 3).
  [[nodiscard]] bool per_node() const noexcept { return resp3_; }

  // PushHandler: the RESP2 invalidation connection.
  void on_ready(Connection &conn) override;
  void on_push(Connection &conn, jr_reply *reply) override;
  void on_lost(Connection &conn) override;
  [[nodiscard]] bool wants_connection(const Connection &conn) const override;
  [[nodiscard]] bool awaiting_reply(const Connection &conn) const override;

 private:
  void apply(const std::vector<std::string_view> &keys, bool all);
  void enable();  // CLIENT TRACKING on the data connection
  void send(Connection &conn, const std::vector<std::string> &args, bool last,
            Connection *node = nullptr);
  void node_tracked(Connection &conn, uint64_t epoch, int status, const jr_reply *reply);
  void flush_all(const std::string &why);
  void apply(const jr_reply *reply, bool resp3, Connection &from);
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
  // RESP2: the invalidation connection and its state.
  std::unique_ptr<Connection> inv_;
  int64_t redirect_id_ = -1;
  bool want_id_ = false;
  bool want_sub_ = false;
  bool subscribed_ = false;
  bool refused_logged_ = false;
};

}  // namespace jr

#endif  // JR_SRC_TRACKING_HPP

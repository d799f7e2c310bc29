// SPDX-License-Identifier: MIT
// MONITOR on the loop thread: each monitor handle owns a push-mode
// connection that streams the server's MONITOR lines to its callback.
#ifndef JR_SRC_MONITOR_HPP
#define JR_SRC_MONITOR_HPP

#include <memory>

#include "conn/connection.hpp"
#include "jr/jr.h"
#include "loop/task.hpp"

namespace jr {

class Client;

class Monitor : public PushHandler {
 public:
  Monitor(Client &client, jr_message_cb cb, void *userdata);
  ~Monitor() override;
  void start();
  void stop();  // final JR_ECLOSED callback; the connection is closed
  // Sentinel: the master moved; the stream moves there (JR_SUB_LOST, then
  // JR_SUB_RESUBSCRIBED once MONITOR runs on the new master).
  void set_endpoints(const std::vector<Endpoint> &eps) {
    if (conn_ && !stopped_) conn_->set_endpoints(eps);
  }

  void on_ready(Connection &conn) override;
  void on_push(Connection &conn, jr_reply *reply) override;
  void on_lost(Connection &conn) override;
  [[nodiscard]] bool wants_connection(const Connection &) const override { return !stopped_; }
  [[nodiscard]] bool awaiting_reply(const Connection &) const override { return ok_pending_; }
  int64_t expire(int64_t now) { return conn_ && !stopped_ ? conn_->expire(now) : 0; }

 private:
  Client &client_;
  jr_message_cb cb_;
  void *userdata_;
  std::unique_ptr<Connection> conn_;
  bool ok_pending_ = false;
  bool stopped_ = false;
  int connects_ = 0;
};

// jr_monitor_new / jr_monitor_free on the loop thread. kStart hands the
// monitor to the client (which owns it from then on).
struct MonitorRequest final : Task {
  enum Kind { kStart, kStop };
  MonitorRequest(Kind k, Monitor *m) noexcept : kind(k), monitor(m) {}
  void run(Client &client) override;
  Kind kind;
  Monitor *monitor;
};

}  // namespace jr

#endif  // JR_SRC_MONITOR_HPP

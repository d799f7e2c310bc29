// SPDX-License-Identifier: MIT
// MONITOR: one push-mode connection per monitor handle.
#include "monitor.hpp"

#include "interpret.hpp"
#include "loop/client.hpp"

namespace jr {

Monitor::Monitor(Client &client, jr_message_cb cb, void *userdata)
    : client_(client), cb_(cb), userdata_(userdata) {}

Monitor::~Monitor() = default;

void Monitor::start() {
  conn_ = std::make_unique<Connection>(client_, client_.endpoints(), Connection::Role::kPush);
  conn_->set_push(this);
  conn_->connect_now();
}

void Monitor::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (conn_) conn_->shutdown();
  client_.post(cb_, userdata_, JR_ECLOSED, nullptr);
}

void Monitor::on_ready(Connection &conn) {
  const char *argv[] = {"MONITOR"};
  const size_t lens[] = {7};
  conn.write_raw(1, argv, lens);
  ok_pending_ = true;
  if (connects_++ > 0) client_.post(cb_, userdata_, JR_SUB_RESUBSCRIBED, nullptr);
}

void Monitor::on_push(Connection &conn, jr_reply *reply) {
  int kind = parse_monitor(reply, ok_pending_);
  if (kind == 0) {
    ok_pending_ = false;
  } else if (kind == 1) {
    client_.post(cb_, userdata_, JR_OK, reply);
  }
  reply_release(reply);
  if (kind < 0) {
    // Not a MONITOR line: replace the connection (JR_SUB_LOST, then
    // JR_SUB_RESUBSCRIBED).
    client_.emit(JR_EVENT_LOG, "monitor", "protocol error: not a MONITOR line");
    conn.protocol_error("MONITOR: a reply that is not a status line");
  }
}

void Monitor::on_lost(Connection &) {
  client_.post(cb_, userdata_, JR_SUB_LOST, nullptr);
}

void MonitorRequest::run(Client &client) {
  if (kind == kStart) {
    client.add_monitor(monitor);
    monitor->start();
  } else {
    monitor->stop();
  }
}

}  // namespace jr

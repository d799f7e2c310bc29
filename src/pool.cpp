// SPDX-License-Identifier: MIT
// The pool of dedicated connections: blocking commands and WATCH leases,
// at most max_connections, handed out FIFO.
#include "pool.hpp"

#include "loop/client.hpp"
#include "tx.hpp"

namespace jr {

Connection *Pool::take() {
  if (!idle_.empty()) {
    Connection *conn = idle_.back();
    idle_.pop_back();
    conn->busy = true;
    return conn;
  }
  if (static_cast<int>(conns_.size()) < max_) {
    conns_.push_back(std::make_unique<Connection>(client_, endpoints_, Connection::Role::kPooled));
    Connection *conn = conns_.back().get();
    conn->pool = this;
    conn->busy = true;
    if (client_.log_on())
      client_.log(JR_LOG_DEBUG, JR_EVENT_STATE, "pool",
                  "new pooled connection to " + conn->endpoint().display() + " (" +
                      std::to_string(conns_.size()) + " of " + std::to_string(max_) + ")");
    return conn;
  }
  return nullptr;
}

void Pool::grant(Connection *conn, const Request &r) {
  if (r.cmd != nullptr) {
    conn->submit(r.cmd);
    return;
  }
  conn->lease = r.lease;
  r.lease->conn = conn;
  client_.lease_granted(r.lease);
}

void Pool::submit(Command *c) {
  if (Connection *conn = take()) {
    conn->submit(c);
    return;
  }
  queue(Request{c, nullptr});
}

// Every connection is busy: the request waits for one (logged when the
// pool becomes full, once per stretch of waiting).
void Pool::queue(const Request &r) {
  if (waiting_.empty() && client_.log_on())
    client_.log(JR_LOG_INFO, JR_EVENT_STATE, "pool",
                "pool to " + (endpoints_.empty() ? std::string() : endpoints_[0].display()) +
                    " full (" + std::to_string(max_) + " connections busy): requests wait for one");
  waiting_.push_back(r);
}

void Pool::request(Lease *l) {
  if (Connection *conn = take()) {
    grant(conn, Request{nullptr, l});
    return;
  }
  queue(Request{nullptr, l});
}

void Pool::release(Connection *conn) {
  conn->lease = nullptr;
  if (!waiting_.empty()) {
    Request r = waiting_.front();
    waiting_.erase(waiting_.begin());
    conn->busy = true;
    grant(conn, r);
    return;
  }
  conn->busy = false;
  idle_.push_back(conn);
  if (client_.log_on())
    client_.log(JR_LOG_DEBUG, JR_EVENT_STATE, "pool",
                "pooled connection to " + conn->endpoint().display() + " back (" +
                    std::to_string(idle_.size()) + " idle)");
}

bool Pool::cancel(Command *c) {
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (it->cmd == c) {
      waiting_.erase(it);
      return true;
    }
  }
  for (auto &conn : conns_)
    if (conn->cancel(c)) return true;
  return false;
}

void Pool::forget(Lease *l) {
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (it->lease == l) {
      waiting_.erase(it);
      return;
    }
  }
}

int64_t Pool::expire(int64_t now) {
  int64_t next = 0;
  auto consider = [&](int64_t d) {
    if (d != 0 && (next == 0 || d < next)) next = d;
  };
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    Command *c = it->cmd;
    if (c != nullptr && c->deadline != 0 && c->deadline <= now) {
      it = waiting_.erase(it);
      client_.complete(c, JR_EPOOLTIMEOUT, nullptr);
    } else {
      if (c != nullptr) consider(c->deadline);
      ++it;
    }
  }
  for (size_t i = 0; i < conns_.size(); i++) consider(conns_[i]->expire(now));
  return next;
}

void Pool::shutdown() {
  std::vector<Request> w;
  w.swap(waiting_);
  for (auto &r : w)
    if (r.cmd != nullptr) client_.complete(r.cmd, JR_ECLOSED, nullptr);
  for (auto &conn : conns_) conn->shutdown();
}

}  // namespace jr

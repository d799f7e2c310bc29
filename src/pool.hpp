// SPDX-License-Identifier: MIT
// The pool of dedicated connections (blocking commands, WATCH leases).
#ifndef JR_SRC_POOL_HPP
#define JR_SRC_POOL_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "command.hpp"
#include "conn/connection.hpp"
#include "options.hpp"

namespace jr {

class Client;
struct Lease;

// Dedicated connections for blocking commands and WATCH leases, at most
// max_connections, handed out FIFO.
class Pool {
 public:
  Pool(Client &client, std::vector<Endpoint> endpoints, int max)
      : client_(client), endpoints_(std::move(endpoints)), max_(max) {}
  void submit(Command *c);         // a blocking command
  void request(Lease *l);          // a lease wants a connection
  void release(Connection *conn);  // a connection is free again
  bool cancel(Command *c);
  void forget(Lease *l);  // a lease given up before it was granted
  int64_t expire(int64_t now);
  void shutdown();
  [[nodiscard]] size_t size() const noexcept { return conns_.size(); }
  // Sentinel: the master moved; every connection follows.
  void set_endpoints(const std::vector<Endpoint> &eps) {
    endpoints_ = eps;
    for (auto &c : conns_) c->set_endpoints(eps);
  }

 private:
  struct Request {
    Command *cmd;
    Lease *lease;
  };
  Connection *take();
  void grant(Connection *conn, const Request &r);
  void queue(const Request &r);

  Client &client_;
  std::vector<Endpoint> endpoints_;
  int max_;
  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<Connection *> idle_;
  std::vector<Request> waiting_;
};

}  // namespace jr

#endif  // JR_SRC_POOL_HPP

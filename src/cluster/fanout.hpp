// SPDX-License-Identifier: MIT
// Fan-out: one command sent as several (a multi-key command split by slot,
// a command run on every master) whose replies are merged into one.
#ifndef JR_SRC_CLUSTER_FANOUT_HPP
#define JR_SRC_CLUSTER_FANOUT_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "command.hpp"
#include "jr/jr.h"
#include "loop/task.hpp"

namespace jr {

class Client;

// A cluster call (jr_client_submit_all_masters, jr_client_submit_to,
// jr_client_endpoints): a user request (cmd, accounted like any) that the
// loop plans from the topology, so it waits for the cluster detection
// like commands do. Owns cmd until run() or fail() hands it on.
struct ClusterCall final : Task {
  enum Kind { kAllMasters, kToNode, kEndpoints };
  ClusterCall(Kind k, Command *c, std::string a = {}) : kind(k), cmd(c), addr(std::move(a)) {}
  [[nodiscard]] Order order() const noexcept override { return Order::kDetection; }
  [[nodiscard]] int64_t deadline() const noexcept override { return cmd->deadline; }
  [[nodiscard]] bool carries_request() const noexcept override { return true; }
  void run(Client &client) override;
  void fail(Client &client, int status, const jr_reply *detail) override;
  Kind kind;
  Command *cmd;
  std::string addr;  // kToNode: the chosen node
};

// Split multi-key commands (MGET, MSET, DEL...) and all-masters calls.
struct Fanout {
  enum Kind { kMget, kMset, kSum, kAllMasters };
  // The parent is held until finish(): a split command cancelled after it
  // was split (JR_EABANDONED) is completed then, and must not be recycled
  // while its children run.
  Fanout(Client *cl, Command *p, Kind k) : client(cl), parent(p), kind(k) {
    p->holds.fetch_add(1, std::memory_order_relaxed);
  }
  Client *client;
  Command *parent;
  Kind kind;
  size_t pending = 0;
  std::vector<std::string> labels;             // per child: node address
  std::vector<std::vector<size_t>> positions;  // kMget: parent index of each child key
  std::vector<int> status;
  std::vector<jr_reply *> replies;
  size_t total = 0;
  // kAllMasters: per entry, its node said (ROLE) it is not a master; and
  // the rounds of re-planning so far.
  std::vector<uint8_t> demoted;
  int rounds = 0;
  // kAllMasters: per entry, the text of its error when it is not the code's
  // own (the slots no master was reached for); empty: jr_strerror's. And,
  // once a round is re-planned, each slot's master in the latest map that
  // named one (an index into the cluster's nodes; -1: none yet), which
  // labels the slots a later map leaves without a master.
  std::vector<std::string> notes;
  std::vector<int32_t> owner;

  static void child_done(void *ud, int st, const jr_reply *reply);
  static void role_done(void *ud, int st, const jr_reply *reply);
  void settled();
  void finish();
};

}  // namespace jr

#endif  // JR_SRC_CLUSTER_FANOUT_HPP

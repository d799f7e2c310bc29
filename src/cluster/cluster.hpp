// SPDX-License-Identifier: MIT
// Redis Cluster: detection, the slot map and topology refresh, routing by
// slot, redirections (MOVED, ASK, TRYAGAIN...), multi-key splitting and the
// per-node pools. Key positions and hash slots: keys.hpp; fan-out (split
// commands, all masters, the node list): fanout.hpp. Loop thread only.
#ifndef JR_SRC_CLUSTER_CLUSTER_HPP
#define JR_SRC_CLUSTER_CLUSTER_HPP

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/keys.hpp"
#include "command.hpp"
#include "conn/connection.hpp"
#include "pool.hpp"

namespace jr {

struct SlotRange;

struct Fanout;

class Cluster {
 public:
  explicit Cluster(Client &client);
  ~Cluster();

  [[nodiscard]] bool enabled() const noexcept { return enabled_; }
  [[nodiscard]] bool detected() const noexcept { return detected_; }
  // Commands wait in hold() (detection, or the COMMAND table, in flight):
  // later ones queue behind them, in order.
  [[nodiscard]] bool holding() const noexcept {
    return !detected_ || table_pending_ || !held_.empty();
  }
  // Holds a command (or a task: a WATCH release, a cluster call) until
  // detection (and, on a cluster, the COMMAND table) is done, so that the
  // first commands are routed like the others, and tasks stay in order.
  void hold(Queued *q);
  // Starts detection on the seed connection (CLUSTER SLOTS + COMMAND).
  void detect(Connection &seed);
  // Routes a command by its keys; false when it was completed (error).
  void route(Command *c);
  // MOVED / ASK / TRYAGAIN / CLUSTERDOWN / LOADING in an error reply from a
  // node at from_host. True: consumed (re-sent, scheduled, or failed with
  // JR_EPROTO for a malformed redirection).
  bool redirect(Command *c, jr_reply *reply, const std::string &from_host);
  // A node connection failed to connect: its waiting commands come here.
  void node_unreachable(Connection &conn, CmdList &waiting);
  void refresh(const char *why);
  // The master serving a slot, or nullptr when the map has none.
  [[nodiscard]] const std::string *slot_master(int slot) const;
  // A MOVED answer: the slot is served by addr from now on.
  void moved(int slot, const std::string &addr);
  bool cancel(Command *c);      // an unsent command anywhere in the cluster
  int64_t expire(int64_t now);  // retries due; returns next deadline
  void shutdown();
  Connection &node(const std::string &addr);
  // The pool of dedicated connections of the node that serves the command's
  // keys (blocking commands, WATCH leases).
  Pool &pool_for(Command *c);
  Pool &pool(const std::string &addr);
  // Fan-out helpers used by the C API ops.
  void all_masters(Command *c);
  void endpoints(Command *c);
  void to_node(Command *c, const std::string &addr);

  // An all-masters fan-out whose round is over: finishes it, or (a node it
  // reached is no longer a master, or a master was not reached) refreshes
  // the topology and sends the command to the masters it missed.
  void masters_settled(Fanout *f);
  // Its last round is over (or its deadline passed): entries of nodes that
  // said they are replicas become JR_ECLUSTER, the slots no entry answers
  // for get an entry that says so, and the fan-out completes.
  void masters_done(Fanout *f);

  // Internal completions (loop thread).
  void on_slots(int status, const jr_reply *reply, Connection *from);
  void on_command_table(int status, const jr_reply *reply);

 private:
  struct Node {
    std::string addr;
    std::unique_ptr<Connection> conn;
    bool master = false;
    bool in_map = false;
  };
  struct Retry {
    int64_t at;
    Command *cmd;
  };
  Node *find_node(const std::string &addr);
  void send_internal(Connection &conn, const char *const *argv, const size_t *lens, size_t argc,
                     jr_reply_cb cb);
  bool split(Command *c, const std::vector<std::string_view> &args,
             const std::vector<size_t> &keys);
  void submit_to_slot(Command *c, int slot, bool read_only = false);
  int command_slot(Command *c, bool &cross);
  void reroute_parked();
  void release_held();
  void fail_held(int status, const jr_reply *detail = nullptr);
  void fail_one(Queued *q, int status, const jr_reply *detail = nullptr);
  void send_to_master(Fanout *f, size_t i, Node *n);
  void replan(Fanout *f);
  void replan_waiting();

  Client &client_;
  bool enabled_ = false;
  bool detecting_ = false;
  bool detected_ = false;
  bool refreshing_ = false;
  std::string map_sig_;  // the last slot map logged
  void log_map(const std::vector<SlotRange> &ranges, bool first);
  int64_t last_refresh_ = 0;
  bool refresh_wanted_ = false;
  bool table_pending_ = false;
  std::string asked_host_;  // host of the node answering CLUSTER SLOTS
  // Scratch space for routing, reused: no allocation per command.
  std::vector<std::string_view> args_;
  std::vector<size_t> keys_;
  Inbox held_;  // before detection: requests and tasks, in order
  KeyFinder finder_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::pair<std::string, std::unique_ptr<Pool>>> pools_;
  std::unordered_map<int32_t, std::vector<int32_t>> replicas_;  // master -> replicas
  size_t rr_ = 0;
  std::array<int32_t, 16384> slots_;  // index into nodes_, -1: unknown
  std::vector<Retry> retries_;
  CmdList parked_;                 // waiting for a topology refresh
  std::vector<Fanout *> replans_;  // all-masters fan-outs waiting for a topology
  bool shutting_down_ = false;
  uv_timer_t timer_;
  friend struct Fanout;
};

}  // namespace jr

#endif  // JR_SRC_CLUSTER_CLUSTER_HPP

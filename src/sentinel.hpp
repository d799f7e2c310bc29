// SPDX-License-Identifier: MIT
// Redis Sentinel: finds the master through the sentinels, confirms it with
// ROLE, holds commands while it is unknown, and follows failovers
// (+switch-master, READONLY replies, a master that cannot be reached).
// Loop thread only.
#ifndef JR_SRC_SENTINEL_HPP
#define JR_SRC_SENTINEL_HPP

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/keys.hpp"
#include "command.hpp"
#include "conn/connection.hpp"
#include "options.hpp"

namespace jr {

class Client;

// With the options sentinel (one or more) and sentinel_master:
//   discovery  the sentinels are asked in turn (SENTINEL
//              get-master-addr-by-name); the first that answers moves to
//              the front of the list, which SENTINEL sentinels extends;
//              the address is confirmed with ROLE (a master) on its own
//              connection before the client's connections move there.
//   holding    while no master is confirmed, requests and ordered tasks
//              wait here (in order; bounded by their deadlines and the
//              queue limits), then go out to the master.
//   following  a subscription to +switch-master on one sentinel (moving to
//              another when it drops) starts a ROLE check of the new
//              master at once; a READONLY reply (the master was demoted:
//              the command did not run, it waits and is sent again) and a
//              master that cannot be reached start a discovery.
//   replicas   with read_from_replicas, SENTINEL replicas <name> lists the
//              replicas (asked after each move of the master and every
//              10 s; while none is listed after 250 ms, 500 ms, 1 s, then
//              every 2 s; down, disconnected and unsynced ones are left
//              out); each gets its own
//              connection, and is used once ROLE on that connection says
//              "slave". Read-only commands (the server's COMMAND table,
//              read once from the master) go round robin to the replicas
//              confirmed on their current connection, else to the master;
//              a replica connection that is lost is not used until ROLE
//              confirms it again, and what waited on it goes to the master.
//   failing    a round in which no sentinel gave a valid address (none
//              reachable, the name unknown to all, nonsense answers) is
//              retried connect_retry times with backoff; then the waiting
//              requests fail with JR_ECONNECT and the event callback gets
//              JR_EVENT_CONNECT_FAILED on endpoint "sentinel" with the
//              reasons. A round whose address does not confirm (the old
//              master is down, a failover is under way) is retried until
//              the requests' deadlines.
class Sentinel final : public PushHandler {
 public:
  explicit Sentinel(Client &client);
  ~Sentinel() override;
  Sentinel(const Sentinel &) = delete;
  Sentinel &operator=(const Sentinel &) = delete;

  [[nodiscard]] bool enabled() const noexcept { return enabled_; }
  // Requests wait in hold() while the master is not confirmed (or others
  // wait already: order is kept).
  [[nodiscard]] bool holding() const noexcept { return enabled_ && (!known_ || !held_.empty()); }
  void hold(Queued *q);
  // A ready master connection was lost: the master is checked again in
  // the background (a master demoted meanwhile is left, with a move).
  void master_lost(Connection &conn);
  // A master connection gave up connecting: its waiting commands.
  void master_unreachable(Connection &conn, CmdList &waiting);
  // An error reply on a master connection: true when taken (READONLY: held
  // and sent again to the next master; the reply is released).
  bool readonly_reply(Connection &conn, Command *c, jr_reply *reply);
  // read_from_replicas: a replica connection for c (a read-only command
  // outside a transaction), ready and confirmed by ROLE since it connected;
  // nullptr: the master serves it.
  Connection *replica_for(Command *c);
  // A replica connection was lost or could not connect: it is not used
  // until ROLE confirms it again; `waiting` (never written) goes to the
  // master.
  void replica_down(Connection &conn, CmdList &waiting);
  bool cancel(Command *c);
  int64_t expire(int64_t now);
  void shutdown();

  // The +switch-master subscription (PushHandler).
  void on_ready(Connection &conn) override;
  void on_push(Connection &conn, jr_reply *reply) override;
  void on_lost(Connection &conn) override;
  [[nodiscard]] bool wants_connection(const Connection &conn) const override;
  [[nodiscard]] bool awaiting_reply(const Connection &conn) const override;

 private:
  enum class Phase : uint8_t { kIdle, kAsk, kRole };
  struct Replica {
    Sentinel *owner;
    std::string addr;
    std::unique_ptr<Connection> conn;
    bool listed = false;     // in the last SENTINEL replicas answer
    bool checking = false;   // a ROLE is on its way
    uint64_t confirmed = 0;  // the connection epoch ROLE confirmed (0: none)
  };
  [[nodiscard]] bool usable(const Replica &r) const noexcept {
    return r.listed && r.confirmed != 0 && r.conn->ready_now() && r.conn->epoch() == r.confirmed;
  }
  void refresh_replicas(const char *why);
  void on_replicas(int status, const jr_reply *r);
  void check_replica(Replica &r);
  void on_replica_role(Replica &r, int status, const jr_reply *reply);
  void load_commands();
  void replicas_in(uint64_t ms);
  // A command that waited for a replica: to the master (or held).
  void to_master(Command *c);
  void discover(const std::string &why);
  void ask_next();
  void probe(const std::string &addr);
  void on_master_addr(int status, const jr_reply *r);
  void on_sentinels(int status, const jr_reply *r);
  void on_role(int status, const jr_reply *r);
  void confirmed();
  // No master this round: `answered` when some sentinel gave an address.
  void round_over(bool answered);
  void fail_held(int status, const std::string &detail = "");
  void note(const std::string &who, const std::string &what);
  void send(Connection &conn, std::vector<std::string> args,
            void (*cb)(void *, int, const jr_reply *), void *ud = nullptr);
  void watch();
  static void on_timer_cb(uv_timer_t *t);

  Client &client_;
  bool enabled_ = false;
  bool shutting_down_ = false;
  Options sopts_;  // the sentinels' connections: their credentials
  Options mopts_;  // the ROLE probe: the master's credentials, no retries
  std::vector<Endpoint> sentinels_;
  std::string name_;
  bool known_ = false;
  std::string master_;     // the confirmed address
  std::string candidate_;  // the address being confirmed
  Phase phase_ = Phase::kIdle;
  bool running_ = false;  // a discovery round (or a +switch-master probe)
  bool moving_ = false;   // in Client::follow_master
  bool answered_ = false;
  size_t idx_ = 0;
  int rounds_ = 0;  // rounds in a row without a master
  std::string reasons_;
  std::unique_ptr<Connection> ask_;    // to sentinels_[idx_]
  std::unique_ptr<Connection> probe_;  // ROLE on the candidate
  std::unique_ptr<Connection> sub_;    // +switch-master
  bool sub_awaiting_ = false;
  bool sub_was_ready_ = false;
  Inbox held_;
  uv_timer_t timer_;  // the next round
  // read_from_replicas.
  bool replicas_on_ = false;
  std::vector<std::unique_ptr<Replica>> replicas_;
  size_t rr_ = 0;                     // round robin over the usable replicas
  std::unique_ptr<Connection> rask_;  // SENTINEL replicas
  size_t rask_idx_ = 0;               // the sentinel it asks
  bool rask_pending_ = false;
  bool rask_again_ = false;  // asked for while one was on its way (the master moved)
  int rempty_ = 0;           // answers in a row with no usable replica (the next ask backs off)
  uv_timer_t rtimer_;        // the next SENTINEL replicas
  KeyFinder finder_;         // the COMMAND table: which commands are read-only
  bool table_pending_ = false;
  std::string replica_list_;            // the last one logged
  std::vector<std::string_view> args_;  // replica_for's scratch
};

}  // namespace jr

#endif  // JR_SRC_SENTINEL_HPP

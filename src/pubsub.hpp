// SPDX-License-Identifier: MIT
// Pub/sub on the loop thread: subscribers, topics and their links
// (subscription connections).
#ifndef JR_SRC_PUBSUB_HPP
#define JR_SRC_PUBSUB_HPP

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "conn/connection.hpp"
#include "loop/task.hpp"

namespace jr {

// Pub/sub. Channels and patterns share one subscription connection (in a
// cluster: to the seed node; PUBLISH reaches every node). Sharded channels
// (SSUBSCRIBE) live on the node that owns their slot: one connection per
// such node, re-placed when the slot moves (the server's unprompted
// "sunsubscribe", a MOVED answer, a lost node, a topology refresh).
class SubManager : public PushHandler {
 public:
  // jr_sub_subscribe's `pattern` argument.
  enum Kind : int { kChannel = 0, kPattern = 1, kShard = 2, kKinds = 3 };
  struct Sub {
    jr_message_cb cb = nullptr;
    void *userdata = nullptr;
    std::set<std::string> names[kKinds];
    bool lost = false;       // JR_SUB_LOST told, JR_SUB_RESUBSCRIBED not yet
    size_t unconfirmed = 0;  // of its topics, those the server has not confirmed
    bool has_shards() const { return !names[kShard].empty(); }
  };
  // A subscriber's change, a control task in order with the requests its
  // thread submitted before it.
  struct Request final : Task {
    enum Op { kNew, kSubscribe, kUnsubscribe, kPing, kFree };
    Request(Op o, Sub *s, int k = kChannel) : op(o), sub(s), kind(k) {}
    void run(Client &client) override;
    Op op;
    Sub *sub;
    int kind = kChannel;
    std::vector<std::string> names;
  };

  explicit SubManager(Client &client);
  ~SubManager() override;
  void handle(const Request &r);
  void shutdown();
  // Sentinel: the master moved; the subscriptions follow (re-subscribed on
  // the new master).
  void set_endpoints(const std::vector<Endpoint> &eps);
  // The cluster topology is known or changed (or its detection failed).
  void on_topology();

  void on_ready(Connection &conn) override;
  void on_push(Connection &conn, jr_reply *reply) override;
  void on_lost(Connection &conn) override;
  [[nodiscard]] bool wants_connection(const Connection &conn) const override;
  [[nodiscard]] bool awaiting_reply(const Connection &conn) const override;
  int64_t expire(int64_t now);

 private:
  struct Link;
  struct Topic {
    std::vector<Sub *> subs;
    bool confirmed = false;
    bool sent = false;     // (S|P)SUBSCRIBE written, no answer yet
    Link *link = nullptr;  // sharded channels: the node's link (nullptr: none yet)
    uint16_t slot = 0;     // sharded channels
  };
  using Topics = std::map<std::string, Topic>;
  // What a link wrote, in order: the answers come back in the same order
  // (one per name, or one error for the whole command).
  struct Sent {
    enum What : uint8_t { kSub, kUnsub, kPing } what;
    int kind;
    std::vector<std::string> names;
    size_t next = 0;  // names answered so far
  };
  // A subscription connection: the one for channels, patterns and pings,
  // or one per node for sharded channels.
  struct Link {
    std::string addr;  // sharded: "host:port", or "" for the client's endpoints
    std::unique_ptr<Connection> conn;
    size_t topics = 0;  // sharded channels placed here
    std::deque<Sent> sent;
    bool down = false;  // lost, not back yet (its node may have failed over)
  };
  struct Ping {
    Sub *sub;
    std::string text;
    bool sent;
  };
  struct Served {
    int kind;
    uint16_t slot;
    std::string name;
    Topic *topic;
  };
  std::vector<Served> reset_topics(Link &l);
  void subscribe(Sub *sub, int kind, const std::vector<std::string> &names);
  void unsubscribe(Sub *sub, int kind, std::vector<std::string> names);
  void drop(Sub *sub, int kind, const std::vector<std::string> &names, bool tell);
  void confirm(Sub *sub, int kind, bool unsub, const std::string &name, int64_t n);
  int64_t server_count(const Link *l) const;
  const Link *shard_link(const std::string &name) const;
  void attach(Sub *sub, Topic &t);
  void detach(Sub *sub, Topic &t);
  void set_confirmed(Topic &t, bool confirmed);
  void tell_lost(Sub *sub);
  void check_resubscribed(const std::vector<Sub *> &subs);
  void send(Link &l, Sent::What what, int kind, std::vector<std::string> names);
  void send_ping(Ping &p);
  void free_sub(Sub *sub, bool final_cb);
  Link &classic();
  Link *link_of(const Connection &c);
  const Link *link_of(const Connection &c) const;
  Topic *topic_on(Link &l, int kind, const std::string &name);
  bool answered(Link &l, Sent::What what, int kind, const std::string &name);
  void on_error(Link &l, const jr_reply *reply);
  // Sharded channels.
  Link &link(const std::string &addr);
  bool owner_of(uint16_t slot, std::string &addr);
  void place_shards();
  void move_shard(const std::string &name, Topic &t, Link *to);
  void send_shards(Link &l, bool unsub, std::vector<std::pair<uint16_t, std::string>> names);
  void shard_moved(Link &l, const std::string &text, const std::vector<std::string> &names);
  void close_unused_links();
  void arm_retry();

  Client &client_;
  Link classic_;  // channels, patterns, pings (its connection made on first use)
  Topics topics_[kKinds];
  std::vector<std::unique_ptr<Link>> links_;  // sharded channels
  std::vector<Sub *> subs_;
  std::deque<Ping> pings_;
  uv_timer_t retry_;  // re-places sharded channels while some have no node
  bool stopped_ = false;
};

}  // namespace jr

#endif  // JR_SRC_PUBSUB_HPP

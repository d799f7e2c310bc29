// The seed's transparent API on the loop thread: pub/sub and MONITOR
// (the pool and transactions live in core.hpp / connection.cpp).
#ifndef JR_SRC_TRANSPARENT_HPP
#define JR_SRC_TRANSPARENT_HPP

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core.hpp"

namespace jr {

void tx_deliver(void *userdata, int status, const jr_reply *reply);

class SubManager : public PushHandler {
 public:
  struct Sub {
    jr_message_cb cb = nullptr;
    void *userdata = nullptr;
    std::set<std::string> channels;
    std::set<std::string> patterns;
    [[nodiscard]] int64_t count() const {
      return static_cast<int64_t>(channels.size() + patterns.size());
    }
  };
  struct Request {
    enum Kind { kNew, kSubscribe, kUnsubscribe, kPing, kFree } kind;
    Sub *sub;
    bool pattern = false;
    std::vector<std::string> names;
  };

  explicit SubManager(Client &client);
  ~SubManager() override;
  void handle(Request *r);
  void shutdown();

  void on_ready(Connection &conn) override;
  void on_push(Connection &conn, jr_reply *reply) override;
  void on_lost(Connection &conn) override;
  [[nodiscard]] bool wants_connection() const override;
  [[nodiscard]] bool awaiting_reply() const override;
  int64_t expire(int64_t now);

 private:
  struct Topic {
    std::vector<Sub *> subs;
    std::vector<Sub *> awaiting;  // want a confirmation from the server
    bool confirmed = false;
  };
  struct Ping {
    Sub *sub;
    std::string text;
    bool sent;
  };
  void subscribe(Sub *sub, bool pattern, const std::vector<std::string> &names);
  void unsubscribe(Sub *sub, bool pattern, std::vector<std::string> names);
  void confirm(Sub *sub, const char *kind, const std::string &name);
  void send(const char *cmd, const std::vector<std::string> &names);
  void send_ping(Ping &p);
  void free_sub(Sub *sub, bool final_cb);
  Connection &conn();

  Client &client_;
  std::unique_ptr<Connection> conn_;
  std::map<std::string, Topic> channels_;
  std::map<std::string, Topic> patterns_;
  std::vector<Sub *> subs_;
  std::deque<Ping> pings_;
  size_t resub_left_ = 0;
  bool was_connected_ = false;
  bool lost_told_ = false;  // JR_SUB_LOST sent for the current outage
};

class Monitor : public PushHandler {
 public:
  Monitor(Client &client, jr_message_cb cb, void *userdata);
  ~Monitor() override;
  void start();
  void stop();  // final JR_ECLOSED callback; the connection is closed

  void on_ready(Connection &conn) override;
  void on_push(Connection &conn, jr_reply *reply) override;
  void on_lost(Connection &conn) override;
  [[nodiscard]] bool wants_connection() const override { return !stopped_; }
  [[nodiscard]] bool awaiting_reply() const override { return ok_pending_; }
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

struct MonitorRequest {
  enum Kind { kStart, kStop } kind;
  Monitor *monitor;
};

}  // namespace jr

#endif  // JR_SRC_TRANSPARENT_HPP

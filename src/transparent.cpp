// Pool of dedicated connections, MULTI/EXEC delivery, pub/sub and MONITOR.
#include "transparent.hpp"

#include <algorithm>
#include <cstring>

namespace jr {

// ---- Pool -----------------------------------------------------------------------

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
  waiting_.push_back(Request{c, nullptr});
}

void Pool::request(Lease *l) {
  if (Connection *conn = take()) {
    grant(conn, Request{nullptr, l});
    return;
  }
  waiting_.push_back(Request{nullptr, l});
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

// ---- MULTI/EXEC ------------------------------------------------------------------

Tx::~Tx() {
  for (jr_reply *r : queue_errors) reply_release(r);
}

void tx_deliver(void *userdata, int status, const jr_reply *reply) {
  auto *tx = static_cast<Tx *>(userdata);
  size_t n = tx->items.size();
  auto fail_all = [&](int code) {
    for (auto &it : tx->items) it.cb(it.userdata, code, nullptr);
    if (tx->exec_cb != nullptr) tx->exec_cb(tx->exec_userdata, code, nullptr);
  };
  if (status != JR_OK) {
    fail_all(status);
  } else if (reply->type == JR_REPLY_ARRAY && reply->len == n) {
    for (size_t i = 0; i < n; i++)
      tx->items[i].cb(tx->items[i].userdata, JR_OK, reply->u.elements[i]);
    if (tx->exec_cb != nullptr) tx->exec_cb(tx->exec_userdata, JR_OK, reply);
  } else if (reply->type == JR_REPLY_NIL) {
    fail_all(tx->watch ? JR_EWATCH : JR_EPROTO);
  } else if (reply->type == JR_REPLY_ERROR) {
    // EXECABORT: the commands rejected at queue time get their own error;
    // the others get the EXEC error quoting the first of those.
    std::string first;
    for (size_t i = 0; i < n; i++) {
      if (tx->queue_errors[i] != nullptr) {
        first = "command " + std::to_string(i + 1) + ": " +
                std::string(tx->queue_errors[i]->u.str, tx->queue_errors[i]->len);
        break;
      }
    }
    std::string text(reply->u.str, reply->len);
    if (!first.empty()) text += " (" + first + ")";
    jr_reply *abort = make_reply(ReplyPart{JR_REPLY_ERROR, text, 0});
    for (size_t i = 0; i < n; i++) {
      if (tx->queue_errors[i] != nullptr) {
        tx->items[i].cb(tx->items[i].userdata, JR_OK, tx->queue_errors[i]);
      } else if (abort != nullptr) {
        tx->items[i].cb(tx->items[i].userdata, JR_OK, abort);
      } else {
        tx->items[i].cb(tx->items[i].userdata, JR_ENOMEM, nullptr);
      }
    }
    reply_release(abort);
    if (tx->exec_cb != nullptr) tx->exec_cb(tx->exec_userdata, JR_OK, reply);
  } else {
    fail_all(JR_EPROTO);
  }
  delete tx;
}

// ---- Pub/sub -----------------------------------------------------------------------

SubManager::SubManager(Client &client) : client_(client) {}

SubManager::~SubManager() {
  for (Sub *s : subs_) delete s;
}

Connection &SubManager::conn() {
  if (!conn_) {
    conn_ = std::make_unique<Connection>(client_, client_.endpoints(), Connection::Role::kPush);
    conn_->set_push(this);
  }
  return *conn_;
}

bool SubManager::awaiting_reply() const {
  for (auto &kv : channels_)
    if (!kv.second.confirmed) return true;
  for (auto &kv : patterns_)
    if (!kv.second.confirmed) return true;
  for (auto &p : pings_)
    if (p.sent) return true;
  return false;
}

int64_t SubManager::expire(int64_t now) {
  return conn_ ? conn_->expire(now) : 0;
}

bool SubManager::wants_connection() const {
  return !channels_.empty() || !patterns_.empty() || !pings_.empty();
}

void SubManager::confirm(Sub *sub, const char *kind, const std::string &name) {
  jr_reply *r =
      make_array_reply({ReplyPart{JR_REPLY_STRING, kind, 0}, ReplyPart{JR_REPLY_STRING, name, 0},
                        ReplyPart{JR_REPLY_INTEGER, "", sub->count()}});
  if (r == nullptr) return;
  client_.post(sub->cb, sub->userdata, JR_OK, r);
  reply_release(r);
}

void SubManager::send(const char *cmd, const std::vector<std::string> &names) {
  Connection &c = conn();
  if (!c.ready_now()) {
    c.connect_now();  // on_ready sends everything
    return;
  }
  // In chunks, so that one huge list does not become one huge command.
  for (size_t start = 0; start < names.size(); start += 1024) {
    size_t end = std::min(names.size(), start + 1024);
    std::vector<const char *> argv{cmd};
    std::vector<size_t> lens{std::strlen(cmd)};
    for (size_t i = start; i < end; i++) {
      argv.push_back(names[i].data());
      lens.push_back(names[i].size());
    }
    c.write_raw(argv.size(), argv.data(), lens.data());
  }
}

void SubManager::subscribe(Sub *sub, bool pattern, const std::vector<std::string> &names) {
  auto &mine = pattern ? sub->patterns : sub->channels;
  auto &topics = pattern ? patterns_ : channels_;
  const char *kind = pattern ? "psubscribe" : "subscribe";
  std::vector<std::string> fresh;
  for (const auto &name : names) {
    if (!mine.insert(name).second) {
      confirm(sub, kind, name);  // already there: confirm again, as Redis does
      continue;
    }
    auto [it, created] = topics.try_emplace(name);
    Topic &t = it->second;
    t.subs.push_back(sub);
    if (created) {
      t.awaiting.push_back(sub);
      fresh.push_back(name);
    } else if (t.confirmed) {
      confirm(sub, kind, name);
    } else {
      t.awaiting.push_back(sub);
    }
  }
  if (!fresh.empty()) send(pattern ? "PSUBSCRIBE" : "SUBSCRIBE", fresh);
}

void SubManager::unsubscribe(Sub *sub, bool pattern, std::vector<std::string> names) {
  auto &mine = pattern ? sub->patterns : sub->channels;
  auto &topics = pattern ? patterns_ : channels_;
  const char *kind = pattern ? "punsubscribe" : "unsubscribe";
  if (names.empty()) names.assign(mine.begin(), mine.end());  // all of this kind only
  std::vector<std::string> gone;
  for (const auto &name : names) {
    if (mine.erase(name) > 0) {
      auto it = topics.find(name);
      if (it != topics.end()) {
        Topic &t = it->second;
        t.subs.erase(std::remove(t.subs.begin(), t.subs.end(), sub), t.subs.end());
        t.awaiting.erase(std::remove(t.awaiting.begin(), t.awaiting.end(), sub), t.awaiting.end());
        if (t.subs.empty()) {
          topics.erase(it);
          gone.push_back(name);
        }
      }
    }
    confirm(sub, kind, name);
  }
  if (!gone.empty() && conn_ && conn_->ready_now())
    send(pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", gone);
}

void SubManager::send_ping(Ping &p) {
  Connection &c = conn();
  if (!c.ready_now()) {
    c.connect_now();
    return;
  }
  const char *argv[] = {"PING", p.text.data()};
  const size_t lens[] = {4, p.text.size()};
  c.write_raw(2, argv, lens);
  p.sent = true;
}

void SubManager::free_sub(Sub *sub, bool final_cb) {
  std::vector<std::string> ch(sub->channels.begin(), sub->channels.end());
  std::vector<std::string> pt(sub->patterns.begin(), sub->patterns.end());
  for (bool pattern : {false, true}) {
    auto &topics = pattern ? patterns_ : channels_;
    std::vector<std::string> gone;
    for (const auto &name : pattern ? pt : ch) {
      auto it = topics.find(name);
      if (it == topics.end()) continue;
      Topic &t = it->second;
      t.subs.erase(std::remove(t.subs.begin(), t.subs.end(), sub), t.subs.end());
      t.awaiting.erase(std::remove(t.awaiting.begin(), t.awaiting.end(), sub), t.awaiting.end());
      if (t.subs.empty()) {
        topics.erase(it);
        gone.push_back(name);
      }
    }
    if (!gone.empty() && conn_ && conn_->ready_now())
      send(pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", gone);
  }
  for (auto &p : pings_)
    if (p.sub == sub) p.sub = nullptr;
  subs_.erase(std::remove(subs_.begin(), subs_.end(), sub), subs_.end());
  if (final_cb) client_.post(sub->cb, sub->userdata, JR_ECLOSED, nullptr);
  delete sub;
}

void SubManager::handle(Request *r) {
  switch (r->kind) {
    case Request::kNew:
      subs_.push_back(r->sub);
      break;
    case Request::kSubscribe:
      subscribe(r->sub, r->pattern, r->names);
      break;
    case Request::kUnsubscribe:
      unsubscribe(r->sub, r->pattern, r->names);
      break;
    case Request::kPing:
      pings_.push_back(Ping{r->sub, r->names.empty() ? std::string() : r->names[0], false});
      send_ping(pings_.back());
      break;
    case Request::kFree:
      free_sub(r->sub, true);
      break;
  }
  delete r;
}

void SubManager::on_ready(Connection &) {
  bool resub = was_connected_ || lost_told_;
  lost_told_ = false;
  was_connected_ = true;
  for (auto &kv : channels_) kv.second.confirmed = false;
  for (auto &kv : patterns_) kv.second.confirmed = false;
  resub_left_ = resub ? channels_.size() + patterns_.size() : 0;
  std::vector<std::string> ch, pt;
  for (auto &kv : channels_) ch.push_back(kv.first);
  for (auto &kv : patterns_) pt.push_back(kv.first);
  if (!ch.empty()) send("SUBSCRIBE", ch);
  if (!pt.empty()) send("PSUBSCRIBE", pt);
  for (auto &p : pings_)
    if (!p.sent) send_ping(p);
  if (resub && resub_left_ == 0)
    for (Sub *s : subs_) client_.post(s->cb, s->userdata, JR_SUB_RESUBSCRIBED, nullptr);
}

void SubManager::on_lost(Connection &) {
  if (!lost_told_)
    for (Sub *s : subs_) client_.post(s->cb, s->userdata, JR_SUB_LOST, nullptr);
  lost_told_ = true;
  // Pings in flight are lost with the connection; unsent ones wait.
  pings_.erase(std::remove_if(pings_.begin(), pings_.end(), [](const Ping &p) { return p.sent; }),
               pings_.end());
}

namespace {
bool is(const jr_reply *r, const char *word) {
  return r != nullptr && (r->type == JR_REPLY_STRING || r->type == JR_REPLY_STATUS) &&
         r->len == std::strlen(word) && std::memcmp(r->u.str, word, r->len) == 0;
}
}  // namespace

void SubManager::on_push(Connection &, jr_reply *reply) {
  const jr_reply *kind =
      reply->type == JR_REPLY_ARRAY && reply->len > 0 ? reply->u.elements[0] : nullptr;
  if (is(kind, "message") && reply->len == 3) {
    const jr_reply *ch = reply->u.elements[1];
    auto it = channels_.find(std::string(ch->u.str, ch->len));
    if (it != channels_.end())
      for (Sub *s : it->second.subs) client_.post(s->cb, s->userdata, JR_OK, reply);
  } else if (is(kind, "pmessage") && reply->len == 4) {
    const jr_reply *pat = reply->u.elements[1];
    auto it = patterns_.find(std::string(pat->u.str, pat->len));
    if (it != patterns_.end())
      for (Sub *s : it->second.subs) client_.post(s->cb, s->userdata, JR_OK, reply);
  } else if ((is(kind, "subscribe") || is(kind, "psubscribe")) && reply->len == 3) {
    bool pattern = is(kind, "psubscribe");
    const jr_reply *nm = reply->u.elements[1];
    std::string name(nm->u.str, nm->len);
    auto &topics = pattern ? patterns_ : channels_;
    auto it = topics.find(name);
    if (it != topics.end() && !it->second.confirmed) {
      Topic &t = it->second;
      t.confirmed = true;
      std::vector<Sub *> waiting;
      waiting.swap(t.awaiting);
      for (Sub *s : waiting) confirm(s, pattern ? "psubscribe" : "subscribe", name);
      if (resub_left_ > 0 && --resub_left_ == 0)
        for (Sub *s : subs_) client_.post(s->cb, s->userdata, JR_SUB_RESUBSCRIBED, nullptr);
    }
  } else if (is(kind, "unsubscribe") || is(kind, "punsubscribe")) {
    // Confirmed to the subscriber when it asked.
  } else if (is(kind, "pong") || reply->type == JR_REPLY_STATUS || reply->type == JR_REPLY_STRING) {
    // ["pong", text] when subscribed; a plain reply when not.
    while (!pings_.empty() && !pings_.front().sent) pings_.pop_front();
    if (!pings_.empty()) {
      Ping p = pings_.front();
      pings_.pop_front();
      if (p.sub != nullptr) {
        jr_reply *r = make_array_reply(
            {ReplyPart{JR_REPLY_STRING, "pong", 0}, ReplyPart{JR_REPLY_STRING, p.text, 0}});
        if (r != nullptr) {
          client_.post(p.sub->cb, p.sub->userdata, JR_OK, r);
          reply_release(r);
        }
      }
    }
  } else if (reply->type == JR_REPLY_ERROR) {
    client_.emit(JR_EVENT_LOG, "pubsub", std::string(reply->u.str, reply->len));
  }
  reply_release(reply);
}

void SubManager::shutdown() {
  std::vector<Sub *> all = subs_;
  for (Sub *s : all) free_sub(s, true);
  if (conn_) conn_->shutdown();
}

// ---- MONITOR --------------------------------------------------------------------------

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

void Monitor::on_push(Connection &, jr_reply *reply) {
  if (ok_pending_ && reply->type == JR_REPLY_STATUS && reply->len == 2 &&
      std::memcmp(reply->u.str, "OK", 2) == 0) {
    ok_pending_ = false;
  } else {
    client_.post(cb_, userdata_, JR_OK, reply);
  }
  reply_release(reply);
}

void Monitor::on_lost(Connection &) {
  client_.post(cb_, userdata_, JR_SUB_LOST, nullptr);
}

}  // namespace jr

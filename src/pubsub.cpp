// SPDX-License-Identifier: MIT
// Pub/sub: one subscription connection for channels and patterns, one per
// node for sharded channels; confirmations, messages, resubscription.
#include "pubsub.hpp"

#include <algorithm>
#include <cstring>

#include "cluster/cluster.hpp"
#include "interpret.hpp"
#include "loop/client.hpp"

namespace jr {

// ---- Pub/sub -----------------------------------------------------------------------

namespace {
const char *const kSubscribeCmd[] = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"};
const char *const kUnsubscribeCmd[] = {"UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"};
const char *const kSubscribeKind[] = {"subscribe", "psubscribe", "ssubscribe"};
const char *const kUnsubscribeKind[] = {"unsubscribe", "punsubscribe", "sunsubscribe"};
// While a sharded channel has no node to be subscribed on (topology not
// known yet, cluster down, its node lost), placing it is retried this
// often, with a topology refresh each time.
constexpr uint64_t kShardRetryMs = 500;

bool starts(const std::string &s, const char *prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

SubManager::SubManager(Client &client) : client_(client) {
  uv_timer_init(client.loop(), &retry_);
  retry_.data = this;
}

SubManager::~SubManager() {
  for (Sub *s : subs_) delete s;
}

SubManager::Link &SubManager::classic() {
  if (!classic_.conn) {
    classic_.conn =
        std::make_unique<Connection>(client_, client_.endpoints(), Connection::Role::kPush);
    classic_.conn->set_push(this);
  }
  return classic_;
}

void SubManager::set_endpoints(const std::vector<Endpoint> &eps) {
  if (classic_.conn) classic_.conn->set_endpoints(eps);
  for (auto &l : links_)
    if (l->addr.empty()) l->conn->set_endpoints(eps);
}

const SubManager::Link *SubManager::link_of(const Connection &c) const {
  if (classic_.conn.get() == &c) return &classic_;
  for (const auto &l : links_)
    if (l->conn.get() == &c) return l.get();
  return nullptr;
}

SubManager::Link *SubManager::link_of(const Connection &c) {
  return const_cast<Link *>(static_cast<const SubManager *>(this)->link_of(c));
}

bool SubManager::awaiting_reply(const Connection &c) const {
  const Link *l = link_of(c);
  return l != nullptr && !l->sent.empty();
}

int64_t SubManager::expire(int64_t now) {
  int64_t next = classic_.conn ? classic_.conn->expire(now) : 0;
  for (auto &l : links_) {
    int64_t d = l->conn->expire(now);
    if (d != 0 && (next == 0 || d < next)) next = d;
  }
  return next;
}

bool SubManager::wants_connection(const Connection &c) const {
  const Link *l = link_of(c);
  if (stopped_ || l == nullptr) return false;
  if (l != &classic_) return l->topics > 0;
  return !topics_[kChannel].empty() || !topics_[kPattern].empty() || !pings_.empty();
}

// ["subscribe", name, n]: n is the server's count for the connection (see
// server_count), as the server sent it when the confirmation is its own.
void SubManager::confirm(Sub *sub, int kind, bool unsub, const std::string &name, int64_t n) {
  jr_reply *r = make_array_reply(
      {ReplyPart{JR_REPLY_STRING, unsub ? kUnsubscribeKind[kind] : kSubscribeKind[kind], 0},
       ReplyPart{JR_REPLY_STRING, name, 0}, ReplyPart{JR_REPLY_INTEGER, "", n}});
  if (r == nullptr) return;
  client_.post(sub->cb, sub->userdata, JR_OK, r);
  reply_release(r);
}

// What the server counts on a link's connection once it has read what
// libjr wrote there, i.e. what it answers to the next (UN)SUBSCRIBE: the
// channels and patterns of the shared connection (every subscriber's, each
// once), or the sharded channels on a node's connection; 0 while it is not
// connected (the server holds nothing for libjr then).
int64_t SubManager::server_count(const Link *l) const {
  if (l == nullptr || !l->conn || !l->conn->ready_now()) return 0;
  if (l == &classic_)
    return static_cast<int64_t>(topics_[kChannel].size() + topics_[kPattern].size());
  return static_cast<int64_t>(l->topics);
}

// The link a sharded channel is (or would be) subscribed on, if it exists.
const SubManager::Link *SubManager::shard_link(const std::string &name) const {
  auto it = topics_[kShard].find(name);
  if (it != topics_[kShard].end()) return it->second.link;
  std::string addr;  // "" for a standalone server
  Cluster &cl = client_.cluster();
  if (cl.enabled()) {
    const std::string *m = cl.slot_master(key_slot(name.data(), name.size()));
    if (m == nullptr) return nullptr;
    addr = *m;
  }
  for (const auto &l : links_)
    if (l->addr == addr) return l.get();
  return nullptr;
}

// Topic membership and confirmation go through these three, which keep
// each subscriber's count of unconfirmed topics (JR_SUB_RESUBSCRIBED).
void SubManager::attach(Sub *sub, Topic &t) {
  t.subs.push_back(sub);
  if (!t.confirmed) sub->unconfirmed++;
}

void SubManager::detach(Sub *sub, Topic &t) {
  t.subs.erase(std::remove(t.subs.begin(), t.subs.end(), sub), t.subs.end());
  if (!t.confirmed) sub->unconfirmed--;
}

void SubManager::set_confirmed(Topic &t, bool confirmed) {
  if (t.confirmed == confirmed) return;
  t.confirmed = confirmed;
  for (Sub *s : t.subs) {
    if (confirmed) {
      s->unconfirmed--;
    } else {
      s->unconfirmed++;
    }
  }
}

void SubManager::tell_lost(Sub *sub) {
  if (sub->lost) return;  // once per outage
  sub->lost = true;
  client_.post(sub->cb, sub->userdata, JR_SUB_LOST, nullptr);
}

void SubManager::check_resubscribed(const std::vector<Sub *> &subs) {
  for (Sub *s : subs) {
    if (!s->lost || s->unconfirmed > 0) continue;
    s->lost = false;
    client_.post(s->cb, s->userdata, JR_SUB_RESUBSCRIBED, nullptr);
  }
}

// Writes (UN)SUBSCRIBE-family commands, in chunks of 1024 names so that one
// huge list does not become one huge command, and remembers each for its
// answers. Not connected: connects; on_ready writes the subscriptions.
void SubManager::send(Link &l, Sent::What what, int kind, std::vector<std::string> names) {
  if (names.empty()) return;
  if (!l.conn->ready_now()) {
    if (what == Sent::kSub) l.conn->connect_now();
    return;
  }
  const char *cmd = what == Sent::kSub ? kSubscribeCmd[kind] : kUnsubscribeCmd[kind];
  for (size_t start = 0; start < names.size(); start += 1024) {
    size_t end = std::min(names.size(), start + 1024);
    Sent s{what, kind, {}, 0};
    std::vector<const char *> argv{cmd};
    std::vector<size_t> lens{std::strlen(cmd)};
    for (size_t i = start; i < end; i++) {
      argv.push_back(names[i].data());
      lens.push_back(names[i].size());
      if (what == Sent::kSub) {
        auto it = topics_[kind].find(names[i]);
        if (it != topics_[kind].end()) it->second.sent = true;
      }
    }
    l.conn->write_raw(argv.size(), argv.data(), lens.data());
    s.names.assign(std::make_move_iterator(names.begin() + static_cast<ptrdiff_t>(start)),
                   std::make_move_iterator(names.begin() + static_cast<ptrdiff_t>(end)));
    l.sent.push_back(std::move(s));
  }
}

void SubManager::subscribe(Sub *sub, int kind, const std::vector<std::string> &names) {
  auto &mine = sub->names[kind];
  Topics &topics = topics_[kind];
  std::vector<std::string> fresh;
  // A name the connection has subscribed already (this subscriber's or
  // another's) is confirmed at once with the server's count, as Redis does
  // for a repeated SUBSCRIBE; any other is confirmed, to every subscriber
  // of it, when the server's own confirmation arrives (on_push).
  for (const auto &name : names) {
    auto [it, created] = topics.try_emplace(name);
    Topic &t = it->second;
    if (mine.insert(name).second) attach(sub, t);
    if (created) {
      t.slot = key_slot(name.data(), name.size());
      fresh.push_back(name);
    } else if (t.confirmed) {
      confirm(sub, kind, false, name, server_count(kind == kShard ? t.link : &classic_));
    }
  }
  if (fresh.empty()) return;
  if (kind == kShard) {
    place_shards();
  } else {
    send(classic(), Sent::kSub, kind, std::move(fresh));
  }
}

void SubManager::unsubscribe(Sub *sub, int kind, std::vector<std::string> names) {
  if (names.empty()) names.assign(sub->names[kind].begin(), sub->names[kind].end());  // this kind
  drop(sub, kind, names, true);
}

// Takes names from a subscriber; the server hears of the topics nobody
// wants any more. tell: confirm each name to the subscriber.
void SubManager::drop(Sub *sub, int kind, const std::vector<std::string> &names, bool tell) {
  auto &mine = sub->names[kind];
  Topics &topics = topics_[kind];
  std::vector<std::string> gone;
  std::vector<std::pair<Link *, std::pair<uint16_t, std::string>>> gone_shards;
  for (const auto &name : names) {
    const Link *where = kind == kShard ? (tell ? shard_link(name) : nullptr) : &classic_;
    auto it = mine.erase(name) > 0 ? topics.find(name) : topics.end();
    if (it != topics.end()) {
      Topic &t = it->second;
      detach(sub, t);
      if (t.subs.empty()) {
        if (kind != kShard) {
          gone.push_back(name);
        } else if (t.link != nullptr) {
          t.link->topics--;
          if (t.sent || t.confirmed) gone_shards.push_back({t.link, {t.slot, name}});
        }
        topics.erase(it);
      }
    }
    // The count once the server has read the UNSUBSCRIBE libjr writes (or
    // unchanged: other subscribers keep the name on the connection).
    if (tell) confirm(sub, kind, true, name, server_count(where));
  }
  if (kind == kShard) {
    for (auto &l : links_) {
      std::vector<std::pair<uint16_t, std::string>> here;
      for (auto &g : gone_shards)
        if (g.first == l.get()) here.push_back(g.second);
      // A link left with nothing is closed instead (close_unused_links).
      if (!here.empty() && l->topics > 0) send_shards(*l, true, std::move(here));
    }
    close_unused_links();
  } else if (!gone.empty() && classic_.conn) {
    send(classic_, Sent::kUnsub, kind, std::move(gone));
  }
  if (tell) check_resubscribed({sub});
}

void SubManager::send_ping(Ping &p) {
  Link &l = classic();
  if (!l.conn->ready_now()) {
    l.conn->connect_now();
    return;
  }
  const char *argv[] = {"PING", p.text.data()};
  const size_t lens[] = {4, p.text.size()};
  l.conn->write_raw(2, argv, lens);
  l.sent.push_back(Sent{Sent::kPing, kChannel, {}, 0});
  p.sent = true;
}

void SubManager::free_sub(Sub *sub, bool final_cb) {
  for (int k = 0; k < kKinds; k++)
    drop(sub, k, std::vector<std::string>(sub->names[k].begin(), sub->names[k].end()), false);
  for (auto &p : pings_)
    if (p.sub == sub) p.sub = nullptr;
  subs_.erase(std::remove(subs_.begin(), subs_.end(), sub), subs_.end());
  if (final_cb) client_.post(sub->cb, sub->userdata, JR_ECLOSED, nullptr);
  delete sub;
}

void SubManager::Request::run(Client &client) {
  client.subs().handle(*this);
}

void SubManager::handle(const Request &r) {
  switch (r.op) {
    case Request::kNew:
      subs_.push_back(r.sub);
      break;
    case Request::kSubscribe:
      subscribe(r.sub, r.kind, r.names);
      break;
    case Request::kUnsubscribe:
      unsubscribe(r.sub, r.kind, r.names);
      break;
    case Request::kPing:
      pings_.push_back(Ping{r.sub, r.names.empty() ? std::string() : r.names[0], false});
      send_ping(pings_.back());
      break;
    case Request::kFree:
      free_sub(r.sub, true);
      break;
  }
}

// Every topic the link serves is unconfirmed and unsent (a connection
// began or ended); returns them as (kind, slot, name).
std::vector<SubManager::Served> SubManager::reset_topics(Link &l) {
  std::vector<Served> out;
  for (int k = 0; k < kKinds; k++) {
    if ((k == kShard) == (&l == &classic_)) continue;
    for (auto &[name, t] : topics_[k]) {
      if (k == kShard && t.link != &l) continue;
      set_confirmed(t, false);
      t.sent = false;
      out.push_back(Served{k, t.slot, name, &t});
    }
  }
  return out;
}

void SubManager::on_ready(Connection &c) {
  Link *l = link_of(c);
  if (l == nullptr) return;
  l->sent.clear();
  l->down = false;
  std::vector<Served> served = reset_topics(*l);
  if (client_.log_on())
    client_.log(JR_LOG_INFO, JR_EVENT_STATE, c.endpoint().display(),
                std::string(l == &classic_ ? "subscription" : "sharded subscription") +
                    " connection ready: subscribing " + std::to_string(served.size()) + " names");
  if (l != &classic_) {
    // A new connection to the node: every sharded channel placed here.
    std::vector<std::pair<uint16_t, std::string>> all;
    for (auto &sv : served) all.emplace_back(sv.slot, std::move(sv.name));
    send_shards(*l, false, std::move(all));
    return;
  }
  std::vector<std::string> names[2];
  for (auto &sv : served) names[sv.kind].push_back(std::move(sv.name));
  for (int k : {kChannel, kPattern}) send(*l, Sent::kSub, k, std::move(names[k]));
  for (auto &p : pings_)
    if (!p.sent) send_ping(p);
  check_resubscribed(subs_);  // those with nothing to wait for
}

void SubManager::on_lost(Connection &c) {
  Link *l = link_of(c);
  if (l == nullptr) return;
  l->sent.clear();
  l->down = true;
  std::vector<Served> served = reset_topics(*l);
  if (client_.log_on())
    client_.log(JR_LOG_WARN, JR_EVENT_STATE, c.endpoint().display(),
                std::string(l == &classic_ ? "subscription" : "sharded subscription") +
                    " connection lost: " + std::to_string(served.size()) +
                    " names to subscribe again");
  if (l != &classic_) {
    for (auto &sv : served)
      for (Sub *s : sv.topic->subs) tell_lost(s);
    // A lost node may have failed over: learn the new owners.
    Cluster &cl = client_.cluster();
    if (cl.enabled() && l->topics > 0) {
      cl.refresh("sharded pub/sub connection lost");
      arm_retry();
    }
    return;
  }
  // Everyone this connection serves hears of it: subscribers of channels or
  // patterns, of pings in flight, or of nothing yet.
  for (Sub *s : subs_) {
    bool pinging = std::any_of(pings_.begin(), pings_.end(),
                               [s](const Ping &p) { return p.sub == s && p.sent; });
    if (!s->names[kChannel].empty() || !s->names[kPattern].empty() || pinging || !s->has_shards())
      tell_lost(s);
  }
  // Pings in flight are lost with the connection; unsent ones wait.
  pings_.erase(std::remove_if(pings_.begin(), pings_.end(), [](const Ping &p) { return p.sent; }),
               pings_.end());
}

// The topic `name` of `kind` if this link serves it.
SubManager::Topic *SubManager::topic_on(Link &l, int kind, const std::string &name) {
  auto it = topics_[kind].find(name);
  if (it == topics_[kind].end()) return nullptr;
  if (kind == kShard ? it->second.link != &l : &l != &classic_) return nullptr;
  return &it->second;
}

// True when this (un)subscribe confirmation or pong answers the oldest
// command the link wrote (and consumes it); false for the server's own
// (an "sunsubscribe" when a slot moves away).
bool SubManager::answered(Link &l, Sent::What what, int kind, const std::string &name) {
  if (l.sent.empty()) return false;
  Sent &s = l.sent.front();
  if (s.what != what || (what != Sent::kPing && s.kind != kind)) return false;
  if (what != Sent::kPing) {
    if (s.next >= s.names.size() || s.names[s.next] != name) return false;
    if (++s.next < s.names.size()) return true;
  }
  l.sent.pop_front();
  return true;
}

void SubManager::on_push(Connection &c, jr_reply *reply) {
  Link *l = link_of(c);
  if (l == nullptr) {
    reply_release(reply);
    return;
  }
  PushMsg m;
  std::string why;
  if (parse_push(reply, l == &classic_, m, why) != JR_OK) {
    // Not a pub/sub message: the connection is out of step with us. It is
    // replaced (the subscribers are told JR_SUB_LOST, then resubscribed).
    reply_release(reply);
    client_.emit(JR_EVENT_LOG, "pubsub", "protocol error: " + why);
    c.protocol_error(why);
    return;
  }
  if (m.type == PushMsg::kError) {
    on_error(*l, reply);
    reply_release(reply);
    return;
  }
  std::string name(m.name);
  if (m.type == PushMsg::kMessage) {
    if (Topic *t = topic_on(*l, m.kind, name))
      for (Sub *s : t->subs) client_.post(s->cb, s->userdata, JR_OK, reply);
  } else if (m.type == PushMsg::kSubscribe) {
    int sub_kind = m.kind;
    answered(*l, Sent::kSub, sub_kind, name);
    Topic *t = topic_on(*l, sub_kind, name);
    if (t != nullptr && !t->confirmed) {
      // Every subscriber of the name hears it with the server's own count:
      // those who asked, and after a reconnect (or a slot move) those who
      // had it, to see the resubscription (as justredis delivers it).
      const jr_reply *count = reply->u.elements[2];
      int64_t n = count->type == JR_REPLY_INTEGER ? count->u.integer : server_count(l);
      t->sent = false;
      set_confirmed(*t, true);
      for (Sub *s : t->subs) confirm(s, sub_kind, false, name, n);
      check_resubscribed(t->subs);
    }
  } else if (m.type == PushMsg::kUnsubscribe) {
    int unsub_kind = m.kind;
    // Confirmed to the subscriber when it asked. An "sunsubscribe" nobody
    // asked for: the node gave the slot away (resharding, failover). Ask it
    // again: it answers MOVED with the new owner (or confirms, if it has
    // the slot after all).
    bool ours = answered(*l, Sent::kUnsub, unsub_kind, name);
    Topic *t = unsub_kind == kShard && !ours ? topic_on(*l, kShard, name) : nullptr;
    if (t != nullptr) {
      for (Sub *s : t->subs) tell_lost(s);
      set_confirmed(*t, false);
      t->sent = false;
      Cluster &cl = client_.cluster();
      if (cl.enabled()) cl.refresh("sharded channel's slot moved");
      send_shards(*l, false, {{t->slot, name}});
    }
  } else {  // a pong (classic connection only)
    // ["pong", text] when subscribed; a plain reply when not.
    answered(*l, Sent::kPing, kChannel, std::string());
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
  }
  reply_release(reply);
}

// An error answers the oldest command the link wrote, as a whole.
void SubManager::on_error(Link &l, const jr_reply *reply) {
  std::string text(reply->u.str, reply->len);
  client_.emit(JR_EVENT_LOG, "pubsub", text);
  if (l.sent.empty()) return;
  Sent s = std::move(l.sent.front());
  l.sent.pop_front();
  if (s.what == Sent::kUnsub) return;
  if (s.what == Sent::kPing) {
    while (!pings_.empty() && !pings_.front().sent) pings_.pop_front();
    if (pings_.empty()) return;
    Ping p = pings_.front();
    pings_.pop_front();
    if (p.sub != nullptr) client_.post(p.sub->cb, p.sub->userdata, JR_OK, reply);
    return;
  }
  std::vector<std::string> names;  // those still waiting here for this answer
  for (size_t i = s.next; i < s.names.size(); i++) {
    Topic *t = topic_on(l, s.kind, s.names[i]);
    if (t == nullptr || t->confirmed) continue;
    t->sent = false;
    names.push_back(s.names[i]);
  }
  if (s.kind == kShard &&
      (starts(text, "MOVED ") || starts(text, "ASK ") || starts(text, "TRYAGAIN") ||
       starts(text, "CLUSTERDOWN") || starts(text, "LOADING") || starts(text, "MASTERDOWN"))) {
    shard_moved(l, text, names);
    return;
  }
  if (names.size() > 1) {
    // The server refuses a whole command for one name (ACL rules): ask for
    // each name on its own, so that only the refused ones are refused.
    for (const auto &n : names) {
      Topic *t = topic_on(l, s.kind, n);
      if (s.kind == kShard) {
        send_shards(l, false, {{t->slot, n}});
      } else {
        send(l, Sent::kSub, s.kind, {n});
      }
    }
    return;
  }
  // Refused (NOPERM, an unknown command on an old server...): each
  // subscriber of the name gets [kind, name, error], and it is dropped.
  for (const auto &n : names) {
    jr_reply *r =
        make_array_reply({ReplyPart{JR_REPLY_STRING, kSubscribeKind[s.kind], 0},
                          ReplyPart{JR_REPLY_STRING, n, 0}, ReplyPart{JR_REPLY_ERROR, text, 0}});
    std::vector<Sub *> subs = topics_[s.kind].find(n)->second.subs;
    for (Sub *sb : subs) {
      if (r != nullptr) client_.post(sb->cb, sb->userdata, JR_OK, r);
      drop(sb, s.kind, {n}, false);
    }
    reply_release(r);
    check_resubscribed(subs);  // the refused name was the last one awaited
  }
}

// ---- Sharded channels ------------------------------------------------------------

SubManager::Link &SubManager::link(const std::string &addr) {
  for (auto &l : links_)
    if (l->addr == addr) return *l;
  std::vector<Endpoint> eps;
  Endpoint ep;
  if (addr.empty()) {
    eps = client_.endpoints();
  } else if (parse_endpoint(addr, ep) == JR_OK) {
    eps.push_back(ep);
  } else {
    eps.push_back(client_.endpoints().front());
  }
  auto l = std::make_unique<Link>();
  l->addr = addr;
  l->conn = std::make_unique<Connection>(client_, std::move(eps), Connection::Role::kPush);
  l->conn->set_push(this);
  links_.push_back(std::move(l));
  return *links_.back();
}

// The node a sharded channel's slot lives on: false when not known yet.
bool SubManager::owner_of(uint16_t slot, std::string &addr) {
  Cluster &cl = client_.cluster();
  if (!cl.enabled()) {
    addr.clear();  // a standalone server
    return true;
  }
  const std::string *m = cl.slot_master(slot);
  if (m == nullptr) {
    cl.refresh("sharded channel in a slot without a node");
    return false;
  }
  addr = *m;
  return true;
}

void SubManager::on_topology() {
  if (stopped_ || topics_[kShard].empty()) return;
  if (!client_.cluster().detected()) {
    // Detection failed (no server answered): the channels are not served.
    for (auto &kv : topics_[kShard])
      if (kv.second.link == nullptr)
        for (Sub *s : kv.second.subs) tell_lost(s);
    arm_retry();
    return;
  }
  place_shards();
}

// Puts every sharded channel on the link to its slot's node, and
// subscribes those not subscribed yet.
void SubManager::place_shards() {
  if (stopped_ || topics_[kShard].empty()) return;
  Cluster &cl = client_.cluster();
  if (!cl.detected()) {
    cl.detect(client_.seed());  // on_topology() follows
    if (!cl.detected()) return;
  }
  bool retry = false;
  std::string addr;
  for (auto &[name, t] : topics_[kShard]) {
    if (!owner_of(t.slot, addr)) {
      retry = true;
      continue;
    }
    Link *want = &link(addr);
    if (t.link != want) move_shard(name, t, want);
    // In a cluster, a node that went away may have failed over.
    if (cl.enabled() && t.link->down) retry = true;
  }
  for (auto &l : links_) {
    std::vector<std::pair<uint16_t, std::string>> todo;
    for (auto &[name, t] : topics_[kShard])
      if (t.link == l.get() && !t.confirmed && !t.sent) todo.emplace_back(t.slot, name);
    send_shards(*l, false, std::move(todo));
  }
  close_unused_links();
  if (retry) arm_retry();
}

void SubManager::move_shard(const std::string &name, Topic &t, Link *to) {
  if (Link *from = t.link) {
    from->topics--;
    if ((t.sent || t.confirmed) && from->topics > 0) send_shards(*from, true, {{t.slot, name}});
  }
  // Messages published while it moves may be missed.
  if (t.confirmed)
    for (Sub *s : t.subs) tell_lost(s);
  set_confirmed(t, false);
  t.sent = false;
  t.link = to;
  to->topics++;
}

// SSUBSCRIBE / SUNSUBSCRIBE, one command per slot: a cluster refuses one
// whose channels hash to several slots.
void SubManager::send_shards(Link &l, bool unsub,
                             std::vector<std::pair<uint16_t, std::string>> names) {
  std::stable_sort(names.begin(), names.end(),
                   [](const auto &a, const auto &b) { return a.first < b.first; });
  for (size_t i = 0; i < names.size();) {
    uint16_t slot = names[i].first;
    std::vector<std::string> group;
    while (i < names.size() && names[i].first == slot)
      group.push_back(std::move(names[i++].second));
    send(l, unsub ? Sent::kUnsub : Sent::kSub, kShard, std::move(group));
  }
}

// MOVED, ASK, TRYAGAIN, CLUSTERDOWN... answering an SSUBSCRIBE of `names`.
void SubManager::shard_moved(Link &l, const std::string &text,
                             const std::vector<std::string> &names) {
  Cluster &cl = client_.cluster();
  if (!starts(text, "MOVED ") || !cl.enabled()) {
    arm_retry();  // the slot is in transit or the cluster is not ready: later
    return;
  }
  // "MOVED <slot> <host:port>": subscribe there, and learn the new map.
  Redirect rd;
  std::string why;
  if (parse_redirect(text, l.conn->endpoint().host, rd, why) != JR_OK ||
      rd.kind != Redirect::kMoved) {
    client_.emit(JR_EVENT_LOG, "pubsub", "protocol error: " + why);
    arm_retry();
    return;
  }
  int slot = rd.slot;
  const std::string &addr = rd.addr;
  cl.moved(slot, addr);
  if (addr == l.addr) {
    arm_retry();
    return;
  }
  Link *to = &link(addr);
  for (const auto &n : names) move_shard(n, topics_[kShard].find(n)->second, to);
  place_shards();
}

void SubManager::close_unused_links() {
  for (auto &l : links_) {
    if (l->topics > 0) continue;
    l->sent.clear();
    if (l->conn->active()) l->conn->reset("no sharded channels left on this node");
  }
}

void SubManager::arm_retry() {
  if (stopped_ || uv_is_active(reinterpret_cast<uv_handle_t *>(&retry_))) return;
  uv_timer_start(
      &retry_,
      [](uv_timer_t *t) {
        auto *self = static_cast<SubManager *>(t->data);
        Cluster &cl = self->client_.cluster();
        if (cl.detected() && cl.enabled()) cl.refresh("sharded channels waiting for their node");
        self->place_shards();
      },
      kShardRetryMs, 0);
}

void SubManager::shutdown() {
  stopped_ = true;
  std::vector<Sub *> all = subs_;
  for (Sub *s : all) free_sub(s, true);
  uv_timer_stop(&retry_);
  uv_close(reinterpret_cast<uv_handle_t *>(&retry_), nullptr);
  if (classic_.conn) classic_.conn->shutdown();
  for (auto &l : links_) l->conn->shutdown();
}

}  // namespace jr

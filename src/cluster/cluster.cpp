// SPDX-License-Identifier: MIT
#include "cluster/cluster.hpp"

#include <algorithm>
#include <cstring>

#include "interpret.hpp"
#include "loop/client.hpp"
#include "pubsub.hpp"

namespace jr {

// ---- Slots --------------------------------------------------------------------

namespace {

// CRC16-CCITT (XMODEM), one table lookup per byte.
struct Crc16Table {
  uint16_t t[256];
  constexpr Crc16Table() : t() {
    for (int i = 0; i < 256; i++) {
      uint16_t crc = static_cast<uint16_t>(i << 8);
      for (int b = 0; b < 8; b++)
        crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                  : static_cast<uint16_t>(crc << 1);
      t[i] = crc;
    }
  }
};
constexpr Crc16Table kCrc16;

uint16_t crc16(const char *buf, size_t len) noexcept {
  uint16_t crc = 0;
  for (size_t i = 0; i < len; i++)
    crc = static_cast<uint16_t>((crc << 8) ^
                                kCrc16.t[((crc >> 8) ^ static_cast<unsigned char>(buf[i])) & 0xff]);
  return crc;
}

// Lower-cases s into buf (n < size); returns the view, or an empty view
// when s does not fit (no command name is that long).
std::string_view lower_into(std::string_view s, char *buf, size_t size) {
  if (s.size() >= size) return {};
  for (size_t i = 0; i < s.size(); i++) {
    char ch = s[i];
    buf[i] = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch + 32) : ch;
  }
  return std::string_view(buf, s.size());
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
  return out;
}

bool ieq(std::string_view a, const char *b) {
  size_t n = std::strlen(b);
  if (a.size() != n) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = a[i];
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 32);
    if (ch != b[i]) return false;
  }
  return true;
}

int64_t to_int(std::string_view s, int64_t dflt) {
  if (s.empty() || s.size() > 18) return dflt;
  int64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return dflt;
    v = v * 10 + (ch - '0');
  }
  return v;
}

const jr_reply *el(const jr_reply *r, size_t i) {
  return r != nullptr && r->type == JR_REPLY_ARRAY && i < r->len ? r->u.elements[i] : nullptr;
}

}  // namespace

uint16_t key_slot(const char *key, size_t len) noexcept {
  // Hash only what is between the first '{' and the first '}' after it,
  // when that is not empty.
  for (size_t s = 0; s < len; s++) {
    if (key[s] != '{') continue;
    for (size_t e = s + 1; e < len; e++) {
      if (key[e] != '}') continue;
      if (e > s + 1) return crc16(key + s + 1, e - s - 1) & 16383;
      break;
    }
    break;
  }
  return crc16(key, len) & 16383;
}

bool parse_request(const char *wire, size_t size, size_t &pos,
                   std::vector<std::string_view> &args) {
  args.clear();
  auto number = [&](char prefix, size_t &out) {
    if (pos >= size || wire[pos] != prefix) return false;
    pos++;
    size_t v = 0;
    while (pos < size && wire[pos] != '\r') v = v * 10 + static_cast<size_t>(wire[pos++] - '0');
    if (pos + 1 >= size) return false;
    pos += 2;
    out = v;
    return true;
  };
  size_t argc = 0;
  if (!number('*', argc)) return false;
  for (size_t i = 0; i < argc; i++) {
    size_t len = 0;
    if (!number('$', len) || pos + len + 2 > size) return false;
    args.emplace_back(wire + pos, len);
    pos += len + 2;
  }
  return true;
}

// ---- Key positions -------------------------------------------------------------

void KeyFinder::add(const jr_reply *e) {
  CommandEntry entry;
  if (!parse_command_entry(e, entry)) return;  // a malformed entry: that command stays unknown
  CommandSpec spec;
  spec.movable = entry.movable;
  spec.readonly = entry.readonly;
  spec.first = entry.first;
  spec.last = entry.last;
  spec.step = entry.step;
  specs_[entry.name] = spec;
  const jr_reply *subs = entry.subcommands;
  for (size_t i = 0; subs != nullptr && i < subs->len; i++) add(el(subs, i));
}

void KeyFinder::load(const jr_reply *r) {
  for (size_t i = 0; r != nullptr && r->type == JR_REPLY_ARRAY && i < r->len; i++) add(el(r, i));
}

const CommandSpec *KeyFinder::lookup(std::string_view lower_name) const {
  auto it = specs_.find(lower_name);
  return it != specs_.end() ? &it->second : nullptr;
}

const CommandSpec *KeyFinder::find(const std::vector<std::string_view> &args) const {
  char buf[96];
  std::string_view name = lower_into(args[0], buf, 40);
  if (name.empty()) return nullptr;
  const CommandSpec *top = lookup(name);
  // Container commands (OBJECT, XINFO, MEMORY, ...) have no keys at the top
  // level: their subcommand ("object|encoding") says where the keys are.
  if ((top == nullptr || top->first <= 0) && args.size() >= 2 && args[1].size() < 48) {
    buf[name.size()] = '|';
    std::string_view sub = lower_into(args[1], buf + name.size() + 1, sizeof buf - name.size() - 1);
    if (!sub.empty()) {
      const CommandSpec *s = lookup(std::string_view(buf, name.size() + 1 + sub.size()));
      if (s != nullptr) return s;
    }
  }
  return top;
}

bool KeyFinder::readonly(std::string_view name) const {
  auto it = specs_.find(lower(name));
  return it != specs_.end() && it->second.readonly;
}

bool KeyFinder::keys(const std::vector<std::string_view> &args, std::vector<size_t> &out) const {
  size_t n = args.size();
  const std::string_view cmd = args[0];
  const CommandSpec *spec = find(args);
  if (spec != nullptr && !spec->movable) {
    // The common case: key positions straight from the COMMAND table.
    if (spec->first <= 0) return true;  // keyless
    int last = spec->last < 0 ? static_cast<int>(n) + spec->last : spec->last;
    int step = spec->step > 0 ? spec->step : 1;
    for (int i = spec->first; i <= last && i < static_cast<int>(n); i += step)
      out.push_back(static_cast<size_t>(i));
    return true;
  }
  // Commands whose keys move with their arguments: parse their syntax.
  auto numkeys_at = [&](size_t at, size_t from) {
    if (at >= n) return;
    int64_t k = to_int(args[at], 0);
    for (size_t i = 0; i < static_cast<size_t>(k) && from + i < n; i++) out.push_back(from + i);
  };
  if (ieq(cmd, "EVAL") || ieq(cmd, "EVALSHA") || ieq(cmd, "EVAL_RO") || ieq(cmd, "EVALSHA_RO") ||
      ieq(cmd, "FCALL") || ieq(cmd, "FCALL_RO")) {
    numkeys_at(2, 3);
    return true;
  }
  if (ieq(cmd, "ZUNIONSTORE") || ieq(cmd, "ZINTERSTORE") || ieq(cmd, "ZDIFFSTORE")) {
    if (n > 1) out.push_back(1);
    numkeys_at(2, 3);
    return true;
  }
  if (ieq(cmd, "ZUNION") || ieq(cmd, "ZINTER") || ieq(cmd, "ZDIFF") || ieq(cmd, "ZINTERCARD") ||
      ieq(cmd, "SINTERCARD") || ieq(cmd, "LMPOP") || ieq(cmd, "ZMPOP")) {
    numkeys_at(1, 2);
    return true;
  }
  if (ieq(cmd, "BLMPOP") || ieq(cmd, "BZMPOP")) {
    numkeys_at(2, 3);
    return true;
  }
  if (ieq(cmd, "XREAD") || ieq(cmd, "XREADGROUP")) {
    for (size_t i = 1; i < n; i++) {
      if (!ieq(args[i], "STREAMS")) continue;
      size_t rest = n - i - 1;
      for (size_t k = 0; k < rest / 2; k++) out.push_back(i + 1 + k);
      break;
    }
    return true;
  }
  if (ieq(cmd, "MIGRATE")) {
    if (n > 3 && !args[3].empty()) out.push_back(3);
    for (size_t i = 6; i < n; i++) {
      if (!ieq(args[i], "KEYS")) continue;
      for (size_t k = i + 1; k < n; k++) out.push_back(k);
      break;
    }
    return true;
  }
  if (spec == nullptr) {
    // Unknown here (the table is not loaded yet): assume the common shape.
    if (n > 1) out.push_back(1);
    return false;
  }
  if (spec->first <= 0) return true;  // keyless
  int last = spec->last < 0 ? static_cast<int>(n) + spec->last : spec->last;
  int step = spec->step > 0 ? spec->step : 1;
  for (int i = spec->first; i <= last && i < static_cast<int>(n); i += step)
    out.push_back(static_cast<size_t>(i));
  return true;
}

// ---- Fan-out (split multi-key commands, all masters) ------------------------------------

namespace {

jr_reply *copy_into(Arena *a, const jr_reply *r) {
  auto *n = static_cast<jr_reply *>(a->alloc(sizeof(jr_reply)));
  if (n == nullptr) return nullptr;
  *n = *r;
  n->arena = a;
  if (r->type == JR_REPLY_ARRAY) {
    if (r->len > 0) {
      auto **e = static_cast<jr_reply **>(a->alloc(sizeof(jr_reply *) * r->len));
      if (e == nullptr) return nullptr;
      for (size_t i = 0; i < r->len; i++) {
        e[i] = copy_into(a, r->u.elements[i]);
        if (e[i] == nullptr) return nullptr;
      }
      n->u.elements = e;
    }
  } else if (r->type == JR_REPLY_STRING || r->type == JR_REPLY_STATUS ||
             r->type == JR_REPLY_ERROR) {
    auto *d = static_cast<char *>(a->alloc(r->len + 1));
    if (d == nullptr) return nullptr;
    std::memcpy(d, r->u.str, r->len);
    d[r->len] = '\0';
    n->u.str = d;
  }
  return n;
}

}  // namespace

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

  static void child_done(void *ud, int st, const jr_reply *reply);
  static void role_done(void *ud, int st, const jr_reply *reply);
  void settled();
  void finish();
};

void Fanout::settled() {
  if (kind == kAllMasters) {
    client->cluster().masters_settled(this);
  } else {
    finish();
  }
}

void Fanout::child_done(void *ud, int st, const jr_reply *reply) {
  // userdata packs the fan-out and the child's index.
  auto *pair = static_cast<std::pair<Fanout *, size_t> *>(ud);
  Fanout *f = pair->first;
  size_t i = pair->second;
  delete pair;
  f->status[i] = st;
  if (reply != nullptr) {
    reply->arena->ref();
    f->replies[i] = const_cast<jr_reply *>(reply);
  }
  if (--f->pending == 0) f->settled();
}

void Fanout::role_done(void *ud, int st, const jr_reply *reply) {
  auto *pair = static_cast<std::pair<Fanout *, size_t> *>(ud);
  Fanout *f = pair->first;
  size_t i = pair->second;
  delete pair;
  // ["master", ...] / ["slave", ...]: anything else (an error such as an
  // ACL's NOPERM, a lost connection) says nothing, and the entry stands.
  if (st == JR_OK && reply != nullptr && reply->type == JR_REPLY_ARRAY && reply->len > 0) {
    const jr_reply *role = reply->u.elements[0];
    if (role != nullptr && (role->type == JR_REPLY_STRING || role->type == JR_REPLY_STATUS) &&
        std::string_view(role->u.str, role->len) != "master")
      f->demoted[i] = 1;
  }
  if (--f->pending == 0) f->settled();
}

void Fanout::finish() {
  int st = JR_OK;
  jr_reply *out = nullptr;
  const jr_reply *first_error = nullptr;
  for (size_t i = 0; i < status.size(); i++) {
    if (kind != kAllMasters && status[i] != JR_OK && st == JR_OK) st = status[i];
    if (replies[i] != nullptr && replies[i]->type == JR_REPLY_ERROR && first_error == nullptr)
      first_error = replies[i];
  }
  Arena *a = arena_get();
  if (a == nullptr) st = JR_ENOMEM;
  if (st == JR_OK && kind != kAllMasters && first_error != nullptr) {
    out = copy_into(a, first_error);
  } else if (st == JR_OK) {
    switch (kind) {
      case kMget: {
        auto *root = static_cast<jr_reply *>(a->alloc(sizeof(jr_reply)));
        auto **e = static_cast<jr_reply **>(a->alloc(sizeof(jr_reply *) * (total + 1)));
        if (root == nullptr || e == nullptr) break;
        root->type = JR_REPLY_ARRAY;
        root->arena = a;
        root->len = total;
        root->u.elements = e;
        bool ok = true;
        for (size_t c = 0; c < replies.size() && ok; c++) {
          for (size_t k = 0; k < positions[c].size() && ok; k++) {
            const jr_reply *v =
                replies[c] != nullptr && replies[c]->type == JR_REPLY_ARRAY && k < replies[c]->len
                    ? replies[c]->u.elements[k]
                    : nullptr;
            e[positions[c][k]] = v != nullptr ? copy_into(a, v) : nullptr;
            ok = e[positions[c][k]] != nullptr;
          }
        }
        if (ok) out = root;
        break;
      }
      case kMset: {
        jr_reply r{};
        r.type = JR_REPLY_STATUS;
        r.len = 2;
        r.u.str = "OK";
        out = copy_into(a, &r);
        break;
      }
      case kSum: {
        jr_reply r{};
        r.type = JR_REPLY_INTEGER;
        for (jr_reply *x : replies)
          if (x != nullptr && x->type == JR_REPLY_INTEGER) r.u.integer += x->u.integer;
        out = copy_into(a, &r);
        break;
      }
      case kAllMasters: {
        // [[address, reply or error], ...]: errors are values.
        auto *root = static_cast<jr_reply *>(a->alloc(sizeof(jr_reply)));
        auto **e = static_cast<jr_reply **>(a->alloc(sizeof(jr_reply *) * (labels.size() + 1)));
        if (root == nullptr || e == nullptr) break;
        root->type = JR_REPLY_ARRAY;
        root->arena = a;
        root->len = labels.size();
        root->u.elements = e;
        bool ok = true;
        for (size_t i = 0; i < labels.size() && ok; i++) {
          jr_reply pair{}, name{}, err{};
          jr_reply *two[2];
          name.type = JR_REPLY_STRING;
          name.len = labels[i].size();
          name.u.str = labels[i].c_str();
          two[0] = &name;
          std::string text;
          if (replies[i] != nullptr && status[i] == JR_OK) {
            two[1] = replies[i];
          } else {
            text = std::string(jr_err_name(status[i])) + ": " + jr_strerror(status[i]);
            if (replies[i] != nullptr && replies[i]->type == JR_REPLY_ERROR)  // JR_EAUTH's
              text += ": " + std::string(replies[i]->u.str, replies[i]->len);
            err.type = JR_REPLY_ERROR;
            err.len = text.size();
            err.u.str = text.c_str();
            two[1] = &err;
          }
          pair.type = JR_REPLY_ARRAY;
          pair.len = 2;
          pair.u.elements = two;
          e[i] = copy_into(a, &pair);
          ok = e[i] != nullptr;
        }
        if (ok) out = root;
        break;
      }
    }
  }
  for (jr_reply *x : replies) reply_release(x);
  if (out == nullptr && st == JR_OK) st = JR_ENOMEM;
  if (out != nullptr) {
    a->set_refs(1);
  } else if (a != nullptr) {
    arena_put(a);
  }
  Command *p = parent;
  Client *cl = client;
  delete this;
  if (p->state.load(std::memory_order_acquire) == CmdState::kDone) {
    reply_release(out);  // cancelled meanwhile: it has had its completion
  } else {
    cl->complete(p, st, out);
  }
  cl->release_hold(p);
}

// ---- Cluster ----------------------------------------------------------------------------

Cluster::Cluster(Client &client) : client_(client) {
  slots_.fill(-1);
  uv_timer_init(client.loop(), &timer_);
  timer_.data = this;
}

Cluster::~Cluster() = default;

Cluster::Node *Cluster::find_node(const std::string &addr) {
  for (auto &n : nodes_)
    if (n->addr == addr) return n.get();
  return nullptr;
}

Connection &Cluster::node(const std::string &addr) {
  if (Node *n = find_node(addr)) return *n->conn;
  Endpoint ep;
  if (parse_endpoint(addr, ep) != JR_OK) ep = client_.endpoints().front();
  auto n = std::make_unique<Node>();
  n->addr = addr;
  n->conn = std::make_unique<Connection>(client_, std::vector<Endpoint>{ep});
  n->conn->cluster_node = true;
  nodes_.push_back(std::move(n));
  return *nodes_.back()->conn;
}

void Cluster::send_internal(Connection &conn, const char *const *argv, const size_t *lens,
                            size_t argc, jr_reply_cb cb) {
  Command *c = client_.acquire_command();
  if (c == nullptr || !encode_command(c->wire, argc, argv, lens)) {
    if (c != nullptr) client_.release_unsubmitted(c);
    return;
  }
  c->cb = cb;
  c->userdata = this;
  c->obj = &conn;
  c->flags = kFlagDirect | kFlagInternal;
  int64_t t = client_.opts().command_timeout_ms;
  c->deadline = deadline_after(now_ms(), t > 0 ? t : 5000);
  client_.start_internal(c);
  conn.submit(c);
}

void Cluster::detect(Connection &seed) {
  if (detecting_ || detected_) return;
  if (client_.opts().cluster_mode == 0) {
    detected_ = true;
    return;
  }
  detecting_ = true;
  asked_host_ = seed.endpoint().host;
  const char *slots[] = {"CLUSTER", "SLOTS"};
  const size_t slens[] = {7, 5};
  send_internal(seed, slots, slens, 2, [](void *ud, int st, const jr_reply *r) {
    static_cast<Cluster *>(ud)->on_slots(st, r, nullptr);
  });
}

void Cluster::hold(Command *c) {
  held_.push_back(c);
  detect(client_.seed());
  if (detected_ && !table_pending_) release_held();  // cluster=no
}

void Cluster::release_held() {
  // In place: what a callback submits meanwhile queues behind the rest.
  // Also after a failed detection (the commands then try the seed node).
  while (Command *c = held_.pop_front()) client_.reroute(c);
}

// A held entry that will not be routed: a command (or cluster call)
// completes with `status`; a WATCH release takes effect (the commands held
// before it have been failed just before).
// detail: the server's error reply that caused it (a failed handshake's), or
// NULL; each completion gets its own reference.
void Cluster::fail_one(Command *c, int status, const jr_reply *detail) {
  if (c->op == Op::kWatchRelease) {
    client_.reroute(c);
    return;
  }
  if (c->op == Op::kToNode) delete static_cast<std::string *>(c->obj);
  c->obj = nullptr;
  c->op = Op::kCommand;
  if (detail != nullptr) detail->arena->ref();
  client_.complete(c, status, const_cast<jr_reply *>(detail));
}

void Cluster::fail_held(int status, const jr_reply *detail) {
  // What the callbacks submit meanwhile is held for the next detection.
  CmdList list = held_;
  held_ = CmdList();
  while (Command *c = list.pop_front()) fail_one(c, status, detail);
}

void Cluster::on_command_table(int status, const jr_reply *reply) {
  if (status == JR_OK && reply->type == JR_REPLY_ARRAY) finder_.load(reply);
  table_pending_ = false;
  release_held();
}

void Cluster::on_slots(int status, const jr_reply *reply, Connection *) {
  bool first = !detected_;
  refreshing_ = false;
  if (status != JR_OK) {
    if (first) {
      // Not answered: a later command tries again. When nothing was sent
      // (no connection, failed AUTH), the held commands share that fate
      // rather than wait for a second round of connect attempts.
      detecting_ = false;
      if (jr_err_unsent(status) != 0) {
        fail_held(status, reply);  // a failed AUTH's reply: the server's text
      } else {
        release_held();
      }
      client_.subs().on_topology();
    }
    replan_waiting();  // on the map they have: another round, or the end
    return;
  }
  if (reply->type == JR_REPLY_ERROR && !enabled_) {
    // "cluster support disabled": a standalone server, for good.
    if (first) {
      detected_ = true;
      detecting_ = false;
    }
    release_held();
    client_.subs().on_topology();
    return;
  }
  std::vector<SlotRange> ranges;
  std::string why;
  if (parse_cluster_slots(reply, asked_host_, ranges, why) != JR_OK) {
    // A malformed answer (or an error from a node of a known cluster): the
    // map we have stays (on a first answer: none, the commands go to the
    // seed node and a later command asks again), and a refresh follows.
    if (reply->type == JR_REPLY_ERROR) why = "CLUSTER SLOTS: " + std::string(text_of(reply));
    client_.emit(JR_EVENT_LOG, "cluster", "topology refresh failed (protocol error): " + why);
    if (first) {
      detecting_ = false;
      release_held();
    } else {
      uv_timer_start(
          &timer_, [](uv_timer_t *t) { static_cast<Cluster *>(t->data)->refresh("retry"); },
          parked_.empty() ? 15000 : 1000, 0);
    }
    client_.subs().on_topology();
    return;
  }
  if (first) {
    detected_ = true;
    detecting_ = false;
  }
  if (!enabled_ && !finder_.loaded() && !table_pending_) {
    // A cluster: key positions come from the server's COMMAND table, read
    // once; held commands are routed when it has arrived.
    table_pending_ = true;
    const char *cmd[] = {"COMMAND"};
    const size_t clens[] = {7};
    send_internal(client_.seed(), cmd, clens, 1, [](void *ud, int st, const jr_reply *r) {
      static_cast<Cluster *>(ud)->on_command_table(st, r);
    });
  }
  enabled_ = true;
  client_.set_known_cluster();
  slots_.fill(-1);
  replicas_.clear();
  for (auto &n : nodes_) n->in_map = false;
  std::unordered_map<std::string, int32_t> known;  // address -> index into nodes_
  for (size_t k = 0; k < nodes_.size(); k++)
    known.emplace(nodes_[k]->addr, static_cast<int32_t>(k));
  auto index_of = [&](const std::string &addr) {
    auto it = known.find(addr);
    if (it != known.end()) return it->second;
    node(addr);  // appends it
    auto k = static_cast<int32_t>(nodes_.size() - 1);
    known.emplace(addr, k);
    return k;
  };
  for (const SlotRange &sr : ranges) {
    int32_t idx = index_of(sr.master);
    Node *n = nodes_[static_cast<size_t>(idx)].get();
    n->master = true;
    n->in_map = true;
    for (int s = sr.lo; s <= sr.hi; s++) slots_[static_cast<size_t>(s)] = idx;
    for (const std::string &raddr : sr.replicas) {
      int32_t ridx = index_of(raddr);
      Node *rn = nodes_[static_cast<size_t>(ridx)].get();
      rn->master = false;
      rn->in_map = true;
      // Reads may go to this replica (read_from_replicas): READONLY first.
      rn->conn->readonly_session = true;
      auto &reps = replicas_[idx];
      if (std::find(reps.begin(), reps.end(), ridx) == reps.end()) reps.push_back(ridx);
    }
  }
  for (auto &n : nodes_)
    if (!n->in_map) n->master = false;
  // Periodic refresh, jittered: 20 s +- 25%.
  uint64_t jitter = static_cast<uint64_t>(now_ms() % 10000);
  uv_timer_start(
      &timer_, [](uv_timer_t *t) { static_cast<Cluster *>(t->data)->refresh("periodic"); },
      15000 + jitter, 0);
  reroute_parked();
  replan_waiting();
  if (!table_pending_) release_held();
  client_.subs().on_topology();
  if (refresh_wanted_) {
    refresh_wanted_ = false;
    refresh("requested during a refresh");
  }
}

void Cluster::reroute_parked() {
  CmdList list = parked_;
  parked_ = CmdList();
  while (Command *c = list.pop_front()) route(c);
}

void Cluster::refresh(const char *why) {
  if (!enabled_) return;
  int64_t now = now_ms();
  if (refreshing_) {
    refresh_wanted_ = true;
    return;
  }
  // Rate limit: at most one refresh per 100 ms (single-flight above).
  if (now - last_refresh_ < 100) {
    int64_t wait = 100 - (now - last_refresh_) + static_cast<int64_t>(now % 20);
    uv_timer_start(
        &timer_, [](uv_timer_t *t) { static_cast<Cluster *>(t->data)->refresh("rate limited"); },
        static_cast<uint64_t>(wait), 0);
    return;
  }
  last_refresh_ = now;
  // Ask a node that is connected, masters first; else any node.
  Connection *target = nullptr;
  for (auto &n : nodes_)
    if (n->master && n->conn->ready_now()) target = n->conn.get();
  for (size_t i = 0; target == nullptr && i < nodes_.size(); i++)
    if (nodes_[i]->conn->ready_now()) target = nodes_[i]->conn.get();
  if (target == nullptr && !nodes_.empty()) {
    // Nothing connected: rotate through the nodes we know.
    target = nodes_[static_cast<size_t>(now) % nodes_.size()]->conn.get();
  }
  if (target == nullptr) return;
  refreshing_ = true;
  asked_host_ = target->endpoint().host;
  client_.emit(JR_EVENT_LOG, "cluster", std::string("topology refresh: ") + why);
  const char *slots[] = {"CLUSTER", "SLOTS"};
  const size_t slens[] = {7, 5};
  send_internal(*target, slots, slens, 2, [](void *ud, int st, const jr_reply *r) {
    static_cast<Cluster *>(ud)->on_slots(st, r, nullptr);
  });
}

void Cluster::submit_to_slot(Command *c, int slot, bool read_only) {
  int32_t idx = slot >= 0 ? slots_[static_cast<size_t>(slot)] : -1;
  if (idx < 0) {
    // No node known for this slot: wait for a refresh.
    parked_.push_back(c);
    refresh("slot without a node");
    return;
  }
  if (read_only && client_.opts().read_from_replicas) {
    // A read-only command may be served by a replica of the slot's master
    // (round robin over master and replicas). A replica that lags or was
    // promoted answers MOVED, which sends the command to the master.
    auto it = replicas_.find(idx);
    if (it != replicas_.end() && !it->second.empty()) {
      size_t pick = rr_++ % (it->second.size() + 1);
      if (pick < it->second.size()) idx = it->second[pick];
    }
  }
  nodes_[static_cast<size_t>(idx)]->conn->submit(c);
}

bool Cluster::split(Command *c, const std::vector<std::string_view> &args,
                    const std::vector<size_t> &keys) {
  std::string_view cmd = args[0];
  Fanout::Kind kind;
  size_t stride = 1;
  if (ieq(cmd, "MGET")) {
    kind = Fanout::kMget;
  } else if (ieq(cmd, "MSET")) {
    kind = Fanout::kMset;
    stride = 2;
  } else if (ieq(cmd, "DEL") || ieq(cmd, "UNLINK") || ieq(cmd, "EXISTS") || ieq(cmd, "TOUCH")) {
    kind = Fanout::kSum;
  } else {
    return false;
  }
  // Group keys by slot, keeping their order.
  std::vector<std::pair<uint16_t, std::vector<size_t>>> groups;
  for (size_t i = 0; i < keys.size(); i++) {
    uint16_t slot = key_slot(args[keys[i]].data(), args[keys[i]].size());
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto &g) { return g.first == slot; });
    if (it == groups.end()) {
      groups.emplace_back(slot, std::vector<size_t>{});
      it = groups.end() - 1;
    }
    it->second.push_back(i);
  }
  auto *f = new Fanout(&client_, c, kind);
  f->total = keys.size();
  f->pending = groups.size();
  f->status.assign(groups.size(), JR_OK);
  f->replies.assign(groups.size(), nullptr);
  f->positions.resize(groups.size());
  c->state.store(CmdState::kWritten, std::memory_order_release);
  std::vector<std::pair<Command *, uint16_t>> children;
  for (size_t g = 0; g < groups.size(); g++) {
    std::vector<const char *> argv{args[0].data()};
    std::vector<size_t> lens{args[0].size()};
    for (size_t k : groups[g].second) {
      for (size_t s = 0; s < stride; s++) {
        argv.push_back(args[keys[k] + s].data());
        lens.push_back(args[keys[k] + s].size());
      }
      f->positions[g].push_back(k);
    }
    Command *child = client_.acquire_command();
    if (child == nullptr || !encode_command(child->wire, argv.size(), argv.data(), lens.data())) {
      if (child != nullptr) client_.release_unsubmitted(child);
      f->status[g] = JR_ENOMEM;
      children.emplace_back(nullptr, 0);
      continue;
    }
    child->cb = Fanout::child_done;
    child->userdata = new std::pair<Fanout *, size_t>(f, g);
    child->flags = kFlagDirect | kFlagInternal;
    child->deadline = c->deadline;
    children.emplace_back(child, groups[g].first);
  }
  for (auto &[child, slot] : children) {
    if (child == nullptr) {
      if (--f->pending == 0) f->finish();
      continue;
    }
    client_.start_internal(child);
    submit_to_slot(child, slot);
  }
  return true;
}

int Cluster::command_slot(Command *c, bool &cross) {
  std::vector<std::string_view> &args = args_;
  std::vector<size_t> &keys = keys_;
  size_t pos = 0;
  int slot = -1;
  cross = false;
  const char *w = c->wire.data();
  size_t size = c->wire.size();
  // A transaction's block holds several commands: all must share a slot.
  while (pos < size && parse_request(w, size, pos, args)) {
    if (args.empty() || ieq(args[0], "MULTI") || ieq(args[0], "EXEC")) continue;
    keys.clear();
    finder_.keys(args, keys);
    for (size_t k : keys) {
      int s = key_slot(args[k].data(), args[k].size());
      if (slot < 0) slot = s;
      if (s != slot) cross = true;
    }
    if (c->tx == nullptr) break;
  }
  return slot;
}

void Cluster::route(Command *c) {
  bool cross = false;
  int slot = command_slot(c, cross);
  if (cross && c->tx == nullptr) {
    std::vector<std::string_view> args;
    std::vector<size_t> keys;
    size_t pos = 0;
    parse_request(c->wire.data(), c->wire.size(), pos, args);
    finder_.keys(args, keys);
    if (split(c, args, keys)) return;
  }
  if (cross) {
    client_.complete(c, JR_ECROSSSLOT, nullptr);
    return;
  }
  if (slot < 0) {
    // Keyless: the seed node answers (documented).
    client_.seed().submit(c);
    return;
  }
  bool read_only = client_.opts().read_from_replicas && c->tx == nullptr && !args_.empty() &&
                   finder_.readonly(args_[0]);
  submit_to_slot(c, slot, read_only);
}

Pool &Cluster::pool(const std::string &addr) {
  for (auto &p : pools_)
    if (p.first == addr) return *p.second;
  Endpoint ep;
  if (parse_endpoint(addr, ep) != JR_OK) ep = client_.endpoints().front();
  pools_.emplace_back(addr, std::make_unique<Pool>(client_, std::vector<Endpoint>{ep},
                                                   client_.opts().max_connections));
  return *pools_.back().second;
}

Pool &Cluster::pool_for(Command *c) {
  bool cross = false;
  int slot = command_slot(c, cross);
  int32_t idx = slot >= 0 ? slots_[static_cast<size_t>(slot)] : -1;
  if (idx < 0) return client_.pool();  // the seed's pool; MOVED corrects it
  return pool(nodes_[static_cast<size_t>(idx)]->addr);
}

bool Cluster::redirect(Command *c, jr_reply *reply, const std::string &from_host) {
  Redirect rd;
  std::string why;
  // An error reply (the caller checked): its text.
  int rc = parse_redirect(std::string_view(reply->u.str, reply->len), from_host, rd, why);
  if (rc == JR_OK && rd.kind == Redirect::kNone) return false;
  if ((c->flags & kFlagInternal) != 0 && c->cb != Fanout::child_done) return false;
  if (rc != JR_OK) {
    // "MOVED 99999 x", "ASK 1 /tmp/sock": the command fails, nothing follows it.
    client_.emit(JR_EVENT_LOG, "cluster", why);
    reply_release(reply);
    client_.complete(c, JR_EPROTO, nullptr);
    return true;
  }
  // A retry re-routes by slot (a keyless part would land on the seed): the
  // fan-out re-plans instead.
  if (rd.kind == Redirect::kRetry && (c->flags & kFlagMasterFanout) != 0) return false;
  if (++c->redirects > 16) return false;  // give the caller the last error
  int64_t now = now_ms();
  if (rd.kind == Redirect::kRetry) {
    int64_t backoff = int64_t{25} << (c->redirects < 5 ? c->redirects : 5);
    // A retry that would come after the deadline: the caller gets the
    // server's answer now (it did not run) rather than a timeout later.
    int64_t due = deadline_after(now, backoff);
    if (c->deadline != 0 && sat_add(due, 50) >= c->deadline) return false;
    if (rd.refresh) refresh("cluster down / readonly / loading");
    retries_.push_back(Retry{due, c});
    c->state.store(CmdState::kPending, std::memory_order_release);
    client_.arm_deadline(due);
    reply_release(reply);
    return true;
  }
  reply_release(reply);
  c->state.store(CmdState::kPending, std::memory_order_release);
  if (rd.kind == Redirect::kMoved) {
    this->moved(rd.slot, rd.addr);
  } else {
    c->flags |= kFlagAsking;  // ASKING, then the command, on the importing node
  }
  if ((c->flags & kFlagBlocking) != 0) {
    pool(rd.addr).submit(c);
  } else {
    node(rd.addr).submit(c);
  }
  return true;
}

const std::string *Cluster::slot_master(int slot) const {
  int32_t idx = slot >= 0 && slot < 16384 ? slots_[static_cast<size_t>(slot)] : -1;
  return idx >= 0 ? &nodes_[static_cast<size_t>(idx)]->addr : nullptr;
}

void Cluster::moved(int slot, const std::string &addr) {
  node(addr);
  if (slot >= 0 && slot < 16384) {
    for (size_t k = 0; k < nodes_.size(); k++)
      if (nodes_[k]->addr == addr) slots_[static_cast<size_t>(slot)] = static_cast<int32_t>(k);
  }
  refresh("MOVED");
}

bool Cluster::cancel(Command *c) {
  if (parked_.remove(c) || held_.remove(c)) return true;
  for (auto it = retries_.begin(); it != retries_.end(); ++it) {
    if (it->cmd == c) {
      retries_.erase(it);
      return true;
    }
  }
  for (auto &n : nodes_)
    if (n->conn->cancel(c)) return true;
  for (auto &p : pools_)
    if (p.second->cancel(c)) return true;
  return false;
}

void Cluster::node_unreachable(Connection &, CmdList &waiting) {
  // Park them for the next topology: a failover moves their slots. An
  // all-masters part is for this node only: it fails, and its fan-out
  // re-plans on that topology.
  CmdList mine;
  while (Command *c = waiting.pop_front()) {
    if ((c->flags & kFlagMasterFanout) != 0) {
      mine.push_back(c);
    } else {
      parked_.push_back(c);
    }
  }
  refresh("node unreachable");
  while (Command *c = mine.pop_front()) client_.complete(c, JR_ECONNECT, nullptr);
}

int64_t Cluster::expire(int64_t now) {
  int64_t next = 0;
  std::vector<Retry> due;
  for (auto it = retries_.begin(); it != retries_.end();) {
    if (it->at <= now) {
      due.push_back(*it);
      it = retries_.erase(it);
    } else {
      if (next == 0 || it->at < next) next = it->at;
      ++it;
    }
  }
  for (auto &r : due) route(r.cmd);
  // All-masters fan-outs waiting for a topology past their deadline: they
  // finish with what they have.
  std::vector<Fanout *> late;
  for (auto it = replans_.begin(); it != replans_.end();) {
    int64_t d = (*it)->parent->deadline;
    if (d != 0 && d <= now) {
      late.push_back(*it);
      it = replans_.erase(it);
    } else {
      if (d != 0 && (next == 0 || d < next)) next = d;
      ++it;
    }
  }
  for (Fanout *f : late) f->finish();
  CmdList keep;
  while (Command *c = parked_.pop_front()) {
    if (c->deadline != 0 && c->deadline <= now) {
      client_.complete(c, JR_EQUEUETIMEOUT, nullptr);
    } else {
      if (c->deadline != 0 && (next == 0 || c->deadline < next)) next = c->deadline;
      keep.push_back(c);
    }
  }
  parked_ = keep;
  keep = CmdList();
  CmdList held = held_;
  held_ = CmdList();
  while (Command *c = held.pop_front()) {
    if (c->deadline != 0 && c->deadline <= now) {
      fail_one(c, JR_EQUEUETIMEOUT);
    } else {
      if (c->deadline != 0 && (next == 0 || c->deadline < next)) next = c->deadline;
      keep.push_back(c);
    }
  }
  keep.append(held_);  // held by the callbacks meanwhile
  held_ = keep;
  for (auto &n : nodes_) {
    int64_t d = n->conn->expire(now);
    if (d != 0 && (next == 0 || d < next)) next = d;
  }
  for (auto &p : pools_) {
    int64_t d = p.second->expire(now);
    if (d != 0 && (next == 0 || d < next)) next = d;
  }
  return next;
}

void Cluster::all_masters(Command *c) {
  if (!enabled_) {
    client_.complete(c, JR_ECLUSTER, nullptr);
    return;
  }
  auto *f = new Fanout(&client_, c, Fanout::kAllMasters);
  c->state.store(CmdState::kWritten, std::memory_order_release);
  replan(f);
}

// One master's part of an all-masters fan-out: ROLE, then the command, on
// the same connection (so no extra round trip): ROLE tells whether the
// node is still a master when the command runs (a failover the client has
// not seen yet leaves a keyless command answered by a replica, without any
// MOVED). Both count in f->pending.
void Cluster::send_to_master(Fanout *f, size_t i, Node *n) {
  const char *role[] = {"ROLE"};
  const size_t role_len[] = {4};
  Command *check = client_.acquire_command();
  Command *child = client_.acquire_command();
  if (check == nullptr || child == nullptr || !encode_command(check->wire, 1, role, role_len) ||
      !child->wire.append(f->parent->wire.data(), f->parent->wire.size())) {
    if (check != nullptr) client_.release_unsubmitted(check);
    if (child != nullptr) client_.release_unsubmitted(child);
    f->status[i] = JR_ENOMEM;
    return;
  }
  check->cb = Fanout::role_done;
  check->userdata = new std::pair<Fanout *, size_t>(f, i);
  check->flags = kFlagDirect | kFlagInternal | kFlagNoRedirect | kFlagMasterFanout;
  check->deadline = f->parent->deadline;
  child->cb = Fanout::child_done;
  child->userdata = new std::pair<Fanout *, size_t>(f, i);
  // MOVED / ASK are followed (a keyed command: the slot's master answers,
  // as justredis does); the entry keeps this master's address.
  child->flags = kFlagDirect | kFlagInternal | kFlagMasterFanout;
  child->deadline = f->parent->deadline;
  f->pending += 2;
  client_.start_internal(check);
  client_.start_internal(child);
  n->conn->submit(check);
  n->conn->submit(child);
}

namespace {
// An entry that did not reach a master: retried on a fresher topology.
bool missed_master(const Fanout &f, size_t i) {
  if (f.demoted[i] != 0) return true;
  if (f.status[i] != JR_OK) return jr_err_unsent(f.status[i]) != 0 && f.status[i] != JR_ENOMEM;
  const jr_reply *r = f.replies[i];
  if (r == nullptr || r->type != JR_REPLY_ERROR) return false;
  std::string_view text(r->u.str, r->len);
  for (const char *p :
       {"MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "LOADING"})
    if (text.rfind(p, 0) == 0) return true;
  return false;
}
}  // namespace

// The masters of the current map: entries that reached one of them stay;
// entries of nodes that are not masters any more go; the masters without
// an entry (or whose entry missed) get the command now.
void Cluster::replan(Fanout *f) {
  std::vector<std::string> labels;
  std::vector<int> status;
  std::vector<jr_reply *> replies;
  std::vector<uint8_t> demoted;
  std::vector<std::pair<size_t, Node *>> send;
  std::vector<bool> kept(f->labels.size(), false);
  for (auto &n : nodes_) {
    if (!n->master) continue;
    size_t at = labels.size();
    labels.push_back(n->addr);
    demoted.push_back(0);
    size_t j = 0;
    while (j < f->labels.size() && (f->labels[j] != n->addr || kept[j])) j++;
    if (j < f->labels.size() && !missed_master(*f, j)) {
      kept[j] = true;
      status.push_back(f->status[j]);
      replies.push_back(f->replies[j]);
      continue;
    }
    status.push_back(JR_OK);
    replies.push_back(nullptr);
    send.emplace_back(at, n.get());
  }
  for (size_t j = 0; j < f->labels.size(); j++)
    if (!kept[j]) reply_release(f->replies[j]);
  f->labels.swap(labels);
  f->status.swap(status);
  f->replies.swap(replies);
  f->demoted.swap(demoted);
  f->pending = 1;  // until every part is sent: a part may complete at once
  for (auto &[i, n] : send) send_to_master(f, i, n);
  if (--f->pending == 0) masters_settled(f);
}

void Cluster::masters_settled(Fanout *f) {
  bool missed = false;
  for (size_t i = 0; i < f->labels.size() && !missed; i++) missed = missed_master(*f, i);
  int64_t deadline = f->parent->deadline;
  if (missed && f->rounds < 3 && !shutting_down_ && (deadline == 0 || now_ms() < deadline)) {
    // The map this round used is stale (a failover, a migration): wait for
    // a fresh one, then send to the masters that were missed.
    f->rounds++;
    replans_.push_back(f);
    refresh("all-masters: a node is no longer a master");
    return;
  }
  // Out of rounds: a node that said it is a replica has no answer to give.
  for (size_t i = 0; i < f->labels.size(); i++) {
    if (f->demoted[i] == 0) continue;
    reply_release(f->replies[i]);
    f->replies[i] = nullptr;
    f->status[i] = JR_ECLUSTER;
  }
  f->finish();
}

void Cluster::replan_waiting() {
  std::vector<Fanout *> list;
  list.swap(replans_);
  for (Fanout *f : list) replan(f);
}

namespace {
// [[address, role], ...] in one arena.
jr_reply *endpoint_rows(const std::vector<std::pair<std::string, std::string>> &rows) {
  Arena *a = arena_get();
  if (a == nullptr) return nullptr;
  std::vector<jr_reply> pairs(rows.size()), parts(rows.size() * 2);
  std::vector<jr_reply *> two(rows.size() * 2), ptrs(rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    const std::string *cols[2] = {&rows[i].first, &rows[i].second};
    for (size_t k = 0; k < 2; k++) {
      parts[i * 2 + k] = jr_reply{};
      parts[i * 2 + k].type = JR_REPLY_STRING;
      parts[i * 2 + k].len = cols[k]->size();
      parts[i * 2 + k].u.str = cols[k]->c_str();
      two[i * 2 + k] = &parts[i * 2 + k];
    }
    pairs[i] = jr_reply{};
    pairs[i].type = JR_REPLY_ARRAY;
    pairs[i].len = 2;
    pairs[i].u.elements = &two[i * 2];
    ptrs[i] = &pairs[i];
  }
  jr_reply top{};
  top.type = JR_REPLY_ARRAY;
  top.len = rows.size();
  top.u.elements = ptrs.data();
  jr_reply *root = copy_into(a, &top);
  if (root == nullptr) {
    arena_put(a);
    return nullptr;
  }
  a->set_refs(1);
  return root;
}

struct EndpointsQuery {
  Client *client;
  Command *parent;
  std::string host;  // of the node asked: a node that does not know its own address says ":port"
};

// CLUSTER NODES lines: "<id> <ip:port@cport[,host]> <flags> <master> ...".
void on_cluster_nodes(void *ud, int status, const jr_reply *reply) {
  auto *q = static_cast<EndpointsQuery *>(ud);
  Client *client = q->client;
  Command *parent = q->parent;
  std::string host = std::move(q->host);
  delete q;
  if (status != JR_OK || reply->type == JR_REPLY_ERROR) {
    if (reply != nullptr) reply->arena->ref();  // JR_EAUTH carries one too
    client->complete(parent, status, const_cast<jr_reply *>(reply));
    return;
  }
  std::vector<NodeRow> nodes;
  std::string why;
  if (parse_cluster_nodes(reply, host, nodes, why) != JR_OK) {
    client->emit(JR_EVENT_LOG, "cluster", why);
    client->complete(parent, JR_EPROTO, nullptr);
    return;
  }
  std::vector<std::pair<std::string, std::string>> rows;
  for (auto &n : nodes) rows.emplace_back(std::move(n.addr), n.master ? "master" : "replica");
  std::sort(rows.begin(), rows.end());
  jr_reply *out = endpoint_rows(rows);
  client->complete(parent, out != nullptr ? JR_OK : JR_ENOMEM, out);
}
}  // namespace

void Cluster::endpoints(Command *c) {
  if (!enabled_) {
    jr_reply *out = endpoint_rows({{client_.endpoints().front().display(), "standalone"}});
    client_.complete(c, out != nullptr ? JR_OK : JR_ENOMEM, out);
    return;
  }
  // Ask a live node for the whole membership (CLUSTER SLOTS omits replicas
  // that are still syncing).
  Connection *target = &client_.seed();
  for (auto &n : nodes_)
    if (n->master && n->conn->ready_now()) target = n->conn.get();
  c->state.store(CmdState::kWritten, std::memory_order_release);
  Command *q = client_.acquire_command();
  const char *argv[] = {"CLUSTER", "NODES"};
  const size_t lens[] = {7, 5};
  if (q == nullptr || !encode_command(q->wire, 2, argv, lens)) {
    if (q != nullptr) client_.release_unsubmitted(q);
    client_.complete(c, JR_ENOMEM, nullptr);
    return;
  }
  q->cb = on_cluster_nodes;
  q->userdata = new EndpointsQuery{&client_, c, target->endpoint().host};
  q->flags = kFlagDirect | kFlagInternal | kFlagNoRedirect;
  q->deadline = c->deadline != 0 ? c->deadline : deadline_after(now_ms(), 5000);
  client_.start_internal(q);
  target->submit(q);
}

void Cluster::to_node(Command *c, const std::string &addr) {
  c->flags |= kFlagNoRedirect;
  node(addr).submit(c);
}

void Cluster::shutdown() {
  shutting_down_ = true;
  std::vector<Fanout *> waiting;
  waiting.swap(replans_);
  for (Fanout *f : waiting) f->finish();
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t *>(&timer_), nullptr);
  for (auto &r : retries_) client_.complete(r.cmd, JR_ECLOSED, nullptr);
  retries_.clear();
  while (Command *c = parked_.pop_front()) client_.complete(c, JR_ECLOSED, nullptr);
  fail_held(JR_ECLOSED);
  for (auto &n : nodes_) n->conn->shutdown();
  for (auto &p : pools_) p.second->shutdown();
}

}  // namespace jr

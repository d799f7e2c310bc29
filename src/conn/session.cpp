// SPDX-License-Identifier: MIT
// The session state machine of one connection: handshake, SELECT tracking,
// writes into the output, FIFO reply matching, expiry and loss. No socket:
// see session.hpp.
#include "conn/session.hpp"

#include <string>
#include <vector>

#include "interpret.hpp"
#include "options.hpp"
#include "scripts.hpp"
#include "tx.hpp"

namespace jr {

namespace {
const std::string kDefaultUser = "default";  // HELLO's AUTH always names a user
}  // namespace

Session::Session(SessionHost &host, const ReaderLimits &limits) : host_(host), reader_(limits) {
  db_state_[0] = 2;  // database 0 always exists
}

// ---- Writing --------------------------------------------------------------------

void Session::write_internal(Kind kind, int db, size_t argc, const char *const *argv,
                             const size_t *lens) {
  if (!has_output()) host_.output_pending();
  if (fifo_.empty()) heard_at_ = host_.now();  // silence counts from here
  encode_command(out_, argc, argv, lens);
  fifo_.push_back(Entry{nullptr, kind, db});
  unflushed_++;
}

void Session::write_raw(size_t argc, const char *const *argv, const size_t *lens) {
  if (!has_output()) host_.output_pending();
  encode_command(out_, argc, argv, lens);
  // The answer (a confirmation, a pong) must come within answer_ms of the
  // last read, or of now when that is older.
  if (live_.answer_ms <= 0) return;
  int64_t now = host_.now();
  if (sat_add(answer_from_, live_.answer_ms) < now) answer_from_ = now;
  host_.tick_at(deadline_after(answer_from_, live_.answer_ms));
}

void Session::write_command(Command *c) {
  // The script cache: EVALSHA, or the EVAL on the script's first use here.
  if (c->script != nullptr && !c->script->eval_sent) host_.before_script_write(c);
  if (c->lease != nullptr) {
    Lease *l = c->lease;
    if ((c->flags & kFlagWatch) != 0) {
      l->watched = true;
      l->epoch = epoch_;
    } else if (l->watched && l->epoch != epoch_) {
      // The connection that holds the WATCH was replaced: the server forgot
      // it, so nothing may run as if the keys were still watched.
      host_.complete(c, JR_ECONNLOST, nullptr);
      return;
    }
  }
  int db = c->db;
  if (db != current_db_) {
    uint8_t st = db_state_[db];
    if (st != 2) {
      // First use of this database on this server: probe it with a SELECT
      // and hold its commands until the answer, so that a rejected database
      // never lets a command run in the wrong one.
      for (auto &p : db_pending_) {
        if (p.first == db) {
          p.second.push_back(c);
          return;
        }
      }
      db_pending_.emplace_back(db, CmdList());
      db_pending_.back().second.push_back(c);
      std::string n = std::to_string(db);
      const char *argv[] = {"SELECT", n.c_str()};
      const size_t lens[] = {6, n.size()};
      write_internal(Kind::kProbe, db, 2, argv, lens);
      db_state_[db] = 1;
      current_db_ = -1;  // the server's database is known once the probe answers
      return;
    }
    std::string n = std::to_string(db);
    const char *argv[] = {"SELECT", n.c_str()};
    const size_t lens[] = {6, n.size()};
    write_internal(Kind::kSelect, db, 2, argv, lens);
    current_db_ = db;
  }
  if ((c->flags & kFlagAsking) != 0) {
    c->flags &= static_cast<uint8_t>(~kFlagAsking);
    const char *argv[] = {"ASKING"};
    const size_t lens[] = {6};
    write_internal(Kind::kAsking, db, 1, argv, lens);
  }
  if (!has_output()) host_.output_pending();
  if (fifo_.empty()) heard_at_ = host_.now();  // silence counts from here
  size_t n = c->wire.size();
  if (n < kRefMin && out_.size() < kCoalesceMax) {
    out_.append(c->wire.data(), n);
  } else {
    // Written from its own buffer: held until the transport has the bytes.
    c->holds.fetch_add(1, std::memory_order_relaxed);
    refs_.push_back(Ref{c, out_.size()});
  }
  c->state.store(CmdState::kWritten, std::memory_order_release);
  c->conn = owner_;
  if (stamp_writes_) [[unlikely]]
    c->write_ns = now_ns();
  c->holds.fetch_add(1, std::memory_order_relaxed);
  fifo_.push_back(Entry{c, c->tx != nullptr ? Kind::kTx : Kind::kCmd, db});
  unflushed_++;
  if (fifo_.size() == 1 && live_.socket_ms > 0) {
    // The socket timeout counts from the first reply owed.
    answer_from_ = host_.now();
    host_.tick_at(deadline_after(answer_from_, live_.socket_ms));
  }
}

void Session::output_reset(size_t from) noexcept {
  for (size_t i = from; i < refs_.size(); i++) host_.release_hold(refs_[i].cmd);
  refs_.clear();
  out_.clear();
}

// ---- Handshake --------------------------------------------------------------------

void Session::on_transport_up() noexcept {
  reader_.reset();
  current_db_ = 0;
  unflushed_ = 0;
}

bool Session::start_handshake(const Options &o, bool readonly, bool tls, bool master_role) {
  phase_ = Phase::kHandshake;
  handshake_left_ = 0;
  // RESP3 (protocol=3) on the command connections only: a push-mode
  // connection (subscriptions, MONITOR) stays RESP2, where its frames are
  // the same arrays whatever the option says.
  bool resp3 = o.protocol == 3 && !push_mode_;
  reader_.set_resp3(resp3);
  hello_pending_ = resp3;
  if (resp3) {
    // One command: HELLO 3 [AUTH user pass] [SETNAME name].
    std::vector<const char *> argv{"HELLO", "3"};
    std::vector<size_t> lens{5, 1};
    if (!o.password.empty()) {
      const std::string &user = o.username.empty() ? kDefaultUser : o.username;
      argv.insert(argv.end(), {"AUTH", user.c_str(), o.password.c_str()});
      lens.insert(lens.end(), {4, user.size(), o.password.size()});
    }
    if (!o.client_name.empty()) {
      argv.insert(argv.end(), {"SETNAME", o.client_name.c_str()});
      lens.insert(lens.end(), {7, o.client_name.size()});
    }
    write_internal(Kind::kHandshake, 0, argv.size(), argv.data(), lens.data());
    handshake_left_++;
  }
  if (resp3) {
    // AUTH and SETNAME went with HELLO.
  } else if (!o.password.empty()) {
    if (o.username.empty()) {
      const char *argv[] = {"AUTH", o.password.c_str()};
      const size_t lens[] = {4, o.password.size()};
      write_internal(Kind::kHandshake, 0, 2, argv, lens);
    } else {
      const char *argv[] = {"AUTH", o.username.c_str(), o.password.c_str()};
      const size_t lens[] = {4, o.username.size(), o.password.size()};
      write_internal(Kind::kHandshake, 0, 3, argv, lens);
    }
    handshake_left_++;
  }
  if (!o.client_name.empty() && !resp3) {
    const char *argv[] = {"CLIENT", "SETNAME", o.client_name.c_str()};
    const size_t lens[] = {6, 7, o.client_name.size()};
    write_internal(Kind::kHandshake, 0, 3, argv, lens);
    handshake_left_++;
  }
  if (readonly && o.read_from_replicas) {
    const char *argv[] = {"READONLY"};
    const size_t lens[] = {8};
    write_internal(Kind::kHandshake, 0, 1, argv, lens);
    handshake_left_++;
  }
  for (const auto &cmd : o.connect_commands) {
    std::vector<const char *> argv;
    std::vector<size_t> lens;
    for (const auto &a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    write_internal(Kind::kHandshake, 0, argv.size(), argv.data(), lens.data());
    handshake_left_++;
  }
  if (master_role) {
    // Last: after AUTH (ROLE needs it) and the connect commands.
    const char *argv[] = {"ROLE"};
    const size_t lens[] = {4};
    write_internal(Kind::kRole, 0, 1, argv, lens);
    handshake_left_++;
  }
  if (handshake_left_ == 0 && tls) {
    // TLS 1.3: the client's side of the handshake ends before the server
    // has checked the client certificate, and a refusal (an alert) comes
    // after it. A reply proves the server accepted the session: without a
    // handshake command of its own, the session sends a PING first, so that
    // no command is written (and CONNECTED not announced) before then.
    const char *argv[] = {"PING"};
    const size_t lens[] = {4};
    write_internal(Kind::kSession, 0, 1, argv, lens);
    handshake_left_++;
  }
  if (handshake_left_ == 0) {
    become_ready();
    return true;
  }
  return false;
}

void Session::handshake_step() {
  if (--handshake_left_ == 0) become_ready();
}

void Session::become_ready() {
  phase_ = Phase::kReady;
  epoch_++;
  heard_at_ = answer_from_ = host_.now();
  host_.ready();
  CmdList list = waiting_;
  waiting_ = CmdList();
  while (Command *c = list.pop_front()) write_command(c);
  host_.output_pending();
}

// ---- Reading ----------------------------------------------------------------------

void Session::feed(const char *data, size_t len) {
  int rc = reader_.feed(data, len);
  uint64_t gen = gen_;
  // What the callbacks of these replies submit goes out in a few writes per
  // window (see batch_ready: a quarter of what is in flight on each
  // connection), not one at the end: the server works on the first part
  // while the rest is being parsed. Checked every 16 replies.
  size_t until_flush = 16;
  while (rc == 0) {
    jr_reply *reply = nullptr;
    rc = reader_.next(&reply);
    if (rc == 1) {
      // A RESP3 push is never a command's reply: it goes to the host (out
      // of the FIFO) like every reply of a push-mode connection.
      if ((push_mode_ && phase_ == Phase::kReady) || reply->type == JR_REPLY_PUSH) {
        host_.push(reply);
      } else {
        on_reply(reply);
      }
      if (gen_ != gen) return;  // the reply closed the transport
      if (--until_flush == 0) {
        until_flush = 16;
        host_.batch();
        if (gen_ != gen) return;  // the write failed
      }
      rc = 0;
      continue;
    }
    if (rc == 0) {  // need more bytes
      host_.drained();
      return;
    }
  }
  host_.fail(rc, reader_.error());
}

void Session::on_reply(jr_reply *reply) {
  if (fifo_.empty()) {
    reply_release(reply);
    host_.fail(JR_EPROTO, "reply with no command waiting for it");
    return;
  }
  if (unflushed_ == fifo_.size()) {
    reply_release(reply);
    host_.fail(JR_EPROTO, "reply before its command was written");
    return;
  }
  if (fifo_.front().kind == Kind::kTx) {
    tx_reply(fifo_.front(), reply);
    return;
  }
  Entry e = fifo_.pop_front();
  bool is_error = reply->type == JR_REPLY_ERROR;
  switch (e.kind) {
    case Kind::kTx:
      break;  // handled above
    case Kind::kCmd: {
      Command *c = e.cmd;
      if (c->state.load(std::memory_order_relaxed) == CmdState::kDone) {
        reply_release(reply);  // timed out or cancelled: drop the late reply
      } else if (is_error && host_.redirect(c, reply)) {
        // re-sent elsewhere (MOVED/ASK) or scheduled for a retry
      } else if (c->script == nullptr || !host_.script_reply(c, reply)) {
        host_.complete(c, JR_OK, reply);
      }
      host_.release_hold(c);  // the FIFO's
      break;
    }
    case Kind::kAsking:
      reply_release(reply);
      break;
    case Kind::kSelect: {
      std::string text = is_error ? std::string(reply->u.str, reply->len) : std::string();
      reply_release(reply);
      if (is_error) {
        // A database that was valid stopped being valid: the commands behind
        // this SELECT may have run elsewhere, so the connection is reset.
        db_state_[e.db] = 0;
        host_.fail(JR_ECONNLOST, "SELECT " + std::to_string(e.db) + " failed: " + text);
      }
      break;
    }
    case Kind::kProbe: {
      if (is_error) {
        db_state_[e.db] = 0;
        fail_pending_db(e.db, reply);
      } else {
        reply_release(reply);
        db_state_[e.db] = 2;
        requeue_pending_db(e.db);
      }
      break;
    }
    case Kind::kSession:  // any reply (even NOAUTH) means the session was accepted
      reply_release(reply);
      handshake_step();
      break;
    case Kind::kRole: {
      if (is_error) {  // refused (an ACL without ROLE): like a refused AUTH
        std::string text = "ROLE: " + std::string(reply->u.str, reply->len);
        host_.handshake_failed(text, reply);
        return;
      }
      std::string role, why;
      int rc = parse_role(reply, role, why);
      reply_release(reply);
      if (rc != JR_OK) {
        host_.not_master(why);
        return;
      }
      if (role != "master") {
        host_.not_master("ROLE says " + role + ", not master");
        return;
      }
      handshake_step();
      break;
    }
    case Kind::kHandshake: {
      bool hello = hello_pending_;
      hello_pending_ = false;
      if (is_error) {
        std::string text(reply->u.str, reply->len);
        if (hello) {
          // Before Redis 6 (no HELLO) or a proxy that refuses it: the option
          // cannot be honoured. The error the commands get keeps the
          // server's words first (its error code) and names the option.
          text += " (protocol=3: the server refused HELLO 3; RESP3 needs Redis >= 6)";
          if (jr_reply *named = make_reply(ReplyPart{JR_REPLY_ERROR, text, 0})) {
            reply_release(reply);
            reply = named;
          }
        }
        host_.handshake_failed(text, reply);
        return;
      }
      if (hello) {
        // Not an error, but not RESP3 either (a proxy that answers HELLO
        // in RESP2, a hostile server): the stream cannot be trusted.
        std::string why;
        int rc = parse_hello(reply, why);
        reply_release(reply);
        if (rc != 0) {
          host_.fail(rc, "protocol error: " + why);
          return;
        }
      } else {
        reply_release(reply);
      }
      handshake_step();
      break;
    }
  }
}

void Session::requeue_pending_db(int db) {
  for (auto it = db_pending_.begin(); it != db_pending_.end(); ++it) {
    if (it->first != db) continue;
    CmdList list = it->second;
    db_pending_.erase(it);
    if (phase_ == Phase::kReady) {
      while (Command *c = list.pop_front()) write_command(c);
    } else {
      // Not connected: they wait with the others, in order.
      list.append(waiting_);
      waiting_ = list;
    }
    return;
  }
}

void Session::fail_pending_db(int db, jr_reply *error_reply) {
  for (auto it = db_pending_.begin(); it != db_pending_.end(); ++it) {
    if (it->first != db) continue;
    CmdList list = it->second;
    db_pending_.erase(it);
    // Each command gets the server's SELECT error as its server error reply.
    while (Command *c = list.pop_front()) {
      error_reply->arena->ref();
      host_.complete(c, JR_OK, error_reply);
    }
    break;
  }
  reply_release(error_reply);
}

// ---- Loss, expiry, cancel, shutdown ----------------------------------------------------

void Session::drop(int head_code) {
  phase_ = Phase::kDown;
  gen_++;
  // Entries whose bytes never left the output were not sent: put them back.
  CmdList unsent;
  while (unflushed_ > 0 && !fifo_.empty()) {
    Entry e = fifo_.pop_back();
    unflushed_--;
    if (e.kind == Kind::kCmd || e.kind == Kind::kTx) {
      Command *c = e.cmd;
      if (c->state.load(std::memory_order_relaxed) == CmdState::kWritten) {
        c->state.store(CmdState::kPending, std::memory_order_release);
        if (c->tx != nullptr) {
          c->tx->seen = 0;
          c->tx->malformed = false;
        }
        unsent.push_front(c);
      }
      host_.release_hold(c);
    } else if (e.kind == Kind::kProbe) {
      db_state_[e.db] = 0;
    }
  }
  output_reset();
  unflushed_ = 0;
  bool first = true;
  while (!fifo_.empty()) {
    Entry e = fifo_.pop_front();
    if (e.kind == Kind::kCmd || e.kind == Kind::kTx) {
      Command *c = e.cmd;
      if (c->state.load(std::memory_order_relaxed) == CmdState::kWritten)
        host_.complete(c, first ? head_code : JR_ECONNLOST, nullptr);
      first = false;
      host_.release_hold(c);
    } else if (e.kind == Kind::kProbe) {
      db_state_[e.db] = 0;  // its pending commands were not sent: they wait
    }
  }
  // Commands held for a database probe were never sent.
  for (auto &p : db_pending_) unsent.append(p.second);
  db_pending_.clear();
  unsent.append(waiting_);
  waiting_ = unsent;
  for (auto &kv : db_state_)
    if (kv.second == 1) kv.second = 0;
  reader_.reset();
}

void Session::abort() noexcept {
  phase_ = Phase::kDown;
  gen_++;
  // Only handshake entries can be in the FIFO before the session is ready
  // (commands wait in waiting_).
  while (!fifo_.empty()) fifo_.pop_front();
  output_reset();
  unflushed_ = 0;
}

void Session::fail_waiting(int code, const jr_reply *detail) {
  CmdList list = waiting_;
  waiting_ = CmdList();
  for (auto &p : db_pending_) list.append(p.second);
  db_pending_.clear();
  while (Command *c = list.pop_front()) {
    if (detail != nullptr) detail->arena->ref();
    host_.complete(c, code, const_cast<jr_reply *>(detail));
  }
}

bool Session::cancel(Command *c) {
  if (waiting_.remove(c)) return true;
  for (auto &p : db_pending_)
    if (p.second.remove(c)) return true;
  return false;
}

int64_t Session::expire(int64_t now, bool *owed, bool *abandon) {
  int64_t next = 0;
  auto consider = [&](int64_t d) {
    if (d != 0 && (next == 0 || d < next)) next = d;
  };
  auto expire_list = [&](CmdList &list) {
    CmdList keep;
    while (Command *c = list.pop_front()) {
      if (c->deadline != 0 && c->deadline <= now) {
        host_.complete(c, JR_EQUEUETIMEOUT, nullptr);
      } else {
        consider(c->deadline);
        keep.push_back(c);
      }
    }
    list = keep;
  };
  expire_list(waiting_);
  for (auto &p : db_pending_) expire_list(p.second);
  *owed = false;
  for (size_t i = 0; i < fifo_.size(); i++) {
    Entry &e = fifo_[i];
    if (e.kind != Kind::kCmd && e.kind != Kind::kTx) continue;
    *owed = true;
    Command *c = e.cmd;
    if (c->state.load(std::memory_order_relaxed) != CmdState::kWritten) continue;
    if (c->deadline != 0 && c->deadline <= now) {
      // The session stays: the late reply is read and dropped. A blocking
      // command's connection is closed instead, so that the server cannot
      // hand it an item nobody waits for any more.
      host_.complete(c, JR_ETIMEDOUT, nullptr);
      if ((c->flags & kFlagBlocking) != 0) *abandon = true;
    } else {
      consider(c->deadline);
    }
  }
  return next;
}

// ---- Liveness ----------------------------------------------------------------------------

Session::Liveness Session::liveness_of(const Options &o) noexcept {
  Liveness l;
  l.silence_ms = o.silence_timeout_ms;
  l.socket_ms = o.socket_timeout_ms;
  l.answer_ms = o.socket_timeout_ms > 0 ? o.socket_timeout_ms : o.connect_timeout_ms;
  return l;
}

Session::Tick Session::on_tick(int64_t now, bool awaiting) {
  Tick t;
  bool owed = false;
  bool abandon = false;
  t.next = expire(now, &owed, &abandon);
  auto consider = [&](int64_t d) {
    if (d != 0 && (t.next == 0 || d < t.next)) t.next = d;
  };
  if (abandon) {
    t.drop = JR_ECONNLOST;
    t.why = "blocking command given up";
    return t;
  }
  if (phase_ != Phase::kReady) return t;
  if (awaiting && push_mode_) {
    int64_t at = deadline_after(answer_from_, live_.answer_ms);
    if (at != 0 && now >= at) {
      t.drop = JR_ETIMEDOUT;
      t.why = "no answer from the subscription connection";
      return t;
    }
    consider(at);
  }
  if (!owed) return t;
  int64_t at = silent_until(now);
  if (at != 0 && now >= at) {
    t.drop = JR_ETIMEDOUT;
    t.why = "nothing read for " + std::to_string(live_.silence_ms) +
            " ms while replies are owed (silence_timeout_ms)";
    return t;
  }
  consider(at);
  at = deadline_after(answer_from_, live_.socket_ms);
  if (at != 0 && now >= at) {
    t.drop = JR_ETIMEDOUT;
    t.why = "no reply for socket_timeout_ms";
    return t;
  }
  consider(at);
  return t;
}

// The default dead-connection rule. A connection whose packets are dropped
// (a NAT or load balancer that forgot it, a cable pulled: no FIN, no RST)
// delivers nothing, and every command on it would time out, forever. So a
// session that owes replies is dead once it has read nothing for
// silence_ms (default 10 s), counted from its last read or from the moment
// it started to owe replies, and once the command the server must answer
// first is past its own deadline: a slow command (a Lua script, DEBUG
// SLEEP) given a longer deadline than the window is waited for, and one
// with no deadline (timeout_ms 0, a blocking command whose server-side
// timeout governs) holds the rule off, as the user asked to wait as long as
// it takes; TCP keepalive (tcp_keepalive_s) still finds a dead peer there.
// A PING would not tell more: it queues behind the slow command, so only
// "nothing read at all" can be judged.
int64_t Session::silent_until(int64_t now) noexcept {
  if (live_.silence_ms <= 0) return 0;
  Command *head = head_command();
  if (head == nullptr) return 0;
  bool waiting = head->state.load(std::memory_order_relaxed) == CmdState::kWritten;
  if (waiting && head->deadline == 0) return 0;
  int64_t at = sat_add(heard_at_, live_.silence_ms);
  if (at < now) at = now;
  if (waiting && head->deadline > at) at = head->deadline;
  return at;
}

Command *Session::head_command() noexcept {
  for (size_t i = 0; i < fifo_.size(); i++)
    if (fifo_[i].kind == Kind::kCmd || fifo_[i].kind == Kind::kTx) return fifo_[i].cmd;
  return nullptr;
}

void Session::shutdown() {
  output_reset();
  // Unflushed entries were never written.
  while (unflushed_ > 0 && !fifo_.empty()) {
    Entry e = fifo_.pop_back();
    unflushed_--;
    if (e.kind != Kind::kCmd && e.kind != Kind::kTx) continue;
    if (e.cmd->state.load() == CmdState::kWritten) host_.complete(e.cmd, JR_ECLOSED, nullptr);
    host_.release_hold(e.cmd);
  }
  while (!fifo_.empty()) {
    Entry e = fifo_.pop_front();
    if (e.kind != Kind::kCmd && e.kind != Kind::kTx) continue;
    if (e.cmd->state.load() == CmdState::kWritten) host_.complete(e.cmd, JR_ESHUTDOWN, nullptr);
    host_.release_hold(e.cmd);
  }
  fail_waiting(JR_ECLOSED);
  phase_ = Phase::kDown;
  gen_++;
}

}  // namespace jr

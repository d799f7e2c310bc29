// SPDX-License-Identifier: MIT
// A SessionHost with no socket and no loop, for the unit tests and the fuzz
// target: it records completions (and counts them per command), plays the
// transport (takes the output, as Connection::flush does) and reacts to the
// session's verdicts the way Connection does (fail: drop or abort;
// handshake_failed: abort and fail the waiting commands with JR_EAUTH;
// script replies: a real ScriptCache, NOSCRIPT re-sent as the EVAL).
#ifndef JR_TESTS_UNIT_FAKE_SESSION_HOST_HPP
#define JR_TESTS_UNIT_FAKE_SESSION_HOST_HPP

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "command.hpp"
#include "conn/session.hpp"
#include "options.hpp"
#include "resp/encoder.hpp"
#include "resp/reply.hpp"
#include "scripts.hpp"
#include "tx.hpp"

namespace jr::testing {

// "+OK", ":42", "$bar", "-ERR x", "nil", "[a,nil]"
inline std::string describe(const jr_reply *r) {
  if (r == nullptr) return "-";
  switch (r->type) {
    case JR_REPLY_STRING:
      return "$" + std::string(r->u.str, r->len);
    case JR_REPLY_STATUS:
      return "+" + std::string(r->u.str, r->len);
    case JR_REPLY_ERROR:
      return "-" + std::string(r->u.str, r->len);
    case JR_REPLY_INTEGER:
      return ":" + std::to_string(r->u.integer);
    case JR_REPLY_NIL:
      return "nil";
    case JR_REPLY_ARRAY: {
      std::string s = "[";
      for (size_t i = 0; i < r->len; i++) s += (i ? "," : "") + describe(r->u.elements[i]);
      return s + "]";
    }
    default:
      return "?" + std::to_string(r->type);
  }
}

class FakeHost : public SessionHost {
 public:
  explicit FakeHost(const Options &o = Options()) : opts(o), s(*this, o.limits) {
    s.set_liveness(Session::liveness_of(o));
  }
  ~FakeHost() override {
    // The session may still hold commands' FIFO holds: let it go first.
    s.abort();
    for (auto &c : cmds)
      if (c->script != nullptr) script_calls.release(c->script);
  }

  Options opts;
  ScriptCallPool script_calls;
  ScriptCache scripts;
  std::vector<std::unique_ptr<Tx>> txs;
  Session s;
  std::vector<std::unique_ptr<Command>> cmds;
  // In completion order: "<name> <status> <reply>".
  std::vector<std::string> events;
  std::map<const Command *, int> completions;
  std::vector<std::string> pushes;
  std::string written;  // every byte the transport took
  int ready_calls = 0;
  int resent = 0;  // script commands re-sent as EVAL (NOSCRIPT)
  int fails = 0;
  int last_fail = 0;
  std::string last_detail;
  std::vector<std::string> drops;  // the reasons of the drops ticks asked for
  bool tls = false;
  bool master_role = false;    // up() asks for a ROLE that says "master"
  int not_masters = 0;         // not_master() calls
  int64_t clock = 1000;        // the fake clock: now()
  std::vector<int64_t> ticks;  // every tick_at the session asked for

  Command *make(const std::vector<std::string> &args, int db = 0, int64_t deadline = 0,
                uint8_t flags = 0) {
    auto c = std::make_unique<Command>();
    std::vector<const char *> argv;
    std::vector<size_t> lens;
    for (const auto &a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    encode_command(c->wire, argv.size(), argv.data(), lens.data());
    c->db = db;
    c->deadline = deadline;
    c->flags = flags;
    c->index = static_cast<uint32_t>(cmds.size());
    c->state.store(CmdState::kPending);
    cmds.push_back(std::move(c));
    return cmds.back().get();
  }
  Command *submit(const std::vector<std::string> &args, int db = 0, int64_t deadline = 0,
                  uint8_t flags = 0) {
    Command *c = make(args, db, deadline, flags);
    s.submit(c);
    return c;
  }
  // EVAL script nkeys ... as Client::submit sends it: EVALSHA, with the
  // EVAL in its ScriptCall.
  Command *submit_eval(const std::vector<std::string> &args, int64_t deadline = 0) {
    Command *c = make({"x"}, 0, deadline);
    c->wire.clear();
    c->script = script_calls.acquire();
    std::vector<const char *> argv;
    std::vector<size_t> lens;
    for (const auto &a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    encode_script(c, argv.size(), argv.data(), lens.data(), lens[0]);
    s.submit(c);
    return c;
  }
  // MULTI, the commands, EXEC as one command object (jr_multi_exec).
  Command *submit_tx(const std::vector<std::vector<std::string>> &cmds_in, bool watch = false,
                     int64_t deadline = 0) {
    Command *c = make({"MULTI"}, 0, deadline);
    auto tx = std::make_unique<Tx>();
    tx->watch = watch;
    for (const auto &args : cmds_in) {
      std::vector<const char *> argv;
      std::vector<size_t> lens;
      for (const auto &a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      encode_command(c->wire, argv.size(), argv.data(), lens.data());
      tx->items.push_back(Tx::Item{nullptr, nullptr});
      tx->queue_errors.push_back(nullptr);
    }
    const char *exec[] = {"EXEC"};
    const size_t exec_len[] = {4};
    encode_command(c->wire, 1, exec, exec_len);
    c->tx = tx.get();
    txs.push_back(std::move(tx));
    s.submit(c);
    return c;
  }
  // A new transport: the handshake starts.
  bool up() {
    s.on_transport_up();
    return s.start_handshake(opts, false, tls, master_role);
  }
  // The transport takes everything queued (Connection::flush).
  void flush() {
    size_t pos = 0;
    for (const Session::Ref &r : s.refs()) {
      written.append(s.out().data() + pos, r.at - pos);
      pos = r.at;
      written.append(r.cmd->wire.data(), r.cmd->wire.size());
      release_hold(r.cmd);
    }
    written.append(s.out().data() + pos, s.out().size() - pos);
    s.refs().clear();
    s.out().clear();
    s.mark_flushed();
  }
  // Bytes read (Connection::on_read): the peer is heard, then the replies.
  void feed(const std::string &bytes) {
    s.heard();
    s.feed(bytes.data(), bytes.size());
  }
  // The transport's timer fired (Connection::expire): a drop closes the
  // transport, then the session is ticked again. Returns the last tick.
  Session::Tick tick(bool awaiting = false) {
    Session::Tick t = s.on_tick(clock, awaiting);
    while (t.drop != 0) {
      drops.push_back(t.why);
      lost(t.drop);
      t = s.on_tick(clock, awaiting);
    }
    return t;
  }
  // The transport is gone (Connection::lost).
  void lost(int code) {
    flush_reset();
    s.drop(code);
  }
  void flush_reset() { s.output_reset(); }
  [[nodiscard]] std::string name(const Command *c) const { return "c" + std::to_string(c->index); }

  // ---- SessionHost ----
  void complete(Command *c, int status, jr_reply *reply) override {
    c->state.store(CmdState::kDone);
    completions[c]++;
    events.push_back(name(c) + " " + std::to_string(status) + " " + describe(reply));
    reply_release(reply);
  }
  void release_hold(Command *c) noexcept override { c->holds.fetch_sub(1); }
  void output_pending() override {}
  int64_t now() override { return clock; }
  void tick_at(int64_t at) override { ticks.push_back(at); }
  bool redirect(Command *c, jr_reply *reply) override {
    std::string e(reply->u.str, reply->len);
    if (e.rfind("MOVED ", 0) != 0 && e.rfind("ASK ", 0) != 0) return false;
    // Handed up: the cluster re-sends it elsewhere; here that ends it.
    c->state.store(CmdState::kDone);
    completions[c]++;
    events.push_back(name(c) + " redirect " + e);
    reply_release(reply);
    return true;
  }
  bool script_reply(Command *c, jr_reply *reply) override {
    if (!scripts.on_reply(c, reply)) return false;
    resent++;
    s.submit(c);  // Connection::script_reply
    return true;
  }
  void before_script_write(Command *c) override { scripts.before_write(c); }
  void push(jr_reply *reply) override {
    pushes.push_back(describe(reply));
    reply_release(reply);
  }
  void batch() override {}
  void ready() override { ready_calls++; }
  void handshake_failed(const std::string &text, jr_reply *error_reply) override {
    fails++;
    last_fail = JR_EAUTH;
    last_detail = text;
    flush_reset();
    s.abort();
    s.fail_waiting(JR_EAUTH, error_reply);
    reply_release(error_reply);
  }
  void not_master(const std::string &text) override {
    not_masters++;
    last_detail = text;
    flush_reset();
    s.abort();
  }
  void fail(int code, const std::string &detail) override {
    fails++;
    last_fail = code;
    last_detail = detail;
    // Before the session is ready, a failed connect attempt (abort);
    // after, a lost connection (drop).
    flush_reset();
    if (s.phase() == Session::Phase::kHandshake) {
      s.abort();
    } else {
      s.drop(code);
    }
  }
  void log(const std::string &text) override { events.push_back("log " + text); }
  void drained() override {}
};

}  // namespace jr::testing

#endif  // JR_TESTS_UNIT_FAKE_SESSION_HOST_HPP

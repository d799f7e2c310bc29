// SPDX-License-Identifier: MIT
// The session of one connection, with no socket and no libuv in it: the
// handshake's steps, SELECT tracking, the FIFO of owed replies and their
// matching, the commands that wait for the connection, the expiry of
// commands past their deadline, the liveness rules, and the bytes to write.
// It takes bytes (feed), events (transport up, transport lost) and the
// clock (on_tick, and its host's now()) and gives bytes to write (the
// output buffer the transport drains) and completions, pushes and verdicts
// through a SessionHost. Connection (conn/connection.cpp) is
// its transport: socket, TLS, connect and backoff, timers. Loop thread only.
#ifndef JR_SRC_CONN_SESSION_HPP
#define JR_SRC_CONN_SESSION_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "command.hpp"
#include "resp/encoder.hpp"
#include "resp/reply.hpp"
#include "ring.hpp"

namespace jr {

struct Options;

// What a Session hands out. Connection implements it over the Client; the
// unit tests and the fuzz target implement it with counters.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  // The command's one completion (owns reply; the host sets c->state to
  // kDone). Not for the FIFO's own hold: see release_hold.
  virtual void complete(Command *c, int status, jr_reply *reply) = 0;
  // Drops one hold (the FIFO's, or one on a command's own buffer).
  virtual void release_hold(Command *c) noexcept = 0;
  // The output went from empty to non-empty: the transport should write.
  virtual void output_pending() = 0;
  // The clock (now_ms() based): the session reads no clock itself.
  virtual int64_t now() = 0;
  // A liveness rule needs a tick (Session::on_tick) by `at` (now_ms()
  // based, never 0).
  virtual void tick_at(int64_t at) = 0;
  // An error reply of a command: true when it was taken (MOVED/ASK re-sent
  // elsewhere, TRYAGAIN scheduled). Owns reply only when it returns true.
  virtual bool redirect(Command *c, jr_reply *reply) = 0;
  // A script command's reply (c->script set): true when taken (NOSCRIPT:
  // re-sent as EVAL). Owns reply only when it returns true.
  virtual bool script_reply(Command *c, jr_reply *reply) = 0;
  // A script command with EVALSHA on its wire is about to be written.
  virtual void before_script_write(Command *c) = 0;
  // A reply while in push mode and ready (owns reply).
  virtual void push(jr_reply *reply) = 0;
  // Every 16 replies of one feed: what their callbacks submitted may go out.
  virtual void batch() = 0;
  // The handshake's last reply came: the session is ready (the host does its
  // bookkeeping; the session then writes the waiting commands).
  virtual void ready() = 0;
  // A handshake command was refused (owns error_reply). The host closes the
  // transport (abort()) and fails the waiting commands with it.
  virtual void handshake_failed(const std::string &detail, jr_reply *error_reply) = 0;
  // The handshake's ROLE (start_handshake's master_role) did not say
  // "master" (a demoted master, or a malformed answer): `detail` says what
  // it said. The host closes the transport (abort()); the waiting commands
  // were not written and stay in the session for the host to take.
  virtual void not_master(const std::string &detail) = 0;
  // The stream is unusable (a protocol error, a SELECT that failed): the
  // host closes the transport and calls drop().
  virtual void fail(int code, const std::string &detail) = 0;
  // Something worth a log line (a malformed transaction).
  virtual void log(const std::string &text) = 0;
  // A feed ended with the reader waiting for more bytes.
  virtual void drained() = 0;
};

class Session {
 public:
  enum class Phase : uint8_t { kDown, kHandshake, kReady };
  Session(SessionHost &host, const ReaderLimits &limits);

  // ---- inputs -------------------------------------------------------------
  // A new command: written when ready, else it waits (the transport
  // connects). Inline: it is on every command's path.
  void submit(Command *c) {
    if (phase_ == Phase::kReady) {
      write_command(c);
    } else {
      waiting_.push_back(c);
    }
  }
  // submit() of a ready session (the transport knows it is).
  void write_command(Command *c);
  // Push mode: a command with no reply expected in FIFO order.
  void write_raw(size_t argc, const char *const *argv, const size_t *lens);
  // A new transport: the reader and the database start fresh.
  void on_transport_up() noexcept;
  // Writes the handshake (AUTH, CLIENT SETNAME, READONLY, connect commands,
  // with master_role a ROLE that must say "master" (Sentinel: nothing is
  // written to a demoted master); a PING proving a TLS session when there
  // is none of those). Returns true when there is nothing to wait for
  // (ready() already ran).
  bool start_handshake(const Options &o, bool readonly, bool tls, bool master_role = false);
  // Bytes read (plaintext). Replies are matched, completed or handed up;
  // a malformed stream calls host.fail. The host may drop() the session
  // from any callback: feed stops then.
  void feed(const char *data, size_t len);
  // The transport failed with the session ready or handshaking: unsent
  // commands go back to wait (in order), written ones complete (the first
  // with head_code, the others JR_ECONNLOST).
  void drop(int head_code);
  // A connect attempt failed or the handshake was refused: only handshake
  // entries can be owed; they and the output go.
  void abort() noexcept;
  // Completes the commands past their deadline (waiting: JR_EQUEUETIMEOUT;
  // written: JR_ETIMEDOUT, their late reply dropped). Returns the next
  // deadline (0 = none); *owed: a command's reply is owed; *abandon: a
  // blocking command was given up (its connection must go).
  int64_t expire(int64_t now, bool *owed, bool *abandon);
  // Completes everything waiting with code (and a ref of detail, if any).
  void fail_waiting(int code, const jr_reply *detail = nullptr);

  // ---- liveness: rules on the clock -----------------------------------------
  // Each in ms, 0 = off; huge values saturate (a deadline that never comes).
  struct Liveness {
    // A session that owes replies and read nothing for this long is dead,
    // once the command the server must answer first is past its own
    // deadline (one without a deadline holds the rule off).
    int64_t silence_ms = 0;
    // A session that owes a command's reply and read nothing for this long.
    int64_t socket_ms = 0;
    // Push mode: the answer its handler awaits (a subscribe confirmation, a
    // pong) must come within this long of the last read or the request.
    int64_t answer_ms = 0;
  };
  // The rules of o: silence_timeout_ms, socket_timeout_ms, and for an
  // answer socket_timeout_ms or else connect_timeout_ms.
  static Liveness liveness_of(const Options &o) noexcept;
  void set_liveness(const Liveness &l) noexcept { live_ = l; }
  // The transport read bytes (any: before decryption, even TLS records).
  void heard() { heard_at_ = answer_from_ = host_.now(); }
  // What a tick tells the transport.
  struct Tick {
    int64_t next = 0;  // tick again by then (now_ms() based; 0 = nothing to wait for)
    int drop = 0;      // nonzero: close the transport (drop(drop)), then tick again
    std::string why;   // drop's reason
  };
  // The clock moved to `now`: expires the commands past their deadline
  // (expire()), then judges the session by the liveness rules. A blocking
  // command given up, an awaited answer (push mode; awaiting: the handler
  // awaits one) or any reply not heard in time: drop.
  Tick on_tick(int64_t now, bool awaiting);
  // Shutdown: unsent written commands JR_ECLOSED, sent ones JR_ESHUTDOWN,
  // waiting ones JR_ECLOSED.
  void shutdown();
  bool cancel(Command *c);  // unlink an unsent command; false if not here
  void set_push(bool on) noexcept { push_mode_ = on; }
  // What a written command's conn names (a blocking command's cancel
  // resets it); nullptr in tests.
  void set_owner(Connection *conn) noexcept { owner_ = conn; }
  // The trace hook is on: write_command stamps each command's write_ns.
  void set_stamp_writes(bool on) noexcept { stamp_writes_ = on; }

  // ---- state ---------------------------------------------------------------
  [[nodiscard]] Phase phase() const noexcept { return phase_; }
  [[nodiscard]] uint64_t epoch() const noexcept { return epoch_; }
  [[nodiscard]] bool idle() const noexcept {
    return fifo_.empty() && waiting_.empty() && db_pending_.empty();
  }
  [[nodiscard]] bool has_waiting() const noexcept { return !waiting_.empty(); }
  [[nodiscard]] size_t owed() const noexcept { return fifo_.size(); }
  // Takes the waiting commands (a cluster node that cannot be reached).
  CmdList take_waiting() noexcept {
    CmdList l = waiting_;
    waiting_ = CmdList();
    return l;
  }
  // The first command the server must answer (nullptr: none).
  [[nodiscard]] Command *head_command() noexcept;
  [[nodiscard]] const std::string &reader_error() const noexcept { return reader_.error(); }

  // ---- output: what the transport drains ----------------------------------
  // Small commands and libjr's own are copied into out (one write for
  // many); a large command is written from its own buffer, with no second
  // copy: refs holds it (one hold each, until the transport has its bytes),
  // its bytes going after out[0, at).
  struct Ref {
    Command *cmd;
    size_t at;
  };
  static constexpr size_t kRefMin = 16 * 1024;        // commands this large are not copied
  static constexpr size_t kCoalesceMax = 512 * 1024;  // out copies at most this much
  [[nodiscard]] bool has_output() const noexcept { return !out_.empty() || !refs_.empty(); }
  // Enough is queued to be worth a write while replies are still being
  // read: a quarter of what is in flight here, at least 16 commands.
  [[nodiscard]] bool batch_ready() const noexcept {
    return unflushed_ >= std::max<size_t>(16, fifo_.size() / 4);
  }
  Buffer &out() noexcept { return out_; }
  std::vector<Ref> &refs() noexcept { return refs_; }
  // The transport took what is queued so far (the entries are now sent).
  void mark_flushed() noexcept { unflushed_ = 0; }
  // Drops what is queued and not yet taken (releasing the refs' holds from
  // `from`: those before it were released by the transport).
  void output_reset(size_t from = 0) noexcept;

 private:
  // kSession: the PING that proves a TLS session was accepted (any reply).
  // kRole: the handshake's ROLE (master_role).
  enum class Kind : uint8_t { kCmd, kSelect, kProbe, kHandshake, kTx, kAsking, kSession, kRole };
  struct Entry {
    Command *cmd;
    Kind kind;
    int db;
  };
  void write_internal(Kind kind, int db, size_t argc, const char *const *argv, const size_t *lens);
  void on_reply(jr_reply *reply);
  void tx_reply(Entry &e, jr_reply *reply);  // tx.cpp
  void handshake_step();
  void become_ready();
  void requeue_pending_db(int db);
  // The silence rule: when the session is dead (>= now), or 0.
  [[nodiscard]] int64_t silent_until(int64_t now) noexcept;
  void fail_pending_db(int db, jr_reply *error_reply);

  SessionHost &host_;
  Connection *owner_ = nullptr;
  ReplyReader reader_;
  Phase phase_ = Phase::kDown;
  bool push_mode_ = false;
  bool hello_pending_ = false;  // the first handshake reply answers HELLO 3
  bool stamp_writes_ = false;
  uint64_t epoch_ = 0;  // incremented on every completed handshake
  uint64_t gen_ = 0;    // incremented by drop() and abort(): feed stops
  Ring<Entry> fifo_;
  size_t unflushed_ = 0;  // entries at the back whose bytes are still in the output
  size_t handshake_left_ = 0;
  CmdList waiting_;     // accepted, not written (not ready yet)
  int current_db_ = 0;  // -1: unknown (after a SELECT probe)
  // Database states (0 unknown, 1 probing, 2 valid): a map, so that a huge
  // database number costs nothing.
  std::unordered_map<int, uint8_t> db_state_;
  std::vector<std::pair<int, CmdList>> db_pending_;  // commands waiting for a probe
  Buffer out_;
  std::vector<Ref> refs_;
  Liveness live_;
  int64_t heard_at_ = 0;     // the last read, or when the FIFO started to owe (silence)
  int64_t answer_from_ = 0;  // the last read, or when a command or an answer became owed
};

}  // namespace jr

#endif  // JR_SRC_CONN_SESSION_HPP

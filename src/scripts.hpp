// SPDX-License-Identifier: MIT
// The EVAL -> EVALSHA script cache. A script call is an extension of its
// request (Command::script, a ScriptCall from the client's pool): the
// command's wire holds EVALSHA, the ScriptCall the EVAL itself and the
// script's SHA1; each connection knows which scripts its server has (per
// server, so per cluster node).
#ifndef JR_SRC_SCRIPTS_HPP
#define JR_SRC_SCRIPTS_HPP

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "jr/jr.h"
#include "resp/encoder.hpp"

namespace jr {

struct Command;

// What an EVAL / EVAL_RO request carries beyond a plain command.
struct ScriptCall {
  Buffer eval;  // the EVAL itself (while the command's wire is EVALSHA)
  char sha[40];
  bool eval_sent = false;  // the EVAL went out instead (first use, or NOSCRIPT)
  ScriptCall *next_free = nullptr;
};

// Recycles ScriptCalls, so that a script call does not allocate in steady
// state (each keeps its buffer's capacity, as a Command does). Any thread.
class ScriptCallPool {
 public:
  ScriptCallPool() = default;
  ScriptCallPool(const ScriptCallPool &) = delete;
  ScriptCallPool &operator=(const ScriptCallPool &) = delete;
  ~ScriptCallPool();
  ScriptCall *acquire() noexcept;  // nullptr on OOM
  void release(ScriptCall *s) noexcept;

 private:
  std::mutex mu_;
  ScriptCall *free_ = nullptr;
};

// Client::submit, for EVAL / EVAL_RO (argv[0] of length len0, argc >= 3),
// with c->script set: the command's wire = EVALSHA sha ..., the call's eval
// = the EVAL itself. False when out of memory.
bool encode_script(Command *c, size_t argc, const char *const *argv, const size_t *argvlen,
                   size_t len0);

// The SHA1s one server has (sorted). Loop thread only.
class ScriptCache {
 public:
  // Before a script's command (EVALSHA on the wire) is written: the first
  // use of the script on this server sends the EVAL itself.
  void before_write(Command *c) const;
  // A script's reply: remembers the script, or (NOSCRIPT: the server lost
  // it, by SCRIPT FLUSH, a restart, a failover) puts the EVAL on the wire,
  // once. Returns true when the caller must re-send c (pending again; the
  // reply is consumed).
  bool on_reply(Command *c, jr_reply *reply);

 private:
  std::vector<std::string> shas_;
};

}  // namespace jr

#endif  // JR_SRC_SCRIPTS_HPP

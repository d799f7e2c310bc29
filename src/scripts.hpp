// SPDX-License-Identifier: MIT
// The EVAL -> EVALSHA script cache: a script's command object carries both
// encodings (wire: EVALSHA, alt: EVAL, sha: the script's SHA1, script: 1
// while wire is EVALSHA, 2 once the EVAL is sent); each connection knows
// which scripts its server has (per server, so per cluster node).
#ifndef JR_SRC_SCRIPTS_HPP
#define JR_SRC_SCRIPTS_HPP

#include <cstddef>
#include <string>
#include <vector>

#include "jr/jr.h"

namespace jr {

struct Command;
class Connection;

// Client::submit, for EVAL / EVAL_RO (argv[0] of length len0, argc >= 3):
// wire = EVALSHA sha ..., alt = the EVAL itself. False when out of memory.
bool encode_script(Command *c, size_t argc, const char *const *argv, const size_t *argvlen,
                   size_t len0);

// The SHA1s one server has (sorted). Loop thread only.
class ScriptCache {
 public:
  // Before a script's command (script == 1) is written: the first use of
  // the script on this server sends the EVAL itself.
  void before_write(Command *c) const;
  // A script's reply: remembers the script, or (NOSCRIPT: the server lost
  // it, by SCRIPT FLUSH, a restart, a failover) re-sends the EVAL once on
  // conn. Returns true when the command was re-sent (the reply is consumed).
  bool on_reply(Command *c, jr_reply *reply, Connection &conn);

 private:
  std::vector<std::string> shas_;
};

}  // namespace jr

#endif  // JR_SRC_SCRIPTS_HPP

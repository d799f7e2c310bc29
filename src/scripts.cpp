// SPDX-License-Identifier: MIT
// The script cache: EVAL and EVAL_RO are sent as EVALSHA (EVALSHA_RO) once
// the server has the script, and a NOSCRIPT answer is retried once as the
// EVAL itself.
#include "scripts.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "conn/connection.hpp"
#include "resp/encoder.hpp"
#include "resp/reply.hpp"
#include "script_sha1.hpp"

namespace jr {

bool encode_script(Command *c, size_t argc, const char *const *argv, const size_t *argvlen,
                   size_t len0) {
  bool ok;
  // Script cache: wire = EVALSHA sha ..., alt = the EVAL itself.
  size_t slen = argvlen != nullptr ? argvlen[1] : std::strlen(argv[1]);
  if (!script_sha1_hex(argv[1], slen, c->sha)) return false;
  std::vector<const char *> v(argv, argv + argc);
  std::vector<size_t> l(argc);
  for (size_t i = 0; i < argc; i++) l[i] = argvlen != nullptr ? argvlen[i] : std::strlen(argv[i]);
  v[0] = len0 == 4 ? "EVALSHA" : "EVALSHA_RO";
  l[0] = std::strlen(v[0]);
  v[1] = c->sha;
  l[1] = 40;
  ok = encode_command(c->wire, argc, v.data(), l.data()) &&
       encode_command(c->alt, argc, argv, argvlen);
  c->script = 1;
  return ok;
}

void ScriptCache::before_write(Command *c) const {
  if (!std::binary_search(shas_.begin(), shas_.end(), std::string_view(c->sha, 40))) {
    // First use of this script on this server: send the EVAL itself. The
    // cache is per connection, so per cluster node.
    c->wire.swap(c->alt);
    c->script = 2;
  }
}

bool ScriptCache::on_reply(Command *c, jr_reply *reply, Connection &conn) {
  std::string sha(c->sha, 40);
  std::vector<std::string> &scripts = shas_;
  auto it = std::lower_bound(scripts.begin(), scripts.end(), sha);
  bool known = it != scripts.end() && *it == sha;
  bool error = reply->type == JR_REPLY_ERROR;
  if (c->script == 1 && error && reply->len >= 8 && std::memcmp(reply->u.str, "NOSCRIPT", 8) == 0) {
    // The server lost the script (SCRIPT FLUSH, restart, failover): send
    // the EVAL itself, once.
    if (known) scripts.erase(it);
    reply_release(reply);
    c->wire.swap(c->alt);
    c->script = 2;
    c->state.store(CmdState::kPending, std::memory_order_release);
    conn.submit(c);
    return true;
  }
  if (!error && !known) scripts.insert(it, sha);
  return false;
}

}  // namespace jr

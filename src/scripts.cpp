// SPDX-License-Identifier: MIT
// The script cache: EVAL and EVAL_RO are sent as EVALSHA (EVALSHA_RO) once
// the server has the script, and a NOSCRIPT answer is retried once as the
// EVAL itself.
#include "scripts.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "resp/encoder.hpp"
#include "resp/reply.hpp"
#include "script_sha1.hpp"

namespace jr {

// ---- ScriptCallPool ----------------------------------------------------------------

ScriptCallPool::~ScriptCallPool() {
  while (ScriptCall *s = free_) {
    free_ = s->next_free;
    delete s;
  }
}

ScriptCall *ScriptCallPool::acquire() noexcept {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (ScriptCall *s = free_) {
      free_ = s->next_free;
      s->next_free = nullptr;
      return s;
    }
  }
  return new (std::nothrow) ScriptCall();
}

void ScriptCallPool::release(ScriptCall *s) noexcept {
  s->eval.clear();
  s->eval.shrink(64 * 1024);
  s->eval_sent = false;
  std::lock_guard<std::mutex> lk(mu_);
  s->next_free = free_;
  free_ = s;
}

// ---- Encoding ----------------------------------------------------------------------

namespace {
size_t digits(size_t n) noexcept {
  size_t d = 1;
  while (n >= 10) {
    n /= 10;
    d++;
  }
  return d;
}
char *put_uint(char *p, size_t n) noexcept {
  size_t d = digits(n);
  for (size_t i = d; i-- > 0; n /= 10) p[i] = static_cast<char>('0' + n % 10);
  return p + d;
}
// The RESP size of one bulk string of len bytes: $<len>\r\n<bytes>\r\n.
size_t bulk_size(size_t len) noexcept {
  return 1 + digits(len) + 2 + len + 2;
}
}  // namespace

bool encode_script(Command *c, size_t argc, const char *const *argv, const size_t *argvlen,
                   size_t len0) {
  ScriptCall *s = c->script;
  size_t slen = argvlen != nullptr ? argvlen[1] : std::strlen(argv[1]);
  if (!script_sha1_hex(argv[1], slen, s->sha)) return false;
  // The EVAL as given, then the EVALSHA: the same arguments after the
  // script, copied from the EVAL's encoding (no argument vector to build).
  if (!encode_command(s->eval, argc, argv, argvlen)) return false;
  size_t head = 1 + digits(argc) + 2 + bulk_size(len0) + bulk_size(slen);
  const char *tail = s->eval.data() + head;
  size_t tail_len = s->eval.size() - head;
  std::string_view name = len0 == 4 ? std::string_view("EVALSHA") : std::string_view("EVALSHA_RO");
  char prefix[64];
  char *p = prefix;
  *p++ = '*';
  p = put_uint(p, argc);
  *p++ = '\r';
  *p++ = '\n';
  *p++ = '$';
  p = put_uint(p, name.size());
  *p++ = '\r';
  *p++ = '\n';
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  std::memcpy(p, "\r\n$40\r\n", 7);
  p += 7;
  return c->wire.append(prefix, static_cast<size_t>(p - prefix)) && c->wire.append(s->sha, 40) &&
         c->wire.append("\r\n", 2) && c->wire.append(tail, tail_len);
}

// ---- The cache of one server ------------------------------------------------------------

void ScriptCache::before_write(Command *c) const {
  ScriptCall *s = c->script;
  if (!std::binary_search(shas_.begin(), shas_.end(), std::string_view(s->sha, 40))) {
    // First use of this script on this server: send the EVAL itself. The
    // cache is per connection, so per cluster node.
    c->wire.swap(s->eval);
    s->eval_sent = true;
  }
}

bool ScriptCache::on_reply(Command *c, jr_reply *reply) {
  ScriptCall *s = c->script;
  std::string_view sha(s->sha, 40);
  std::vector<std::string> &scripts = shas_;
  auto it = std::lower_bound(scripts.begin(), scripts.end(), sha);
  bool known = it != scripts.end() && *it == sha;
  bool error = reply->type == JR_REPLY_ERROR;
  if (!s->eval_sent && error && reply->len >= 8 && std::memcmp(reply->u.str, "NOSCRIPT", 8) == 0) {
    // The server lost the script (SCRIPT FLUSH, restart, failover): send
    // the EVAL itself, once.
    if (known) scripts.erase(it);
    reply_release(reply);
    c->wire.swap(s->eval);
    s->eval_sent = true;
    c->state.store(CmdState::kPending, std::memory_order_release);
    return true;
  }
  if (!error && !known) scripts.insert(it, std::string(sha));
  return false;
}

}  // namespace jr

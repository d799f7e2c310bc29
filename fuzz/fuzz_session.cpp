// SPDX-License-Identifier: MIT
// libFuzzer target: the socket-free session core (src/conn/session.hpp)
// driven by arbitrary bytes and events. The input is a program: each op
// byte submits a command (to one of three databases, with or without a
// deadline, ASKING, blocking, large), lets the transport take the output,
// feeds the next bytes as what the server sent (arbitrary, or a well-formed
// reply so that matching goes deep), expires deadlines, cancels a waiting
// command, loses the transport or brings a new one up (with or without a
// handshake). Whatever the input, nothing may crash or leak, and after a
// final loss and the waiting commands' failure every accepted command has
// exactly one completion and no hold left.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../tests/unit/fake_session_host.hpp"

namespace {

struct Input {
  const uint8_t *p;
  size_t n;
  uint8_t byte() {
    if (n == 0) return 0;
    n--;
    return *p++;
  }
};

const char *const kReplies[] = {
    "+OK\r\n",       ":1\r\n",           "$3\r\nbar\r\n",  "$-1\r\n", "*2\r\n:1\r\n$1\r\nx\r\n",
    "-ERR nope\r\n", "-MOVED 1 h:1\r\n", "-ASK 2 h:2\r\n", "*0\r\n",  "-WRONGPASS no\r\n",
    "+QUEUED\r\n",
};

void check(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_session: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Input in{data, size};
  jr::Options o;
  uint8_t mode = in.byte();
  if ((mode & 1) != 0) o.password = "pw";
  if ((mode & 2) != 0) o.client_name = "fz";
  o.limits.max_bulk_len = 1024;
  o.limits.max_elements = 64;
  o.limits.max_reply_bytes = 2048;
  jr::testing::FakeHost h(o);
  h.tls = (mode & 4) != 0;
  h.s.set_push((mode & 8) != 0 && (mode & 16) != 0);
  int64_t now = 1000;
  size_t submitted = 0;
  if (in.byte() & 1) h.up();
  while (in.n > 0) {
    uint8_t op = in.byte();
    switch (op % 9) {
      case 0: {  // submit
        if (h.cmds.size() >= 256) break;
        uint8_t a = in.byte();
        int db = a % 3;
        int64_t deadline = (a & 4) != 0 ? now + (a >> 4) * 10 : 0;
        uint8_t flags = 0;
        if ((a & 8) != 0 && (op & 16) != 0) flags |= jr::kFlagAsking;
        if ((op & 32) != 0 && (op & 64) != 0) flags |= jr::kFlagBlocking;
        std::string value = (op & 128) != 0 && (a & 8) != 0 ? std::string(20000, 'v') : "v";
        h.submit({"SET", "k", value}, db, deadline, flags);
        submitted++;
        break;
      }
      case 1:  // the transport takes the output
        h.flush();
        break;
      case 2: {  // arbitrary bytes from the server
        size_t len = in.byte() % 64;
        if (len > in.n) len = in.n;
        std::string bytes(reinterpret_cast<const char *>(in.p), len);
        in.p += len;
        in.n -= len;
        h.feed(bytes);
        break;
      }
      case 3:
      case 4: {  // a well-formed reply, perhaps split
        std::string r = kReplies[in.byte() % (sizeof kReplies / sizeof kReplies[0])];
        size_t at = in.byte() % (r.size() + 1);
        h.feed(r.substr(0, at));
        h.feed(r.substr(at));
        break;
      }
      case 5: {  // time passes
        now += in.byte();
        bool owed = false;
        bool abandon = false;
        h.s.expire(now, &owed, &abandon);
        if (abandon) h.lost(JR_ECONNLOST);  // Connection::expire
        break;
      }
      case 6: {  // cancel a command (Client: only while it waits)
        if (h.cmds.empty()) break;
        jr::Command *c = h.cmds[in.byte() % h.cmds.size()].get();
        if (h.s.cancel(c)) h.complete(c, JR_ECANCELED, nullptr);
        break;
      }
      case 7:  // the transport is lost
        if (h.s.phase() == jr::Session::Phase::kHandshake) {
          h.flush_reset();
          h.s.abort();  // a failed connect attempt
        } else {
          h.lost((op & 16) != 0 ? JR_ETIMEDOUT : JR_ECONNLOST);
        }
        break;
      case 8:  // a new transport
        if (h.s.phase() == jr::Session::Phase::kDown) h.up();
        break;
    }
  }
  // The end: the transport goes for good, the waiting commands fail (the
  // retries are used up).
  if (h.s.phase() == jr::Session::Phase::kHandshake) {
    h.flush_reset();
    h.s.abort();
  } else {
    h.lost(JR_ECONNLOST);
  }
  h.s.fail_waiting(JR_ECONNECT);
  check(h.s.idle(), "session not idle at the end");
  check(h.cmds.size() == submitted, "command count");
  for (const auto &c : h.cmds) {
    auto it = h.completions.find(c.get());
    int n = it == h.completions.end() ? 0 : it->second;
    check(n == 1, n == 0 ? "a command never completed" : "a command completed twice");
    check(c->holds.load() == 0, "a hold left");
  }
  return 0;
}

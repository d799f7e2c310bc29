// SPDX-License-Identifier: MIT
// libFuzzer target: the socket-free session core (src/conn/session.hpp)
// driven by arbitrary bytes and events. The input is a program: each op
// byte submits a command (to one of three databases, with or without a
// deadline, ASKING, blocking, large), a MULTI/EXEC block or an EVAL (sent as
// EVALSHA once the fake server has the script, NOSCRIPT re-sends the EVAL),
// lets the transport take the output, feeds the next bytes as what the
// server sent (arbitrary, a well-formed reply, or a transaction's replies:
// +OK, +QUEUED or errors, then an EXEC result, nil or EXECABORT, so that
// matching goes deep), moves the clock (Session::on_tick: deadlines and the
// liveness rules, whose windows the input chooses), cancels a waiting
// command, loses the transport or brings a new one up (with or without a
// handshake). Whatever the input, nothing may crash or leak, and after a
// final loss and the waiting commands' failure every accepted command has
// exactly one completion and no hold left.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

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
    "+OK\r\n",
    ":1\r\n",
    "$3\r\nbar\r\n",
    "$-1\r\n",
    "*2\r\n:1\r\n$1\r\nx\r\n",
    "-ERR nope\r\n",
    "-MOVED 1 h:1\r\n",
    "-ASK 2 h:2\r\n",
    "*0\r\n",
    "-WRONGPASS no\r\n",
    "+QUEUED\r\n",
    "*-1\r\n",
    "-EXECABORT Transaction discarded\r\n",
    "-NOSCRIPT No matching script\r\n",
};

// A transaction's replies for n commands: +OK for MULTI, per command
// +QUEUED or an error (or, rarely, something else), then the EXEC reply:
// n results, nil (a watched key changed), EXECABORT, or a wrong count.
std::string tx_replies(Input &in) {
  size_t n = 1 + in.byte() % 3;
  uint8_t shape = in.byte();
  std::string r = (shape & 1) != 0 ? "+OK\r\n" : "-ERR MULTI\r\n";
  for (size_t i = 0; i < n; i++) {
    uint8_t b = in.byte();
    r += b % 5 == 0 ? "-ERR bad\r\n" : b % 17 == 1 ? ":1\r\n" : "+QUEUED\r\n";
  }
  switch ((shape >> 1) % 4) {
    case 0:
      r += "*" + std::to_string(n);
      r += "\r\n";
      for (size_t i = 0; i < n; i++) r += ":1\r\n";
      break;
    case 1:
      r += "*-1\r\n";
      break;
    case 2:
      r += "-EXECABORT Transaction discarded\r\n";
      break;
    default:
      r += "*1\r\n$1\r\nx\r\n";
      break;
  }
  return r;
}

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
  // The liveness windows: 0 (off), 50, 100 or 150 ms each.
  uint8_t live = in.byte();
  h.s.set_liveness(
      jr::Session::Liveness{(live & 3) * 50, ((live >> 2) & 3) * 50, ((live >> 4) & 3) * 50});
  int64_t &now = h.clock;
  size_t submitted = 0;
  if (in.byte() & 1) h.up();
  while (in.n > 0) {
    uint8_t op = in.byte();
    switch (op % 12) {
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
      case 5:  // time passes: the transport's timer ticks the session
        now += in.byte();
        h.tick((op & 16) != 0);  // a drop it asks for: the transport is lost
        break;
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
      case 9: {  // a MULTI/EXEC block of 1 to 3 commands
        if (h.cmds.size() >= 256) break;
        uint8_t a = in.byte();
        std::vector<std::vector<std::string>> block;
        for (int i = 0; i <= a % 3; i++) block.push_back({"INCR", "k" + std::to_string(i)});
        h.submit_tx(block, (a & 4) != 0, (a & 8) != 0 ? now + (a >> 4) * 10 : 0);
        submitted++;
        break;
      }
      case 10: {  // an EVAL of one of two scripts
        if (h.cmds.size() >= 256) break;
        uint8_t a = in.byte();
        h.submit_eval({"EVAL", (a & 1) != 0 ? "return 1" : "return 2", "0"},
                      (a & 2) != 0 ? now + (a >> 4) * 10 : 0);
        submitted++;
        break;
      }
      case 11: {  // a transaction's replies, perhaps split
        std::string r = tx_replies(in);
        size_t at = in.byte() % (r.size() + 1);
        h.feed(r.substr(0, at));
        h.feed(r.substr(at));
        break;
      }
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

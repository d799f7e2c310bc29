// SPDX-License-Identifier: MIT
// libFuzzer target: the C API's argument handling, without a server. The
// input is a small line language (see fuzz/corpus/capi for examples):
//   opt KEY VALUE        jr_options_set on a scratch jr_options
//   opti KEY NUMBER      jr_options_set_int
//   conncmd ARG...       jr_options_add_connect_command
//   new KEY=VALUE...     a client from those options (never its endpoints:
//                        always an address nothing listens on), one submit,
//                        jr_client_free with the command pending
//   sub ARG... / subt MS ARG... / subp ARG... / nocb ARG... / lens ARG...
//                        jr_client_submit variants (loop client, with a
//                        timeout, poll client, NULL callback, explicit lengths)
//   call ARG...          jr_client_call
//   db N ARG...          jr_db_new + jr_db_submit + jr_db_call
//   cancel N / cancellast
//   multi ARG... | ARG...   jr_multi_new/add/exec;  discard ARG... | ...
//   watch KEY...         jr_watch_new/submit/multi/free
//   psub NAME...         jr_sub_new/subscribe/ping/unsubscribe/free
//   mon                  jr_monitor_new/free
//   reason NAME / err N / null / reply
// A token "NULL" is a NULL pointer; "\xHH" inside a token is a byte.
// Checked: return codes are from the documented set; a submit that returns 0
// calls back exactly once and one that fails never does (each callback's
// userdata is freed on its first call: ASan reports a second one, and one
// for a refused submit, as a use after free); NULL handles are harmless.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "jr/jr.h"

namespace {

[[noreturn]] void fail(const char *what, const std::string &detail = "") {
  std::fprintf(stderr, "fuzz_capi: %s %s\n", what, detail.c_str());
  std::abort();
}

constexpr uint32_t kMagic = 0x6a72746bu;  // "jrtk"

struct Token {
  uint32_t magic = kMagic;
  bool refused = false;
};

std::atomic<long> g_outstanding{0};

void token_cb(void *ud, int status, const jr_reply *reply) {
  auto *t = static_cast<Token *>(ud);
  if (t->magic != kMagic) fail("callback with a dead token");
  if (t->refused) fail("callback for a refused submit");
  if (status < 0 && reply != nullptr) fail("library error with a reply");
  if (status == 0 && reply == nullptr) fail("success without a reply");
  (void)jr_reply_get_type(reply);
  t->magic = 0;
  delete t;
  g_outstanding--;
}

void sub_cb(void *ud, int status, const jr_reply *) {
  auto *t = static_cast<Token *>(ud);
  if (t->magic != kMagic) fail("subscriber callback after JR_ECLOSED");
  if (status == JR_ECLOSED) {
    t->magic = 0;
    delete t;
  }
}

bool known_code(int rc) {
  return rc <= 0 && rc >= -40;
}

void check_submit(int rc, Token *t) {
  if (!known_code(rc)) fail("submit returned", std::to_string(rc));
  if (rc == JR_OK) return;
  t->refused = true;
  t->magic = 0;
  delete t;
  g_outstanding--;
}

// The long-lived clients: nothing listens on their endpoints.
jr_client *loop_client() {
  static jr_client *c = [] {
    jr_options *o = jr_options_new();
    jr_options_set(o, "endpoint", "127.0.0.1:1");
    jr_options_set(o, "cluster", "no");
    jr_options_set_int(o, "connect_retry", 0);
    jr_options_set_int(o, "command_timeout_ms", 200);
    jr_options_set_int(o, "max_queued", 100000);
    jr_client *cl = nullptr;
    if (jr_client_new(o, &cl) != JR_OK) fail("client");
    jr_options_free(o);
    return cl;
  }();
  return c;
}

jr_client *poll_client() {
  static jr_client *c = [] {
    jr_options *o = jr_options_new();
    jr_options_set(o, "endpoint", "/nonexistent/jr-fuzz.sock");
    jr_options_set(o, "cluster", "no");
    jr_options_set(o, "dispatch", "poll");
    jr_options_set_int(o, "connect_retry", 0);
    jr_client *cl = nullptr;
    if (jr_client_new(o, &cl) != JR_OK) fail("poll client");
    jr_options_free(o);
    return cl;
  }();
  return c;
}

std::string unescape(const std::string &s) {
  auto hex = [](char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x' && hex(s[i + 2]) >= 0 &&
        hex(s[i + 3]) >= 0) {
      out += static_cast<char>(hex(s[i + 2]) * 16 + hex(s[i + 3]));
      i += 3;
      continue;
    }
    out += s[i];
  }
  return out;
}

struct Args {
  std::vector<std::string> store;
  std::vector<const char *> argv;
  std::vector<size_t> lens;
  explicit Args(const std::vector<std::string> &toks, size_t from = 0) {
    store.reserve(toks.size());
    for (size_t i = from; i < toks.size(); i++) store.push_back(unescape(toks[i]));
    for (size_t i = 0; i < store.size(); i++) {
      argv.push_back(toks[from + i] == "NULL" ? nullptr : store[i].c_str());
      lens.push_back(store[i].size());
    }
  }
  size_t argc() const { return argv.size(); }
  const char *const *v() const { return argv.empty() ? nullptr : argv.data(); }
};

int64_t num(const std::string &s) {
  return std::strtoll(s.c_str(), nullptr, 10);
}

int submit_to(jr_client *c, const Args &a, int64_t timeout, bool with_lens,
              jr_req_id *id = nullptr) {
  auto *t = new Token();
  g_outstanding++;
  int rc = jr_client_submit(c, a.argc(), a.v(), with_lens ? a.lens.data() : nullptr, timeout,
                            token_cb, t, id);
  check_submit(rc, t);
  return rc;
}

void null_calls() {
  jr_reply *r = nullptr;
  if (jr_client_submit(nullptr, 1, nullptr, nullptr, 0, token_cb, nullptr, nullptr) != JR_EINVAL)
    fail("submit(NULL)");
  if (jr_cancel(nullptr, 1) != JR_EINVAL) fail("cancel(NULL)");
  if (jr_client_call(nullptr, 0, nullptr, nullptr, 0, &r) != JR_EINVAL || r != nullptr)
    fail("call(NULL)");
  if (jr_client_fd(nullptr) != -1) fail("fd(NULL)");
  if (jr_dispatch(nullptr, 0) != 0) fail("dispatch(NULL)");
  if (jr_client_free(nullptr) != JR_OK) fail("free(NULL)");
  if (jr_client_new(nullptr, nullptr) != JR_EINVAL) fail("new(NULL out)");
  if (jr_options_set(nullptr, "a", "b") != JR_EINVAL) fail("options_set(NULL)");
  if (jr_options_set_int(nullptr, "a", 1) != JR_EINVAL) fail("options_set_int(NULL)");
  jr_options_free(nullptr);
  jr_db *db = nullptr;
  if (jr_db_new(nullptr, 0, &db) != JR_EINVAL || db != nullptr) fail("db_new(NULL)");
  jr_db_free(nullptr);
  if (jr_db_submit(nullptr, 0, nullptr, nullptr, 0, token_cb, nullptr, nullptr) != JR_EINVAL)
    fail("db_submit(NULL)");
  jr_multi *m = nullptr;
  if (jr_multi_new(nullptr, 0, &m) != JR_EINVAL) fail("multi_new(NULL)");
  if (jr_multi_add(nullptr, 0, nullptr, nullptr, token_cb, nullptr) != JR_EINVAL)
    fail("multi_add(NULL)");
  if (jr_multi_exec(nullptr, 0, nullptr, nullptr) != JR_EINVAL) fail("multi_exec(NULL)");
  jr_multi_discard(nullptr);
  jr_watch *w = nullptr;
  if (jr_watch_new(nullptr, 0, 0, nullptr, nullptr, &w) != JR_EINVAL) fail("watch_new(NULL)");
  jr_watch_free(nullptr);
  jr_sub *s = nullptr;
  if (jr_sub_new(nullptr, sub_cb, nullptr, &s) != JR_EINVAL) fail("sub_new(NULL)");
  if (jr_sub_subscribe(nullptr, 0, 0, nullptr, nullptr) != JR_EINVAL) fail("subscribe(NULL)");
  jr_sub_free(nullptr);
  jr_monitor_free(nullptr);
  if (jr_refusal_reason(nullptr, 3) != nullptr) fail("refusal_reason(NULL)");
}

void reply_calls() {
  size_t len = 7;
  if (jr_reply_get_type(nullptr) != 0) fail("type(NULL)");
  if (jr_reply_str(nullptr, &len) != nullptr || len != 0) fail("str(NULL)");
  if (jr_reply_str(nullptr, nullptr) != nullptr) fail("str(NULL, NULL)");
  if (jr_reply_integer(nullptr) != 0) fail("integer(NULL)");
  if (jr_reply_len(nullptr) != 0) fail("len(NULL)");
  if (jr_reply_element(nullptr, 0) != nullptr) fail("element(NULL)");
  if (jr_reply_dup(nullptr) != nullptr) fail("dup(NULL)");
  jr_reply_free(nullptr);
}

void run_line(const std::vector<std::string> &t, jr_options *scratch, jr_req_id &last_id,
              int &clients_made) {
  const std::string &op = t[0];
  jr_client *c = loop_client();
  if (op == "opt" && t.size() >= 3) {
    std::string k = unescape(t[1]), v = unescape(t[2]);
    int rc = jr_options_set(scratch, t[1] == "NULL" ? nullptr : k.c_str(),
                            t[2] == "NULL" ? nullptr : v.c_str());
    if (rc != 0 && rc != JR_EINVAL && rc != JR_ENOENT && rc != JR_ENOMEM)
      fail("options_set returned", std::to_string(rc));
  } else if (op == "opti" && t.size() >= 3) {
    std::string k = unescape(t[1]);
    int rc = jr_options_set_int(scratch, k.c_str(), num(t[2]));
    if (rc != 0 && rc != JR_EINVAL && rc != JR_ENOENT && rc != JR_ENOMEM)
      fail("options_set_int returned", std::to_string(rc));
  } else if (op == "conncmd") {
    Args a(t, 1);
    int rc = jr_options_add_connect_command(scratch, a.argc(), a.v(), a.lens.data());
    if (!known_code(rc)) fail("add_connect_command returned", std::to_string(rc));
  } else if (op == "new" && clients_made == 0) {
    clients_made++;
    jr_options *o = jr_options_new();
    for (size_t i = 1; i < t.size(); i++) {
      size_t eq = t[i].find('=');
      if (eq == std::string::npos) continue;
      std::string k = t[i].substr(0, eq), v = unescape(t[i].substr(eq + 1));
      // Never an address from the input: no traffic leaves this host.
      if (k == "endpoint" || k == "url" || k.rfind("tls", 0) == 0) continue;
      jr_options_set(o, k.c_str(), v.c_str());
    }
    jr_options_set(o, "endpoint", "127.0.0.1:1");
    jr_options_set_int(o, "connect_retry", 0);
    jr_options_set_int(o, "connect_timeout_ms", 100);
    jr_client *nc = nullptr;
    int rc = jr_client_new(o, &nc);
    jr_options_free(o);
    if (rc != JR_OK) {
      if (nc != nullptr) fail("client_new failed but set *out");
      return;
    }
    submit_to(nc, Args({"PING"}), -1, false);
    jr_dispatch(nc, 0);
    if (jr_client_free(nc) != JR_OK) fail("client_free");
  } else if ((op == "sub" || op == "nocb" || op == "lens" || op == "subp") && t.size() >= 1) {
    Args a(t, 1);
    if (op == "nocb") {
      if (jr_client_submit(c, a.argc(), a.v(), nullptr, -1, nullptr, nullptr, nullptr) != JR_EINVAL)
        fail("submit without a callback accepted");
      return;
    }
    submit_to(op == "subp" ? poll_client() : c, a, -1, op == "lens", &last_id);
  } else if (op == "subt" && t.size() >= 2) {
    Args a(t, 2);
    submit_to(c, a, num(t[1]) % 1000, true, &last_id);
  } else if (op == "call") {
    Args a(t, 1);
    jr_reply *r = nullptr;
    int rc = jr_client_call(c, a.argc(), a.v(), a.lens.data(), 100, &r);
    if (!known_code(rc)) fail("call returned", std::to_string(rc));
    if (rc != JR_OK && r != nullptr) fail("call error with a reply");
    jr_reply_free(r);
  } else if (op == "db" && t.size() >= 2) {
    jr_db *db = nullptr;
    int rc = jr_db_new(c, static_cast<int>(num(t[1])), &db);
    if (rc != JR_OK) {
      if (db != nullptr) fail("db_new failed but set *out");
      return;
    }
    Args a(t, 2);
    auto *tk = new Token();
    g_outstanding++;
    check_submit(jr_db_submit(db, a.argc(), a.v(), a.lens.data(), 50, token_cb, tk, nullptr), tk);
    jr_reply *r = nullptr;
    rc = jr_db_call(db, a.argc(), a.v(), a.lens.data(), 50, &r);
    if (!known_code(rc)) fail("db_call returned", std::to_string(rc));
    jr_reply_free(r);
    jr_db_free(db);
  } else if (op == "cancel" && t.size() >= 2) {
    int rc = jr_cancel(c, static_cast<jr_req_id>(num(t[1])));
    if (rc != JR_OK && rc != JR_ENOENT) fail("cancel returned", std::to_string(rc));
  } else if (op == "cancellast") {
    int rc = jr_cancel(c, last_id);
    if (rc != JR_OK && rc != JR_ENOENT) fail("cancel returned", std::to_string(rc));
  } else if (op == "multi" || op == "discard") {
    jr_multi *m = nullptr;
    int rc = jr_multi_new(c, -1, &m);
    if (rc != JR_OK) return;
    std::vector<std::string> cur;
    auto flush = [&] {
      Args a(cur);
      auto *tk = new Token();
      g_outstanding++;
      check_submit(jr_multi_add(m, a.argc(), a.v(), a.lens.data(), token_cb, tk), tk);
      cur.clear();
    };
    for (size_t i = 1; i < t.size(); i++) {
      if (t[i] == "|") {
        flush();
      } else {
        cur.push_back(t[i]);
      }
    }
    flush();
    if (op == "discard") {
      jr_multi_discard(m);
    } else {
      rc = jr_multi_exec(m, 100, nullptr, nullptr);
      if (!known_code(rc)) fail("multi_exec returned", std::to_string(rc));
    }
  } else if (op == "watch") {
    Args keys(t, 1);
    jr_watch *w = nullptr;
    int rc = jr_watch_new(c, -1, keys.argc(), keys.v(), keys.lens.data(), &w);
    if (rc != JR_OK) {
      if (w != nullptr) fail("watch_new failed but set *out");
      return;
    }
    auto *tk = new Token();
    g_outstanding++;
    const char *get[] = {"GET", keys.argc() > 0 && keys.argv[0] ? keys.argv[0] : "k"};
    check_submit(jr_watch_submit(w, 2, get, nullptr, 50, token_cb, tk), tk);
    jr_multi *m = nullptr;
    if (jr_watch_multi(w, &m) == JR_OK) {
      if (jr_watch_multi(w, &m) != JR_EMISUSE) fail("watch_multi twice");
      jr_multi_discard(m);
    }
    jr_watch_free(w);
  } else if (op == "psub") {
    auto *tk = new Token();
    jr_sub *s = nullptr;
    if (jr_sub_new(c, sub_cb, tk, &s) != JR_OK) {
      delete tk;
      return;
    }
    Args names(t, 1);
    int rc = jr_sub_subscribe(s, 0, names.argc(), names.v(), names.lens.data());
    if (!known_code(rc)) fail("subscribe returned", std::to_string(rc));
    jr_sub_subscribe(s, 1, names.argc(), names.v(), nullptr);
    jr_sub_ping(s, names.argc() > 0 ? names.argv[0] : nullptr,
                names.argc() > 0 ? names.lens[0] : 0);
    jr_sub_unsubscribe(s, 0, names.argc(), names.v(), names.lens.data());
    jr_sub_unsubscribe(s, 1, 0, nullptr, nullptr);
    jr_sub_free(s);
  } else if (op == "mon") {
    auto *tk = new Token();
    jr_monitor *m = nullptr;
    if (jr_monitor_new(c, sub_cb, tk, &m) != JR_OK) {
      delete tk;
      return;
    }
    jr_monitor_free(m);
  } else if (op == "reason" && t.size() >= 2) {
    std::string n = unescape(t[1]);
    const char *why = jr_refusal_reason(n.data(), n.size());
    if (why != nullptr && std::strlen(why) == 0) fail("empty refusal reason");
  } else if (op == "err" && t.size() >= 2) {
    int code = static_cast<int>(num(t[1]));
    if (jr_strerror(code) == nullptr || jr_err_name(code) == nullptr) fail("strerror NULL");
    int u = jr_err_unsent(code);
    if (u != 0 && u != 1) fail("err_unsent");
    if (code >= 0 && u != 0) fail("err_unsent of a non-error");
  } else if (op == "null") {
    null_calls();
  } else if (op == "reply") {
    reply_calls();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  jr_options *scratch = jr_options_new();
  jr_req_id last_id = 0;
  int clients_made = 0;
  std::string in(reinterpret_cast<const char *>(data), size);
  size_t pos = 0;
  int lines = 0;
  while (pos <= in.size() && lines < 64) {
    size_t nl = in.find('\n', pos);
    std::string line = in.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? in.size() + 1 : nl + 1;
    lines++;
    std::vector<std::string> toks;
    size_t p = 0;
    while (p < line.size() && toks.size() < 32) {
      size_t sp = line.find(' ', p);
      std::string tok = line.substr(p, sp == std::string::npos ? std::string::npos : sp - p);
      if (!tok.empty()) toks.push_back(tok);
      p = sp == std::string::npos ? line.size() : sp + 1;
    }
    if (toks.empty()) continue;
    run_line(toks, scratch, last_id, clients_made);
  }
  jr_options_free(scratch);
  // Poll-mode completions run here; keep the loop client's backlog bounded.
  jr_dispatch(poll_client(), 0);
  for (int i = 0; i < 2000 && g_outstanding.load() > 10000; i++) jr_dispatch(poll_client(), 0);
  return 0;
}

// SPDX-License-Identifier: MIT
// libFuzzer target: the interpreters of what arrives on subscription,
// MONITOR and transaction connections, with arbitrary reply trees (the
// input decoded as RESP): jr::parse_push (both link kinds),
// jr::parse_monitor, jr::queued_reply_ok, jr::classify_exec,
// jr::parse_invalidation (both protocols), jr::parse_hello; the trees also
// with RESP3's aggregate kinds (fuzz::for_each_reply_resp3). Checked: no
// crash / UB; JR_OK or JR_EPROTO with a reason; what is accepted has the
// shape the callers rely on (a message is an array of 3 or 4 bulk strings
// whose name is element 1; a confirmation's count is an integer; EXEC's
// results are an array of exactly the queued count).
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "interpret.hpp"
#include "tree.hpp"

namespace {

constexpr const char *kName = "fuzz_pushes";

const jr_reply *at(const jr_reply *r, size_t i) {
  return r->type == JR_REPLY_ARRAY && i < r->len ? r->u.elements[i] : nullptr;
}

void push(const jr_reply *r, bool classic) {
  jr::PushMsg m;
  std::string why;
  int rc = jr::parse_push(r, classic, m, why);
  if (rc != JR_OK) {
    if (rc != JR_EPROTO || why.empty()) fuzz::fail(kName, "bad return", std::to_string(rc));
    return;
  }
  switch (m.type) {
    case jr::PushMsg::kError:
      if (r->type != JR_REPLY_ERROR) fuzz::fail(kName, "kError for a non-error");
      break;
    case jr::PushMsg::kMessage: {
      size_t want = m.kind == 1 ? 4 : 3;
      if (r->type != JR_REPLY_ARRAY || r->len != want) fuzz::fail(kName, "message length");
      for (size_t i = 0; i < want; i++)
        if (at(r, i)->type != JR_REPLY_STRING && !(i == 0 && at(r, 0)->type == JR_REPLY_STATUS))
          fuzz::fail(kName, "message part not a string");
      if (m.name.data() != at(r, 1)->u.str || m.name.size() != at(r, 1)->len)
        fuzz::fail(kName, "message name is not element 1");
      break;
    }
    case jr::PushMsg::kSubscribe:
    case jr::PushMsg::kUnsubscribe:
      if (r->type != JR_REPLY_ARRAY || r->len != 3 || at(r, 2)->type != JR_REPLY_INTEGER)
        fuzz::fail(kName, "confirmation shape");
      if (m.kind < 0 || m.kind > 2) fuzz::fail(kName, "confirmation kind");
      if (at(r, 1)->type == JR_REPLY_NIL ? !m.name.empty() || m.type != jr::PushMsg::kUnsubscribe
                                         : at(r, 1)->type != JR_REPLY_STRING)
        fuzz::fail(kName, "confirmation name");
      break;
    case jr::PushMsg::kPong:
      if (!classic) fuzz::fail(kName, "pong on a sharded link");
      break;
    default:
      fuzz::fail(kName, "unknown type");
  }
}

void monitor(const jr_reply *r) {
  for (bool pending : {true, false}) {
    int k = jr::parse_monitor(r, pending);
    if (k != 0 && k != 1 && k != JR_EPROTO) fuzz::fail(kName, "monitor return");
    if (k == 0 && (!pending || r->type != JR_REPLY_STATUS)) fuzz::fail(kName, "monitor +OK");
    if (k == 1 && r->type != JR_REPLY_STATUS && !(pending && r->type == JR_REPLY_ERROR))
      fuzz::fail(kName, "monitor line type");
  }
}

void tx(const jr_reply *r) {
  for (size_t idx = 0; idx < 3; idx++) {
    bool ok = jr::queued_reply_ok(r, idx);
    if (ok && r->type != JR_REPLY_STATUS && !(idx > 0 && r->type == JR_REPLY_ERROR))
      fuzz::fail(kName, "queued reply type");
  }
  for (size_t n = 0; n < 4; n++) {
    jr::ExecReply e = jr::classify_exec(r, n);
    if (e == jr::ExecReply::kResults && (r->type != JR_REPLY_ARRAY || r->len != n))
      fuzz::fail(kName, "EXEC results of the wrong count");
    if (e == jr::ExecReply::kError && r->type != JR_REPLY_ERROR) fuzz::fail(kName, "EXEC error");
    if (e == jr::ExecReply::kNil && r->type != JR_REPLY_NIL) fuzz::fail(kName, "EXEC nil");
  }
}

// Client-side caching's invalidations, as a RESP3 push and as a RESP2
// message: keys are views of the payload's bulk strings, in order; a nil
// payload is a flush with no keys.
void invalidation(const jr_reply *r) {
  std::vector<std::string_view> keys;
  for (bool resp3 : {true, false}) {
    bool all = false;
    std::string why;
    int rc = jr::parse_invalidation(r, resp3, keys, &all, why);
    if (rc != 0 && rc != 1 && rc != JR_EPROTO) fuzz::fail(kName, "invalidation return");
    if (rc == JR_EPROTO && (why.empty() || !keys.empty())) fuzz::fail(kName, "invalidation error");
    if (rc != 1) continue;
    const jr_reply *payload = at(r, resp3 ? 1 : 2);
    if (resp3) payload = r->type == JR_REPLY_PUSH && r->len == 2 ? r->u.elements[1] : nullptr;
    if (payload == nullptr) fuzz::fail(kName, "invalidation without a payload");
    if (all != (payload->type == JR_REPLY_NIL) || (all && !keys.empty()))
      fuzz::fail(kName, "invalidation flush");
    if (!all && keys.size() != payload->len) fuzz::fail(kName, "invalidation key count");
    for (size_t i = 0; i < keys.size(); i++) {
      const jr_reply *k = payload->u.elements[i];
      if (k->type != JR_REPLY_STRING || keys[i].data() != k->u.str || keys[i].size() != k->len)
        fuzz::fail(kName, "invalidated key is not the payload's string");
    }
  }
}

// RESP3's HELLO reply: accepted only as a map holding "proto" => 3.
void hello(const jr_reply *r) {
  std::string why;
  int rc = jr::parse_hello(r, why);
  if (rc == JR_EPROTO) {
    if (why.empty()) fuzz::fail(kName, "HELLO refused without a reason");
    return;
  }
  if (rc != 0) fuzz::fail(kName, "HELLO return");
  bool proto = false;
  if (r->type == JR_REPLY_MAP)
    for (size_t i = 0; i + 1 < r->len; i += 2)
      proto = proto || (jr::text_of(r->u.elements[i]) == "proto" &&
                        r->u.elements[i + 1]->type == JR_REPLY_INTEGER &&
                        r->u.elements[i + 1]->u.integer == 3);
  if (!proto) fuzz::fail(kName, "HELLO accepted without proto 3");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::for_each_reply(data, size, [](const jr_reply *r) {
    push(r, true);
    push(r, false);
    monitor(r);
    tx(r);
    invalidation(r);
    hello(r);
  });
  // The same interpreters on RESP3's kinds: a HELLO map, push frames, sets.
  fuzz::for_each_reply_resp3(data, size, [](const jr_reply *r) {
    push(r, true);
    push(r, false);
    invalidation(r);
    hello(r);
  });
  return 0;
}

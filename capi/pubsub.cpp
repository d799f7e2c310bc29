// SPDX-License-Identifier: MIT
// extern "C" shims for pub/sub and MONITOR: argument checks, the C handles,
// and the requests posted to the loop (src/pubsub.cpp, src/monitor.cpp).
#include "pubsub.hpp"

#include <new>
#include <string>

#include "capi.hpp"
#include "monitor.hpp"

struct jr_sub {
  jr::Client *impl;
  jr::SubManager::Sub *sub;
  jr_client *owner;
};

struct jr_monitor {
  jr::Client *impl;
  jr::Monitor *monitor;
  jr_client *owner;
};

extern "C" {

// ---- Pub/sub ------------------------------------------------------------------

JR_API int jr_sub_new(jr_client *client, jr_message_cb cb, void *userdata, jr_sub **out) {
  if (out == nullptr) return JR_EINVAL;
  *out = nullptr;
  if (client == nullptr || cb == nullptr) return JR_EINVAL;
  jr::Client *impl = jr_client_impl(client);
  return jr::guarded([&] {
    auto *s = new jr::SubManager::Sub();
    s->cb = cb;
    s->userdata = userdata;
    auto *r = new jr::SubManager::Request(jr::SubManager::Request::kNew, s);
    if (!impl->submit_task(r)) {
      delete r;
      delete s;
      return JR_ECLOSED;
    }
    auto *h = new jr_sub{impl, s, client};
    client->track(h, [](void *p) { delete static_cast<jr_sub *>(p); });
    *out = h;
    return JR_OK;
  });
}

static int sub_request(jr_sub *sub, jr::SubManager::Request::Op kind, int pattern, size_t n,
                       const char *const *names, const size_t *lens) {
  if (sub == nullptr || (n > 0 && !valid_argv(n, names, lens))) return JR_EINVAL;
  if (kind == jr::SubManager::Request::kSubscribe && n == 0) return JR_EINVAL;
  if (pattern < JR_SUB_CHANNELS || pattern > JR_SUB_SHARDED) return JR_EINVAL;
  return jr::guarded([&] {
    auto *r = new jr::SubManager::Request(kind, sub->sub, pattern);
    for (size_t i = 0; i < n; i++) r->names.emplace_back(names[i], len_of(names, lens, i));
    if (!sub->impl->submit_task(r)) {
      delete r;
      return JR_ECLOSED;
    }
    return JR_OK;
  });
}

JR_API int jr_sub_subscribe(jr_sub *sub, int pattern, size_t n, const char *const *names,
                            const size_t *lens) {
  return sub_request(sub, jr::SubManager::Request::kSubscribe, pattern, n, names, lens);
}

JR_API int jr_sub_unsubscribe(jr_sub *sub, int pattern, size_t n, const char *const *names,
                              const size_t *lens) {
  return sub_request(sub, jr::SubManager::Request::kUnsubscribe, pattern, n, names, lens);
}

JR_API int jr_sub_ping(jr_sub *sub, const char *text, size_t len) {
  const char *names[] = {text != nullptr ? text : ""};
  const size_t lens[] = {text != nullptr ? len : 0};
  return sub_request(sub, jr::SubManager::Request::kPing, 0, 1, names, lens);
}

JR_API void jr_sub_free(jr_sub *sub) {
  if (sub == nullptr) return;
  auto *r = new (std::nothrow) jr::SubManager::Request(jr::SubManager::Request::kFree, sub->sub);
  if (r != nullptr && !sub->impl->submit_task(r)) delete r;
  sub->owner->untrack(sub);
  delete sub;
}

// ---- MONITOR -------------------------------------------------------------------

JR_API int jr_monitor_new(jr_client *client, jr_message_cb cb, void *userdata, jr_monitor **out) {
  if (out == nullptr) return JR_EINVAL;
  *out = nullptr;
  if (client == nullptr || cb == nullptr) return JR_EINVAL;
  jr::Client *impl = jr_client_impl(client);
  return jr::guarded([&] {
    auto *m = new jr::Monitor(*impl, cb, userdata);
    auto *r = new jr::MonitorRequest(jr::MonitorRequest::kStart, m);
    if (!impl->submit_task(r)) {
      delete r;
      delete m;
      return JR_ECLOSED;
    }
    auto *h = new jr_monitor{impl, m, client};
    client->track(h, [](void *p) { delete static_cast<jr_monitor *>(p); });
    *out = h;
    return JR_OK;
  });
}

JR_API void jr_monitor_free(jr_monitor *mon) {
  if (mon == nullptr) return;
  auto *r = new (std::nothrow) jr::MonitorRequest(jr::MonitorRequest::kStop, mon->monitor);
  if (r != nullptr && !mon->impl->submit_task(r)) delete r;
  mon->owner->untrack(mon);
  delete mon;
}

}  // extern "C"

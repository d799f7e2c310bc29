// SPDX-License-Identifier: MIT
// Shared by the capi/ translation units.
#ifndef JR_CAPI_CAPI_HPP
#define JR_CAPI_CAPI_HPP

#include <cstring>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "jr/jr.h"
#include "loop/client.hpp"

// The C handle of a client. It also tracks the handles made from it (views,
// transactions, subscribers, monitors) so that jr_client_free can release
// the ones the caller did not free: nothing leaks, and a transaction never
// executed still completes its callbacks (JR_ECLOSED).
struct jr_client {
  jr::Client *impl = nullptr;
  std::mutex mu;
  std::vector<std::pair<void *, void (*)(void *)>> handles;

  void track(void *h, void (*release)(void *)) {
    std::lock_guard<std::mutex> lk(mu);
    handles.emplace_back(h, release);
  }
  void untrack(void *h) {
    std::lock_guard<std::mutex> lk(mu);
    for (auto it = handles.begin(); it != handles.end(); ++it) {
      if (it->first == h) {
        handles.erase(it);
        return;
      }
    }
  }
  void release_all() {
    std::vector<std::pair<void *, void (*)(void *)>> left;
    {
      std::lock_guard<std::mutex> lk(mu);
      left.swap(handles);
    }
    for (auto &h : left) h.second(h.first);
  }
};

inline jr::Client *jr_client_impl(jr_client *c) {
  return c->impl;
}

// Argument helpers of the shims.
inline size_t len_of(const char *const *argv, const size_t *lens, size_t i) {
  return lens != nullptr ? lens[i] : std::strlen(argv[i]);
}

inline bool valid_argv(size_t argc, const char *const *argv, const size_t *argvlen,
                       size_t *encoded = nullptr) {
  return jr::check_argv(argc, argv, argvlen, encoded);
}

inline int resolve_db(jr::Client *c, int db) {
  return db < 0 ? c->opts().database : db;
}

namespace jr {

// Runs f, mapping exceptions to codes: nothing C++ crosses the ABI.
template <typename F>
int guarded(F &&f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc &) {
    return JR_ENOMEM;
  } catch (...) {
    return JR_EINTERNAL;
  }
}

}  // namespace jr

#endif  // JR_CAPI_CAPI_HPP

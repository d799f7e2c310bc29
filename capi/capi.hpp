// Shared by the capi/ translation units.
#ifndef JR_CAPI_CAPI_HPP
#define JR_CAPI_CAPI_HPP

#include <new>

#include "core.hpp"
#include "jr/jr.h"

struct jr_client {
  jr::Client *impl;
};

inline jr::Client *jr_client_impl(jr_client *c) { return c->impl; }

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

// SPDX-License-Identifier: MIT
// libFuzzer target: MOVED / ASK / TRYAGAIN error texts (jr::parse_redirect,
// used by the cluster router and by sharded pub/sub). The input is the
// error text. Checked: no crash / UB; JR_OK or JR_EPROTO with a reason; a
// redirection has a slot in 0..16383 and a canonical TCP host:port, and
// "MOVED <slot> <addr>" built from it parses back to the same.
#include <cstdint>
#include <string>
#include <string_view>

#include "interpret.hpp"
#include "tree.hpp"

namespace {

constexpr const char *kName = "fuzz_redirect";

void one(std::string_view text, std::string_view asked) {
  jr::Redirect rd;
  std::string why;
  int rc = jr::parse_redirect(text, asked, rd, why);
  if (rc != JR_OK) {
    if (rc != JR_EPROTO || why.empty()) fuzz::fail(kName, "bad return", std::to_string(rc));
    return;
  }
  switch (rd.kind) {
    case jr::Redirect::kNone:
    case jr::Redirect::kRetry:
      if (!rd.addr.empty() || rd.slot != -1) fuzz::fail(kName, "address on a non-redirection");
      if (rd.kind == jr::Redirect::kNone && rd.refresh) fuzz::fail(kName, "refresh on kNone");
      break;
    case jr::Redirect::kMoved:
    case jr::Redirect::kAsk: {
      if (rd.slot < 0 || rd.slot >= jr::kClusterSlots)
        fuzz::fail(kName, "slot out of range", std::to_string(rd.slot));
      fuzz::check_addr(kName, rd.addr);
      std::string again = std::string(rd.kind == jr::Redirect::kMoved ? "MOVED " : "ASK ") +
                          std::to_string(rd.slot) + " " + rd.addr;
      jr::Redirect rd2;
      if (jr::parse_redirect(again, "", rd2, why) != JR_OK || rd2.kind != rd.kind ||
          rd2.slot != rd.slot || rd2.addr != rd.addr)
        fuzz::fail(kName, "round trip differs", again);
      break;
    }
    default:
      fuzz::fail(kName, "unknown kind");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  one(text, "");
  one(text, "10.0.0.7");
  one(text, "fe80::1");
  return 0;
}

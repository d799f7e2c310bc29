// SPDX-License-Identifier: MIT
// libFuzzer target: the interpreters of what sentinels and a candidate
// master send (src/sentinel.cpp acts on them), with arbitrary reply trees
// (the input decoded as RESP) and, for +switch-master, the raw bytes as the
// message payload: jr::parse_master_addr, jr::parse_role,
// jr::parse_sentinel_instances, jr::parse_sentinel_replicas,
// jr::parse_switch_master. Checked: no crash / UB; JR_OK, JR_ENOENT (only
// where documented) or JR_EPROTO with a reason; every address returned
// reads back as host:port, port 1..65535; the replicas are distinct, and
// usable plus skipped never exceed the rows read.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "interpret.hpp"
#include "tree.hpp"

namespace {

constexpr const char *kName = "fuzz_sentinel";

void check_rc(int rc, const std::string &why, bool enoent_ok) {
  if (rc == JR_OK) return;
  if (rc == JR_ENOENT && enoent_ok) return;
  if (rc != JR_EPROTO || why.empty()) fuzz::fail(kName, "bad return", std::to_string(rc));
}

void tree(const jr_reply *r) {
  std::string addr, why;
  int rc = jr::parse_master_addr(r, addr, why);
  check_rc(rc, why, true);
  if (rc == JR_ENOENT && r->type != JR_REPLY_NIL) fuzz::fail(kName, "ENOENT for a non-nil");
  if (rc == JR_OK) fuzz::check_addr(kName, addr);

  std::string role;
  why.clear();
  rc = jr::parse_role(r, role, why);
  check_rc(rc, why, false);
  if (rc == JR_OK && role != "master" && role != "slave" && role != "replica" && role != "sentinel")
    fuzz::fail(kName, "unknown role accepted", role);

  std::vector<std::string> addrs;
  why.clear();
  rc = jr::parse_sentinel_instances(r, addrs, why);
  check_rc(rc, why, false);
  if (addrs.size() > jr::kMaxSentinels) fuzz::fail(kName, "too many instances");
  for (const auto &a : addrs) fuzz::check_addr(kName, a);

  size_t skipped = 0;
  why.clear();
  rc = jr::parse_sentinel_replicas(r, addrs, skipped, why);
  check_rc(rc, why, false);
  if (rc == JR_OK) {
    size_t rows = std::min<size_t>(r->len, jr::kMaxSentinelReplicas);
    if (r->type != JR_REPLY_ARRAY) fuzz::fail(kName, "replicas from a non-array");
    if (addrs.size() + skipped > rows) fuzz::fail(kName, "more replicas than rows");
    for (const auto &a : addrs) fuzz::check_addr(kName, a);
    if (std::set<std::string>(addrs.begin(), addrs.end()).size() != addrs.size())
      fuzz::fail(kName, "a replica listed twice");
  } else if (!addrs.empty()) {
    fuzz::fail(kName, "replicas returned with an error");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  for (std::string_view name : {std::string_view("mymaster"), std::string_view("")}) {
    std::string addr, why;
    int rc = jr::parse_switch_master(text, name, addr, why);
    check_rc(rc, why, true);
    if (rc == JR_OK) fuzz::check_addr(kName, addr);
  }
  fuzz::for_each_reply(data, size, tree);
  return 0;
}

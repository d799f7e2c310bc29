// SPDX-License-Identifier: MIT
// libFuzzer target: the topology interpreters with arbitrary reply trees.
// The input is decoded as RESP (each reply goes to CLUSTER SLOTS, the
// COMMAND table and one COMMAND entry) and, as text, to CLUSTER NODES.
// Checked: no crash / UB; JR_OK or JR_EPROTO with a reason; on JR_OK every
// slot range is inside 0..16383, every address a canonical TCP host:port,
// the limits on nodes and replicas hold; key positions stay inside the
// arguments.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/keys.hpp"
#include "interpret.hpp"
#include "tree.hpp"

namespace {

constexpr const char *kName = "fuzz_topology";

// The interpreters return JR_OK or JR_EPROTO (with a reason), nothing else.
[[noreturn]] void bad_rc(int rc) {
  fuzz::fail(kName, "unexpected return code or no reason", std::to_string(rc));
}

void slots(const jr_reply *r, std::string_view asked) {
  std::vector<jr::SlotRange> out;
  std::string why;
  int rc = jr::parse_cluster_slots(r, asked, out, why);
  if (rc != JR_OK) {
    if (rc != JR_EPROTO || why.empty()) bad_rc(rc);
    return;
  }
  for (const auto &s : out) {
    if (s.lo < 0 || s.hi >= jr::kClusterSlots || s.lo > s.hi)
      fuzz::fail(kName, "slot range", std::to_string(s.lo) + ".." + std::to_string(s.hi));
    fuzz::check_addr(kName, s.master);
    if (s.replicas.size() > jr::kMaxReplicasPerRange) fuzz::fail(kName, "too many replicas");
    for (const auto &a : s.replicas) {
      fuzz::check_addr(kName, a);
      if (a == s.master) fuzz::fail(kName, "master listed as its own replica");
    }
  }
  if (out.size() > static_cast<size_t>(jr::kClusterSlots)) fuzz::fail(kName, "too many ranges");
}

void nodes_text(const jr_reply *r, std::string_view asked) {
  std::vector<jr::NodeRow> rows;
  std::string why;
  int rc = jr::parse_cluster_nodes(r, asked, rows, why);
  if (rc != JR_OK) {
    if (rc != JR_EPROTO || why.empty()) bad_rc(rc);
    return;
  }
  if (rows.size() > jr::kMaxClusterNodes) fuzz::fail(kName, "too many nodes");
  for (const auto &row : rows) fuzz::check_addr(kName, row.addr);
}

void command_table(const jr_reply *r) {
  jr::CommandEntry e;
  if (jr::parse_command_entry(r, e)) {
    if (e.name.empty() || e.first < 0 || e.step < 0) fuzz::fail(kName, "command entry range");
    for (char ch : e.name)
      if (ch >= 'A' && ch <= 'Z') fuzz::fail(kName, "command name not lower case");
  }
  jr::KeyFinder finder;
  finder.load(r);
  // Key positions of a few shapes of request: always inside the arguments.
  static const std::vector<std::vector<std::string_view>> reqs = {
      {"GET", "k"},
      {"SET", "k", "v", "EX", "1"},
      {"MSET", "a", "1", "b", "2", "c", "3"},
      {"EVAL", "s", "2", "a", "b", "x"},
      {"XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"},
      {"OBJECT", "ENCODING", "k"},
      {"x"},
  };
  std::vector<size_t> keys;
  for (const auto &args : reqs) {
    keys.clear();
    finder.keys(args, keys);
    for (size_t k : keys)
      if (k == 0 || k >= args.size()) fuzz::fail(kName, "key position outside the request");
    (void)finder.readonly(args[0]);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::for_each_reply(data, size, [](const jr_reply *r) {
    slots(r, "10.0.0.7");
    slots(r, "");
    command_table(r);
    if (r->type == JR_REPLY_ARRAY)
      for (size_t i = 0; i < r->len; i++) command_table(r->u.elements[i]);
  });
  std::string text(reinterpret_cast<const char *>(data), size);
  jr_reply t = fuzz::text_node(text);
  nodes_text(&t, "10.0.0.7");
  nodes_text(&t, "");
  return 0;
}

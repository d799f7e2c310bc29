// SPDX-License-Identifier: MIT
// The inbox (command.hpp, loop/task.hpp): requests and control tasks in one
// intrusive list, in the order they were pushed, each told apart by its
// type bit alone.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "command.hpp"
#include "loop/task.hpp"

namespace {

struct Probe final : jr::Task {
  explicit Probe(std::string n) : name(std::move(n)) {}
  void run(jr::Client &) override {}
  std::string name;
};

std::string name_of(jr::Queued *q) {
  if (q->is_task) return static_cast<Probe *>(q)->name;
  return std::string(static_cast<jr::Command *>(q)->wire.data(),
                     static_cast<jr::Command *>(q)->wire.size());
}

std::vector<std::string> drain(jr::Inbox &in) {
  std::vector<std::string> out;
  while (jr::Queued *q = in.pop_front()) out.push_back(name_of(q));
  return out;
}

}  // namespace

TEST(Inbox, KeepsRequestsAndTasksInSubmissionOrder) {
  jr::Command a, b;
  a.wire.append("A", 1);
  b.wire.append("B", 1);
  Probe release("release"), sub("sub");
  EXPECT_FALSE(a.is_task);
  EXPECT_TRUE(release.is_task);
  jr::Inbox in;
  in.push_back(&a);
  in.push_back(&release);  // a WATCH release after the lease's command
  in.push_back(&b);
  in.push_back(&sub);
  EXPECT_EQ(in.size, 4u);
  EXPECT_EQ(drain(in), (std::vector<std::string>{"A", "release", "B", "sub"}));
  EXPECT_TRUE(in.empty());
}

TEST(Inbox, RemoveAndAppendKeepTheRest) {
  jr::Command a, b;
  a.wire.append("A", 1);
  b.wire.append("B", 1);
  Probe t("T");
  jr::Inbox held, more;
  held.push_back(&a);
  held.push_back(&t);
  more.push_back(&b);
  EXPECT_TRUE(held.remove(&a));  // a cancelled command leaves the hold
  EXPECT_FALSE(held.remove(&a));
  held.append(more);
  EXPECT_TRUE(more.empty());
  EXPECT_EQ(drain(held), (std::vector<std::string>{"T", "B"}));
}

TEST(Inbox, CommandListsShareTheLink) {
  jr::Command a, b, c;
  a.wire.append("A", 1);
  b.wire.append("B", 1);
  c.wire.append("C", 1);
  jr::CmdList l;
  l.push_back(&b);
  l.push_front(&a);
  l.push_back(&c);
  EXPECT_TRUE(l.remove(&c));
  std::vector<std::string> got;
  while (jr::Command *x = l.pop_front()) got.push_back(name_of(x));
  EXPECT_EQ(got, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(l.tail, nullptr);
}

// SPDX-License-Identifier: MIT
// The script SHA-1 that names EVALSHA scripts (src/script_sha1.hpp, libcrypto).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "command.hpp"
#include "resp/encoder.hpp"
#include "script_sha1.hpp"
#include "scripts.hpp"

namespace {

std::string sha1(const std::string &s) {
  char hex[40];
  if (!jr::script_sha1_hex(s.data(), s.size(), hex)) return "failed";
  return std::string(hex, 40);
}

TEST(ScriptSha1, KnownVectors) {
  // FIPS 180 examples, the one Redis's EVAL documentation uses, and lengths
  // around the 64-byte block and its 56-byte padding limit (Python hashlib).
  EXPECT_EQ(sha1(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(sha1("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(sha1("The quick brown fox jumps over the lazy dog"),
            "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
  EXPECT_EQ(sha1("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  EXPECT_EQ(sha1(std::string(55, 'a')), "c1c8bbdc22796e28c0e15163d20899b65621d65a");
  EXPECT_EQ(sha1(std::string(56, 'a')), "c2db330f6083854c99d4b5bfb6e8f29f201be699");
  EXPECT_EQ(sha1(std::string(63, 'a')), "03f09f5b158a7a8cdad920bddc29b81c18a551f5");
  EXPECT_EQ(sha1(std::string(64, 'a')), "0098ba824b5c16427bd7a1122a5a442a25ec644d");
  EXPECT_EQ(sha1(std::string(65, 'a')), "11655326c708d70319be2610e8a57d9a5b959d3b");
  EXPECT_EQ(sha1(std::string(119, 'a')), "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56");
  EXPECT_EQ(sha1(std::string(120, 'a')), "f34c1488385346a55709ba056ddd08280dd4c6d6");
  EXPECT_EQ(sha1(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  std::string bin;
  for (int i = 0; i < 40; i++) bin += std::string("\x00\xff", 2);
  EXPECT_EQ(sha1(bin), "b9985d0e32b4b64930e3e45278604c47091596b8");
}

TEST(ScriptSha1, SameFromManyThreads) {
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; t++)
    ts.emplace_back([&] {
      for (int i = 0; i < 2000; i++)
        if (sha1("abc") != "a9993e364706816aba3e25717850c26c9cd0d89d") bad.fetch_add(1);
    });
  for (auto &t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// EVAL and EVAL_RO go out as EVALSHA and EVALSHA_RO: the same arguments
// with the script replaced by its SHA-1, built from the EVAL's encoding;
// the EVAL itself waits in the request's ScriptCall. With and without
// argument lengths, with 0 to 11 arguments after the script (argc's digits).
TEST(ScriptCall, EncodesEvalshaAndKeepsTheEval) {
  jr::ScriptCallPool pool;
  for (const char *name : {"EVAL", "eval_ro"}) {
    for (size_t extra = 0; extra < 12; extra++) {
      std::vector<std::string> args = {name, "return redis.call('GET', KEYS[1])", "1"};
      for (size_t i = 0; i < extra; i++) args.push_back("arg" + std::string(i * 7, 'x'));
      std::vector<const char *> argv;
      std::vector<size_t> lens;
      for (const auto &a : args) {
        argv.push_back(a.c_str());
        lens.push_back(a.size());
      }
      for (bool with_lens : {true, false}) {
        jr::Command c;
        c.script = pool.acquire();
        ASSERT_NE(c.script, nullptr);
        ASSERT_TRUE(jr::encode_script(&c, argv.size(), argv.data(),
                                      with_lens ? lens.data() : nullptr, args[0].size()));
        std::string sha = sha1(args[1]);
        std::vector<const char *> v = argv;
        v[0] = args[0].size() == 4 ? "EVALSHA" : "EVALSHA_RO";
        v[1] = sha.c_str();
        jr::Buffer want;
        jr::Buffer eval;
        ASSERT_TRUE(jr::encode_command(want, v.size(), v.data(), nullptr));
        ASSERT_TRUE(jr::encode_command(eval, argv.size(), argv.data(), lens.data()));
        EXPECT_EQ(std::string(c.wire.data(), c.wire.size()), std::string(want.data(), want.size()));
        EXPECT_EQ(std::string(c.script->eval.data(), c.script->eval.size()),
                  std::string(eval.data(), eval.size()));
        EXPECT_EQ(std::string(c.script->sha, 40), sha);
        EXPECT_FALSE(c.script->eval_sent);
        // Recycled: the next call gets it back, cleared.
        jr::ScriptCall *s = c.script;
        s->eval_sent = true;
        pool.release(s);
        EXPECT_EQ(pool.acquire(), s);
        EXPECT_EQ(s->eval.size(), 0u);
        EXPECT_FALSE(s->eval_sent);
        pool.release(s);
      }
    }
  }
}

}  // namespace

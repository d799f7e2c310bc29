// SPDX-License-Identifier: MIT
// TLS against redis-server's --tls-port, with certificates made by the test.
#include <gtest/gtest.h>
#include <jr/jr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "jr_test.hpp"
#include "redis_server.hpp"
#include "rss.hpp"

using namespace jrtest;

namespace {

// A CA, a server certificate for localhost/127.0.0.1, a client certificate,
// and an unrelated CA, generated once with the openssl command.
struct Certs {
  std::string dir;
  bool ok = false;
  Certs() {
    char tmpl[] = "/tmp/jrtls-XXXXXX";
    dir = mkdtemp(tmpl);
    std::string d = dir;
    std::string script =
        "cd '" + d +
        "' && "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 "
        "-subj /CN=jr-test-ca && "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.crt -days 2 "
        "-subj /CN=jr-rogue-ca && "
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
        "-subj /CN=localhost && "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.cnf && "
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
        "-out server.crt -days 2 -extfile san.cnf && "
        "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
        "-subj /CN=jr-client && "
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
        "-out client.crt -days 2";
    ok = std::system(("(" + script + ") >/dev/null 2>&1").c_str()) == 0;
  }
  ~Certs() {
    if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
    }
  }
  std::string f(const char *name) const { return dir + "/" + name; }
};

struct TlsServer {
  int tls_port = free_port();
  RedisServer server;
  TlsServer(const Certs &c, const char *auth_clients)
      : server({"--tls-port", std::to_string(tls_port), "--tls-cert-file", c.f("server.crt"),
                "--tls-key-file", c.f("server.key"), "--tls-ca-cert-file", c.f("ca.crt"),
                "--tls-auth-clients", auth_clients}) {}
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(tls_port); }
};

struct Events {
  std::mutex mu;
  std::string last;
  static void cb(void *ctx, int ev, const char *, const char *detail) {
    auto *self = static_cast<Events *>(ctx);
    if (ev != JR_EVENT_CONNECT_FAILED) return;
    std::lock_guard<std::mutex> lk(self->mu);
    self->last = detail;
  }
};

class Tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new Certs();
    if (certs_->ok) server_ = new TlsServer(*certs_, "optional");
  }
  static void TearDownTestSuite() {
    delete server_;
    delete certs_;
  }
  void SetUp() override {
    if (!certs_->ok) GTEST_SKIP() << "openssl could not make test certificates";
  }
  static Certs *certs_;
  static TlsServer *server_;
};
Certs *Tls::certs_ = nullptr;
TlsServer *Tls::server_ = nullptr;

}  // namespace

TEST_F(Tls, VerifiedConnectionPipelinesLikePlainTcp) {
  OptionsPtr o;
  o.set("endpoint", server_->endpoint()).set_int("tls", 1).set("tls_ca_file", certs_->f("ca.crt"));
  ClientPtr c(o);
  EXPECT_EQ(call(c, {"PING"}).str(), "PONG");
  std::string big(2 * 1024 * 1024 + 7, 't');
  ASSERT_TRUE(call(c, {"SET", "tls:big", big}).ok());
  EXPECT_EQ(call(c, {"GET", "tls:big"}).str().size(), big.size());
  Recorder rec;
  for (int i = 0; i < 2000; i++) ASSERT_EQ(submit(c, {"INCR", "tls:n"}, rec, i), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(1999).integer - rec.get(0).integer, 1999);
  // The server sees a TLS client (its plain port is not used).
  EXPECT_NE(call(c, {"CLIENT", "INFO"})
                .str()
                .find("laddr=127.0.0.1:" + std::to_string(server_->tls_port)),
            std::string::npos);
}

TEST_F(Tls, RedissUrlAndHostNameVerification) {
  OptionsPtr o;
  o.set("url", "rediss://localhost:" + std::to_string(server_->tls_port) + "/2")
      .set("tls_ca_file", certs_->f("ca.crt"));
  ClientPtr c(o);
  EXPECT_EQ(call(c, {"PING"}).str(), "PONG");
  // valkeys:// is rediss:// (TLS on; the path is the database), whichever
  // server listens.
  OptionsPtr v;
  v.set("url", "valkeys://localhost:" + std::to_string(server_->tls_port) + "/3")
      .set("tls_ca_file", certs_->f("ca.crt"));
  ClientPtr cv(v);
  Result info = call(cv, {"CLIENT", "INFO"});
  EXPECT_NE(info.str().find(" db=3 "), std::string::npos) << info.str();

  Events ev;
  OptionsPtr bad;
  bad.set("endpoint", server_->endpoint())
      .set_int("tls", 1)
      .set("tls_ca_file", certs_->f("ca.crt"))
      .set("tls_server_name", "not-this-host.example")
      .set_int("connect_retry", 0);
  jr_options_set_event_cb(bad.o, Events::cb, &ev);
  ClientPtr cb(bad);
  Result r = call(cb, {"PING"});
  EXPECT_EQ(r.status, JR_ECONNECT);
  std::lock_guard<std::mutex> lk(ev.mu);
  EXPECT_NE(ev.last.find("certificate verification failed"), std::string::npos) << ev.last;
}

TEST_F(Tls, UntrustedServerIsRefusedUnlessVerificationIsOff) {
  Events ev;
  OptionsPtr o;
  o.set("endpoint", server_->endpoint())
      .set_int("tls", 1)
      .set("tls_ca_file", certs_->f("rogue.crt"))
      .set_int("connect_retry", 0);
  jr_options_set_event_cb(o.o, Events::cb, &ev);
  ClientPtr c(o);
  EXPECT_EQ(call(c, {"PING"}).status, JR_ECONNECT);
  {
    std::lock_guard<std::mutex> lk(ev.mu);
    EXPECT_NE(ev.last.find("verif"), std::string::npos) << ev.last;
  }
  OptionsPtr off;
  off.set("endpoint", server_->endpoint()).set_int("tls", 1).set_int("tls_verify", 0);
  ClientPtr c2(off);
  EXPECT_EQ(call(c2, {"PING"}).str(), "PONG");
}

TEST_F(Tls, MutualTlsNeedsTheClientCertificate) {
  TlsServer strict(*certs_, "yes");
  OptionsPtr none;
  none.set("endpoint", strict.endpoint())
      .set_int("tls", 1)
      .set("tls_ca_file", certs_->f("ca.crt"))
      .set_int("connect_retry", 0);
  ClientPtr c1(none);
  EXPECT_NE(call(c1, {"PING"}).status, JR_OK);
  OptionsPtr with;
  with.set("endpoint", strict.endpoint())
      .set_int("tls", 1)
      .set("tls_ca_file", certs_->f("ca.crt"))
      .set("tls_cert_file", certs_->f("client.crt"))
      .set("tls_key_file", certs_->f("client.key"));
  ClientPtr c2(with);
  EXPECT_EQ(call(c2, {"PING"}).str(), "PONG");
}

// TLS 1.3: the client's side of the handshake is done before the server has
// checked the client certificate, so a refusal (the server's "certificate
// required" alert) only arrives after that. It is a failed connect, not a
// lost connection: no CONNECTED event, and the command was not sent.
TEST_F(Tls, RefusedClientCertificateIsAFailedConnectNotALoss) {
  TlsServer strict(*certs_, "yes");
  struct AllEvents {
    std::mutex mu;
    std::vector<std::pair<int, std::string>> seen;
    static void cb(void *ctx, int ev, const char *, const char *detail) {
      auto *self = static_cast<AllEvents *>(ctx);
      std::lock_guard<std::mutex> lk(self->mu);
      self->seen.emplace_back(ev, detail);
    }
  } ev;
  for (const char *password : {"", "secret"}) {  // with and without a handshake command
    ev.seen.clear();
    OptionsPtr none;
    none.set("endpoint", strict.endpoint())
        .set_int("tls", 1)
        .set("tls_ca_file", certs_->f("ca.crt"))
        .set_int("connect_retry", 0);
    if (*password != 0) none.set("password", password);
    jr_options_set_event_cb(none.o, AllEvents::cb, &ev);
    ClientPtr c(none);
    Result r = call(c, {"SET", "tls:refused", "1"});
    EXPECT_EQ(r.status, JR_ECONNECT) << jr_err_name(r.status) << " password=" << password;
    EXPECT_EQ(jr_err_unsent(r.status), 1);
    std::lock_guard<std::mutex> lk(ev.mu);
    bool failed_with_alert = false;
    for (auto &e : ev.seen) {
      EXPECT_NE(e.first, JR_EVENT_CONNECTED) << e.second;
      EXPECT_NE(e.first, JR_EVENT_DISCONNECTED) << e.second;
      if (e.first == JR_EVENT_CONNECT_FAILED && e.second.find("certificate") != std::string::npos &&
          e.second.find("alert") != std::string::npos)
        failed_with_alert = true;
    }
    EXPECT_TRUE(failed_with_alert) << (ev.seen.empty() ? "no event" : ev.seen.back().second);
  }
  // Nothing ran: the key was never set.
  OptionsPtr with;
  with.set("endpoint", strict.endpoint())
      .set_int("tls", 1)
      .set("tls_ca_file", certs_->f("ca.crt"))
      .set("tls_cert_file", certs_->f("client.crt"))
      .set("tls_key_file", certs_->f("client.key"));
  ClientPtr ok(with);
  EXPECT_EQ(call(ok, {"EXISTS", "tls:refused"}).integer(), 0);
}

// The same bound over TLS: the queue is encrypted a slice at a time, so
// neither a plaintext copy nor the ciphertext of everything queued is held.
TEST_F(Tls, QueuedBytesBoundTheMemoryWhileTheServerStalls) {
  TlsServer stalled(*certs_, "optional");
  OptionsPtr o;
  o.set("endpoint", stalled.endpoint())
      .set_int("tls", 1)
      .set("tls_ca_file", certs_->f("ca.crt"))
      .set("cluster", "no")
      .set_int("max_queued_bytes", 32 << 20)
      .set_int("command_timeout_ms", 60000);
  ClientPtr c(o);
  ASSERT_EQ(call(c, {"PING"}).str(), "PONG");  // the session is up
  stalled.server.pause();
  auto rss = [] { return static_cast<double>(rss_now()); };
  std::string value(250000, 'v');
  Recorder rec;
  double before = rss();
  size_t accepted = 0;
  for (int i = 0; i < 1000; i++) {
    int rc = submit(c, {"SET", "tlsmem:" + std::to_string(i), value}, rec, static_cast<size_t>(i));
    if (rc == JR_EFULL) break;
    ASSERT_EQ(rc, JR_OK) << jr_err_name(rc);
    accepted++;
  }
  ASSERT_GT(accepted, 100u);
  double peak = 0;
  for (int i = 0; i < 30; i++) {
    peak = std::max(peak, rss());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  double growth_mib = (peak - before) / (1 << 20);
  std::printf("[ memory ] stalled TLS server, max_queued_bytes 32 MiB: RSS +%.1f MiB\n",
              growth_mib);
  if (kRssMeaningful) {
    EXPECT_LT(growth_mib, 40.0);
  }
  stalled.server.resume();
  ASSERT_TRUE(rec.wait_all(30000));
  for (size_t i = 0; i < accepted; i++) ASSERT_EQ(rec.get(i).status, JR_OK) << i;
  EXPECT_EQ(call(c, {"GET", "tlsmem:" + std::to_string(accepted - 1)}).str(), value);
}

TEST_F(Tls, BadFilesAreAClearErrorAtCreation) {
  OptionsPtr o;
  o.set("endpoint", server_->endpoint()).set_int("tls", 1).set("tls_ca_file", "/nonexistent/ca");
  jr_client *c = nullptr;
  EXPECT_EQ(jr_client_new(o.o, &c), JR_ETLS);
  EXPECT_EQ(c, nullptr);
  // jr_error_detail says which option and why.
  const char *d = jr_error_detail();
  ASSERT_NE(d, nullptr);
  EXPECT_NE(std::string(d).find("tls_ca_file"), std::string::npos) << d;
  OptionsPtr k;
  k.set("endpoint", server_->endpoint())
      .set_int("tls", 1)
      .set("tls_cert_file", certs_->f("client.crt"))
      .set("tls_key_file", certs_->f("server.key"));  // not the certificate's key
  EXPECT_EQ(jr_client_new(k.o, &c), JR_ETLS);
}

TEST_F(Tls, ReconnectsAndPubSubOverTls) {
  OptionsPtr o;
  o.set("endpoint", server_->endpoint()).set_int("tls", 1).set("tls_ca_file", certs_->f("ca.crt"));
  ClientPtr c(o);
  int64_t id = call(c, {"CLIENT", "ID"}).integer();
  server_->server.cmd("CLIENT KILL ID " + std::to_string(id));
  EXPECT_TRUE(eventually([&] { return call(c, {"PING"}).str() == "PONG"; }));
  EXPECT_NE(call(c, {"CLIENT", "ID"}).integer(), id);
  EXPECT_EQ(call(c, {"BLPOP", "tls:q", "0.05"}).type(), JR_REPLY_NIL);  // pooled, over TLS
}

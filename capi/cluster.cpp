// SPDX-License-Identifier: MIT
// extern "C" shims for the cluster calls (every master, one chosen node, the
// node list) and for new credentials: argument checks and the requests
// posted to the loop (src/cluster/, src/loop/client.cpp).
#include <memory>
#include <string>

#include "capi.hpp"
#include "cluster/fanout.hpp"
#include "commands.hpp"
#include "options.hpp"

extern "C" {

// ---- Cluster -----------------------------------------------------------------

static int op_submit(jr_client *client, jr::ClusterCall::Kind kind, std::string addr, size_t argc,
                     const char *const *argv, const size_t *argvlen, int64_t timeout_ms,
                     jr_reply_cb cb, void *userdata) {
  jr::Client *impl = jr_client_impl(client);
  if (argc > 0 && impl->over_byte_limit(jr::encoded_size(argc, argv, argvlen))) return JR_EFULL;
  jr::Command *c = impl->acquire_command();
  if (c == nullptr) return JR_ENOMEM;
  if (argc > 0 && !jr::encode_command(c->wire, argc, argv, argvlen)) {
    impl->release_unsubmitted(c);
    return JR_ENOMEM;
  }
  c->cb = cb;
  c->userdata = userdata;
  if (timeout_ms < 0) timeout_ms = impl->opts().command_timeout_ms;
  c->deadline = jr::deadline_after(jr::now_ms(), timeout_ms);
  std::unique_ptr<jr::ClusterCall> call;
  try {
    call = std::make_unique<jr::ClusterCall>(kind, c, std::move(addr));
  } catch (...) {
    impl->release_unsubmitted(c);
    throw;
  }
  return impl->submit_op(c, std::move(call));
}

JR_API int jr_client_submit_all_masters(jr_client *client, size_t argc, const char *const *argv,
                                        const size_t *argvlen, int64_t timeout_ms, jr_reply_cb cb,
                                        void *userdata) {
  if (client == nullptr || cb == nullptr || !valid_argv(argc, argv, argvlen)) return JR_EINVAL;
  if (jr::classify(argc, argv, argvlen).cls != jr::CommandClass::kNormal) return JR_EREFUSED;
  return jr::guarded([&] {
    return op_submit(client, jr::ClusterCall::kAllMasters, {}, argc, argv, argvlen, timeout_ms, cb,
                     userdata);
  });
}

JR_API int jr_client_submit_to(jr_client *client, const char *endpoint, size_t argc,
                               const char *const *argv, const size_t *argvlen, int64_t timeout_ms,
                               jr_reply_cb cb, void *userdata) {
  if (client == nullptr || endpoint == nullptr || cb == nullptr || !valid_argv(argc, argv, argvlen))
    return JR_EINVAL;
  jr::Endpoint ep;
  if (jr::parse_endpoint(endpoint, ep) != JR_OK) return JR_EINVAL;
  if (jr::classify(argc, argv, argvlen).cls != jr::CommandClass::kNormal) return JR_EREFUSED;
  return jr::guarded([&] {
    return op_submit(client, jr::ClusterCall::kToNode, ep.display(), argc, argv, argvlen,
                     timeout_ms, cb, userdata);
  });
}

JR_API int jr_client_endpoints(jr_client *client, jr_reply_cb cb, void *userdata) {
  if (client == nullptr || cb == nullptr) return JR_EINVAL;
  return jr::guarded([&] {
    return op_submit(client, jr::ClusterCall::kEndpoints, {}, 0, nullptr, nullptr, 0, cb, userdata);
  });
}

// ---- Credentials ---------------------------------------------------------------

JR_API int jr_client_set_auth(jr_client *client, const char *username, const char *password) {
  if (client == nullptr || password == nullptr) return JR_EINVAL;
  return jr::guarded([&] {
    auto *task = new jr::SetAuth(username != nullptr ? username : "", password);
    if (!jr_client_impl(client)->submit_task(task)) {
      delete task;
      return JR_ECLOSED;
    }
    return JR_OK;
  });
}

}  // extern "C"

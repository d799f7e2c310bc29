// SPDX-License-Identifier: MIT
// extern "C" shims: validate arguments, catch exceptions, map to codes.
#include <climits>
#include <cstring>
#include <new>
#include <string>

#include "capi.hpp"
#include "commands.hpp"
#include "options.hpp"

using jr::guarded;

struct jr_db {
  jr::Client *impl;
  int number;
  jr_client *owner;
};

extern "C" {

// ---- Options -------------------------------------------------------------------

JR_API jr_options *jr_options_new(void) {
  return new (std::nothrow) jr_options();
}

JR_API void jr_options_free(jr_options *opts) {
  delete opts;
}

JR_API int jr_options_set(jr_options *opts, const char *key, const char *value) {
  if (opts == nullptr || key == nullptr || value == nullptr) return JR_EINVAL;
  return guarded([&] { return opts->o.set(key, value); });
}

JR_API int jr_options_set_int(jr_options *opts, const char *key, int64_t value) {
  if (opts == nullptr || key == nullptr) return JR_EINVAL;
  return guarded([&] { return opts->o.set_int(key, value); });
}

JR_API int jr_options_describe(size_t index, const char **name, const char **type, int64_t *min,
                               int64_t *max, const char **def, const char **doc) {
  size_t n = 0;
  const jr::OptionSpec *specs = jr::option_specs(&n);
  if (index >= n) return JR_ENOENT;
  const jr::OptionSpec &o = specs[index];
  if (name != nullptr) *name = o.name;
  if (type != nullptr) *type = o.type_name();
  if (min != nullptr) *min = o.min;
  if (max != nullptr) *max = o.max;
  if (def != nullptr) *def = o.def;
  if (doc != nullptr) *doc = o.doc;
  return JR_OK;
}

JR_API int jr_options_add_connect_command(jr_options *opts, size_t argc, const char *const *argv,
                                          const size_t *argvlen) {
  if (opts == nullptr || !jr::check_argv(argc, argv, argvlen, nullptr)) return JR_EINVAL;
  if (jr::classify(argc, argv, argvlen).cls != jr::CommandClass::kNormal) return JR_EREFUSED;
  return guarded([&] {
    std::vector<std::string> cmd;
    for (size_t i = 0; i < argc; i++)
      cmd.emplace_back(argv[i], argvlen != nullptr ? argvlen[i] : std::strlen(argv[i]));
    opts->o.connect_commands.push_back(std::move(cmd));
    return JR_OK;
  });
}

JR_API int jr_options_set_event_cb(jr_options *opts, jr_event_cb cb, void *ctx) {
  if (opts == nullptr) return JR_EINVAL;
  opts->o.event_cb = cb;
  opts->o.event_ctx = ctx;
  return JR_OK;
}

JR_API const char *jr_error_detail(void) {
  return jr::Client::error_detail();
}

JR_API int jr_options_set_log_cb(jr_options *opts, jr_log_cb cb, void *ctx) {
  if (opts == nullptr) return JR_EINVAL;
  opts->o.log_cb = cb;
  opts->o.log_ctx = ctx;
  return JR_OK;
}

JR_API int jr_options_set_trace_cb(jr_options *opts, jr_trace_cb cb, void *ctx) {
  if (opts == nullptr) return JR_EINVAL;
  opts->o.trace_cb = cb;
  opts->o.trace_ctx = ctx;
  return JR_OK;
}

JR_API int jr_options_set_ready_cb(jr_options *opts, jr_ready_cb cb, void *ctx) {
  if (opts == nullptr) return JR_EINVAL;
  opts->o.ready_cb = cb;
  opts->o.ready_ctx = ctx;
  return JR_OK;
}

JR_API int jr_options_set_thread_starter(jr_options *opts, jr_thread_starter start, void *ctx) {
  if (opts == nullptr) return JR_EINVAL;
  opts->o.starter = start;
  opts->o.starter_ctx = ctx;
  return JR_OK;
}

// ---- Client ------------------------------------------------------------------------

JR_API int jr_client_new(const jr_options *opts, jr_client **out) {
  if (out == nullptr) return JR_EINVAL;
  *out = nullptr;
  return guarded([&] {
    jr::Options o = opts != nullptr ? opts->o : jr::Options();
    auto *h = new jr_client();
    int rc = jr::Client::create(o, &h->impl);
    if (rc != JR_OK) {
      delete h;
      return rc;
    }
    *out = h;
    return JR_OK;
  });
}

JR_API int jr_client_drain(jr_client *client, int64_t timeout_ms) {
  if (client == nullptr) return JR_EINVAL;
  return guarded([&] { return client->impl->drain(timeout_ms); });
}

JR_API int jr_client_free(jr_client *client) {
  if (client == nullptr) return JR_OK;
  int rc = guarded([&] { return client->impl->destroy(); });
  if (rc == JR_OK) {
    client->release_all();
    delete client;
  }
  return rc;
}

JR_API int jr_client_submit(jr_client *client, size_t argc, const char *const *argv,
                            const size_t *argvlen, int64_t timeout_ms, jr_reply_cb cb,
                            void *userdata, jr_req_id *id_out) {
  if (client == nullptr) return JR_EINVAL;
  return guarded([&] {
    return client->impl->submit(client->impl->opts().database, argc, argv, argvlen, timeout_ms, cb,
                                userdata, 0, id_out);
  });
}

namespace {
// The checks of the call itself: a refused call submits nothing.
bool many_args_ok(size_t n, const size_t *argcs, const char *const *const *argvs, jr_reply_cb cb) {
  return cb != nullptr && n <= static_cast<size_t>(INT_MAX) &&
         (n == 0 || (argcs != nullptr && argvs != nullptr));
}
}  // namespace

JR_API int jr_client_submit_many(jr_client *client, size_t n, const size_t *argcs,
                                 const char *const *const *argvs, const size_t *const *argvlens,
                                 int64_t timeout_ms, jr_reply_cb cb, void *const *userdatas,
                                 int *rcs, jr_req_id *ids) {
  if (client == nullptr || !many_args_ok(n, argcs, argvs, cb)) return JR_EINVAL;
  return guarded([&] {
    return client->impl->submit_many(client->impl->opts().database, n, argcs, argvs, argvlens,
                                     timeout_ms, cb, userdatas, rcs, ids);
  });
}

JR_API int jr_cancel(jr_client *client, jr_req_id id) {
  if (client == nullptr) return JR_EINVAL;
  return guarded([&] { return client->impl->cancel(id); });
}

JR_API int jr_client_call(jr_client *client, size_t argc, const char *const *argv,
                          const size_t *argvlen, int64_t timeout_ms, jr_reply **out) {
  if (out != nullptr) *out = nullptr;
  if (client == nullptr) return JR_EINVAL;
  return guarded([&] {
    return client->impl->call(client->impl->opts().database, argc, argv, argvlen, timeout_ms, out);
  });
}

JR_API const char *jr_refusal_reason(const char *name, size_t len) {
  if (name == nullptr) return nullptr;
  return jr::refusal_reason(name, len);
}

JR_API int jr_client_fd(jr_client *client) {
  if (client == nullptr) return -1;
  return client->impl->fd();
}

JR_API size_t jr_dispatch(jr_client *client, size_t max) {
  if (client == nullptr) return 0;
  try {
    return client->impl->dispatch(max);
  } catch (...) {
    return 0;
  }
}

// ---- Database views ----------------------------------------------------------------------

JR_API int jr_db_new(jr_client *client, int number, jr_db **out) {
  if (out == nullptr) return JR_EINVAL;
  *out = nullptr;
  if (client == nullptr || number < 0) return JR_EINVAL;
  if (number != 0 && client->impl->known_cluster()) return JR_ECLUSTER;
  return guarded([&] {
    auto *db = new jr_db{client->impl, number, client};
    client->track(db, [](void *h) { delete static_cast<jr_db *>(h); });
    *out = db;
    return JR_OK;
  });
}

JR_API void jr_db_free(jr_db *db) {
  if (db == nullptr) return;
  db->owner->untrack(db);
  delete db;
}

JR_API int jr_db_submit(jr_db *db, size_t argc, const char *const *argv, const size_t *argvlen,
                        int64_t timeout_ms, jr_reply_cb cb, void *userdata, jr_req_id *id_out) {
  if (db == nullptr) return JR_EINVAL;
  return guarded([&] {
    return db->impl->submit(db->number, argc, argv, argvlen, timeout_ms, cb, userdata, 0, id_out);
  });
}

JR_API int jr_db_submit_many(jr_db *db, size_t n, const size_t *argcs,
                             const char *const *const *argvs, const size_t *const *argvlens,
                             int64_t timeout_ms, jr_reply_cb cb, void *const *userdatas, int *rcs,
                             jr_req_id *ids) {
  if (db == nullptr || !many_args_ok(n, argcs, argvs, cb)) return JR_EINVAL;
  return guarded([&] {
    return db->impl->submit_many(db->number, n, argcs, argvs, argvlens, timeout_ms, cb, userdatas,
                                 rcs, ids);
  });
}

JR_API int jr_db_call(jr_db *db, size_t argc, const char *const *argv, const size_t *argvlen,
                      int64_t timeout_ms, jr_reply **out) {
  if (out != nullptr) *out = nullptr;
  if (db == nullptr) return JR_EINVAL;
  return guarded([&] { return db->impl->call(db->number, argc, argv, argvlen, timeout_ms, out); });
}

// ---- Replies -------------------------------------------------------------------------------

JR_API int jr_reply_get_type(const jr_reply *r) {
  return r != nullptr ? r->type : 0;
}

namespace {
constexpr bool has_text(int type) noexcept {
  return type == JR_REPLY_STRING || type == JR_REPLY_STATUS || type == JR_REPLY_ERROR ||
         type == JR_REPLY_DOUBLE || type == JR_REPLY_BIGNUM || type == JR_REPLY_VERB;
}
constexpr bool is_aggregate(int type) noexcept {
  return type == JR_REPLY_ARRAY || type == JR_REPLY_MAP || type == JR_REPLY_SET ||
         type == JR_REPLY_PUSH || type == JR_REPLY_ATTR;
}
}  // namespace

JR_API const char *jr_reply_str(const jr_reply *r, size_t *len) {
  if (r == nullptr || !has_text(r->type)) {
    if (len != nullptr) *len = 0;
    return nullptr;
  }
  if (len != nullptr) *len = r->len;
  return r->u.str;
}

JR_API int64_t jr_reply_integer(const jr_reply *r) {
  return r != nullptr && (r->type == JR_REPLY_INTEGER || r->type == JR_REPLY_BOOL) ? r->u.integer
                                                                                   : 0;
}

JR_API size_t jr_reply_len(const jr_reply *r) {
  if (r == nullptr || (!has_text(r->type) && !is_aggregate(r->type))) return 0;
  return r->len;
}

JR_API const jr_reply *jr_reply_element(const jr_reply *r, size_t index) {
  if (r == nullptr || !is_aggregate(r->type) || index >= r->len) return nullptr;
  return r->u.elements[index];
}

// Where the reader keeps them (src/resp/reply.hpp): a DOUBLE's value in the
// 8 bytes before its text, a VERB's format in the 4 before its text.
JR_API double jr_reply_double(const jr_reply *r) {
  if (r == nullptr || r->type != JR_REPLY_DOUBLE) return 0.0;
  double d = 0.0;
  std::memcpy(&d, r->u.str - sizeof(double), sizeof(double));
  return d;
}

JR_API const char *jr_reply_verb_format(const jr_reply *r) {
  if (r == nullptr || r->type != JR_REPLY_VERB) return nullptr;
  return r->u.str - 4;
}

JR_API jr_reply *jr_reply_dup(const jr_reply *r) {
  if (r == nullptr) return nullptr;
  r->arena->ref();
  return const_cast<jr_reply *>(r);
}

JR_API void jr_reply_free(jr_reply *r) {
  jr::reply_release(r);
}

}  // extern "C"

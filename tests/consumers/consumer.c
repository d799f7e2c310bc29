// SPDX-License-Identifier: MIT
/* A program outside libjr's source tree, built against an installed libjr
 * (or libjr as a meson subproject) by scripts/check-consumers: the header
 * and the library it runs with must be the same version, and a SET then GET
 * against REDIS_URL (default redis://127.0.0.1:6379) must return the value.
 * usage: consumer LABEL; exits non-zero on any failure. */
#include <jr/jr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int call(jr_client *c, size_t argc, const char *const *argv, jr_reply **out) {
  int rc = jr_client_call(c, argc, argv, NULL, 5000, out);
  if (rc < 0) {
    fprintf(stderr, "%s: %s\n", argv[0], jr_strerror(rc));
    return -1;
  }
  if (jr_reply_get_type(*out) == JR_REPLY_ERROR) {
    fprintf(stderr, "%s: server error: %s\n", argv[0], jr_reply_str(*out, NULL));
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *label = argc > 1 ? argv[1] : "consumer";
  if (jr_version() != JR_VERSION_HEX) {
    fprintf(stderr, "%s: header is libjr %s but the library is %s\n", label, JR_VERSION_STRING,
            jr_version_string());
    return 1;
  }
  const char *url = getenv("REDIS_URL");
  if (url == NULL || *url == '\0') url = "redis://127.0.0.1:6379";

  jr_options *o = jr_options_new();
  jr_client *c = NULL;
  int rc = o == NULL ? JR_ENOMEM : jr_options_set(o, "url", url);
  if (rc == 0) rc = jr_client_new(o, &c);
  jr_options_free(o);
  if (rc < 0) {
    fprintf(stderr, "%s: client for %s: %s\n", label, url, jr_strerror(rc));
    return 1;
  }

  char key[64];
  snprintf(key, sizeof key, "jr-consumer:%s", label);
  const char *set[] = {"SET", key, JR_VERSION_STRING};
  const char *get[] = {"GET", key};
  const char *del[] = {"DEL", key};
  jr_reply *r = NULL;
  int ok = call(c, 3, set, &r) == 0;
  jr_reply_free(r);
  r = NULL;
  if (ok) ok = call(c, 2, get, &r) == 0;
  size_t len = 0;
  const char *got = ok ? jr_reply_str(r, &len) : NULL;
  if (ok && (got == NULL || len != strlen(JR_VERSION_STRING) ||
             memcmp(got, JR_VERSION_STRING, len) != 0)) {
    fprintf(stderr, "%s: GET %s returned %s, not %s\n", label, key, got ? got : "(not a string)",
            JR_VERSION_STRING);
    ok = 0;
  }
  if (ok) printf("%s: libjr %s, GET %s -> %s\n", label, jr_version_string(), key, got);
  jr_reply_free(r);
  r = NULL;
  if (ok) ok = call(c, 2, del, &r) == 0;
  jr_reply_free(r);
  jr_client_free(c);
  return ok ? 0 : 1;
}

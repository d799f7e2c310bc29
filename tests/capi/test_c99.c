/* SPDX-License-Identifier: MIT */
/* Compiles jr.h as strict C99 and uses it from C: the header must stay C. */
#include <jr/jr.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  jr_options *o = jr_options_new();
  jr_client *c = NULL;
  int failures = 0;
  if (o == NULL) return 1;
  if (jr_options_set(o, "endpoint", "127.0.0.1:1") != JR_OK) failures++;
  if (jr_options_set_int(o, "connect_retry", 0) != JR_OK) failures++;
  if (jr_client_new(o, &c) != JR_OK) failures++;
  jr_options_free(o);
  if (jr_version() != JR_VERSION_HEX) failures++;
  if (strcmp(jr_version_string(), JR_VERSION_STRING) != 0) failures++;
  {
    const char *argv[] = {"PING"};
    jr_reply *r = NULL;
    int rc = jr_client_call(c, 1, argv, NULL, 2000, &r);
    if (rc != JR_ECONNECT || r != NULL) failures++;
    if (!jr_err_unsent(rc)) failures++;
  }
  if (jr_client_free(c) != JR_OK) failures++;
  printf("c99 api: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}

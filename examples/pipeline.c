/* SPDX-License-Identifier: MIT */
/*
 * examples/pipeline.c: several threads share one libjr client. Each thread
 * submits a burst of SET/GET commands without waiting; libjr pipelines them
 * over one connection. Then a blocking call reads a result back.
 *
 *   pipeline [host:port]
 */
#include <jr/jr.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREADS 4
#define PER_THREAD 10000

static atomic_long ok_count;
static atomic_long err_count;
static atomic_long done_count;

static void on_reply(void *userdata, int status, const jr_reply *reply) {
  (void)userdata;
  if (status != JR_OK || jr_reply_get_type(reply) == JR_REPLY_ERROR)
    atomic_fetch_add(&err_count, 1);
  else
    atomic_fetch_add(&ok_count, 1);
  atomic_fetch_add(&done_count, 1);
}

struct worker {
  jr_client *client;
  int id;
};

static void *work(void *arg) {
  struct worker *w = arg;
  char key[32], val[32];
  for (int i = 0; i < PER_THREAD; i++) {
    snprintf(key, sizeof key, "example:%d:%d", w->id, i % 100);
    snprintf(val, sizeof val, "%d", i);
    const char *set[] = {"SET", key, val};
    const char *get[] = {"GET", key};
    if (jr_client_submit(w->client, 3, set, NULL, -1, on_reply, NULL, NULL) != JR_OK ||
        jr_client_submit(w->client, 2, get, NULL, -1, on_reply, NULL, NULL) != JR_OK)
      atomic_fetch_add(&err_count, 1);
  }
  return NULL;
}

int main(int argc, char **argv) {
  jr_options *opts = jr_options_new();
  if (argc > 1 && jr_options_set(opts, "endpoint", argv[1]) != JR_OK) {
    fprintf(stderr, "bad endpoint %s\n", argv[1]);
    return 2;
  }
  jr_client *client;
  int rc = jr_client_new(opts, &client);
  jr_options_free(opts);
  if (rc != JR_OK) {
    fprintf(stderr, "jr_client_new: %s\n", jr_strerror(rc));
    return 1;
  }
  printf("libjr %s: %d threads x %d SET+GET pairs on one connection\n", jr_version_string(),
         THREADS, PER_THREAD);
  pthread_t t[THREADS];
  struct worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i].client = client;
    w[i].id = i;
    pthread_create(&t[i], NULL, work, &w[i]);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  /* Wait for every completion (drain refuses new commands, so use a poll). */
  while (atomic_load(&done_count) + atomic_load(&err_count) < 2L * THREADS * PER_THREAD &&
         atomic_load(&done_count) < 2L * THREADS * PER_THREAD) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  jr_reply *reply = NULL;
  const char *get[] = {"GET", "example:0:99"};
  rc = jr_client_call(client, 2, get, NULL, -1, &reply);
  if (rc == JR_OK) {
    size_t len;
    const char *s = jr_reply_str(reply, &len);
    printf("GET example:0:99 -> %.*s\n", (int)len, s ? s : "(nil)");
    jr_reply_free(reply);
  } else {
    printf("GET failed: %s\n", jr_strerror(rc));
  }
  const char *info[] = {"INFO", "stats"};
  if (jr_client_call(client, 2, info, NULL, -1, &reply) == JR_OK) {
    size_t len;
    const char *s = jr_reply_str(reply, &len);
    const char *p = s ? strstr(s, "total_commands_processed:") : NULL;
    if (p) printf("server %.*s\n", (int)strcspn(p, "\r\n"), p);
    jr_reply_free(reply);
  }
  printf("completed: %ld ok, %ld errors\n", atomic_load(&ok_count), atomic_load(&err_count));
  jr_client_free(client);
  return atomic_load(&err_count) == 0 ? 0 : 1;
}

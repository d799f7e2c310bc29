/* SPDX-License-Identifier: MIT */
/*
 * examples/tour.c: the seed's README example, step by step, on one
 * libjr client. Each step prints what it sent and what came back:
 *
 *   1. pipelined SET and GET on the shared (multiplexed) connection
 *   2. an atomic MULTI/EXEC (jr_multi_*)
 *   3. BLPOP waiting while a second thread RPUSHes (the blocking command
 *      runs on a pooled connection; the shared one keeps answering)
 *   4. pub/sub (jr_sub_*): subscribe, publish, confirmation then message
 *   5. a WATCH-based counter increment (jr_watch_*), retried once after
 *      another writer changes the key
 *   6. EVAL through the script cache (EVALSHA after the first call)
 *   7. a database view (jr_db_*) next to database 0 on the same socket
 *
 *   tour [host:port]
 */
#include <jr/jr.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* argc, argv for the submit/call functions from a list of strings. */
#define CMD(...)                                                                          \
  (sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), (const char *const[]) { \
    __VA_ARGS__                                                                           \
  }

static int failures;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- Printing replies like redis-cli (on one line) ------------------------ */

static void print_reply(const jr_reply *r) {
  size_t len = 0;
  const char *s = jr_reply_str(r, &len);
  switch (jr_reply_get_type(r)) {
    case JR_REPLY_STRING:
      printf("\"%.*s\"", (int)len, s);
      break;
    case JR_REPLY_STATUS:
      printf("%.*s", (int)len, s);
      break;
    case JR_REPLY_ERROR:
      printf("(error) %.*s", (int)len, s);
      break;
    case JR_REPLY_INTEGER:
      printf("(integer) %lld", (long long)jr_reply_integer(r));
      break;
    case JR_REPLY_NIL:
      printf("(nil)");
      break;
    case JR_REPLY_ARRAY:
      printf("[");
      for (size_t i = 0; i < jr_reply_len(r); i++) {
        if (i > 0) printf(", ");
        print_reply(jr_reply_element(r, i));
      }
      printf("]");
      break;
    default:
      printf("?");
  }
}

/* "  what  -> reply" (or the library error). */
static void show(const char *what, int status, const jr_reply *r) {
  printf("   %-40s -> ", what);
  if (status < 0)
    printf("library error %s: %s", jr_err_name(status), jr_strerror(status));
  else if (status == JR_SUB_LOST)
    printf("JR_SUB_LOST (subscription connection lost)");
  else if (status == JR_SUB_RESUBSCRIBED)
    printf("JR_SUB_RESUBSCRIBED");
  else
    print_reply(r);
  printf("\n");
}

/* The text of a string reply as a C string ("" otherwise). */
static const char *text(const jr_reply *r) {
  const char *s = jr_reply_str(r, NULL);
  return s ? s : "";
}

static void check(int ok, const char *what) {
  if (!ok) {
    printf("   !! unexpected: %s\n", what);
    failures++;
  }
}

/* ---- Waiting for completions ----------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

struct result {
  int done;
  int status;
  jr_reply *reply; /* owned (jr_reply_dup) */
  double at_ms;    /* when the callback ran */
};

static void on_result(void *userdata, int status, const jr_reply *reply) {
  struct result *res = userdata;
  jr_reply *owned = jr_reply_dup(reply); /* the borrowed reply dies on return */
  pthread_mutex_lock(&mu);
  res->status = status;
  res->reply = owned;
  res->at_ms = now_ms();
  res->done = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

/* Waits up to 10 s; libjr calls every accepted callback exactly once, so
 * a timeout here is a bug worth reporting. */
static int wait_result(struct result *res) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&mu);
  int rc = 0;
  while (!res->done && rc == 0) rc = pthread_cond_timedwait(&cv, &mu, &until);
  int done = res->done;
  pthread_mutex_unlock(&mu);
  if (!done) {
    printf("   !! no completion within 10 s\n");
    failures++;
    res->status = JR_EINTERNAL;
  }
  return done;
}

static int is_done(struct result *res) {
  pthread_mutex_lock(&mu);
  int done = res->done;
  pthread_mutex_unlock(&mu);
  return done;
}

static void release(struct result *res) {
  jr_reply_free(res->reply);
  memset(res, 0, sizeof *res);
}

/* A blocking call, printed. Returns the owned reply (NULL on library error). */
static jr_reply *run(jr_client *c, const char *what, size_t argc, const char *const *argv) {
  jr_reply *r = NULL;
  int rc = jr_client_call(c, argc, argv, NULL, -1, &r);
  show(what, rc, r);
  if (rc != JR_OK) failures++;
  return r;
}

/* ---- 1. Pipelining ----------------------------------------------------------- */

static void step_pipeline(jr_client *c) {
  printf("\n1. Pipelined SET and GET (one multiplexed connection)\n");
  struct result set = {0}, get = {0};
  /* Both are submitted without waiting: they leave in one write and their
   * replies come back in order. */
  jr_client_submit(c, CMD("SET", "Hello", "World!"), NULL, -1, on_result, &set, NULL);
  jr_client_submit(c, CMD("GET", "Hello"), NULL, -1, on_result, &get, NULL);
  wait_result(&set);
  wait_result(&get);
  show("SET Hello World!", set.status, set.reply);
  show("GET Hello", get.status, get.reply);
  printf("   Hello, %s\n", text(get.reply));
  check(strcmp(text(get.reply), "World!") == 0, "GET Hello");
  release(&set);
  release(&get);
}

/* ---- 2. MULTI/EXEC --------------------------------------------------------------- */

static void step_multi(jr_client *c) {
  printf("\n2. Atomic MULTI/EXEC (jr_multi_*: queued, then written contiguously)\n");
  struct result set = {0}, get = {0}, exec = {0};
  jr_multi *m = NULL;
  if (jr_multi_new(c, -1, &m) != JR_OK) {
    failures++;
    return;
  }
  jr_multi_add(m, CMD("SET", "Hello", "World!"), NULL, on_result, &set);
  jr_multi_add(m, CMD("GET", "Hello"), NULL, on_result, &get);
  int rc = jr_multi_exec(m, -1, on_result, &exec); /* frees m */
  if (rc != JR_OK) {
    printf("   jr_multi_exec: %s\n", jr_strerror(rc));
    failures++;
    return;
  }
  wait_result(&set);
  wait_result(&get);
  wait_result(&exec);
  show("MULTI; SET Hello World!", set.status, set.reply);
  show("       GET Hello", get.status, get.reply);
  show("       EXEC (both replies at once)", exec.status, exec.reply);
  printf("   Atomic Hello, %s\n", text(get.reply));
  check(strcmp(text(get.reply), "World!") == 0, "GET in MULTI");
  release(&set);
  release(&get);
  release(&exec);
}

/* ---- 3. Blocking commands ----------------------------------------------------------- */

struct pusher {
  jr_client *client;
  jr_reply *reply;
  int status;
};

static void *push_later(void *arg) {
  struct pusher *p = arg;
  sleep_ms(150);
  p->status =
      jr_client_call(p->client, CMD("RPUSH", "queue", "Hello, World!"), NULL, -1, &p->reply);
  return NULL;
}

static void step_blocking(jr_client *c) {
  printf("\n3. BLPOP waits on a pooled connection while another thread RPUSHes\n");
  jr_reply *r = run(c, "DEL queue", CMD("DEL", "queue"));
  jr_reply_free(r);
  struct result pop = {0};
  double t0 = now_ms();
  jr_client_submit(c, CMD("BLPOP", "queue", "0"), NULL, -1, on_result, &pop, NULL);
  printf("   %-40s    (submitted; waits for an item)\n", "BLPOP queue 0");

  /* The shared connection is not stuck behind the BLPOP. */
  double g0 = now_ms();
  r = NULL;
  int rc = jr_client_call(c, CMD("GET", "Hello"), NULL, -1, &r);
  double g1 = now_ms();
  int waiting = !is_done(&pop);
  show("GET Hello (while BLPOP waits)", rc, r);
  printf("   %-40s    answered in %.2f ms; BLPOP still waiting: %s\n", "", g1 - g0,
         waiting ? "yes" : "no");
  check(rc == JR_OK && waiting, "GET while BLPOP waits");
  jr_reply_free(r);

  struct pusher p = {c, NULL, 0};
  pthread_t t;
  pthread_create(&t, NULL, push_later, &p);
  wait_result(&pop);
  pthread_join(t, NULL);
  show("thread 2: RPUSH queue \"Hello, World!\"", p.status, p.reply);
  show("BLPOP queue 0", pop.status, pop.reply);
  printf("   %-40s    returned after %.0f ms, when thread 2 pushed\n", "", pop.at_ms - t0);
  printf("   Queued %s\n", text(jr_reply_element(pop.reply, 1)));
  check(strcmp(text(jr_reply_element(pop.reply, 1)), "Hello, World!") == 0, "BLPOP item");
  jr_reply_free(p.reply);
  release(&pop);
}

/* ---- 4. Pub/sub ------------------------------------------------------------------------- */

#define INBOX_CAP 8

struct inbox {
  jr_reply *msgs[INBOX_CAP];
  int statuses[INBOX_CAP];
  int head, count, closed;
};

static void on_message(void *userdata, int status, const jr_reply *msg) {
  struct inbox *in = userdata;
  jr_reply *owned = jr_reply_dup(msg);
  pthread_mutex_lock(&mu);
  if (status == JR_ECLOSED) in->closed = 1;
  if (in->count < INBOX_CAP) {
    int i = (in->head + in->count++) % INBOX_CAP;
    in->msgs[i] = owned;
    in->statuses[i] = status;
    owned = NULL;
  }
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  jr_reply_free(owned);
}

/* The next message (owned), or NULL after 5 s. */
static jr_reply *next_message(struct inbox *in, int *status) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  jr_reply *m = NULL;
  pthread_mutex_lock(&mu);
  int rc = 0;
  while (in->count == 0 && rc == 0) rc = pthread_cond_timedwait(&cv, &mu, &until);
  if (in->count > 0) {
    m = in->msgs[in->head];
    *status = in->statuses[in->head];
    in->head = (in->head + 1) % INBOX_CAP;
    in->count--;
  } else {
    *status = JR_ETIMEDOUT;
  }
  pthread_mutex_unlock(&mu);
  return m;
}

static void step_pubsub(jr_client *c) {
  printf("\n4. Publish & subscribe (jr_sub_*: one shared subscription connection)\n");
  static struct inbox in; /* outlives the subscriber: freed after JR_ECLOSED */
  jr_sub *sub = NULL;
  if (jr_sub_new(c, on_message, &in, &sub) != JR_OK) {
    failures++;
    return;
  }
  const char *channel[] = {"Hello"};
  jr_sub_subscribe(sub, 0, 1, channel, NULL);
  int status;
  /* Wait for the registration before publishing, so the message has a
   * subscriber when PUBLISH runs. */
  jr_reply *confirm = next_message(&in, &status);
  show("subscribe Hello", status, confirm);
  check(confirm != NULL && strcmp(text(jr_reply_element(confirm, 0)), "subscribe") == 0,
        "subscribe confirmation");
  jr_reply *r = run(c, "PUBLISH Hello World!", CMD("PUBLISH", "Hello", "World!"));
  jr_reply_free(r);
  jr_reply *msg = next_message(&in, &status);
  show("message", status, msg);
  printf("   PubSub Hello, %s\n", text(jr_reply_element(msg, 2)));
  check(msg != NULL && strcmp(text(jr_reply_element(msg, 2)), "World!") == 0, "message");
  jr_reply_free(confirm);
  jr_reply_free(msg);

  jr_sub_free(sub);
  /* The subscriber's last callback is JR_ECLOSED. */
  for (;;) {
    jr_reply *last = next_message(&in, &status);
    jr_reply_free(last);
    if (status == JR_ECLOSED || status == JR_ETIMEDOUT) break;
  }
  printf("   %-40s -> last callback: %s\n", "jr_sub_free", jr_err_name(status));
  check(status == JR_ECLOSED, "JR_ECLOSED after jr_sub_free");
}

/* ---- 5. WATCH ------------------------------------------------------------------------------- */

/* One attempt of the seed's counter increment. `meddle` writes the key from
 * the shared connection between the read and EXEC, as another client
 * would. Returns the status of the SET inside the transaction. */
static int increment(jr_client *c, int attempt, int meddle) {
  const char *keys[] = {"Counter"};
  jr_watch *w = NULL;
  int rc = jr_watch_new(c, -1, 1, keys, NULL, &w);
  if (rc != JR_OK) {
    printf("   jr_watch_new: %s\n", jr_strerror(rc));
    failures++;
    return rc;
  }
  struct result get = {0}, set = {0};
  jr_watch_submit(w, CMD("GET", "Counter"), NULL, -1, on_result, &get);
  wait_result(&get);
  long value = atol(text(get.reply)) + 1;
  char what[96], buf[32];
  snprintf(what, sizeof what, "try %d: WATCH Counter; GET Counter", attempt);
  show(what, get.status, get.reply);
  if (meddle) {
    jr_reply *r = run(c, "  another writer: INCR Counter", CMD("INCR", "Counter"));
    jr_reply_free(r);
  }
  snprintf(buf, sizeof buf, "%ld", value);
  jr_multi *m = NULL;
  jr_watch_multi(w, &m);
  jr_multi_add(m, CMD("SET", "Counter", buf), NULL, on_result, &set);
  jr_multi_exec(m, -1, NULL, NULL);
  wait_result(&set);
  snprintf(what, sizeof what, "  MULTI; SET Counter %s; EXEC", buf);
  show(what, set.status, set.reply);
  jr_watch_free(w);
  rc = set.status;
  release(&get);
  release(&set);
  return rc;
}

static void step_watch(jr_client *c) {
  printf("\n5. WATCH-based counter increment (jr_watch_*: a dedicated pooled connection)\n");
  jr_reply *r = run(c, "SET Counter 5", CMD("SET", "Counter", "5"));
  jr_reply_free(r);
  int rc = increment(c, 1, 1);
  check(rc == JR_EWATCH, "JR_EWATCH when the key changed");
  if (rc == JR_EWATCH) printf("   Counter changed after WATCH: nothing was written; try again\n");
  rc = increment(c, 2, 0);
  check(rc == JR_OK, "second attempt");
  r = run(c, "GET Counter", CMD("GET", "Counter"));
  printf("   Counter = %s\n", text(r));
  check(strcmp(text(r), "7") == 0, "Counter is 7");
  jr_reply_free(r);
}

/* ---- 6. Scripts ---------------------------------------------------------------------------- */

static long cmdstat_calls(jr_client *c, const char *name) {
  jr_reply *r = NULL;
  long calls = 0;
  if (jr_client_call(c, CMD("INFO", "commandstats"), NULL, -1, &r) == JR_OK) {
    char key[64];
    snprintf(key, sizeof key, "cmdstat_%s:calls=", name);
    const char *p = strstr(text(r), key);
    if (p) calls = atol(p + strlen(key));
  }
  jr_reply_free(r);
  return calls;
}

static void step_eval(jr_client *c) {
  printf("\n6. EVAL through the script cache (sent as EVALSHA once the script is known)\n");
  const char *script = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
  long eval0 = cmdstat_calls(c, "eval"), sha0 = cmdstat_calls(c, "evalsha");
  jr_reply *r = run(c, "EVAL <incrby> 1 Counter 10", CMD("EVAL", script, "1", "Counter", "10"));
  jr_reply_free(r);
  r = run(c, "EVAL <incrby> 1 Counter 100", CMD("EVAL", script, "1", "Counter", "100"));
  check(jr_reply_integer(r) == 117, "EVAL result");
  jr_reply_free(r);
  long eval1 = cmdstat_calls(c, "eval"), sha1 = cmdstat_calls(c, "evalsha");
  printf("   %-40s    the server ran EVAL x%ld, then EVALSHA x%ld\n", "(INFO commandstats)",
         eval1 - eval0, sha1 - sha0);
  check(eval1 - eval0 == 1 && sha1 - sha0 == 1, "EVAL then EVALSHA");
  r = run(c, "SCRIPT FLUSH", CMD("SCRIPT", "FLUSH"));
  jr_reply_free(r);
  r = run(c, "EVAL <incrby> 1 Counter 1000", CMD("EVAL", script, "1", "Counter", "1000"));
  printf("   %-40s    EVALSHA x%ld got NOSCRIPT, retried as EVAL x%ld for you\n",
         "(INFO commandstats)", cmdstat_calls(c, "evalsha") - sha1,
         cmdstat_calls(c, "eval") - eval1);
  check(jr_reply_integer(r) == 1117, "EVAL after SCRIPT FLUSH");
  jr_reply_free(r);
}

/* ---- 7. Database views --------------------------------------------------------------------------
 */

static void step_db(jr_client *c) {
  printf("\n7. A database view (jr_db_*): databases interleave on one socket\n");
  jr_db *db1 = NULL;
  if (jr_db_new(c, 1, &db1) != JR_OK) {
    failures++;
    return;
  }
  struct result set = {0}, get1 = {0}, get0 = {0};
  jr_db_submit(db1, CMD("SET", "Hello", "World from db 1"), NULL, -1, on_result, &set, NULL);
  jr_db_submit(db1, CMD("GET", "Hello"), NULL, -1, on_result, &get1, NULL);
  jr_client_submit(c, CMD("GET", "Hello"), NULL, -1, on_result, &get0, NULL);
  wait_result(&set);
  wait_result(&get1);
  wait_result(&get0);
  show("db 1: SET Hello \"World from db 1\"", set.status, set.reply);
  show("db 1: GET Hello", get1.status, get1.reply);
  show("db 0: GET Hello", get0.status, get0.reply);
  check(strcmp(text(get1.reply), "World from db 1") == 0, "GET in db 1");
  check(strcmp(text(get0.reply), "World!") == 0, "GET in db 0");
  release(&set);
  release(&get1);
  release(&get0);
  jr_db_free(db1);
  printf("   (SELECT itself is refused: \"%s\")\n", jr_refusal_reason("SELECT", 6));
}

int main(int argc, char **argv) {
  const char *endpoint = argc > 1 ? argv[1] : "127.0.0.1:6379";
  jr_options *opts = jr_options_new();
  if (jr_options_set(opts, "endpoint", endpoint) != JR_OK) {
    fprintf(stderr, "bad endpoint %s\n", endpoint);
    return 2;
  }
  jr_options_set(opts, "client_name", "jr-tour-demo");
  jr_client *client;
  int rc = jr_client_new(opts, &client);
  jr_options_free(opts);
  if (rc != JR_OK) {
    fprintf(stderr, "jr_client_new: %s\n", jr_strerror(rc));
    return 1;
  }
  jr_reply *pong = NULL;
  rc = jr_client_call(client, CMD("PING"), NULL, -1, &pong);
  jr_reply_free(pong);
  if (rc != JR_OK) {
    fprintf(stderr, "cannot reach %s: %s\n", endpoint, jr_strerror(rc));
    jr_client_free(client);
    return 1;
  }
  printf("libjr %s on %s: the seed's README example, one client, every step printed\n",
         jr_version_string(), endpoint);
  step_pipeline(client);
  step_multi(client);
  step_blocking(client);
  step_pubsub(client);
  step_watch(client);
  step_eval(client);
  step_db(client);
  jr_client_free(client);
  printf("\n%s\n", failures == 0 ? "all steps behaved as described"
                                 : "SOME STEPS DID NOT BEHAVE AS DESCRIBED");
  return failures == 0 ? 0 : 1;
}

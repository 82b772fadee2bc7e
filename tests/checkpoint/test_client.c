/* The asynchronous Redis client: commands and replies, AUTH and db, time-outs, reconnection, close. */
#include "checkpoint/redis_fixture.h"

typedef struct reply_box {
  int done, err;
  long long integer;
  char str[256];
} reply_box;

static void on_reply(void *ud, int err, const redisReply *r, const char *errmsg) {
  reply_box *b = ud;
  b->done = 1;
  b->err = err;
  if (r != NULL && r->type == REDIS_REPLY_INTEGER) b->integer = r->integer;
  if (r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS))
    snprintf(b->str, sizeof(b->str), "%.*s", (int)r->len, r->str);
  if (errmsg != NULL) snprintf(b->str, sizeof(b->str), "%s", errmsg);
}

static int cmd(rt_client *c, reply_box *b, int argc, const char **argv) {
  memset(b, 0, sizeof(*b));
  int rc = lp_redis_command(c->r, argc, argv, NULL, on_reply, b);
  if (rc != 0) return rc;
  cr_assert(rt_run_until(&c->loop, &b->done, 5000), "no reply");
  return b->err;
}

Test(client, commands_and_replies) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  cr_assert(lp_redis_ready(c.r));
  cr_assert_eq(lp_redis_connects(c.r), 1);
  reply_box b;
  const char *set[] = { "SET", "k", "v\0x" };
  size_t lens[] = { 3, 1, 3 };
  memset(&b, 0, sizeof(b));
  cr_assert_eq(lp_redis_command(c.r, 3, set, lens, on_reply, &b), 0);
  cr_assert(!b.done, "never called from inside lp_redis_command");
  cr_assert(rt_run_until(&c.loop, &b.done, 5000));
  cr_assert_eq(b.err, 0);
  const char *strlen_k[] = { "STRLEN", "k" };
  cr_assert_eq(cmd(&c, &b, 2, strlen_k), 0);
  cr_assert_eq(b.integer, 3, "binary-safe arguments");
  const char *wrong[] = { "INCR", "k" };
  cr_assert_eq(cmd(&c, &b, 2, wrong), LP_EIO, "an error reply is LP_EIO");
  cr_assert(strstr(b.str, "not an integer") != NULL, "%s", b.str);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}

Test(client, auth_and_db_from_the_endpoint) {
  rt_redis rs = { 0 };
  snprintf(rs.password, sizeof(rs.password), "hunter2");
  cr_assert_eq(rt_redis_start(&rs), 0);
  char ep[128];
  snprintf(ep, sizeof(ep), "redis://:hunter2@127.0.0.1:%d/3", rs.port);
  rt_client c;
  rt_client_open(&c, ep, 1);
  reply_box b;
  const char *set[] = { "SET", "in-db-3", "yes" };
  cr_assert_eq(cmd(&c, &b, 3, set), 0);
  rt_client_close(&c);
  redisContext *s = rt_sync(&rs);  /* db 0 */
  redisReply *r = redisCommand(s, "EXISTS in-db-3");
  cr_assert_eq(r->integer, 0);
  freeReplyObject(r);
  r = redisCommand(s, "SELECT 3");
  freeReplyObject(r);
  r = redisCommand(s, "GET in-db-3");
  cr_assert_str_eq(r->str, "yes");
  freeReplyObject(r);
  redisFree(s);

  /* a wrong password: never up, the reason is kept, and the client keeps retrying within its bounds */
  snprintf(ep, sizeof(ep), "redis://:wrong@127.0.0.1:%d", rs.port);
  rt_client_open(&c, ep, 0);
  cr_assert(rt_wait_error(&c, "handshake refused", 5000), "%s", lp_redis_last_error(c.r));
  cr_assert_eq(c.ups, 0);
  cr_assert(!lp_redis_ready(c.r));
  const char *ping[] = { "PING" };
  cr_assert_eq(lp_redis_command(c.r, 1, ping, NULL, on_reply, &b), LP_EAGAIN);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}

Test(client, bad_endpoint_and_refused_connection) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  lp_redis *r = NULL;
  char err[256];
  lp_redis_opts o = { .endpoint = "redis://h:99999" };
  cr_assert_eq(lp_redis_new(&loop, &o, &r, err, sizeof(err)), LP_EINVAL);
  cr_assert(strstr(err, "port") != NULL);
  o.endpoint = "127.0.0.1:1";
  o.connect_timeout_ms = -1;
  cr_assert_eq(lp_redis_new(&loop, &o, &r, err, sizeof(err)), LP_EINVAL);
  uv_loop_close(&loop);

  rt_client c;
  char ep[64];
  snprintf(ep, sizeof(ep), "127.0.0.1:%d", lpt_free_port());  /* nothing listens there */
  rt_client_open(&c, ep, 0);
  cr_assert(rt_wait_error(&c, "refused", 5000), "the refusal is recorded: %s", lp_redis_last_error(c.r));
  cr_assert_eq(c.ups, 0);
  rt_client_close(&c);
}

/* A Redis that accepts TCP but never answers (stopped): the attempt and each command are bounded. */
Test(client, timeouts_when_redis_stops_answering) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  kill(rs.pid, SIGSTOP);
  reply_box b;
  const char *ping[] = { "PING" };
  cr_assert_eq(cmd(&c, &b, 1, ping), LP_EIO);
  cr_assert(strstr(b.str, "no reply within 1000 ms") != NULL, "%s", b.str);
  cr_assert(rt_run_until(&c.loop, &c.downs, 2000));
  /* attempts against the stopped server (TCP accepted by the kernel, PING never answered) time out */
  cr_assert(rt_wait_error(&c, "connect timed out after 500 ms", 5000), "%s", lp_redis_last_error(c.r));
  c.ups = 0;
  kill(rs.pid, SIGCONT);
  cr_assert(rt_run_until(&c.loop, &c.ups, 5000), "back after SIGCONT: %s", lp_redis_last_error(c.r));
  cr_assert_eq(lp_redis_connects(c.r), 2);
  cr_assert_eq(cmd(&c, &b, 1, ping), 0, "after SIGCONT the client is back: %s", b.str);
  cr_assert_str_eq(b.str, "PONG");
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGKILL);
}

Test(client, reconnects_after_redis_is_killed_and_restarted) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  rt_redis_stop(&rs, SIGKILL);
  cr_assert(rt_run_until(&c.loop, &c.downs, 3000), "the loss is noticed");
  reply_box b;
  const char *ping[] = { "PING" };
  cr_assert_eq(lp_redis_command(c.r, 1, ping, NULL, on_reply, &b), LP_EAGAIN);
  cr_assert_eq(rt_redis_start(&rs), 0, "restart on the same port");
  c.ups = 0;
  cr_assert(rt_run_until(&c.loop, &c.ups, 5000), "reconnected by itself: %s", lp_redis_last_error(c.r));
  cr_assert_eq(lp_redis_connects(c.r), 2);
  cr_assert_eq(cmd(&c, &b, 1, ping), 0);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}

static void close_from_reply(void *ud, int err, const redisReply *r, const char *errmsg) {
  rt_client *c = ud;
  (void)err, (void)r, (void)errmsg;
  lp_redis_close(c->r, rt_on_closed, c);
}

Test(client, close_cancels_commands_in_flight_and_may_run_inside_a_callback) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  reply_box b1, b2;
  memset(&b1, 0, sizeof(b1));
  memset(&b2, 0, sizeof(b2));
  const char *ping[] = { "PING" };
  cr_assert_eq(lp_redis_command(c.r, 1, ping, NULL, on_reply, &b1), 0);
  cr_assert_eq(lp_redis_command(c.r, 1, ping, NULL, on_reply, &b2), 0);
  lp_redis_close(c.r, rt_on_closed, &c);
  cr_assert(b1.done && b2.done, "cancelled at once");
  cr_assert_eq(b1.err, LP_ECANCELED);
  cr_assert(rt_run_until(&c.loop, &c.closed, 2000));
  uv_run(&c.loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&c.loop), 0);

  rt_client_open(&c, rs.endpoint, 1);
  memset(&b2, 0, sizeof(b2));
  cr_assert_eq(lp_redis_command(c.r, 1, ping, NULL, close_from_reply, &c), 0);
  cr_assert_eq(lp_redis_command(c.r, 1, ping, NULL, on_reply, &b2), 0);
  cr_assert(rt_run_until(&c.loop, &c.closed, 2000), "closed from inside a reply callback");
  cr_assert(b2.done);
  uv_run(&c.loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&c.loop), 0);
  rt_redis_stop(&rs, SIGTERM);
}

/* Redis endpoint strings: every accepted form and every refusal. */
#include <criterion/criterion.h>
#include <string.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/redis.h"

static lp_redis_endpoint ok(const char *s) {
  lp_redis_endpoint e;
  char err[256] = "";
  cr_assert_eq(lp_redis_endpoint_parse(s, &e, err, sizeof(err)), 0, "%s: %s", s, err);
  return e;
}

static void bad(const char *s, const char *why) {
  lp_redis_endpoint e;
  char err[256] = "";
  cr_assert_eq(lp_redis_endpoint_parse(s, &e, err, sizeof(err)), LP_EINVAL, "%s accepted", s);
  cr_assert(strstr(err, why) != NULL, "%s: '%s' does not say '%s'", s, err, why);
}

Test(endpoint, host_port_forms) {
  lp_redis_endpoint e = ok("127.0.0.1:6380");
  cr_assert_str_eq(e.host, "127.0.0.1");
  cr_assert_eq(e.port, 6380);
  cr_assert_eq(e.db, 0);
  cr_assert_str_eq(e.password, "");
  e = ok("redis.local");
  cr_assert_str_eq(e.host, "redis.local");
  cr_assert_eq(e.port, 6379);
  e = ok("[::1]:7000");
  cr_assert_str_eq(e.host, "::1");
  cr_assert_eq(e.port, 7000);
  char out[128];
  lp_redis_endpoint_print(&e, out, sizeof(out));
  cr_assert_str_eq(out, "[::1]:7000/0");
}

Test(endpoint, url_forms) {
  lp_redis_endpoint e = ok("redis://:s3cr@t@10.0.0.5:6390/4");
  cr_assert_str_eq(e.host, "10.0.0.5");
  cr_assert_eq(e.port, 6390);
  cr_assert_str_eq(e.password, "s3cr@t");
  cr_assert_str_eq(e.user, "");
  cr_assert_eq(e.db, 4);
  e = ok("redis://app:pw@cache:6379");
  cr_assert_str_eq(e.user, "app");
  cr_assert_str_eq(e.password, "pw");
  cr_assert_eq(e.db, 0);
  e = ok("redis://cache/");
  cr_assert_eq(e.port, 6379);
  char out[128];
  e = ok("redis://:pw@h:1/2");
  lp_redis_endpoint_print(&e, out, sizeof(out));
  cr_assert_str_eq(out, "h:1/2", "the password never appears in print: %s", out);
}

Test(endpoint, refusals) {
  bad("", "host is empty");
  bad(":6379", "host is empty");
  bad("h:0", "port");
  bad("h:65536", "port");
  bad("h:12x", "port");
  bad("::1:6379", "IPv6");
  bad("[::1", "without ']'");
  bad("rediss://h:1", "scheme");
  bad("http://h:1", "scheme");
  bad("redis://h:1/x", "db");
  bad("redis://h:1/70000", "db");
  bad("redis://:pw@:1", "host is empty");
  lp_redis_endpoint e;
  char err[64];
  cr_assert_eq(lp_redis_endpoint_parse(NULL, &e, err, sizeof(err)), LP_EINVAL);
}

Test(keys, names_tags_and_slots) {
  char tag[80], key[160];
  cr_assert_eq(lp_ckpt_tag(17, NULL, tag, sizeof(tag)), 0);
  lp_ckpt_key_meta(tag, key, sizeof(key));
  cr_assert_str_eq(key, "lp:v1:{p17}:meta");
  lp_ckpt_key_blob(tag, LP_CKPT_DELTA, 42, key, sizeof(key));
  cr_assert_str_eq(key, "lp:v1:{p17}:delta:42");
  unsigned slot = lp_ckpt_key_slot(key, strlen(key));
  lp_ckpt_key_meta(tag, key, sizeof(key));
  cr_assert_eq(lp_ckpt_key_slot(key, strlen(key)), slot, "one partition, one slot");
  /* Redis Cluster's documented example: the slot of "123456789" is crc16 0x31C3 mod 16384 = 12739 */
  cr_assert_eq(lp_ckpt_key_slot("123456789", 9), 0x31C3 % 16384);
  cr_assert_eq(lp_ckpt_key_slot("{user1000}.following", 20), lp_ckpt_key_slot("{user1000}.followers", 20));
  cr_assert_eq(lp_ckpt_tag(LP_CKPT_GLOBAL, NULL, tag, sizeof(tag)), 0);
  cr_assert_str_eq(tag, "global");
  cr_assert_eq(lp_ckpt_tag(LP_CKPT_GLOBAL, "node-a", tag, sizeof(tag)), 0);
  cr_assert_eq(lp_ckpt_tag(LP_CKPT_GLOBAL, "a{b", tag, sizeof(tag)), LP_ERANGE);
  cr_assert_eq(lp_ckpt_tag(LP_CKPT_GLOBAL, "", tag, sizeof(tag)), LP_ERANGE);
  cr_assert_eq(lp_ckpt_tag(LP_CKPT_GLOBAL, "p3", tag, sizeof(tag)), LP_ERANGE,
               "a global name must not look like a partition");
  cr_assert_eq(lp_ckpt_tag(-5, NULL, tag, sizeof(tag)), LP_ERANGE);
  cr_assert_eq(lp_ckpt_tag(LP_CKPT_MAX_PARTITION + 1, NULL, tag, sizeof(tag)), LP_ERANGE);
}

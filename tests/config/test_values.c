/* The value syntax of every type, alone: lp_config_parse_value. */
#include <stdint.h>

#include "config_test.h"

#define NB 1.0, 0.0

typedef struct vals {
  int64_t i;
  double d;
  int b;
  char *s;
} vals;

static const lp_conf_key k_int = { "i", LP_CONF_INT, "0", -100, 100, offsetof(vals, i), "" };
static const lp_conf_key k_int_nb = { "i", LP_CONF_INT, "0", NB, offsetof(vals, i), "" };
static const lp_conf_key k_dbl = { "d", LP_CONF_DOUBLE, "0", 0.0, 1.0, offsetof(vals, d), "" };
static const lp_conf_key k_bool = { "b", LP_CONF_BOOL, "false", NB, offsetof(vals, b), "" };
static const lp_conf_key k_str = { "s", LP_CONF_STRING, "", NB, offsetof(vals, s), "" };
static const lp_conf_key k_size = { "z", LP_CONF_SIZE, "0", 0, 2.0 * 1024 * 1024 * 1024, offsetof(vals, i), "" };
static const lp_conf_key k_size_nb = { "z", LP_CONF_SIZE, "0", NB, offsetof(vals, i), "" };
static const lp_conf_key k_dur = { "t", LP_CONF_DURATION_MS, "0", 10, 86400000.0, offsetof(vals, i), "" };

static int64_t ok_i(const lp_conf_key *k, const char *v) {
  vals x = { 0 };
  char why[256] = "";
  int rc = lp_config_parse_value(k, v, &x.i, why, sizeof(why));
  cr_assert_eq(rc, LP_OK, "%s: %s", v, why);
  return x.i;
}

static void bad(const lp_conf_key *k, const char *v, const char *want_why) {
  vals x = { .i = 77, .d = 0.25, .b = 1 };
  char why[256] = "";
  void *dst = k->type == LP_CONF_DOUBLE ? (void *)&x.d : k->type == LP_CONF_BOOL ? (void *)&x.b
                                                        : k->type == LP_CONF_STRING ? (void *)&x.s
                                                                                    : (void *)&x.i;
  int rc = lp_config_parse_value(k, v, dst, why, sizeof(why));
  cr_assert_neq(rc, LP_OK, "%s accepted", v);
  cr_assert_str_eq(why, want_why);
  cr_assert_eq(x.i, 77, "dst changed on failure");
  cr_assert_eq(x.d, 0.25);
  cr_assert_eq(x.b, 1);
  cr_assert_null(x.s);
}

Test(config_values, integers) {
  cr_assert_eq(ok_i(&k_int, "42"), 42);
  cr_assert_eq(ok_i(&k_int, "-100"), -100);
  cr_assert_eq(ok_i(&k_int, "+7"), 7);
  cr_assert_eq(ok_i(&k_int_nb, "9223372036854775807"), INT64_MAX);
  bad(&k_int, "12x", "\"12x\" is not an integer");
  bad(&k_int, "", "\"\" is not an integer");
  bad(&k_int, "1.5", "\"1.5\" is not an integer");
  bad(&k_int, " 1", "\" 1\" is not an integer");
  bad(&k_int_nb, "9223372036854775808", "\"9223372036854775808\" is too large for int");
  bad(&k_int, "101", "101 is out of bounds -100..100");
  bad(&k_int, "-101", "-101 is out of bounds -100..100");
}

Test(config_values, doubles) {
  vals x = { 0 };
  char why[256];
  cr_assert_eq(lp_config_parse_value(&k_dbl, "0.5", &x.d, why, sizeof(why)), LP_OK);
  cr_assert_eq(x.d, 0.5);
  cr_assert_eq(lp_config_parse_value(&k_dbl, "1e-3", &x.d, why, sizeof(why)), LP_OK);
  cr_assert_eq(x.d, 1e-3);
  bad(&k_dbl, "0.5x", "\"0.5x\" is not a finite number such as 0.5 or 1e-3");
  bad(&k_dbl, "nan", "\"nan\" is not a finite number such as 0.5 or 1e-3");
  bad(&k_dbl, "1e999", "\"1e999\" is too large for double");
  bad(&k_dbl, "1.5", "1.5 is out of bounds 0..1");
}

Test(config_values, booleans) {
  const char *yes[] = { "true", "yes", "on", "1", "TRUE", "On" };
  const char *no[] = { "false", "no", "off", "0", "False", "NO" };
  for (size_t i = 0; i < 6; i++) {
    vals x = { .b = 7 };
    char why[256];
    cr_assert_eq(lp_config_parse_value(&k_bool, yes[i], &x.b, why, sizeof(why)), LP_OK, "%s", yes[i]);
    cr_assert_eq(x.b, 1);
    cr_assert_eq(lp_config_parse_value(&k_bool, no[i], &x.b, why, sizeof(why)), LP_OK, "%s", no[i]);
    cr_assert_eq(x.b, 0);
  }
  bad(&k_bool, "maybe", "\"maybe\" is not a boolean (true/false, yes/no, on/off, 1/0)");
  bad(&k_bool, "2", "\"2\" is not a boolean (true/false, yes/no, on/off, 1/0)");
}

Test(config_values, strings_replace_and_unquote) {
  vals x = { 0 };
  char why[256];
  cr_assert_eq(lp_config_parse_value(&k_str, "plain value", &x.s, why, sizeof(why)), LP_OK);
  cr_assert_str_eq(x.s, "plain value");
  cr_assert_eq(lp_config_parse_value(&k_str, "\"  quoted \"", &x.s, why, sizeof(why)), LP_OK);
  cr_assert_str_eq(x.s, "  quoted ");
  cr_assert_eq(lp_config_parse_value(&k_str, "\"\"", &x.s, why, sizeof(why)), LP_OK);
  cr_assert_str_eq(x.s, "");
  cr_assert_eq(lp_config_parse_value(&k_str, "a\"b", &x.s, why, sizeof(why)), LP_OK);
  cr_assert_str_eq(x.s, "a\"b");
  lp_free(x.s);
  bad(&k_str, "\"open", "unterminated quoted string (note that \" ;\" starts a comment)");
  bad(&k_str, "\"", "unterminated quoted string (note that \" ;\" starts a comment)");
}

Test(config_values, sizes) {
  cr_assert_eq(ok_i(&k_size, "0"), 0);
  cr_assert_eq(ok_i(&k_size, "512"), 512);
  cr_assert_eq(ok_i(&k_size, "16k"), 16 * 1024);
  cr_assert_eq(ok_i(&k_size, "16K"), 16 * 1024);
  cr_assert_eq(ok_i(&k_size, "8m"), 8 * 1024 * 1024);
  cr_assert_eq(ok_i(&k_size, "2g"), INT64_C(2) * 1024 * 1024 * 1024);
#define WANT_SIZE "\"%s\" is not a size in bytes with an optional suffix k, m or g (powers of 1024), such as 512, 16k or 8m"
  const char *bads[] = { "16kb", "k", "-1k", "1.5m", "16 k", "1t" };
  for (size_t i = 0; i < 6; i++) {
    char w[256];
    snprintf(w, sizeof(w), WANT_SIZE, bads[i]);
    bad(&k_size, bads[i], w);
  }
  bad(&k_size, "3g", "3g is out of bounds 0..2g");
  bad(&k_size_nb, "9999999999999g", "\"9999999999999g\" is too large for size");
}

Test(config_values, durations) {
  cr_assert_eq(ok_i(&k_dur, "250"), 250);
  cr_assert_eq(ok_i(&k_dur, "250ms"), 250);
  cr_assert_eq(ok_i(&k_dur, "10s"), 10000);
  cr_assert_eq(ok_i(&k_dur, "5m"), 300000);
  cr_assert_eq(ok_i(&k_dur, "2h"), 7200000);
  cr_assert_eq(ok_i(&k_dur, "1d"), 86400000);
  cr_assert_eq(ok_i(&k_dur, "10S"), 10000);
#define WANT_DUR "\"%s\" is not a duration with a suffix ms, s, m, h or d (bare = ms), such as 250ms, 10s or 5m"
  const char *bads[] = { "10 s", "1w", "s", "1.5s", "-1s", "10sec" };
  for (size_t i = 0; i < 6; i++) {
    char w[256];
    snprintf(w, sizeof(w), WANT_DUR, bads[i]);
    bad(&k_dur, bads[i], w);
  }
  bad(&k_dur, "5", "5ms is out of bounds 10ms..1d");
  bad(&k_dur, "2d", "2d is out of bounds 10ms..1d");
}

Test(config_values, unknown_type) {
  lp_conf_key k = { "x", 99, "0", NB, 0, "" };
  int64_t v = 0;
  char why[256];
  cr_assert_eq(lp_config_parse_value(&k, "1", &v, why, sizeof(why)), LP_EINVAL);
  cr_assert_str_eq(why, "key has an unknown type 99");
}

Test(config_values, split_listen) {
  char host[64], why[256];
  int port = 0;
  cr_assert_eq(lp_config_split_listen("127.0.0.1:8080", host, sizeof(host), &port, why, sizeof(why)), LP_OK);
  cr_assert_str_eq(host, "127.0.0.1");
  cr_assert_eq(port, 8080);
  cr_assert_eq(lp_config_split_listen("[::1]:65535", host, sizeof(host), &port, NULL, 0), LP_OK);
  cr_assert_str_eq(host, "::1");
  cr_assert_eq(port, 65535);
  cr_assert_eq(lp_config_split_listen("localhost:1", host, sizeof(host), &port, NULL, 0), LP_OK);
  cr_assert_str_eq(host, "localhost");
  const char *bads[] = { "8080", ":8080", "host:", "host:0", "host:65536", "host:80x", "::1:80", "[::1]",
                         "[]:80", "h_st:80", "a b:80" };
  for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
    cr_assert_eq(lp_config_split_listen(bads[i], host, sizeof(host), &port, why, sizeof(why)), LP_EINVAL, "%s",
                 bads[i]);
    cr_assert(strstr(why, "is not HOST:PORT") != NULL, "%s", why);
  }
  char tiny[4];
  cr_assert_eq(lp_config_split_listen("longhost:80", tiny, sizeof(tiny), &port, NULL, 0), LP_EINVAL);
}

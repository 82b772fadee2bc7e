/* The archive's pure parts, in-process: text made safe for jsonb, the signals of a rendered hit, the
 * outcome row, and the DB_* variables. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/params.h"
#include "archive/rows.h"
#include "base/buf.h"
#include "stages/ingest/ingest.h"

static char *text(const char *s, size_t n) {
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp__rows_json_text(&b, s, n), LP_OK);
  return b.data;  /* the test process ends soon; freed by the caller */
}

Test(archive_rows, text_is_valid_json_for_jsonb) {
  char *t = text("caf\xc3\xa9 \"q\"", 10);
  cr_assert_str_eq(t, "\"caf\xc3\xa9 \\\"q\\\"\"");
  lp_buf_free(&(lp_buf){ t, 0, 0 });
  t = text("a\0b", 3);  /* NUL left out */
  cr_assert_str_eq(t, "\"ab\"");
  lp_buf_free(&(lp_buf){ t, 0, 0 });
  t = text("x\xff" "y\xc3", 4);  /* invalid bytes and a cut sequence: U+FFFD each */
  cr_assert_str_eq(t, "\"x\xef\xbf\xbdy\xef\xbf\xbd\"");
  lp_buf_free(&(lp_buf){ t, 0, 0 });
  t = text("", 0);
  cr_assert_str_eq(t, "\"\"");
  lp_buf_free(&(lp_buf){ t, 0, 0 });
}

Test(archive_rows, signals_of_a_hit) {
  const char *hit = "\"domain\":\"a.com\",\"name\":\"signals\\\":{x\",\"score\":0.5,"
                    "\"signals\":{\"text_match\":1.0,\"churn\":[\"removed:a}b\"],\"n\":{\"d\":1}},\"evidence\":[]";
  size_t len = 0;
  const char *s = lp__rows_signals(hit, strlen(hit), &len);
  cr_assert_not_null(s);
  cr_assert_eq(len, strlen("{\"text_match\":1.0,\"churn\":[\"removed:a}b\"],\"n\":{\"d\":1}}"));
  cr_assert(strncmp(s, "{\"text_match\":1.0,\"churn\":[\"removed:a}b\"],\"n\":{\"d\":1}}", len) == 0);
  cr_assert_null(lp__rows_signals("\"domain\":\"a.com\"", 16, &len), "explain off: none");
  const char *cut = "\"signals\":{\"a\":[1";
  cr_assert_null(lp__rows_signals(cut, strlen(cut), &len), "unterminated: none");
}

Test(archive_rows, outcome_row) {
  lp_outcome o = { 0 };
  o.id = LP_STR_LIT("o-1");
  o.ts_ms = 1700000000123;
  o.domain = LP_STR_LIT("acme.com");
  o.event = LP_EVENT_PURCHASED;
  o.value_usd = 12.5;
  o.has_value = 1;
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp__rows_outcome(&b, &o), LP_OK);
  cr_assert_str_eq(b.data, "{\"id\":\"o-1\",\"ts_ms\":1700000000123,\"domain\":\"acme.com\",\"event\":\"purchased\","
                           "\"query_id\":null,\"product\":null,\"value_usd\":12.5}");
  lp_buf_free(&b);
}

static int from_env(lp_pg_params *p, char *err, size_t n) { return lp_pg_params_from_env(p, err, n); }

Test(archive_rows, db_variables) {
  lp_pg_params p;
  char err[256];
  unsetenv("DB_PASSWORD");
  unsetenv("DB_PASSWORD_FILE");
  unsetenv("DB_NAME");
  unsetenv("DB_USER");
  unsetenv("DB_ENDPOINT");
  cr_assert_eq(from_env(&p, err, sizeof(err)), LP_ENOENT, "unset: off");
  setenv("DB_ENDPOINT", "", 1);
  cr_assert_eq(from_env(&p, err, sizeof(err)), LP_ENOENT, "empty: off");
  setenv("DB_ENDPOINT", "db.example.com:6543", 1);
  cr_assert_eq(from_env(&p, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(p.host, "db.example.com");
  cr_assert_str_eq(p.port, "6543");
  cr_assert_str_eq(p.dbname, "leadpoet");
  cr_assert_str_eq(p.user, "leadpoet");
  cr_assert_str_eq(p.password, "");
  setenv("DB_ENDPOINT", "[::1]:5433", 1);
  setenv("DB_USER", "analyst", 1);
  setenv("DB_PASSWORD", "pw", 1);
  cr_assert_eq(from_env(&p, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(p.host, "::1");
  cr_assert_str_eq(p.user, "analyst");
  cr_assert_str_eq(p.password, "pw");
  char d[128];
  lp_pg_params_describe(&p, d, sizeof(d));
  cr_assert_str_eq(d, "analyst@[::1]:5433/leadpoet", "no password in logs");
  setenv("DB_ENDPOINT", "pg", 1);
  cr_assert_eq(from_env(&p, err, sizeof(err)), LP_OK);
  cr_assert_str_eq(p.port, "5432");
  const char *bad[] = { "pg:0", "pg:65536", "pg:x", ":5432", "::1:5432", "[::1", "[::1]x" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    setenv("DB_ENDPOINT", bad[i], 1);
    cr_assert_eq(from_env(&p, err, sizeof(err)), LP_ECONFIG, "%s accepted", bad[i]);
  }
  setenv("DB_ENDPOINT", "pg:5432", 1);
  char path[] = "/tmp/lp-pw-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, "s3cret\nsecond line\n", 19), 19);
  close(fd);
  setenv("DB_PASSWORD_FILE", path, 1);
  cr_assert_eq(from_env(&p, err, sizeof(err)), LP_ECONFIG, "both set");
  cr_assert(strstr(err, "not both") != NULL, "%s", err);
  unsetenv("DB_PASSWORD");
  cr_assert_eq(from_env(&p, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(p.password, "s3cret");
  unlink(path);
  cr_assert_eq(from_env(&p, err, sizeof(err)), LP_ECONFIG, "unreadable file");
  cr_assert(strstr(err, path) != NULL, "%s", err);
}

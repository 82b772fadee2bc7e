/*
 * test_ingest.c: `leadpoet ingest` against a scripted server: batching, the mapping of rejected indices
 * to line numbers, the summary, retries on 429, errors, reconnects, and every usage error.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include "cli/commands.h"
#include "cli/mock_server.h"
#include "helpers/helpers.h"

#define OK_BODY(n) "{\"accepted\": " #n ", \"rejected\": []}"

typedef struct run {
  int rc;
  char *out;
  char *err;
} run;

static run ingest(const char *a0, const char *a1, const char *a2, const char *a3, const char *a4,
                  const char *a5) {
  char *argv[8] = { "ingest" };
  int argc = 1;
  const char *args[] = { a0, a1, a2, a3, a4, a5 };
  for (int i = 0; i < 6 && args[i]; i++) argv[argc++] = (char *)args[i];
  run r;
  r.rc = mock_capture(lp_cmd_ingest, argc, argv, &r.out, &r.err);
  return r;
}

static void run_free(run *r) {
  free(r->out);
  free(r->err);
}

static void url_of(const mock_server *m, char *out, size_t n) { snprintf(out, n, "http://127.0.0.1:%d", m->port); }

Test(cli_ingest, batches_and_line_numbers_of_rejections) {
  static const mock_step steps[] = {
    { 202, NULL, OK_BODY(2), MOCK_LENGTH, 0 },
    { 202, NULL, "{\"accepted\": 1, \"rejected\": [{\"index\": 1, \"code\": \"pii\", \"message\": \"an e-mail\"}]}",
      MOCK_LENGTH, 0 },
    { 202, NULL, "{\"accepted\": 0, \"rejected\": [{\"index\": 0, \"code\": \"bad_field\", \"message\": \"ts\"}]}",
      MOCK_CHUNKED, 0 },
  };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 3), 0);
  char path[] = "/tmp/lpt-ingest-XXXXXX", url[64];
  const char *text = "{\"a\":1}\n{\"a\":2}\r\n{\"a\":3}\n   \n{\"a\":5}\n{\"a\":6}";  /* line 4 blank, no final \n */
  mock_write_file(path, text, strlen(text));
  url_of(&m, url, sizeof(url));
  run r = ingest(path, "--url", url, "--batch", "2", NULL);
  mock_stop(&m);
  unlink(path);
  cr_assert_eq(r.rc, 0, "rc %d, stderr: %s", r.rc, r.err);
  cr_assert_eq(m.nreq, 3);
  cr_assert_eq(m.conns, 1, "one kept-alive connection, got %d", m.conns);
  cr_assert_str_eq(m.reqs[0].method, "POST");
  cr_assert_str_eq(m.reqs[0].path, "/v1/snippets");
  cr_assert_str_eq(m.reqs[0].ctype, "application/x-ndjson");
  cr_assert_str_eq(m.reqs[0].body, "{\"a\":1}\n{\"a\":2}\n");
  cr_assert_str_eq(m.reqs[1].body, "{\"a\":3}\n{\"a\":5}\n");
  cr_assert_str_eq(m.reqs[2].body, "{\"a\":6}\n");
  cr_assert(strstr(r.out, "sent 5 lines in 3 batches, accepted 3, rejected 2 (pii 1, bad_field 1)"), "%s", r.out);
  cr_assert(strstr(r.out, "line 5: pii: an e-mail"), "%s", r.out);
  cr_assert(strstr(r.out, "line 6: bad_field: ts"), "%s", r.out);
  run_free(&r);
  mock_free(&m);
}

Test(cli_ingest, outcomes_route_and_env_url) {
  static const mock_step steps[] = { { 202, NULL, OK_BODY(1), MOCK_LENGTH, 0 } };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 1), 0);
  char path[] = "/tmp/lpt-ingest-XXXXXX", url[64];
  mock_write_file(path, "{\"id\":\"o1\"}\n", 12);
  url_of(&m, url, sizeof(url));
  setenv("LEADPOET_URL", url, 1);
  run r = ingest(path, "--outcomes", "--quiet", NULL, NULL, NULL);
  unsetenv("LEADPOET_URL");
  mock_stop(&m);
  unlink(path);
  cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
  cr_assert_eq(m.nreq, 1);
  cr_assert_str_eq(m.reqs[0].path, "/v1/outcomes");
  cr_assert_str_eq(r.out, "", "--quiet prints nothing: %s", r.out);
  run_free(&r);
  mock_free(&m);
}

Test(cli_ingest, retries_429_with_retry_after_then_202) {
  static const mock_step steps[] = {
    { 429, "Retry-After: 0\r\n", "{\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\"}}", MOCK_LENGTH, 0 },
    { 503, "Retry-After: 0\r\n", "{\"error\":{\"code\":\"shedding\",\"message\":\"busy\"}}", MOCK_LENGTH, 0 },
    { 202, NULL, OK_BODY(1), MOCK_LENGTH, 0 },
  };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 3), 0);
  char path[] = "/tmp/lpt-ingest-XXXXXX", url[64];
  mock_write_file(path, "{}\n", 3);
  url_of(&m, url, sizeof(url));
  run r = ingest(path, "--url", url, NULL, NULL, NULL);
  mock_stop(&m);
  unlink(path);
  cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
  cr_assert_eq(m.nreq, 3);
  cr_assert_str_eq(m.reqs[2].body, "{}\n", "the same batch is sent again");
  cr_assert(strstr(r.err, "server answered 429"), "%s", r.err);
  cr_assert(strstr(r.out, "sent 1 lines in 1 batch, accepted 1, rejected 0"), "%s", r.out);
  run_free(&r);
  mock_free(&m);
}

Test(cli_ingest, gives_up_after_bounded_429s) {
  static const mock_step busy = { 429, "Retry-After: 0\r\n", "{\"error\":{\"code\":\"rate_limited\",\"message\":\"x\"}}",
                                  MOCK_LENGTH, 0 };
  static const mock_step steps[] = { busy, busy, busy, busy, busy, busy, busy, busy };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 8), 0);
  char path[] = "/tmp/lpt-ingest-XXXXXX", url[64];
  mock_write_file(path, "{}\n", 3);
  url_of(&m, url, sizeof(url));
  run r = ingest(path, "--url", url, NULL, NULL, NULL);
  mock_stop(&m);
  unlink(path);
  cr_assert_eq(r.rc, 1);
  cr_assert_eq(m.nreq, 6, "bounded attempts, got %d", m.nreq);
  cr_assert(strstr(r.err, "gave up after 6 attempts"), "%s", r.err);
  run_free(&r);
  mock_free(&m);
}

Test(cli_ingest, server_error_exits_1_with_its_json_error) {
  static const mock_step steps[] = {
    { 202, NULL, OK_BODY(1), MOCK_LENGTH, 0 },
    { 500, NULL, "{\"error\":{\"code\":\"internal\",\"message\":\"disk on fire\"}}", MOCK_LENGTH, 0 },
  };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 2), 0);
  char path[] = "/tmp/lpt-ingest-XXXXXX", url[64];
  mock_write_file(path, "{}\n{}\n{}\n", 9);
  url_of(&m, url, sizeof(url));
  run r = ingest(path, "--url", url, "--batch", "1", NULL);
  mock_stop(&m);
  unlink(path);
  cr_assert_eq(r.rc, 1);
  cr_assert_eq(m.nreq, 2, "stops at the failing batch");
  cr_assert(strstr(r.err, "500 internal: disk on fire"), "%s", r.err);
  cr_assert(strstr(r.err, "batch from line 2"), "%s", r.err);
  cr_assert(strstr(r.err, "sent 1 lines"), "partial summary: %s", r.err);
  run_free(&r);
  mock_free(&m);
}

Test(cli_ingest, unexpected_2xx_body_exits_1) {
  static const mock_step steps[] = { { 202, NULL, "{\"ok\": true}", MOCK_LENGTH, 0 } };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 1), 0);
  char path[] = "/tmp/lpt-ingest-XXXXXX", url[64];
  mock_write_file(path, "{}\n", 3);
  url_of(&m, url, sizeof(url));
  run r = ingest(path, "--url", url, NULL, NULL, NULL);
  mock_stop(&m);
  unlink(path);
  cr_assert_eq(r.rc, 1);
  cr_assert(strstr(r.err, "unexpected answer"), "%s", r.err);
  run_free(&r);
  mock_free(&m);
}

Test(cli_ingest, reconnects_when_the_server_closes_between_batches) {
  static const mock_step steps[] = {
    { 202, NULL, OK_BODY(1), MOCK_LENGTH, 1 },                     /* closes without saying so */
    { 202, "Connection: close\r\n", OK_BODY(1), MOCK_LENGTH, 1 },  /* says so */
    { 202, NULL, OK_BODY(1), MOCK_UNTIL_CLOSE, 0 },                /* body read until close */
  };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 3), 0);
  char path[] = "/tmp/lpt-ingest-XXXXXX", url[64];
  mock_write_file(path, "{}\n{}\n{}\n", 9);
  url_of(&m, url, sizeof(url));
  run r = ingest(path, "--url", url, "--batch", "1", NULL);
  mock_stop(&m);
  unlink(path);
  cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
  cr_assert_eq(m.nreq, 3);
  cr_assert_eq(m.conns, 3);
  cr_assert(strstr(r.out, "accepted 3"), "%s", r.out);
  run_free(&r);
  mock_free(&m);
}

Test(cli_ingest, line_over_1mib_is_rejected_locally) {
  static const mock_step steps[] = { { 202, NULL, OK_BODY(1), MOCK_LENGTH, 0 } };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 1), 0);
  size_t big = 1024 * 1024 + 10;
  char *text = malloc(big + 16);
  memset(text, 'x', big);
  memcpy(text + big, "\n{\"ok\":1}\n", 10);
  char path[] = "/tmp/lpt-ingest-XXXXXX", url[64];
  mock_write_file(path, text, big + 10);
  free(text);
  url_of(&m, url, sizeof(url));
  run r = ingest(path, "--url", url, NULL, NULL, NULL);
  mock_stop(&m);
  unlink(path);
  cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
  cr_assert_eq(m.nreq, 1);
  cr_assert_str_eq(m.reqs[0].body, "{\"ok\":1}\n");
  cr_assert(strstr(r.out, "sent 1 lines in 1 batch, accepted 1, rejected 1 (line_too_long 1)"), "%s", r.out);
  cr_assert(strstr(r.out, "line 1: line_too_long"), "%s", r.out);
  run_free(&r);
  mock_free(&m);
}

Test(cli_ingest, reads_stdin) {
  static const mock_step steps[] = { { 202, NULL, OK_BODY(2), MOCK_LENGTH, 0 } };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 1), 0);
  char path[] = "/tmp/lpt-ingest-XXXXXX", url[64];
  mock_write_file(path, "{}\n{}\n", 6);
  cr_assert(freopen(path, "r", stdin) != NULL);
  url_of(&m, url, sizeof(url));
  run r = ingest("-", "--url", url, NULL, NULL, NULL);
  mock_stop(&m);
  unlink(path);
  cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
  cr_assert_str_eq(m.reqs[0].body, "{}\n{}\n");
  cr_assert(strstr(r.out, "stdin -> "), "%s", r.out);
  run_free(&r);
  mock_free(&m);
}

Test(cli_ingest, unreachable_server_exits_1_naming_the_url) {
  char path[] = "/tmp/lpt-ingest-XXXXXX", url[64];
  mock_write_file(path, "{}\n", 3);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", lpt_free_port());
  run r = ingest(path, "--url", url, NULL, NULL, NULL);
  unlink(path);
  cr_assert_eq(r.rc, 1);
  cr_assert(strstr(r.err, url), "%s", r.err);
  cr_assert(strstr(r.err, "cannot reach"), "%s", r.err);
  run_free(&r);
}

Test(cli_ingest, missing_file_exits_1) {
  run r = ingest("/nonexistent/leads.jsonl", "--url", "http://127.0.0.1:9", NULL, NULL, NULL);
  cr_assert_eq(r.rc, 1);
  cr_assert(strstr(r.err, "cannot open /nonexistent/leads.jsonl"), "%s", r.err);
  run_free(&r);
}

Test(cli_ingest, usage_errors_exit_2) {
  run r = ingest("--bogus", "f.jsonl", NULL, NULL, NULL, NULL);
  cr_assert_eq(r.rc, 2);
  cr_assert(strstr(r.err, "unknown option '--bogus'"), "%s", r.err);
  run_free(&r);
  r = ingest("--quiet", NULL, NULL, NULL, NULL, NULL);
  cr_assert_eq(r.rc, 2);
  cr_assert(strstr(r.err, "missing FILE"), "%s", r.err);
  run_free(&r);
  r = ingest("f.jsonl", "--batch", "0", NULL, NULL, NULL);
  cr_assert_eq(r.rc, 2);
  run_free(&r);
  r = ingest("f.jsonl", "--batch=12x", NULL, NULL, NULL, NULL);
  cr_assert_eq(r.rc, 2);
  run_free(&r);
  r = ingest("f.jsonl", "--url", NULL, NULL, NULL, NULL);
  cr_assert_eq(r.rc, 2);
  cr_assert(strstr(r.err, "needs a value"), "%s", r.err);
  run_free(&r);
  r = ingest("a.jsonl", "b.jsonl", NULL, NULL, NULL, NULL);
  cr_assert_eq(r.rc, 2);
  run_free(&r);
  r = ingest("f.jsonl", "--url", "https://example.com", NULL, NULL, NULL);
  cr_assert_eq(r.rc, 2);
  cr_assert(strstr(r.err, "http://"), "%s", r.err);
  run_free(&r);
}

Test(cli_ingest, help_exits_0_and_describes_every_flag) {
  run r = ingest("--help", NULL, NULL, NULL, NULL, NULL);
  cr_assert_eq(r.rc, 0);
  const char *flags[] = { "--outcomes", "--url", "--batch", "--quiet", "--help", "LEADPOET_URL" };
  for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) cr_assert(strstr(r.out, flags[i]), "%s", flags[i]);
  run_free(&r);
}

Test(cli_ingest, a_nul_byte_never_cuts_a_line) {
  static const mock_step steps[] = { { 202, NULL, "{\"accepted\": 0, \"rejected\": [{\"index\": 0, \"code\": \"bad_json\"}]}",
                                       MOCK_LENGTH, 0 } };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 1), 0);
  char path[] = "/tmp/lpt-ingest-XXXXXX", url[64];
  mock_write_file(path, "{\"a\"\0:1}\n", 9);
  url_of(&m, url, sizeof(url));
  run r = ingest(path, "--url", url, NULL, NULL, NULL);
  mock_stop(&m);
  unlink(path);
  cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
  cr_assert_eq(m.reqs[0].body_len, 9, "the whole line is sent, got %zu bytes", m.reqs[0].body_len);
  cr_assert(strstr(r.out, "line 1: bad_json"), "%s", r.out);
  run_free(&r);
  mock_free(&m);
}

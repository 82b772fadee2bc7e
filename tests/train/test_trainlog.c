/* The training log writer (core/train/trainlog.h) on its own loop: lines land whole and in order, the
 * file rotates to <file>.1 past its bound, a file that cannot be opened drops and counts the lines, and
 * bad arguments are refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/alloc.h"
#include "helpers/helpers.h"
#include "query/features.h"
#include "train/dataset.h"
#include "train/trainlog.h"

static char dir[64];
static uv_loop_t loop;

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/lp_tlog_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  cr_assert_eq(uv_loop_init(&loop), 0);
}

static void teardown(void) {
  cr_assert_eq(uv_loop_close(&loop), 0);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(trainlog, .init = setup, .fini = teardown, .timeout = 60);

static void outcome(lp_trainlog *t, int i) {
  char id[32];
  snprintf(id, sizeof id, "o%d", i);
  lp_outcome o;
  memset(&o, 0, sizeof o);
  o.id = (lp_str){ id, strlen(id) };
  o.ts_ms = 1000 + i;
  o.domain = (lp_str){ "acme.com", 8 };
  o.event = LP_EVENT_MEETING;
  o.query_id = (lp_str){ "q-1", 3 };
  lp_trainlog_outcome(t, &o);
}

static void drain(lp_trainlog *t) {
  while (lp_trainlog_busy(t)) uv_run(&loop, UV_RUN_ONCE);
}

Test(trainlog, lines_land_whole_and_the_file_rotates) {
  char path[128], old[140];
  snprintf(path, sizeof path, "%s/t.jsonl", dir);
  snprintf(old, sizeof old, "%s.1", path);
  lp_trainlog *t = NULL;
  char err[256];
  cr_assert_eq(lp_trainlog_open(&t, &loop, path, 2000, err, sizeof err), LP_OK, "%s", err);
  /* a query line with a feature row (NaN as null), then outcomes past the 2000-byte bound (once: a
   * second rotation would replace the first .1) */
  lp_qhit h;
  memset(&h, 0, sizeof h);
  h.domain = "acme.com";
  h.v0 = 0.5;
  float row[LP_FEATURES_N];
  for (int k = 0; k < LP_FEATURES_N; k++) row[k] = (float)k;
  row[LP_F_EXEMPLAR] = NAN;
  h.features = row;
  const lp_qhit *ranked[] = { &h };
  double scores[] = { 0.75 };
  lp_trainlog_query(t, "q-1", 1000, "v0", "b", "invoicing \"software\"", 20, ranked, scores, 1);
  drain(t);
  for (int i = 0; i < 30; i++) {
    outcome(t, i);
    if (i % 5 == 4) drain(t);
  }
  drain(t);
  lp_trainlog_judgment(t, "q-1", 2000, "acme.com", 0.9);
  cr_assert_eq(lp_trainlog_dropped(t), 0);
  lp_trainlog_free(t);
  cr_assert_eq(access(old, F_OK), 0, "rotated to .1");
  {
    char text[4096] = "";
    FILE *f = fopen(old, "r");
    cr_assert_not_null(f);
    size_t got = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[got] = '\0';
    cr_assert(strstr(text, "\"model\":\"v0\",\"variant\":\"b\"") != NULL, "the A/B variant is logged: %.300s", text);
  }
  /* both files read back as a training log: every line whole */
  lp_dataset d;
  memset(&d, 0, sizeof d);
  cr_assert_eq(lp_dataset_read(&d, old, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(lp_dataset_read(&d, path, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(d.n_q + d.n_o + d.n_j, 32, "every line, once: %zu %zu %zu", d.n_q, d.n_o, d.n_j);
  cr_assert_eq(d.n_q, 1);
  cr_assert_eq(d.n_j, 1);
  cr_assert_eq(d.q[0].rows[0].f[3], 3.0f);
  cr_assert(isnan(d.q[0].rows[0].f[LP_F_EXEMPLAR]));
  cr_assert_float_eq(d.q[0].rows[0].score, 0.75, 1e-9);
  lp_dataset_free(&d);
}

Test(trainlog, unopenable_file_drops_and_counts) {
  char path[128];
  snprintf(path, sizeof path, "%s/no/such/dir/t.jsonl", dir);
  lp_trainlog *t = NULL;
  char err[256];
  cr_assert_eq(lp_trainlog_open(&t, &loop, path, 1 << 20, err, sizeof err), LP_OK, "%s", err);
  drain(t);
  outcome(t, 1);
  outcome(t, 2);
  cr_assert_eq(lp_trainlog_dropped(t), 2);
  lp_trainlog_free(t);
}

Test(trainlog, bad_arguments) {
  lp_trainlog *t = NULL;
  char err[256] = "";
  cr_assert_eq(lp_trainlog_open(&t, &loop, "", 100, err, sizeof err), LP_EINVAL);
  cr_assert_neq(err[0], '\0');
  cr_assert_eq(lp_trainlog_open(&t, &loop, "/tmp/x", 0, err, sizeof err), LP_EINVAL);
  cr_assert_null(t);
}

/*
 * summary.c: load_test's human table (load_test.h): one line per phase, the figures validate_sla checks.
 */
#include <string.h>

#include "load_test.h"

static double num(const json_t *o, const char *path) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  const json_t *x = o;
  for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && x; k = strtok_r(NULL, ".", &save))
    x = json_object_get(x, k);
  return json_is_number(x) ? json_number_value(x) : -1;
}

static void run_line(FILE *f, const char *name, const json_t *r) {
  if (!r) return;
  fprintf(f, "  %-8s %7.0f QPS  p50 %8.3f  p95 %8.3f  p99 %8.3f  p99.9 %8.3f  max %8.3f ms  achieved %7.1f/s  errors %.0f\n",
          name, num(r, "qps"), num(r, "latency_ms.p50"), num(r, "latency_ms.p95"), num(r, "latency_ms.p99"),
          num(r, "latency_ms.p999"), num(r, "latency_ms.max"), num(r, "achieved_qps"), num(r, "errors"));
}

void lt_print_summary(FILE *f, const json_t *out) {
  fprintf(f, "load_test on %.0f cores, %s, Linux %s, %s\n", num(out, "machine.cores"),
          json_string_value(json_object_get(json_object_get(out, "machine"), "cpu")),
          json_string_value(json_object_get(json_object_get(out, "machine"), "kernel")),
          json_string_value(json_object_get(json_object_get(out, "machine"), "date")));
  fprintf(f, "  market: %.0f leads in the world, generated in %.1f s, loaded in %.1f s; server: %.0f leads, %.0f snippets, "
          "%.0f MB resident (%.0f bytes per snippet)\n",
          num(out, "world.leads"), num(out, "world.generate_s"), num(out, "world.load_s"), num(out, "server.leads"),
          num(out, "server.snippets_accepted"), num(out, "server.rss_bytes") / 1048576.0,
          num(out, "server.bytes_per_snippet"));
  const json_t *in = json_object_get(out, "ingest");
  fprintf(f, "  ingest (%s): target %.0f/s, the server received %.0f/s during the mixed phase; %.0f lines posted, "
          "%.0f posts failed\n", json_string_value(json_object_get(in, "mode")), num(in, "target_per_s"),
          num(in, "server_received_per_s"), num(in, "lines_posted"), num(in, "posts_failed"));
  fprintf(f, "  query latency from the scheduled send time (ms):\n");
  run_line(f, "mixed", json_object_get(out, "mixed"));
  run_line(f, "burst", json_object_get(out, "burst"));
  const json_t *s = json_object_get(out, "search");
  if (s) {
    fprintf(f, "  search: highest rate with P99 <= %.0f ms and no error: %.0f QPS (", num(s, "target_p99_ms"),
            num(s, "max_qps"));
    size_t i;
    const json_t *st;
    json_array_foreach(json_object_get(s, "steps"), i, st)
      fprintf(f, "%s%.0f:%s p99 %.1f", i ? ", " : "", num(st, "qps"), json_is_true(json_object_get(st, "pass")) ? "ok" : "FAIL",
              num(st, "latency_ms.p99"));
    fprintf(f, ")\n");
  }
  const json_t *fr = json_object_get(out, "freshness");
  if (fr)
    fprintf(f, "  freshness: %.0f of %.0f events found, event -> queryable p50 %.3f  p99 %.3f  max %.3f ms "
            "(POST until 202: p50 %.3f  p99 %.3f ms)\n", num(fr, "found"), num(fr, "events"), num(fr, "p50_ms"),
            num(fr, "p99_ms"), num(fr, "max_ms"), num(fr, "post_p50_ms"), num(fr, "post_p99_ms"));
  fprintf(f, "  cost (server accounting): %.0f leads delivered, mean $%.10f per lead, P99 <= $%.10f, LLM on %.1f %% of queries\n",
          num(out, "cost.leads_delivered"), num(out, "cost.usd_per_lead_mean"), num(out, "cost.usd_per_lead_p99"),
          100.0 * num(out, "cost.llm_hit_rate"));
  fprintf(f, "  total %.0f s\n", num(out, "total_s"));
}

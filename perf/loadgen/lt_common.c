/*
 * lt_common.c: numbers, prompts, /metrics figures, the machine and the JSON / text form of a run (lt.h).
 */
#define _GNU_SOURCE
#include "lt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "leadpoet/common.h"
#include "qb_proc.h"

int lt_num(const char *v, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end || !(d >= lo && d <= hi)) return -1;
  *out = d;
  return 0;
}

int lt_parse_url(const char *url, int *port) {
  int p = 0, n = 0;
  if (sscanf(url, "http://127.0.0.1:%d%n", &p, &n) != 1 || p < 1 || p > 65535) return -1;
  if (url[n] && strcmp(url + n, "/") != 0) return -1;
  *port = p;
  return 0;
}

void lt_requests_free(lp_ol_request *reqs, size_t n) {
  for (size_t i = 0; i < n; i++) lp_free((void *)reqs[i].data);
  lp_free(reqs);
}

/* One whole POST /v1/leads request for prompt p, appended to *reqs. 0 or LP_ENOMEM. */
static int add_request(json_t *p, unsigned k, int explain, lp_ol_request **reqs, size_t *n, size_t *room) {
  json_t *body = json_pack("{s:O, s:I}", "prompt", p, "k", (json_int_t)k);
  if (body && !explain) json_object_set_new(body, "explain", json_false());
  char *bs = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!bs) return LP_ENOMEM;
  size_t blen = strlen(bs), need = blen + 256;
  char *req = lp_malloc(need);
  if (req && *n == *room) {
    size_t r = *room ? *room * 2 : 256;
    lp_ol_request *nr = lp_realloc(*reqs, r * sizeof *nr);
    if (!nr) req = (lp_free(req), NULL);
    else *reqs = nr, *room = r;
  }
  if (!req) {
    free(bs);
    return LP_ENOMEM;
  }
  int hn = snprintf(req, need,
                    "POST /v1/leads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n\r\n%s", blen, bs);
  free(bs);
  (*reqs)[(*n)++] = (lp_ol_request){ req, (size_t)hn };
  return 0;
}

int lt_load_prompts(const char *path, unsigned k, int explain, lp_ol_request **reqs, size_t *n, char *err,
                    size_t errlen) {
  *reqs = NULL;
  *n = 0;
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return LP_EIO;
  }
  char *line = NULL;
  size_t cap = 0, room = 0;
  ssize_t len;
  int rc = 0;
  while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (len == 0) continue;
    json_t *j = line[0] == '{' ? json_loadb(line, (size_t)len, 0, NULL) : NULL;
    json_t *p = j ? json_incref(json_object_get(j, "prompt")) : json_string(line);
    if (p && json_is_string(p) && json_string_length(p) > 0) rc = add_request(p, k, explain, reqs, n, &room);
    json_decref(p);
    json_decref(j);
  }
  free(line);
  fclose(f);
  if (rc == 0 && *n == 0) {
    snprintf(err, errlen, "no prompt in %s", path);
    rc = LP_EINVAL;
  } else if (rc != 0) {
    snprintf(err, errlen, "out of memory reading %s", path);
  }
  if (rc != 0) {
    lt_requests_free(*reqs, *n);
    *reqs = NULL;
    *n = 0;
  }
  return rc;
}

/* ---- /metrics ---------------------------------------------------------------------------------------- */

double lt_prom_quantile(const char *m, const char *name, double q) {
  char prefix[160];
  snprintf(prefix, sizeof prefix, "%s_bucket{", name);
  size_t pl = strlen(prefix);
  double les[128], cum[128];
  int nb = 0;
  for (const char *l = m; l && *l && nb < 128; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
    if (strncmp(l, prefix, pl) != 0) continue;
    const char *le = strstr(l, "le=\"");
    const char *close = le ? strchr(le + 4, '"') : NULL;
    const char *val = close ? strchr(close, '}') : NULL;
    if (!val) continue;
    les[nb] = !strncmp(le + 4, "+Inf", 4) ? INFINITY : strtod(le + 4, NULL);
    cum[nb] = strtod(val + 1, NULL);
    nb++;
  }
  if (nb == 0 || cum[nb - 1] <= 0) return -1;
  double want = ceil(q * cum[nb - 1]);
  if (want < 1) want = 1;
  for (int i = 0; i < nb; i++)
    if (cum[i] >= want) {
      if (isinf(les[i])) return i > 0 ? les[i - 1] : -1;
      return les[i];
    }
  return -1;
}

json_t *lt_prom_by_label(const char *m, const char *name, const char *label) {
  json_t *o = json_object();
  char prefix[160], lab[96];
  snprintf(prefix, sizeof prefix, "%s{", name);
  snprintf(lab, sizeof lab, "%s=\"", label);
  size_t pl = strlen(prefix);
  for (const char *l = m; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
    if (strncmp(l, prefix, pl) != 0) continue;
    const char *v = strstr(l, lab);
    const char *end = v ? strchr(v + strlen(lab), '"') : NULL;
    const char *brace = end ? strchr(end, '}') : NULL;
    const char *nl = strchr(l, '\n');
    if (!brace || (nl && v > nl)) continue;
    char key[128];
    size_t kl = (size_t)(end - (v + strlen(lab)));
    if (kl >= sizeof key) continue;
    memcpy(key, v + strlen(lab), kl);
    key[kl] = '\0';
    json_t *old = json_object_get(o, key);
    double sum = (old ? json_real_value(old) : 0) + strtod(brace + 1, NULL);
    json_object_set_new(o, key, json_real(sum));
  }
  return o;
}

static json_t *num_or_null(double v) { return v >= 0 ? json_real(v) : json_null(); }

json_t *lt_server_json(int port, pid_t pid) {
  int st = 0;
  char *m = NULL;
  if (qb_http(port, "GET", "/metrics", NULL, &st, &m, 15.0) != 0 || st != 200) {
    lp_free(m);
    return NULL;
  }
  double leads = qb_metric_sum(m, "leadpoet_leads", NULL);
  double snippets = qb_metric_sum(m, "leadpoet_snippets_total", "result=\"accepted\"");
  double postings = qb_metric_sum(m, "leadpoet_index_postings", NULL);
  double cost_sum = qb_metric_sum(m, "leadpoet_lead_cost_usd_sum", NULL);
  double cost_n = qb_metric_sum(m, "leadpoet_lead_cost_usd_count", NULL);
  double llm = qb_metric_sum(m, "leadpoet_llm_hit_rate", NULL);
  double cpu = qb_metric_sum(m, "process_cpu_seconds_total", NULL);
  long long rss = pid > 0 ? qb_rss_bytes(pid) : -1;
  if (rss < 0) rss = (long long)qb_metric_sum(m, "process_resident_memory_bytes", NULL);
  json_t *j = json_object();
  json_object_set_new(j, "leads", num_or_null(leads));
  json_object_set_new(j, "snippets_accepted", num_or_null(snippets));
  json_object_set_new(j, "postings", num_or_null(postings));
  json_object_set_new(j, "rss_bytes", rss > 0 ? json_integer(rss) : json_null());
  json_object_set_new(j, "bytes_per_snippet", rss > 0 && snippets > 0 ? json_real((double)rss / snippets) : json_null());
  json_object_set_new(j, "leads_delivered", num_or_null(cost_n));
  json_object_set_new(j, "usd_per_lead_mean", cost_n > 0 ? json_real(cost_sum / cost_n) : json_null());
  json_object_set_new(j, "usd_per_lead_p99", num_or_null(lt_prom_quantile(m, "leadpoet_lead_cost_usd", 0.99)));
  json_object_set_new(j, "llm_hit_rate", num_or_null(llm));
  json_object_set_new(j, "cpu_seconds", num_or_null(cpu));
  json_object_set_new(j, "snippets_by_result", lt_prom_by_label(m, "leadpoet_snippets_total", "result"));
  lp_free(m);
  return j;
}

/* ---- the machine ---------------------------------------------------------------------------------- */

json_t *lt_machine_json(void) {
  char cpu[256], date[64];
  qb_cpu_model(cpu, sizeof cpu);
  struct utsname u;
  time_t now = time(NULL);
  struct tm tm;
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  long long ram = (long long)sysconf(_SC_PHYS_PAGES) * (long long)sysconf(_SC_PAGESIZE);
  return json_pack("{s:I, s:s, s:I, s:s, s:s}", "cores", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "cpu", cpu,
                   "ram_bytes", (json_int_t)ram, "kernel", uname(&u) == 0 ? u.release : "unknown", "date", date);
}

void lt_machine_line(char *buf, size_t cap) {
  json_t *m = lt_machine_json();
  snprintf(buf, cap, "%lld cores, %s, %.1f GiB RAM, Linux %s, %s",
           (long long)json_integer_value(json_object_get(m, "cores")), json_string_value(json_object_get(m, "cpu")),
           (double)json_integer_value(json_object_get(m, "ram_bytes")) / 1073741824.0,
           json_string_value(json_object_get(m, "kernel")), json_string_value(json_object_get(m, "date")));
  json_decref(m);
}

/* ---- runs ------------------------------------------------------------------------------------------ */

static const double qs[] = { 0.5, 0.9, 0.95, 0.99, 0.999, 1.0 };
static const char *const qnames[] = { "p50", "p90", "p95", "p99", "p999", "max" };
#define NQ (sizeof qs / sizeof qs[0])

uint64_t lt_run_errors(const lp_ol_result *r) { return r->completed - lp_ol_ok(r) + r->lost + r->unsent; }

static json_t *lat_json(const lp_hist *h) {
  json_t *j = json_object();
  for (size_t i = 0; i < NQ; i++)
    json_object_set_new(j, qnames[i], json_real((double)lp_hist_quantile(h, qs[i]) / 1e6));
  json_object_set_new(j, "mean", json_real(lp_hist_mean(h) / 1e6));
  json_object_set_new(j, "count", json_integer((json_int_t)h->count));
  return j;
}

json_t *lt_run_json(const lp_ol_result *r, double qps) {
  json_t *st = json_object();
  for (int s = 100; s < LP_OL_MAX_STATUS; s++)
    if (r->by_status[s]) {
      char k[16];
      snprintf(k, sizeof k, "%d", s);
      json_object_set_new(st, k, json_integer((json_int_t)r->by_status[s]));
    }
  json_t *j = json_object();
  json_object_set_new(j, "latency_ms", lat_json(&r->latency));
  json_object_set_new(j, "send_lag_ms", lat_json(&r->send_lag));
  json_object_set_new(j, "qps", json_real(qps));
  json_object_set_new(j, "scheduled", json_integer((json_int_t)r->scheduled));
  json_object_set_new(j, "completed", json_integer((json_int_t)r->completed));
  json_object_set_new(j, "ok", json_integer((json_int_t)lp_ol_ok(r)));
  json_object_set_new(j, "errors", json_integer((json_int_t)lt_run_errors(r)));
  json_object_set_new(j, "by_status", st);
  json_object_set_new(j, "lost", json_integer((json_int_t)r->lost));
  json_object_set_new(j, "unsent", json_integer((json_int_t)r->unsent));
  json_object_set_new(j, "socket_errors", json_integer((json_int_t)r->socket_errors));
  json_object_set_new(j, "connect_errors", json_integer((json_int_t)r->connect_errors));
  json_object_set_new(j, "elapsed_s", json_real(r->elapsed_s));
  json_object_set_new(j, "achieved_qps", json_real(r->elapsed_s > 0 ? (double)lp_ol_ok(r) / r->elapsed_s : 0.0));
  return j;
}

static void print_lat(FILE *f, const char *label, const lp_hist *h) {
  fprintf(f, "    %-10s", label);
  for (size_t i = 0; i < NQ; i++) fprintf(f, " %s %.3f", qnames[i], (double)lp_hist_quantile(h, qs[i]) / 1e6);
  fprintf(f, "  mean %.3f (ms)\n", lp_hist_mean(h) / 1e6);
}

void lt_print_run(FILE *f, const char *title, const lp_ol_result *r, double qps) {
  fprintf(f, "  %s\n", title);
  print_lat(f, "latency", &r->latency);
  print_lat(f, "send lag", &r->send_lag);
  fprintf(f, "    rate: %.0f scheduled/s, %llu scheduled, %llu answered (%llu 2xx), achieved %.1f/s\n", qps,
          (unsigned long long)r->scheduled, (unsigned long long)r->completed, (unsigned long long)lp_ol_ok(r),
          r->elapsed_s > 0 ? (double)lp_ol_ok(r) / r->elapsed_s : 0.0);
  fprintf(f, "    errors: %llu", (unsigned long long)lt_run_errors(r));
  for (int s = 100; s < LP_OL_MAX_STATUS; s++)
    if (r->by_status[s] && (s < 200 || s >= 300)) fprintf(f, "  [%d]=%llu", s, (unsigned long long)r->by_status[s]);
  fprintf(f, "  lost=%llu unsent=%llu socket_errors=%llu connect_errors=%llu\n", (unsigned long long)r->lost,
          (unsigned long long)r->unsent, (unsigned long long)r->socket_errors, (unsigned long long)r->connect_errors);
}

int lt_write_json(const json_t *j, const char *path) {
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
  if (!s) return -1;
  int rc = 0;
  if (!strcmp(path, "-")) {
    printf("%s\n", s);
    fflush(stdout);
  } else {
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", s) < 0) rc = -1;
    if (f && fclose(f) != 0) rc = -1;
  }
  free(s);
  return rc;
}

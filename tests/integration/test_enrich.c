/*
 * test_enrich.c: firmographic enrichment through the real binary against a fake company-enrichment vendor
 * on loopback (People Data Labs' and Clearbit's wire formats) that answers, fails, stalls and rate-limits:
 * enriched values in POST /v1/leads and GET /v1/leads/{domain}, the cache (hits, 404s remembered, the hit
 * rate metric), the per-query and per-day budgets to the cent, retries, the circuit breaker opening and
 * closing, a stalled vendor whose answer lands for the next query, enrichment off without a key, the
 * enriched fields surviving a restart, and the vendor's answers (a 404, a company it knows only partly)
 * kept in the lead's state so that neither a restart nor the full cache forgetting a domain asks again
 * within the TTLs. The parts in-process (vendor formats, hit rewriting, the apply to the lead table) are
 * tested in tests/server/test_enrich_parts.c.
 */
#define _GNU_SOURCE  /* strcasestr */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers/helpers.h"

/* ---- the fake vendor ------------------------------------------------------------------------------ */

enum { FAKE_OK, FAKE_500, FAKE_STALL };

typedef struct fake {
  int fd, port;
  pthread_t thr;
  atomic_int mode, rate_limit_first, stall_ms, requests, stop, active;
  pthread_mutex_t mu;
  char last_path[512], last_key[256];
} fake;

static fake fv;

static void sleep_ms(int ms) {
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static void send_str(int fd, const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

/* The vendor's answer for a domain: unknown*.* are 404, partial*.* a company known by its name only, the
 * rest a company named after the domain. */
static void answer(int fd, const char *path) {
  const char *d = strchr(path, '=');
  char domain[256] = "", body[1024], head[256];
  if (d != NULL) snprintf(domain, sizeof(domain), "%s", d + 1);
  int status = strncmp(domain, "unknown", 7) == 0 ? 404 : 200;
  if (status == 404) snprintf(body, sizeof(body), "{\"status\":404,\"error\":{\"type\":\"not_found\"}}");
  else if (strncmp(domain, "partial", 7) == 0) snprintf(body, sizeof(body), "{\"status\":200,\"name\":\"vendor %s\"}", domain);
  else if (strncmp(path, "/v5/", 4) == 0)
    snprintf(body, sizeof(body),
             "{\"status\":200,\"name\":\"vendor %s\",\"display_name\":\"Vendor %s\",\"industry\":\"computer software\","
             "\"employee_count\":250,\"size\":\"201-500\",\"location\":{\"country\":\"united states\"}}",
             domain, domain);
  else
    snprintf(body, sizeof(body),
             "{\"name\":\"Clear %s\",\"category\":{\"industry\":\"Internet Software & Services\",\"naicsCode\":\"5112\"},"
             "\"metrics\":{\"employees\":40},\"geo\":{\"country\":\"Germany\",\"countryCode\":\"DE\"}}",
             domain);
  snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
           status, status == 200 ? "OK" : "Not Found", strlen(body));
  send_str(fd, head);
  send_str(fd, body);
}

static void *conn_main(void *arg) {
  int fd = (int)(intptr_t)arg;
  char req[4096] = "";
  size_t n = 0;
  while (n < sizeof(req) - 1 && strstr(req, "\r\n\r\n") == NULL) {
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, 5000) <= 0) break;
    ssize_t r = recv(fd, req + n, sizeof(req) - 1 - n, 0);
    if (r <= 0) break;
    n += (size_t)r;
    req[n] = '\0';
  }
  req[n] = '\0';
  char method[16] = "", path[512] = "";
  if (sscanf(req, "%15s %511s", method, path) == 2) {
    atomic_fetch_add(&fv.requests, 1);
    pthread_mutex_lock(&fv.mu);
    snprintf(fv.last_path, sizeof(fv.last_path), "%s", path);
    const char *k = strcasestr(req, "\r\nX-Api-Key: ");
    const char *a = strcasestr(req, "\r\nAuthorization: ");
    const char *v = k ? k + 13 : a ? a + 17 : NULL;
    size_t vl = v ? strcspn(v, "\r") : 0;
    snprintf(fv.last_key, sizeof(fv.last_key), "%.*s", (int)vl, v ? v : "");
    pthread_mutex_unlock(&fv.mu);
    if (atomic_load(&fv.rate_limit_first) > 0) {
      atomic_fetch_sub(&fv.rate_limit_first, 1);
      send_str(fd, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (atomic_load(&fv.mode) == FAKE_500) {
      send_str(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    } else {
      if (atomic_load(&fv.mode) == FAKE_STALL)
        for (int waited = 0; waited < atomic_load(&fv.stall_ms) && !atomic_load(&fv.stop); waited += 10) sleep_ms(10);
      answer(fd, path);
    }
  }
  close(fd);
  atomic_fetch_sub(&fv.active, 1);
  return NULL;
}

static void *accept_main(void *arg) {
  (void)arg;
  while (!atomic_load(&fv.stop)) {
    struct pollfd p = { fv.fd, POLLIN, 0 };
    if (poll(&p, 1, 50) <= 0) continue;
    int c = accept(fv.fd, NULL, NULL);
    if (c < 0) continue;
    pthread_t t;
    atomic_fetch_add(&fv.active, 1);
    if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)c) != 0) {
      close(c);
      atomic_fetch_sub(&fv.active, 1);
      continue;
    }
    pthread_detach(t);
  }
  return NULL;
}

static void fake_start(void) {
  memset(&fv, 0, sizeof(fv));
  pthread_mutex_init(&fv.mu, NULL);
  fv.fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(fv.fd, 0);
  int one = 1;
  setsockopt(fv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a = { 0 };
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(fv.fd, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t al = sizeof(a);
  getsockname(fv.fd, (struct sockaddr *)&a, &al);
  fv.port = ntohs(a.sin_port);
  cr_assert_eq(listen(fv.fd, 64), 0);
  cr_assert_eq(pthread_create(&fv.thr, NULL, accept_main, NULL), 0);
}

static void fake_stop(void) {
  atomic_store(&fv.stop, 1);
  pthread_join(fv.thr, NULL);
  for (int i = 0; i < 1000 && atomic_load(&fv.active) > 0; i++) sleep_ms(10);
  close(fv.fd);
}

/* ---- the server ------------------------------------------------------------------------------------ */

static lpt_server srv;
static char env_url[128];

/* Starts leadpoet with the fake as its vendor and these extra "KEY=VALUE" settings (NULL-ended). */
static void start(const char *const *extra) {
  fake_start();
  snprintf(env_url, sizeof(env_url), "LEADPOET_ENRICH_BASE_URL=http://127.0.0.1:%d", fv.port);
  const char *env[32];
  int n = 0;
  env[n++] = env_url;
  env[n++] = "LEADPOET_KAFKA_MODE=off";
  env[n++] = "LEADPOET_ENRICH_WAIT=3s";
  for (int i = 0; extra && extra[i] && n < 31; i++) env[n++] = extra[i];
  env[n] = NULL;
  cr_assert_eq(lpt_server_start(&srv, NULL, env), 0, "the server did not start");
}

static void stop(void) {
  cr_assert_eq(lpt_server_stop(&srv), 0);
  fake_stop();
}

/* The fake's count of requests once it reached n (or 2 s passed): the fake counts a request on its own
 * thread, which a loaded machine may run after the server already gave up on the call. */
static int requests_at_least(int n) {
  for (int i = 0; i < 200 && atomic_load(&fv.requests) < n; i++) sleep_ms(10);
  return atomic_load(&fv.requests);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One billing snippet per domain; "full" leads come with every firmographic field. */
static void post_leads(const char *const *domains, int full) {
  char body[8192];
  size_t o = (size_t)snprintf(body, sizeof(body), "[");
  for (int i = 0; domains[i]; i++) {
    o += (size_t)snprintf(body + o, sizeof(body) - o,
                          "%s{\"id\":\"%s-%d\",\"miner\":\"m%d\",\"ts\":%lld,\"lead\":{\"domain\":\"%s\"%s},"
                          "\"kind\":\"hiring\",\"text\":\"%s hires engineers for usage based billing and invoicing\"}",
                          i ? "," : "", domains[i], i, i % 3, now_ms() - 3600000LL, domains[i],
                          full ? ",\"name\":\"Known\",\"industry\":\"retail\",\"employees\":9,\"country\":\"FR\"" : "",
                          domains[i]);
  }
  snprintf(body + o, sizeof(body) - o, "]");
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  cr_assert(strstr(r.body, "\"rejected\":[]") != NULL, "%s", r.body);
  lpt_response_free(&r);
}

static json_t *query(double max_cost) {
  char body[256];
  snprintf(body, sizeof(body), "{\"prompt\":\"usage based billing and invoicing\",\"k\":20,\"max_cost_usd\":%.4f}", max_cost);
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/leads", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s", r.body);
  lpt_response_free(&r);
  return j;
}

static json_t *lead_in(json_t *answer, const char *domain) {
  size_t i;
  json_t *l;
  json_array_foreach(json_object_get(answer, "leads"), i, l)
    if (strcmp(json_string_value(json_object_get(l, "domain")), domain) == 0) return l;
  cr_assert_fail("%s not in the answer", domain);
  return NULL;
}

static double cost(json_t *answer, const char *field) {
  return json_number_value(json_object_get(json_object_get(answer, "cost"), field));
}

/* The value of one sample of /metrics ("name{labels}"), 0 when absent. */
static double metric(const char *sample) {
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
  double v = 0;
  size_t n = strlen(sample);
  for (const char *p = r.body; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, sample, n) == 0 && p[n] == ' ') v = strtod(p + n + 1, NULL);
  lpt_response_free(&r);
  return v;
}

/* GET /v1/leads/{domain}, polled until its name is name (the vendor's answer reaches the shard through
 * the worker's ring after the query answered) or 5 s passed. */
static json_t *profile_with_name(const char *domain, const char *name) {
  char path[300];
  snprintf(path, sizeof(path), "/v1/leads/%s", domain);
  for (int i = 0; i < 100; i++) {
    lpt_response r;
    cr_assert_eq(lpt_http(srv.port, "GET", path, NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *j = json_loads(r.body, 0, NULL);
    lpt_response_free(&r);
    json_t *nm = json_object_get(j, "name");
    if (json_is_string(nm) && strcmp(json_string_value(nm), name) == 0) return j;
    json_decref(j);
    sleep_ms(50);
  }
  cr_assert_fail("%s never got the name %s", domain, name);
  return NULL;
}

TestSuite(enrich, .timeout = 90);

/* ---- answers, the cache, the lead's state ------------------------------------------------------------- */

Test(enrich, pdl_values_in_the_answer_and_the_profile_then_from_the_cache) {
  start((const char *const[]){ "PDL_API_KEY=pdl-secret", NULL });
  post_leads((const char *const[]){ "acme.com", NULL }, 0);
  post_leads((const char *const[]){ "known.io", NULL }, 1);
  json_t *a = query(1);
  json_t *l = lead_in(a, "acme.com");
  cr_assert_str_eq(json_string_value(json_object_get(l, "name")), "Vendor acme.com");
  cr_assert_str_eq(json_string_value(json_object_get(l, "industry")), "computer software");
  cr_assert_eq(json_integer_value(json_object_get(l, "employees")), 250);
  cr_assert_str_eq(json_string_value(json_object_get(l, "country")), "US", "the country name maps to alpha-2");
  cr_assert_str_eq(json_string_value(json_object_get(lead_in(a, "known.io"), "name")), "Known", "no call for a full lead");
  cr_assert_eq(cost(a, "enrich_calls"), 1);
  cr_assert_float_eq(cost(a, "enrich_usd"), 0.01, 1e-9);
  cr_assert_geq(cost(a, "usd_total"), 0.01);
  cr_assert_eq(atomic_load(&fv.requests), 1);
  cr_assert_str_eq(fv.last_path, "/v5/company/enrich?website=acme.com");
  cr_assert_str_eq(fv.last_key, "pdl-secret");
  json_decref(a);

  json_t *p = profile_with_name("acme.com", "Vendor acme.com");
  cr_assert_eq(json_integer_value(json_object_get(p, "employees")), 250);
  cr_assert_str_eq(json_string_value(json_object_get(p, "country")), "US");
  json_decref(p);

  a = query(1);  /* the lead holds the values now: nothing is missing, nothing is asked */
  cr_assert_str_eq(json_string_value(json_object_get(lead_in(a, "acme.com"), "name")), "Vendor acme.com");
  cr_assert_eq(cost(a, "enrich_calls"), 0);
  cr_assert_eq(atomic_load(&fv.requests), 1);
  json_decref(a);
  cr_assert_eq(metric("leadpoet_enrich_calls_total{result=\"found\"}"), 1);
  cr_assert_float_eq(metric("leadpoet_enrich_cost_usd"), 0.01, 1e-9);
  stop();
}

Test(enrich, not_found_is_cached_and_counted_as_a_hit) {
  start((const char *const[]){ "PDL_API_KEY=k", NULL });
  post_leads((const char *const[]){ "unknown-co.com", NULL }, 0);
  json_t *a = query(1);
  cr_assert(json_is_null(json_object_get(lead_in(a, "unknown-co.com"), "name")));
  cr_assert_eq(cost(a, "enrich_calls"), 1);
  cr_assert_float_eq(cost(a, "enrich_usd"), 0, 1e-12, "a 404 is not billed");
  json_decref(a);
  for (int i = 0; i < 3; i++) {
    a = query(1);
    cr_assert_eq(cost(a, "enrich_calls"), 0, "the 404 is remembered");
    json_decref(a);
  }
  cr_assert_eq(atomic_load(&fv.requests), 1);
  cr_assert_eq(metric("leadpoet_enrich_cache_total{result=\"hit\"}"), 3);
  cr_assert_eq(metric("leadpoet_enrich_cache_total{result=\"miss\"}"), 1);
  cr_assert_float_eq(metric("leadpoet_enrich_cache_hit_rate"), 0.75, 1e-9);
  cr_assert_eq(metric("leadpoet_enrich_calls_total{result=\"not_found\"}"), 1);
  stop();
}

Test(enrich, clearbit_format_and_bearer_key) {
  start((const char *const[]){ "CLEARBIT_API_KEY=cb-secret", "LEADPOET_ENRICH_PROVIDER=clearbit", NULL });
  post_leads((const char *const[]){ "clearco.io", NULL }, 0);
  json_t *a = query(1);
  json_t *l = lead_in(a, "clearco.io");
  cr_assert_str_eq(json_string_value(json_object_get(l, "name")), "Clear clearco.io");
  cr_assert_str_eq(json_string_value(json_object_get(l, "industry")), "Internet Software & Services");
  cr_assert_eq(json_integer_value(json_object_get(l, "employees")), 40);
  cr_assert_str_eq(json_string_value(json_object_get(l, "country")), "DE");
  cr_assert_str_eq(fv.last_path, "/v2/companies/find?domain=clearco.io");
  cr_assert_str_eq(fv.last_key, "Bearer cb-secret");
  json_decref(a);
  stop();
}

/* ---- budgets ---------------------------------------------------------------------------------------- */

static const char *const five[] = { "a1.com", "a2.com", "a3.com", "a4.com", "a5.com", NULL };

Test(enrich, query_budget_to_the_cent) {
  start((const char *const[]){ "PDL_API_KEY=k", "LEADPOET_ENRICH_PRICE_USD_PER_CALL=0.01", NULL });
  post_leads(five, 0);
  json_t *a = query(0.025);  /* two calls fit, a third would pass it */
  cr_assert_eq(cost(a, "enrich_calls"), 2);
  cr_assert_float_eq(cost(a, "enrich_usd"), 0.02, 1e-9);
  cr_assert_leq(cost(a, "usd_total"), 0.025);
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 2);
  cr_assert_eq(metric("leadpoet_enrich_skips_total{reason=\"budget\"}"), 3);
  a = query(0);  /* nothing to spend: the three left are not asked */
  cr_assert_eq(cost(a, "enrich_calls"), 0);
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 2);
  stop();
}

Test(enrich, daily_budget_to_the_cent) {
  start((const char *const[]){ "PDL_API_KEY=k", "LEADPOET_ENRICH_PRICE_USD_PER_CALL=0.01",
                               "LEADPOET_ENRICH_DAILY_BUDGET_USD=0.03", NULL });
  post_leads(five, 0);
  json_t *a = query(5);
  cr_assert_eq(cost(a, "enrich_calls"), 3);
  cr_assert_float_eq(cost(a, "enrich_usd"), 0.03, 1e-9);
  json_decref(a);
  a = query(5);  /* the day is spent */
  cr_assert_eq(cost(a, "enrich_calls"), 0);
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 3);
  cr_assert_float_eq(metric("leadpoet_enrich_daily_spent_usd"), 0.03, 1e-9);
  cr_assert_eq(metric("leadpoet_enrich_skips_total{reason=\"daily_budget\"}"), 4);
  stop();
}

Test(enrich, max_per_query_bounds_the_calls) {
  start((const char *const[]){ "PDL_API_KEY=k", "LEADPOET_ENRICH_MAX_PER_QUERY=2", NULL });
  post_leads(five, 0);
  json_t *a = query(5);
  cr_assert_eq(cost(a, "enrich_calls"), 2);
  json_decref(a);
  a = query(5);
  cr_assert_eq(cost(a, "enrich_calls"), 2, "the next two");
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 4);
  stop();
}

/* ---- failures ---------------------------------------------------------------------------------------- */

Test(enrich, rate_limited_then_retried) {
  start((const char *const[]){ "PDL_API_KEY=k", "LEADPOET_ENRICH_RETRIES=1", "LEADPOET_ENRICH_BACKOFF=10ms", NULL });
  atomic_store(&fv.rate_limit_first, 1);
  post_leads((const char *const[]){ "acme.com", NULL }, 0);
  json_t *a = query(1);
  cr_assert_str_eq(json_string_value(json_object_get(lead_in(a, "acme.com"), "name")), "Vendor acme.com");
  cr_assert_eq(cost(a, "enrich_calls"), 2, "the 429 and the retry");
  cr_assert_float_eq(cost(a, "enrich_usd"), 0.01, 1e-9, "the 429 is not billed");
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 2);
  cr_assert_eq(metric("leadpoet_enrich_calls_total{result=\"rate_limited\"}"), 1);
  stop();
}

Test(enrich, server_errors_are_retried_and_not_billed) {
  start((const char *const[]){ "PDL_API_KEY=k", "LEADPOET_ENRICH_RETRIES=3", "LEADPOET_ENRICH_BACKOFF=10ms",
                               "LEADPOET_ENRICH_PRICE_USD_PER_CALL=0.01", NULL });
  atomic_store(&fv.mode, FAKE_500);
  post_leads((const char *const[]){ "acme.com", NULL }, 0);
  json_t *a = query(0.015);  /* one call fits; a 500 is refunded, so the retries fit too */
  cr_assert_eq(cost(a, "enrich_calls"), 4, "the first attempt and three retries");
  cr_assert_float_eq(cost(a, "enrich_usd"), 0, 1e-12);
  cr_assert(json_is_null(json_object_get(lead_in(a, "acme.com"), "name")));
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 4);
  cr_assert_eq(metric("leadpoet_enrich_calls_total{result=\"server_error\"}"), 4);
  stop();
}

Test(enrich, breaker_opens_on_failures_and_closes_after_a_good_probe) {
  start((const char *const[]){ "PDL_API_KEY=k", "LEADPOET_ENRICH_RETRIES=0", "LEADPOET_ENRICH_BREAKER_WINDOW=4",
                               "LEADPOET_ENRICH_BREAKER_MIN_CALLS=2", "LEADPOET_ENRICH_BREAKER_THRESHOLD=0.5",
                               "LEADPOET_ENRICH_BREAKER_COOLDOWN=1s", NULL });
  post_leads(five, 0);
  atomic_store(&fv.mode, FAKE_500);
  json_t *a = query(5);  /* five calls start at once; their errors open the breaker */
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 5);
  cr_assert_eq(metric("leadpoet_enrich_breaker_state"), 1, "open");
  a = query(5);
  cr_assert_eq(cost(a, "enrich_calls"), 0, "open: nothing is asked");
  json_decref(a);
  cr_assert_eq(metric("leadpoet_enrich_skips_total{reason=\"breaker_open\"}"), 5);
  cr_assert_eq(atomic_load(&fv.requests), 5);

  atomic_store(&fv.mode, FAKE_OK);
  sleep_ms(1100);  /* the cool-down */
  a = query(5);
  cr_assert_eq(cost(a, "enrich_calls"), 1, "half-open: one probe");
  json_decref(a);
  cr_assert_eq(metric("leadpoet_enrich_breaker_state"), 0, "the probe closed it");
  a = query(5);
  cr_assert_eq(cost(a, "enrich_calls"), 4, "closed: the rest");
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 10);
  stop();
}

Test(enrich, stalled_vendor_answers_without_then_the_next_query_has_it) {
  start((const char *const[]){ "PDL_API_KEY=k", "LEADPOET_ENRICH_WAIT=100ms", "LEADPOET_ENRICH_TIMEOUT=10s", NULL });
  atomic_store(&fv.mode, FAKE_STALL);
  atomic_store(&fv.stall_ms, 1000);
  post_leads((const char *const[]){ "slow.com", NULL }, 0);
  json_t *a = query(1);
  cr_assert(json_is_null(json_object_get(lead_in(a, "slow.com"), "name")), "answered before the vendor");
  cr_assert_eq(cost(a, "enrich_calls"), 1);
  cr_assert_float_eq(cost(a, "enrich_usd"), 0.01, 1e-9, "charged to the query that started it");
  json_decref(a);
  json_decref(profile_with_name("slow.com", "Vendor slow.com"));  /* it lands */
  a = query(1);
  cr_assert_str_eq(json_string_value(json_object_get(lead_in(a, "slow.com"), "name")), "Vendor slow.com");
  cr_assert_eq(cost(a, "enrich_calls"), 0);
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 1);
  stop();
}

Test(enrich, timeout_stays_charged_and_no_retry_without_budget) {
  start((const char *const[]){ "PDL_API_KEY=k", "LEADPOET_ENRICH_TIMEOUT=100ms", "LEADPOET_ENRICH_RETRIES=3",
                               "LEADPOET_ENRICH_BACKOFF=10ms", NULL });
  atomic_store(&fv.mode, FAKE_STALL);
  atomic_store(&fv.stall_ms, 2000);
  post_leads((const char *const[]){ "slow.com", NULL }, 0);
  json_t *a = query(0.015);  /* the time-out may have been billed: 0.005 left, no room for a retry */
  cr_assert(json_is_null(json_object_get(lead_in(a, "slow.com"), "name")));
  cr_assert_eq(cost(a, "enrich_calls"), 1);
  cr_assert_float_eq(cost(a, "enrich_usd"), 0.01, 1e-9);
  json_decref(a);
  cr_assert_eq(requests_at_least(1), 1);
  cr_assert_eq(metric("leadpoet_enrich_calls_total{result=\"transport\"}"), 1);
  a = query(0.025);  /* room for one retry this time */
  cr_assert_eq(cost(a, "enrich_calls"), 2);
  cr_assert_float_eq(cost(a, "enrich_usd"), 0.02, 1e-9);
  json_decref(a);
  cr_assert_eq(requests_at_least(3), 3);
  stop();
}

/* Sends POST /v1/leads on a new connection without reading the answer; returns the fd. */
static int send_query(void) {
  static const char body[] = "{\"prompt\":\"usage based billing and invoicing\",\"k\":20,\"max_cost_usd\":1}";
  char req[512];
  int n = snprintf(req, sizeof(req),
                   "POST /v1/leads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                   strlen(body), body);
  int fd = lpt_connect(srv.port);
  cr_assert_geq(fd, 0);
  cr_assert_eq(lpt_send_all(fd, req, (size_t)n), 0);
  return fd;
}

static json_t *read_answer(int fd) {
  lpt_response r;
  cr_assert_eq(lpt_read_response(fd, &r, 20000), 0);
  close(fd);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j);
  lpt_response_free(&r);
  return j;
}

Test(enrich, concurrent_queries_share_one_call) {
  start((const char *const[]){ "PDL_API_KEY=k", NULL });
  atomic_store(&fv.mode, FAKE_STALL);
  atomic_store(&fv.stall_ms, 500);
  post_leads((const char *const[]){ "acme.com", NULL }, 0);
  int first = send_query();
  for (int i = 0; i < 200 && atomic_load(&fv.requests) == 0; i++) sleep_ms(10);  /* the call is out */
  int second = send_query();
  json_t *a = read_answer(first), *b = read_answer(second);
  cr_assert_str_eq(json_string_value(json_object_get(lead_in(a, "acme.com"), "name")), "Vendor acme.com");
  cr_assert_str_eq(json_string_value(json_object_get(lead_in(b, "acme.com"), "name")), "Vendor acme.com");
  cr_assert_eq(cost(a, "enrich_calls"), 1);
  cr_assert_eq(cost(b, "enrich_calls"), 0, "the second waits on the first's call for free");
  cr_assert_float_eq(cost(b, "enrich_usd"), 0, 1e-12);
  json_decref(a);
  json_decref(b);
  cr_assert_eq(atomic_load(&fv.requests), 1);
  stop();
}

Test(enrich, shutdown_answers_a_waiting_query) {
  start((const char *const[]){ "PDL_API_KEY=k", "LEADPOET_ENRICH_WAIT=10s", "LEADPOET_ENRICH_TIMEOUT=20s", NULL });
  atomic_store(&fv.mode, FAKE_STALL);
  atomic_store(&fv.stall_ms, 15000);
  post_leads((const char *const[]){ "acme.com", NULL }, 0);
  int fd = send_query();
  for (int i = 0; i < 200 && atomic_load(&fv.requests) == 0; i++) sleep_ms(10);
  cr_assert_eq(atomic_load(&fv.requests), 1);
  kill(srv.pid, SIGTERM);  /* the call is cancelled, the query answers without it */
  json_t *a = read_answer(fd);
  cr_assert(json_is_null(json_object_get(lead_in(a, "acme.com"), "name")));
  cr_assert_eq(cost(a, "enrich_calls"), 1);
  json_decref(a);
  stop();  /* exit status 0: a clean stop */
}

/* ---- configuration ------------------------------------------------------------------------------------ */

Test(enrich, off_without_a_key) {
  start(NULL);
  post_leads((const char *const[]){ "acme.com", NULL }, 0);
  json_t *a = query(1);
  cr_assert(json_is_null(json_object_get(lead_in(a, "acme.com"), "name")));
  cr_assert_eq(cost(a, "enrich_calls"), 0);
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 0);
  stop();
}

Test(enrich, a_key_without_base_url_refuses_to_start) {
  static const char *const env[] = { "PDL_API_KEY=k", "LEADPOET_KAFKA_MODE=off", NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), -1);
  char *log = lpt_read_file(s.log_path, NULL);
  cr_assert_not_null(log);
  cr_assert(strcasestr(log, "enrich.base_url") != NULL, "%s", log);
  free(log);
  static const char *const https[] = { "PDL_API_KEY=k", "LEADPOET_KAFKA_MODE=off",
                                       "LEADPOET_ENRICH_BASE_URL=https://api.peopledatalabs.com", NULL };
  cr_assert_eq(lpt_server_start(&s, NULL, https), -1);
  log = lpt_read_file(s.log_path, NULL);
  cr_assert_not_null(log);
  cr_assert(strcasestr(log, "base_url") != NULL && strstr(log, "proxy") != NULL, "%s", log);
  free(log);
}

/* ---- the lead's state: the enriched fields survive a restart ---------------------------------------- */

Test(enrich, enriched_fields_survive_a_restart) {
  char dir[] = "/tmp/lpt-enrich-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char env_dir[300];
  snprintf(env_dir, sizeof(env_dir), "LEADPOET_SERVER_STATE_DIR=%s", dir);
  start((const char *const[]){ "PDL_API_KEY=k", env_dir, NULL });
  post_leads((const char *const[]){ "acme.com", NULL }, 0);
  json_decref(query(1));
  json_decref(profile_with_name("acme.com", "Vendor acme.com"));
  stop();

  const char *const env[] = { env_dir, "LEADPOET_KAFKA_MODE=off", NULL };  /* no key: enrichment off */
  cr_assert_eq(lpt_server_start(&srv, NULL, env), 0);
  json_t *p = profile_with_name("acme.com", "Vendor acme.com");
  cr_assert_str_eq(json_string_value(json_object_get(p, "industry")), "computer software");
  cr_assert_eq(json_integer_value(json_object_get(p, "employees")), 250);
  json_decref(p);
  cr_assert_eq(lpt_server_stop(&srv), 0);
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

/* GET /v1/leads/{domain}: queued behind an earlier apply of the vendor's answer on the lead's shard worker,
 * so when it answers the lead holds the answer (and the shutdown's checkpoint saves it). */
static void profile_sync(const char *domain) {
  char path[300];
  snprintf(path, sizeof(path), "/v1/leads/%s", domain);
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "GET", path, NULL, NULL, 0, &r), 0);
  cr_assert_eq(r.status, 200, "%s", r.body);
  lpt_response_free(&r);
}

static void start_in(const char *env_dir, const char *extra) {
  start((const char *const[]){ "PDL_API_KEY=k", env_dir, extra, NULL });
}

Test(enrich, vendor_answers_in_the_lead_state_are_not_asked_again_after_a_restart) {
  char dir[] = "/tmp/lpt-enrich-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char env_dir[300];
  snprintf(env_dir, sizeof(env_dir), "LEADPOET_SERVER_STATE_DIR=%s", dir);
  start_in(env_dir, NULL);
  post_leads((const char *const[]){ "unknown-co.com", "partial-co.com", NULL }, 0);
  json_t *a = query(1);
  cr_assert_eq(cost(a, "enrich_calls"), 2);
  cr_assert_str_eq(json_string_value(json_object_get(lead_in(a, "partial-co.com"), "name")), "vendor partial-co.com");
  cr_assert(json_is_null(json_object_get(lead_in(a, "partial-co.com"), "industry")), "the vendor did not say");
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 2);
  profile_sync("unknown-co.com");
  profile_sync("partial-co.com");
  stop();

  /* Restarted: the cache is empty, the leads remember the 404 and the partial answer. */
  start_in(env_dir, NULL);
  for (int i = 0; i < 2; i++) {
    a = query(1);
    cr_assert(json_is_null(json_object_get(lead_in(a, "unknown-co.com"), "name")));
    cr_assert_str_eq(json_string_value(json_object_get(lead_in(a, "partial-co.com"), "name")), "vendor partial-co.com");
    cr_assert_eq(cost(a, "enrich_calls"), 0, "query %d: the lead's state answers", i);
    cr_assert_float_eq(cost(a, "enrich_usd"), 0, 1e-12, "the reservation is given back");
    json_decref(a);
  }
  cr_assert_eq(atomic_load(&fv.requests), 0, "the vendor is not asked again");
  cr_assert_eq(metric("leadpoet_enrich_cache_total{result=\"lead\"}"), 2, "the first query read the leads");
  cr_assert_eq(metric("leadpoet_enrich_cache_total{result=\"hit\"}"), 2, "the second the refilled cache");
  cr_assert_eq(metric("leadpoet_enrich_cache_total{result=\"miss\"}"), 0);
  cr_assert_float_eq(metric("leadpoet_enrich_cache_hit_rate"), 1, 1e-9);
  cr_assert_float_eq(metric("leadpoet_enrich_daily_spent_usd"), 0, 1e-9);
  stop();

  /* Restarted with TTLs the answers have outlived: the vendor is asked again, once each. */
  sleep_ms(1100);
  start((const char *const[]){ "PDL_API_KEY=k", env_dir, "LEADPOET_ENRICH_NEGATIVE_TTL=1s",
                               "LEADPOET_ENRICH_CACHE_TTL=1s", NULL });
  a = query(1);
  cr_assert_eq(cost(a, "enrich_calls"), 2, "both answers are older than their TTL");
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 2);
  cr_assert_eq(metric("leadpoet_enrich_cache_total{result=\"miss\"}"), 2);
  cr_assert_eq(metric("leadpoet_enrich_cache_total{result=\"lead\"}"), 0);
  stop();
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

Test(enrich, a_domain_the_full_cache_forgot_is_answered_by_its_lead) {
  start((const char *const[]){ "PDL_API_KEY=k", "LEADPOET_ENRICH_CACHE_ENTRIES=16", "LEADPOET_ENRICH_MAX_PER_QUERY=100",
                               "LEADPOET_STAGE_THROTTLE_NEAR_DUP_MIN_WORDS=4096", "LEADPOET_STAGE_THROTTLE_BURST=100000",
                               NULL });  /* 18 texts alike but for the domain: not near-duplicates here */
  char names[18][32];
  const char *domains[19];
  for (int i = 0; i < 18; i++) {
    snprintf(names[i], sizeof(names[i]), "unknown-q%c.com", 'a' + i);
    domains[i] = names[i];
  }
  domains[18] = NULL;
  post_leads(domains, 0);
  json_decref(query(1));
  cr_assert_eq(atomic_load(&fv.requests), 18, "every 404 once");
  for (int i = 0; i < 18; i++) profile_sync(domains[i]);
  json_t *a = query(1);  /* the cache holds 16 answers: the 2 it forgot come from their leads */
  cr_assert_eq(cost(a, "enrich_calls"), 0);
  json_decref(a);
  cr_assert_eq(atomic_load(&fv.requests), 18, "not asked again");
  cr_assert_eq(metric("leadpoet_enrich_cache_total{result=\"hit\"}"), 16);
  cr_assert_eq(metric("leadpoet_enrich_cache_total{result=\"lead\"}"), 2);
  cr_assert_eq(metric("leadpoet_enrich_cache_total{result=\"miss\"}"), 18);
  stop();
}

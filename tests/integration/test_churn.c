/* The churn ETL from the outside: snippets with tech_added / tech_removed and tech texts posted over HTTP,
 * then GET /v1/leads/{domain} shows the stack (first_seen, last_seen, in use or removed), the history and
 * the per-category windows; [stage.churn] from the environment names the windows; a query for the
 * category of a removed tool sees the churn trigger. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers/helpers.h"

#define DAY 86400000LL

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *get_json(int port, const char *path) {
  lpt_response r;
  cr_assert_eq(lpt_http(port, "GET", path, NULL, NULL, 0, &r), 0, "GET %s", path);
  cr_assert_eq(r.status, 200, "GET %s: %s", path, r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s", r.body);
  lpt_response_free(&r);
  return j;
}

/* Heroku added 100 days ago by a tech snippet that also names Stripe; Heroku removed and Kubernetes added
 * 10 days ago; 5 days ago a tech snippet that names Heroku as gone. */
static void post_history(int port, long long t) {
  char body[2048];
  snprintf(body, sizeof(body),
           "[{\"id\":\"c1\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"acme-churn.com\",\"name\":\"Acme\"},"
           "\"kind\":\"tech\",\"text\":\"Acme deploys on Heroku and bills with Stripe\",\"tech_added\":[\"Heroku\"]},"
           "{\"id\":\"c2\",\"miner\":\"m2\",\"ts\":%lld,\"lead\":{\"domain\":\"acme-churn.com\"},\"kind\":\"news\","
           "\"text\":\"Acme re-platforms its services\",\"tech_added\":[\"k8s\"],\"tech_removed\":[\"heroku\"]},"
           "{\"id\":\"c3\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"acme-churn.com\"},\"kind\":\"tech\","
           "\"text\":\"Acme moved off Heroku last month\"}]",
           t - 100 * DAY, t - 10 * DAY, t - 5 * DAY);
  lpt_response r;
  cr_assert_eq(lpt_http(port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  cr_assert(strstr(r.body, "\"accepted\":3") != NULL, "%s", r.body);
  lpt_response_free(&r);
}

static json_t *find_by(json_t *arr, const char *key, const char *value) {
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e) {
    const char *v = json_string_value(json_object_get(e, key));
    if (v && strcmp(v, value) == 0) return e;
  }
  return NULL;
}

static long long ival(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  cr_assert(json_is_integer(v), "%s is not an integer", key);
  return (long long)json_integer_value(v);
}

Test(churn_http, profile_shows_stack_history_and_windows, .timeout = 120) {
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0, "server starts");
  long long t = now_ms();
  post_history(s.port, t);
  json_t *lead = get_json(s.port, "/v1/leads/acme-churn.com");
  /* "tech": the names in use now, as before */
  json_t *tech = json_object_get(lead, "tech");
  cr_assert_eq(json_array_size(tech), 2, "stripe (named) and kubernetes (added)");
  /* "stack": every technology over time */
  json_t *stack = json_object_get(lead, "stack");
  json_t *heroku = find_by(stack, "tech", "heroku");
  cr_assert_not_null(heroku);
  cr_assert(json_is_false(json_object_get(heroku, "current")), "a mention never revives a removed tool");
  cr_assert_eq(ival(heroku, "first_seen"), t - 100 * DAY);
  cr_assert_eq(ival(heroku, "last_seen"), t - 100 * DAY);
  cr_assert_eq(ival(heroku, "removed_at"), t - 10 * DAY);
  json_t *stripe = find_by(stack, "tech", "stripe");
  cr_assert_not_null(stripe, "named in a tech snippet: seen");
  cr_assert(json_is_true(json_object_get(stripe, "current")));
  cr_assert(json_is_null(json_object_get(stripe, "removed_at")));
  json_t *k8s = find_by(stack, "tech", "kubernetes");
  cr_assert_not_null(k8s, "aliases resolve to the canonical name");
  cr_assert_eq(ival(k8s, "first_seen"), t - 10 * DAY);
  /* "churn": the changes, oldest first */
  json_t *churn = json_object_get(lead, "churn");
  cr_assert_eq(json_array_size(churn), 3);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(churn, 0), "change")), "added");
  cr_assert_eq(ival(json_array_get(churn, 0), "ts"), t - 100 * DAY);
  /* "churn_categories": PaaS lost Heroku 10 days ago; Containers gained Kubernetes */
  json_t *cats = json_object_get(lead, "churn_categories");
  json_t *paas = find_by(cats, "category", "PaaS");
  cr_assert_not_null(paas, "%s", json_dumps(cats, 0));
  cr_assert_eq(ival(paas, "removed_30d"), 1);
  cr_assert_eq(ival(paas, "removed_90d"), 1);
  cr_assert_eq(ival(paas, "added_90d"), 0, "the add 100 days ago is outside both windows");
  cr_assert(json_is_true(json_object_get(paas, "trigger")));
  json_t *containers = find_by(cats, "category", "Containers");
  cr_assert_not_null(containers, "%s", json_dumps(cats, 0));
  cr_assert_eq(ival(containers, "added_30d"), 1);
  cr_assert(json_is_false(json_object_get(containers, "trigger")));
  json_decref(lead);

  /* A prompt about the category of the removed tool: the lead comes with the trigger. */
  const char *q = "{\"prompt\":\"a PaaS for engineering teams\",\"k\":5}";
  lpt_response r;
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/leads", "application/json", q, strlen(q), &r), 0);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *ans = json_loads(r.body, 0, NULL);
  json_t *hit = find_by(json_object_get(ans, "leads"), "domain", "acme-churn.com");
  cr_assert_not_null(hit, "%s", r.body);
  json_t *sig = json_object_get(hit, "signals");
  cr_assert(json_is_true(json_object_get(sig, "churn_trigger")), "%s", r.body);
  json_decref(ans);
  lpt_response_free(&r);
  cr_assert_eq(lpt_server_stop(&s), 0);
}

Test(churn_http, stage_section_names_the_windows, .timeout = 120) {
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", "LEADPOET_STAGES_ORDER=ingest,churn",
                        "LEADPOET_STAGE_CHURN_WINDOW_SHORT=7d", "LEADPOET_STAGE_CHURN_TEXT_MENTIONS=off", NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0, "server starts");
  long long t = now_ms();
  post_history(s.port, t);
  json_t *lead = get_json(s.port, "/v1/leads/acme-churn.com");
  cr_assert_null(find_by(json_object_get(lead, "stack"), "tech", "stripe"), "mentions are off");
  json_t *paas = find_by(json_object_get(lead, "churn_categories"), "category", "PaaS");
  cr_assert_not_null(paas);
  cr_assert_eq(ival(paas, "removed_7d"), 0, "removed 10 days ago: outside 7 days");
  cr_assert_eq(ival(paas, "removed_90d"), 1);
  json_decref(lead);
  cr_assert_eq(lpt_server_stop(&s), 0);
}

Test(churn_http, bad_stage_section_stops_the_start, .timeout = 60) {
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", "LEADPOET_STAGES_ORDER=ingest,churn",
                        "LEADPOET_STAGE_CHURN_WINDOW_SHORT=120d", NULL };
  lpt_server s;
  cr_assert_neq(lpt_server_start(&s, NULL, env), 0, "window_short longer than window_long is refused");
  size_t n = 0;
  char *log = lpt_read_file(s.log_path, &n);
  cr_assert_not_null(log);
  cr_assert(strstr(log, "window_short") != NULL, "%s", log);
  free(log);
}

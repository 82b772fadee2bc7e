/* GET /v1/miners and /v1/miners/{id} through the binary. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "helpers/helpers.h"

static json_t *get(int port, const char *path, int want) {
  lpt_response r;
  cr_assert_eq(lpt_http(port, "GET", path, NULL, NULL, 0, &r), 0);
  cr_assert_eq(r.status, want, "%s -> %d %s", path, r.status, r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  lpt_response_free(&r);
  return j;
}

Test(integration, miners_are_counted_and_listed, .timeout = 60) {
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, NULL), 0);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  long long t = (long long)ts.tv_sec * 1000;
  char body[2048];
  snprintf(body, sizeof(body),
           "[{\"id\":\"1\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"a.com\"},\"kind\":\"web\",\"text\":\"x\"},"
           "{\"id\":\"2\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"b.com\"},\"kind\":\"web\",\"text\":\"x\"},"
           "{\"id\":\"3\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"b.com\"},\"kind\":\"nope\",\"text\":\"x\"},"
           "{\"id\":\"1\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"a.com\"},\"kind\":\"web\",\"text\":\"x\"},"
           "{\"id\":\"9\",\"miner\":\"m2\",\"ts\":%lld,\"lead\":{\"domain\":\"c.com\"},\"kind\":\"web\",\"text\":\"x\"},"
           "{\"id\":\"9\",\"miner\":\"bad name!\",\"ts\":%lld,\"lead\":{\"domain\":\"c.com\"},\"kind\":\"web\",\"text\":\"x\"}]",
           t, t, t, t, t, t);
  lpt_response r;
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202);
  lpt_response_free(&r);
  json_t *m = get(s.port, "/v1/miners/m1", 200);
  cr_assert_str_eq(json_string_value(json_object_get(m, "miner")), "m1");
  cr_assert_eq(json_integer_value(json_object_get(m, "accepted")), 2);
  cr_assert_eq(json_integer_value(json_object_get(m, "rejected")), 2, "a bad field and a duplicate");
  cr_assert_eq(json_integer_value(json_object_get(m, "throttled")), 0);
  json_t *rep = json_object_get(m, "reputation");
  cr_assert_float_eq(json_real_value(json_object_get(rep, "mean")), 0.5, 1e-9, "a new miner starts uncertain");
  cr_assert_lt(json_real_value(json_object_get(rep, "low")), json_real_value(json_object_get(rep, "high")));
  json_decref(m);
  json_t *l = get(s.port, "/v1/miners", 200);
  json_t *list = json_object_get(l, "miners");
  cr_assert_eq(json_array_size(list), 2, "an invalid miner name is counted against nobody");
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "miner")), "m1");
  json_decref(l);
  l = get(s.port, "/v1/miners?limit=1", 200);
  cr_assert_eq(json_array_size(json_object_get(l, "miners")), 1);
  cr_assert_str_eq(json_string_value(json_object_get(l, "next")), "m1");
  json_decref(l);
  l = get(s.port, "/v1/miners?limit=1&after=m1", 200);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(l, "miners"), 0), "miner")), "m2");
  cr_assert(json_is_null(json_object_get(l, "next")));
  json_decref(l);
  json_decref(get(s.port, "/v1/miners/nobody", 404));
  json_decref(get(s.port, "/v1/miners?limit=0", 400));
  json_decref(get(s.port, "/v1/miners?color=red", 400));
  cr_assert_eq(lpt_server_stop(&s), 0);
}

/*
 * enrich_vendor.c: what enrichment says to the vendors and reads back, and the hit rewriting of the
 * answer (enrich.h).
 *
 * People Data Labs, Company Enrichment API v5: GET /v5/company/enrich?website=DOMAIN, header X-Api-Key.
 * A 200 holds display_name (or name, lower-cased), industry, employee_count and location.country (a
 * lower-case country name, mapped to alpha-2 here). Clearbit, Company API v2: GET
 * /v2/companies/find?domain=DOMAIN, Authorization: Bearer KEY. A 200 holds name, category.industry (or
 * category.naicsCode), metrics.employees and geo.countryCode. Both answer 404 for a company they do not
 * know. Fields a vendor leaves out or sends as null stay unknown; a range of head counts ("51-200") is not
 * a head count and is not used.
 */
#define _GNU_SOURCE  /* memmem */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "server/enrich.h"

/* Longest name or industry taken from a vendor: longer is cut at a UTF-8 boundary. */
#define FIELD_MAX 256

int lp__vendor_request(int vendor, const char *domain, size_t len, const char *key, char *path, size_t path_size,
                       char *header, size_t header_size) {
  int n = vendor == LP_VENDOR_PDL ? snprintf(path, path_size, "/v5/company/enrich?website=%.*s", (int)len, domain)
                                  : snprintf(path, path_size, "/v2/companies/find?domain=%.*s", (int)len, domain);
  if (n < 0 || (size_t)n >= path_size) return LP_ERANGE;
  n = vendor == LP_VENDOR_PDL ? snprintf(header, header_size, "X-Api-Key: %s\r\nAccept: application/json\r\n", key)
                              : snprintf(header, header_size, "Authorization: Bearer %s\r\nAccept: application/json\r\n", key);
  return n < 0 || (size_t)n >= header_size ? LP_ERANGE : LP_OK;
}

void lp__firmo_clear(lp_firmo *f) {
  lp_free(f->name);
  lp_free(f->industry);
  memset(f, 0, sizeof(*f));
}

int lp__firmo_copy(lp_firmo *dst, const lp_firmo *src) {
  memset(dst, 0, sizeof(*dst));
  memcpy(dst->country, src->country, sizeof(dst->country));
  dst->employees = src->employees;
  if ((src->name && (dst->name = lp_strdup(src->name)) == NULL) ||
      (src->industry && (dst->industry = lp_strdup(src->industry)) == NULL)) {
    lp__firmo_clear(dst);
    return LP_ENOMEM;
  }
  return LP_OK;
}

/* member a.b of obj, or NULL (b may be NULL: a alone). */
static json_t *member(json_t *obj, const char *a, const char *b) {
  json_t *v = json_object_get(obj, a);
  return b == NULL || !json_is_object(v) ? (b == NULL ? v : NULL) : json_object_get(v, b);
}

/* A copy of a non-empty string member, cut to FIELD_MAX bytes without splitting a character; *out stays
 * NULL when absent. LP_ENOMEM. */
static int take_str(json_t *v, char **out) {
  if (!json_is_string(v) || json_string_length(v) == 0) return LP_OK;
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (n > FIELD_MAX) {
    n = FIELD_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  }
  if (memchr(s, '\0', n) != NULL) return LP_OK;  /* an embedded NUL: not a name */
  *out = lp_strndup(s, n);
  return *out ? LP_OK : LP_ENOMEM;
}

static void take_count(json_t *v, int64_t *out) {
  if (json_is_integer(v) && json_integer_value(v) > 0) *out = (int64_t)json_integer_value(v);
  else if (json_is_real(v) && json_real_value(v) >= 1 && json_real_value(v) < 1e12) *out = (int64_t)json_real_value(v);
}

/* Two ASCII letters: the code, upper-cased. A longer name: the one country the ICP parser finds in it. */
static void take_country(json_t *v, const lp_icp_parser *icp, char out[3]) {
  if (!json_is_string(v)) return;
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (n == 2 && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1])) {
    out[0] = (char)toupper((unsigned char)s[0]);
    out[1] = (char)toupper((unsigned char)s[1]);
    out[2] = '\0';
    return;
  }
  lp_icp *parsed = NULL;
  if (icp == NULL || n == 0 || n > 128 || lp_icp_parse(icp, s, n, &parsed) != LP_OK) return;
  if (parsed->n_countries == 1 && strlen(parsed->countries[0]) == 2) memcpy(out, parsed->countries[0], 3);
  lp_icp_free(parsed);
}

int lp__vendor_parse(int vendor, const char *body, size_t len, const lp_icp_parser *icp, lp_firmo *f, char *errstr,
                     size_t errstr_size) {
  memset(f, 0, sizeof(*f));
  json_error_t jerr;
  json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object(root)) {
    snprintf(errstr, errstr_size, "vendor answer is not a JSON object: %s", root ? "another type" : jerr.text);
    json_decref(root);
    return LP_EINVAL;
  }
  int rc;
  if (vendor == LP_VENDOR_PDL) {
    json_t *name = member(root, "display_name", NULL);
    rc = take_str(json_is_string(name) && json_string_length(name) ? name : member(root, "name", NULL), &f->name);
    if (rc == LP_OK) rc = take_str(member(root, "industry", NULL), &f->industry);
    take_count(member(root, "employee_count", NULL), &f->employees);
    take_country(member(root, "location", "country"), icp, f->country);
  } else {
    rc = take_str(member(root, "name", NULL), &f->name);
    json_t *industry = member(root, "category", "industry");
    if (rc == LP_OK) rc = take_str(json_is_string(industry) ? industry : member(root, "category", "naicsCode"), &f->industry);
    take_count(member(root, "metrics", "employees"), &f->employees);
    take_country(member(root, "geo", "countryCode"), icp, f->country);
  }
  json_decref(root);
  if (rc != LP_OK) {
    lp__firmo_clear(f);
    snprintf(errstr, errstr_size, "out of memory reading the vendor's answer");
  }
  return rc;
}

/* ---- the answer's hits ------------------------------------------------------------------------------ */

/* exec.c renders a lead as "domain":..., then ,"name":, ,"score":, ,"industry":, ,"employees":,
 * ,"country": and only then signals and evidence. Inside a JSON string a quote is escaped, so these
 * patterns can only be the members themselves. */
static const struct { unsigned bit; const char *pat; } nulls[] = {
  { LP_ENRICH_NAME, ",\"name\":null" },
  { LP_ENRICH_INDUSTRY, ",\"industry\":null" },
  { LP_ENRICH_EMPLOYEES, ",\"employees\":null" },
  { LP_ENRICH_COUNTRY, ",\"country\":null" },
};
#define N_NULLS (sizeof(nulls) / sizeof(nulls[0]))

unsigned lp_enrich_missing(const char *json, size_t len) {
  unsigned m = 0;
  for (size_t i = 0; i < N_NULLS; i++)
    if (memmem(json, len, nulls[i].pat, strlen(nulls[i].pat)) != NULL) m |= nulls[i].bit;
  return m;
}

/* The value f gives for bit, appended as ,"key":VALUE; 0 when f has none. */
static int append_value(lp_buf *out, unsigned bit, const lp_firmo *f) {
  switch (bit) {
  case LP_ENRICH_NAME:
    if (f->name == NULL) return 0;
    lp_buf_puts(out, ",\"name\":");
    lp_buf_json_str(out, f->name, strlen(f->name));
    return 1;
  case LP_ENRICH_INDUSTRY:
    if (f->industry == NULL) return 0;
    lp_buf_puts(out, ",\"industry\":");
    lp_buf_json_str(out, f->industry, strlen(f->industry));
    return 1;
  case LP_ENRICH_EMPLOYEES:
    if (f->employees <= 0) return 0;
    lp_buf_printf(out, ",\"employees\":%lld", (long long)f->employees);
    return 1;
  default:
    if (f->country[0] == '\0') return 0;
    lp_buf_printf(out, ",\"country\":\"%s\"", f->country);
    return 1;
  }
}

int lp_enrich_patch(const char *json, size_t len, unsigned missing, const lp_firmo *f, lp_buf *out) {
  /* Room for the worst case first (an escaped byte takes at most 6), so no append below can fail. */
  size_t extra = len + 96 + 6 * ((f->name ? strlen(f->name) : 0) + (f->industry ? strlen(f->industry) : 0));
  if (lp_buf_reserve(out, extra) != LP_OK) return LP_ENOMEM;
  size_t at = 0;
  for (;;) {  /* the next null member to replace, in the order it appears */
    const char *best = NULL;
    size_t which = 0;
    for (size_t i = 0; i < N_NULLS; i++) {
      if (!(missing & nulls[i].bit)) continue;
      const char *p = memmem(json + at, len - at, nulls[i].pat, strlen(nulls[i].pat));
      if (p != NULL && (best == NULL || p < best)) best = p, which = i;
    }
    if (best == NULL) break;
    lp_buf_append(out, json + at, (size_t)(best - (json + at)));
    if (!append_value(out, nulls[which].bit, f)) lp_buf_puts(out, nulls[which].pat);
    at = (size_t)(best - json) + strlen(nulls[which].pat);
    missing &= ~nulls[which].bit;
  }
  return lp_buf_append(out, json + at, len - at);
}

/*
 * domain_set.c: the B2B guard's lists (free-mail and disposable-mail domains) as an open-addressing set of
 * XXH3-64 hashes. ~136,000 domains fit in 2 MiB; a lookup is one hash per parent domain and a probe or two.
 * A hash collision could only make a business domain look like a consumer one with probability ~1e-14
 * per lookup, which the lists' own errors dwarf.
 */
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "base/embed.h"
#include "stages/ingest/ingest.h"

LP_EMBED_DECLARE(lp_data_free_email_domains);
LP_EMBED_DECLARE(lp_data_disposable_email_domains);

struct lp_domain_set {
  uint64_t *slots;  /* 0 = empty; a hash of 0 is stored as 1 */
  size_t mask;      /* slots - 1, slots a power of two */
  size_t count;
};

static uint64_t set_hash(const char *s, size_t n) {
  uint64_t h = XXH3_64bits(s, n);
  return h ? h : 1;
}

static void set_insert(lp_domain_set *s, uint64_t h) {
  size_t i = (size_t)h & s->mask;
  while (s->slots[i] != 0) {
    if (s->slots[i] == h) return;
    i = (i + 1) & s->mask;
  }
  s->slots[i] = h;
  s->count++;
}

static int set_has(const lp_domain_set *s, uint64_t h) {
  size_t i = (size_t)h & s->mask;
  while (s->slots[i] != 0) {
    if (s->slots[i] == h) return 1;
    i = (i + 1) & s->mask;
  }
  return 0;
}

/* Counts the lines of the texts so the table can be sized once (load factor <= 1/2). */
static size_t count_lines(const char *t, size_t n) {
  size_t c = 1;
  for (size_t i = 0; i < n; i++) c += t[i] == '\n';
  return c;
}

/* Canonicalises and inserts every line of text; returns how many were skipped as not a hostname. */
static size_t add_lines(lp_domain_set *s, const char *t, size_t n) {
  size_t skipped = 0, i = 0;
  while (i < n) {
    const char *line = t + i;
    const char *nl = memchr(line, '\n', n - i);
    size_t ll = nl ? (size_t)(nl - line) : n - i;
    i += ll + 1;
    while (ll > 0 && (line[ll - 1] == '\r' || line[ll - 1] == ' ' || line[ll - 1] == '\t')) ll--;
    if (ll == 0 || line[0] == '#') continue;
    char canon[LP_DOMAIN_BUF];
    size_t cl = 0;
    if (lp_domain_canonicalize(line, ll, canon, sizeof(canon), &cl, NULL) != LP_OK) {
      skipped++;
      continue;
    }
    set_insert(s, set_hash(canon, cl));
  }
  return skipped;
}

static int set_new(size_t expected, lp_domain_set **out) {
  size_t slots = 64;
  while (slots < expected * 2) slots <<= 1;
  lp_domain_set *s = lp_calloc(1, sizeof(*s));
  if (!s) return LP_ENOMEM;
  s->slots = lp_calloc(slots, sizeof(uint64_t));
  if (!s->slots) {
    lp_free(s);
    return LP_ENOMEM;
  }
  s->mask = slots - 1;
  *out = s;
  return LP_OK;
}

int lp_domain_set_from_text(const char *text, size_t len, lp_domain_set **out) {
  lp_domain_set *s = NULL;
  int rc;
  *out = NULL;
  if ((rc = set_new(count_lines(text, len), &s)) != LP_OK) return rc;
  add_lines(s, text, len);
  *out = s;
  return LP_OK;
}

int lp_domain_set_builtin(lp_domain_set **out) {
  const char *fr = (const char *)lp_data_free_email_domains;
  const char *di = (const char *)lp_data_disposable_email_domains;
  size_t frn = lp_data_free_email_domains_len, din = lp_data_disposable_email_domains_len;
  lp_domain_set *s = NULL;
  int rc;
  *out = NULL;
  if ((rc = set_new(count_lines(fr, frn) + count_lines(di, din), &s)) != LP_OK) return rc;
  add_lines(s, fr, frn);
  add_lines(s, di, din);
  *out = s;
  return LP_OK;
}

void lp_domain_set_free(lp_domain_set *s) {
  if (!s) return;
  lp_free(s->slots);
  lp_free(s);
}

size_t lp_domain_set_size(const lp_domain_set *s) {
  return s ? s->count : 0;
}

int lp_domain_set_contains(const lp_domain_set *s, const char *domain, size_t n) {
  if (!s || !domain) return 0;
  for (size_t i = 0; i < n;) {
    if (set_has(s, set_hash(domain + i, n - i))) return 1;
    const char *dot = memchr(domain + i, '.', n - i);
    if (!dot) break;
    i = (size_t)(dot - domain) + 1;
  }
  return 0;
}

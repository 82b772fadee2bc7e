/*
 * techtable.c: loads the technology table (config/data/technologies.tsv, format in config/data/README.md)
 * into compact arrays and three open-addressing hash indexes over normalised keys (XXH3-64):
 *   names: a technology's name or alias, words joined by one space -> technology id
 *   words: every word of every such key -> the longest key (in words) starting with it, and a "known"
 *          bit, so that the analyzer keeps "node.js" whole but splits an unknown "e.g."
 *   cats:  a category's name or synonym -> category id (dense, 0..count-1, in file order)
 */
#include "text/techtable.h"

#include <stdarg.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/embed.h"
#include "text/norm.h"
#include "text/techtable_int.h"

LP_EMBED_DECLARE(lp_data_technologies);

#define EMPTY UINT32_MAX
#define WORD_KNOWN LP__TECH_WORD_KNOWN
#define MAX_FIELDS 6
#define CATEGORY_MAX_WORDS 6   /* longest category name or synonym that lp_techtable_category_match tries */
#define WORD_BITS_LOG 18
#define WORD_BITS (1u << WORD_BITS_LOG)
#define WORD_BIT(h) ((uint32_t)((h) >> (64 - WORD_BITS_LOG)))

typedef struct ht_slot {
  uint64_t hash;
  uint32_t key_off;   /* in t->keys */
  uint32_t key_len;
  uint32_t value;     /* EMPTY when the slot is free */
} ht_slot;

typedef struct ht {
  ht_slot *slots;
  size_t mask;
  size_t n;
} ht;

struct lp_techtable {
  lp_tech_info *techs;
  size_t n_techs, cap_techs;
  uint32_t *desc_off;      /* per technology, in pool */
  uint32_t *name_off;      /* per technology: name, display offsets in pool (build time) */
  uint32_t *display_off;
  uint32_t *cat_first;     /* per technology: first index in cats */
  uint16_t *cats;
  size_t n_cats_used, cap_cats;
  uint32_t *cat_name_off;  /* per category, in pool */
  const char **cat_names;
  uint32_t n_categories, cap_categories;
  lp_buf pool;             /* NUL-terminated strings */
  lp_buf keys;             /* hash keys, not terminated */
  ht names, words, catkeys;
  /* One bit per (top bits of the) hash of every word in t->words: most words of a text are in no
   * technology name, and this 32 KiB filter answers them without touching the 24-byte slots. */
  uint64_t word_bits[WORD_BITS / 64];
};

/* Build-time state: scratch buffers and the aliases, inserted after every canonical name. */
typedef struct builder {
  lp_techtable *t;
  lp__norm_scratch ns;
  lp_buf tmp, key;
  int32_t *cat_map;        /* source category id -> dense id, -1 when undefined */
  uint32_t *alias_tech;    /* pending aliases: technology id and line */
  uint32_t *alias_line;
  uint32_t *alias_off;     /* in alias_text */
  size_t n_alias, cap_alias;
  lp_buf alias_text;
  char *errstr;
  size_t errstr_size;
} builder;

static uint64_t hash_bytes(const char *p, size_t n) {
  return XXH3_64bits(p, n);
}

static int ht_grow(ht *h) {
  size_t cap = h->slots ? (h->mask + 1) * 2 : 1024;
  ht_slot *s = lp_malloc(cap * sizeof *s);
  if (!s) return LP_ENOMEM;
  for (size_t i = 0; i < cap; i++) s[i].value = EMPTY;
  for (size_t i = 0; h->slots && i <= h->mask; i++) {
    if (h->slots[i].value == EMPTY) continue;
    size_t j = h->slots[i].hash & (cap - 1);
    while (s[j].value != EMPTY) j = (j + 1) & (cap - 1);
    s[j] = h->slots[i];
  }
  lp_free(h->slots);
  h->slots = s;
  h->mask = cap - 1;
  return LP_OK;
}

static ht_slot *ht_lookup(const ht *h, const lp_buf *keys, const char *k, size_t n, uint64_t hv) {
  if (!h->slots) return NULL;
  for (size_t j = hv & h->mask;; j = (j + 1) & h->mask) {
    ht_slot *s = &h->slots[j];
    if (s->value == EMPTY) return NULL;
    if (s->hash == hv && s->key_len == n && memcmp(keys->data + s->key_off, k, n) == 0) return s;
  }
}

/* Finds or adds key k; *slot is the slot, *added tells whether it is new (value then to be set). */
static int ht_upsert(ht *h, lp_buf *keys, const char *k, size_t n, ht_slot **slot, int *added) {
  uint64_t hv = hash_bytes(k, n);
  ht_slot *s = ht_lookup(h, keys, k, n, hv);
  if (s) {
    *slot = s;
    *added = 0;
    return LP_OK;
  }
  if ((h->n + 1) * 2 > (h->slots ? h->mask + 1 : 0) && ht_grow(h) != LP_OK) return LP_ENOMEM;
  if (keys->len > UINT32_MAX - n || lp_buf_append(keys, k, n) != LP_OK) return LP_ENOMEM;
  size_t j = hv & h->mask;
  while (h->slots[j].value != EMPTY) j = (j + 1) & h->mask;
  h->slots[j] = (ht_slot){ hv, (uint32_t)(keys->len - n), (uint32_t)n, 0 };
  h->n++;
  *slot = &h->slots[j];
  *added = 1;
  return LP_OK;
}

static int fail(builder *b, size_t line, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Writes "technology table line N: <message>" into the caller's errstr and returns rc. */
static int fail(builder *b, size_t line, int rc, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (b->errstr && b->errstr_size) {
    if (line) snprintf(b->errstr, b->errstr_size, "technology table line %zu: %s", line, msg);
    else snprintf(b->errstr, b->errstr_size, "technology table: %s", msg);
  }
  return rc;
}

static int pool_add(lp_buf *pool, const char *s, size_t n, uint32_t *off) {
  if (pool->len + n + 1 > UINT32_MAX) return LP_ENOMEM;
  *off = (uint32_t)pool->len;
  if (lp_buf_append(pool, s, n) != LP_OK || lp_buf_append(pool, "", 1) != LP_OK) return LP_ENOMEM;
  return LP_OK;
}

/* Records every word of key in the words index: the first with the key's length (n_words; 0 for a category
 * key, which starts no technology), all as known. */
static int index_words(builder *b, const char *key, size_t n, uint32_t n_words) {
  lp_techtable *t = b->t;
  size_t i = 0, w = 0;
  while (i < n) {
    size_t e = i;
    while (e < n && key[e] != ' ') e++;
    ht_slot *s;
    int added;
    if (ht_upsert(&t->words, &t->keys, key + i, e - i, &s, &added) != LP_OK) return LP_ENOMEM;
    uint32_t bit = WORD_BIT(s->hash);
    t->word_bits[bit / 64] |= 1ull << (bit % 64);
    uint32_t v = s->value | WORD_KNOWN;
    if (w == 0 && (v & 0xFFu) < n_words) v = (v & ~0xFFu) | (n_words > 255 ? 255 : n_words);
    s->value = v;
    i = e + 1;
    w++;
  }
  return LP_OK;
}

static uint32_t count_words(const char *key, size_t n) {
  uint32_t w = n ? 1 : 0;
  for (size_t i = 0; i < n; i++) w += key[i] == ' ';
  return w;
}

/* Splits line[0..n) at tabs into at most MAX_FIELDS fields; returns the count, or MAX_FIELDS + 1 when
 * there are more. */
static size_t split_fields(const char *line, size_t n, lp_str *f) {
  size_t k = 0, start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && line[i] != '\t') continue;
    if (k == MAX_FIELDS) return MAX_FIELDS + 1;
    f[k++] = (lp_str){ line + start, i - start };
    start = i + 1;
  }
  return k;
}

static int parse_uint(lp_str s, uint32_t max, uint32_t *out) {
  if (s.len == 0 || s.len > 9) return LP_EINVAL;
  uint32_t v = 0;
  for (size_t i = 0; i < s.len; i++) {
    if (s.ptr[i] < '0' || s.ptr[i] > '9') return LP_EINVAL;
    v = v * 10 + (uint32_t)(s.ptr[i] - '0');
  }
  if (v > max) return LP_ERANGE;
  *out = v;
  return LP_OK;
}

static int add_category_key(builder *b, size_t line, const char *s, size_t n, uint32_t cat) {
  if (lp__text_key(&b->ns, s, n, &b->tmp, &b->key) != LP_OK) return fail(b, line, LP_ENOMEM, "%s", "out of memory");
  if (b->key.len == 0) return fail(b, line, LP_EINVAL, "%s", "a category name or synonym has no words");
  ht_slot *slot;
  int added;
  if (ht_upsert(&b->t->catkeys, &b->t->keys, b->key.data, b->key.len, &slot, &added) != LP_OK) {
    return fail(b, line, LP_ENOMEM, "%s", "out of memory");
  }
  if (!added) return fail(b, line, LP_EEXIST, "category name or synonym \"%s\" is used twice", b->key.data);
  slot->value = cat;
  /* Its words are known (the analyzer keeps "e-commerce" whole) but start no technology. */
  if (index_words(b, b->key.data, b->key.len, 0) != LP_OK) return fail(b, line, LP_ENOMEM, "%s", "out of memory");
  return LP_OK;
}

static int parse_category(builder *b, size_t line, const lp_str *f, size_t nf) {
  lp_techtable *t = b->t;
  if (nf < 3 || nf > 4) return fail(b, line, LP_EINVAL, "%s", "a C line has 3 or 4 tab-separated fields");
  uint32_t src;
  if (parse_uint(f[1], 65535, &src) != LP_OK) return fail(b, line, LP_EINVAL, "%s", "bad category id");
  if (b->cat_map[src] >= 0) return fail(b, line, LP_EEXIST, "%s", "category id defined twice");
  if (f[2].len == 0) return fail(b, line, LP_EINVAL, "%s", "empty category name");
  if (t->n_categories == 65535) return fail(b, line, LP_ERANGE, "%s", "too many categories");
  if (t->n_categories == t->cap_categories) {
    uint32_t cap = t->cap_categories ? t->cap_categories * 2 : 128;
    uint32_t *p = lp_realloc(t->cat_name_off, cap * sizeof *p);
    if (!p) return fail(b, line, LP_ENOMEM, "%s", "out of memory");
    t->cat_name_off = p;
    t->cap_categories = cap;
  }
  uint32_t id = t->n_categories;
  if (pool_add(&t->pool, f[2].ptr, f[2].len, &t->cat_name_off[id]) != LP_OK) {
    return fail(b, line, LP_ENOMEM, "%s", "out of memory");
  }
  int rc = add_category_key(b, line, f[2].ptr, f[2].len, id);
  for (size_t i = 0; rc == LP_OK && nf == 4 && i < f[3].len;) {
    size_t e = i;
    while (e < f[3].len && f[3].ptr[e] != '|') e++;
    rc = add_category_key(b, line, f[3].ptr + i, e - i, id);
    i = e + 1;
  }
  if (rc != LP_OK) return rc;
  b->cat_map[src] = (int32_t)id;
  t->n_categories++;
  return LP_OK;
}

static int grow_techs(lp_techtable *t) {
  size_t cap = t->cap_techs ? t->cap_techs * 2 : 1024;
  lp_tech_info *ti = lp_realloc(t->techs, cap * sizeof *ti);
  if (!ti) return LP_ENOMEM;
  t->techs = ti;
  uint32_t **arrs[] = { &t->desc_off, &t->name_off, &t->display_off, &t->cat_first };
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) {
    uint32_t *p = lp_realloc(*arrs[i], cap * sizeof *p);
    if (!p) return LP_ENOMEM;
    *arrs[i] = p;
  }
  t->cap_techs = cap;
  return LP_OK;
}

static int add_cat_ref(lp_techtable *t, uint16_t c) {
  if (t->n_cats_used == t->cap_cats) {
    size_t cap = t->cap_cats ? t->cap_cats * 2 : 4096;
    uint16_t *p = lp_realloc(t->cats, cap * sizeof *p);
    if (!p) return LP_ENOMEM;
    t->cats = p;
    t->cap_cats = cap;
  }
  t->cats[t->n_cats_used++] = c;
  return LP_OK;
}

static int queue_alias(builder *b, size_t line, uint32_t tech, const char *s, size_t n) {
  if (b->n_alias == b->cap_alias) {
    size_t cap = b->cap_alias ? b->cap_alias * 2 : 4096;
    uint32_t *a = lp_realloc(b->alias_tech, cap * sizeof *a);
    if (a) b->alias_tech = a;
    uint32_t *l = a ? lp_realloc(b->alias_line, cap * sizeof *l) : NULL;
    if (l) b->alias_line = l;
    uint32_t *o = l ? lp_realloc(b->alias_off, cap * sizeof *o) : NULL;
    if (!o) return LP_ENOMEM;
    b->alias_off = o;
    b->cap_alias = cap;
  }
  uint32_t off;
  if (pool_add(&b->alias_text, s, n, &off) != LP_OK) return LP_ENOMEM;
  b->alias_tech[b->n_alias] = tech;
  b->alias_line[b->n_alias] = (uint32_t)line;
  b->alias_off[b->n_alias++] = off;
  return LP_OK;
}

static int parse_tech(builder *b, size_t line, const lp_str *f, size_t nf) {
  lp_techtable *t = b->t;
  if (nf < 5 || nf > 6) return fail(b, line, LP_EINVAL, "%s", "a T line has 5 or 6 tab-separated fields");
  if (f[1].len == 0 || f[2].len == 0) return fail(b, line, LP_EINVAL, "%s", "empty technology name");
  if (t->n_techs >= LP_TECH_NONE - 1) return fail(b, line, LP_ERANGE, "%s", "too many technologies");
  if (t->n_techs == t->cap_techs && grow_techs(t) != LP_OK) return fail(b, line, LP_ENOMEM, "%s", "out of memory");
  uint32_t id = (uint32_t)t->n_techs;
  if (lp__text_key(&b->ns, f[1].ptr, f[1].len, &b->tmp, &b->key) != LP_OK) {
    return fail(b, line, LP_ENOMEM, "%s", "out of memory");
  }
  if (b->key.len == 0) return fail(b, line, LP_EINVAL, "%s", "a technology name has no words");
  ht_slot *slot;
  int added;
  if (ht_upsert(&t->names, &t->keys, b->key.data, b->key.len, &slot, &added) != LP_OK) {
    return fail(b, line, LP_ENOMEM, "%s", "out of memory");
  }
  if (!added) return fail(b, line, LP_EEXIST, "technology \"%s\" is defined twice", b->key.data);
  slot->value = id;
  uint32_t nw = count_words(b->key.data, b->key.len);
  if (index_words(b, b->key.data, b->key.len, nw) != LP_OK) return fail(b, line, LP_ENOMEM, "%s", "out of memory");
  lp_tech_info *ti = &t->techs[id];
  *ti = (lp_tech_info){ .id = id, .n_words = nw };
  t->cat_first[id] = (uint32_t)t->n_cats_used;
  for (size_t i = 0; i < f[4].len;) {
    size_t e = i;
    while (e < f[4].len && f[4].ptr[e] != ',') e++;
    uint32_t src;
    if (parse_uint((lp_str){ f[4].ptr + i, e - i }, 65535, &src) != LP_OK || b->cat_map[src] < 0) {
      return fail(b, line, LP_EINVAL, "%s", "a category id that no C line above defines");
    }
    if (add_cat_ref(t, (uint16_t)b->cat_map[src]) != LP_OK) return fail(b, line, LP_ENOMEM, "%s", "out of memory");
    ti->n_categories++;
    i = e + 1;
  }
  for (size_t i = 0; i < f[3].len;) {
    size_t e = i;
    while (e < f[3].len && f[3].ptr[e] != '|') e++;
    if (e > i && queue_alias(b, line, id, f[3].ptr + i, e - i) != LP_OK) {
      return fail(b, line, LP_ENOMEM, "%s", "out of memory");
    }
    i = e + 1;
  }
  lp_str desc = nf == 6 ? f[5] : (lp_str){ "", 0 };
  if (pool_add(&t->pool, f[1].ptr, f[1].len, &t->name_off[id]) != LP_OK ||
      pool_add(&t->pool, f[2].ptr, f[2].len, &t->display_off[id]) != LP_OK ||
      pool_add(&t->pool, desc.ptr, desc.len, &t->desc_off[id]) != LP_OK) {
    return fail(b, line, LP_ENOMEM, "%s", "out of memory");
  }
  t->n_techs++;
  return LP_OK;
}

/* Aliases after every canonical name: an alias never takes a name's place. An alias that two technologies
 * claim, or that normalises to a taken key, names no one: it is refused with its line. */
static int add_aliases(builder *b) {
  lp_techtable *t = b->t;
  for (size_t i = 0; i < b->n_alias; i++) {
    const char *a = b->alias_text.data + b->alias_off[i];
    if (lp__text_key(&b->ns, a, strlen(a), &b->tmp, &b->key) != LP_OK) return fail(b, 0, LP_ENOMEM, "%s", "out of memory");
    if (b->key.len == 0) return fail(b, b->alias_line[i], LP_EINVAL, "alias \"%s\" has no words", a);
    ht_slot *slot;
    int added;
    if (ht_upsert(&t->names, &t->keys, b->key.data, b->key.len, &slot, &added) != LP_OK) {
      return fail(b, 0, LP_ENOMEM, "%s", "out of memory");
    }
    if (!added && slot->value != b->alias_tech[i]) {
      return fail(b, b->alias_line[i], LP_EEXIST, "alias \"%s\" is already a name or another alias", a);
    }
    slot->value = b->alias_tech[i];
    if (index_words(b, b->key.data, b->key.len, count_words(b->key.data, b->key.len)) != LP_OK) {
      return fail(b, 0, LP_ENOMEM, "%s", "out of memory");
    }
  }
  return LP_OK;
}

/* Pointers into the pool once it no longer moves. */
static int finish(lp_techtable *t) {
  t->cat_names = lp_malloc((t->n_categories + 1) * sizeof *t->cat_names);
  if (!t->cat_names) return LP_ENOMEM;
  for (uint32_t c = 0; c < t->n_categories; c++) t->cat_names[c] = t->pool.data + t->cat_name_off[c];
  for (size_t i = 0; i < t->n_techs; i++) {
    lp_tech_info *ti = &t->techs[i];
    ti->name = t->pool.data + t->name_off[i];
    ti->display = t->pool.data + t->display_off[i];
    ti->categories = t->cats ? t->cats + t->cat_first[i] : NULL;
  }
  return LP_OK;
}

static int valid_utf8(const char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    if ((uint8_t)s[i] < 0x80) {
      i++;
      continue;
    }
    int32_t c;
    utf8proc_ssize_t step = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
    if (step <= 0) return 0;
    i += (size_t)step;
  }
  return 1;
}

static int parse_lines(builder *b, const char *text, size_t len) {
  size_t line = 0;
  for (size_t i = 0; i < len;) {
    size_t e = i;
    while (e < len && text[e] != '\n') e++;
    size_t n = e - i;
    line++;
    if (n > 0 && text[i + n - 1] == '\r') n--;
    const char *l = text + i;
    i = e + 1;
    if (n == 0 || l[0] == '#') continue;
    if (memchr(l, '\0', n)) return fail(b, line, LP_EINVAL, "%s", "a NUL byte");
    if (!valid_utf8(l, n)) return fail(b, line, LP_EINVAL, "%s", "invalid UTF-8");
    lp_str f[MAX_FIELDS];
    size_t nf = split_fields(l, n, f);
    if (nf > MAX_FIELDS) return fail(b, line, LP_EINVAL, "%s", "too many tab-separated fields");
    int rc;
    if (f[0].len == 1 && f[0].ptr[0] == 'C') rc = parse_category(b, line, f, nf);
    else if (f[0].len == 1 && f[0].ptr[0] == 'T') rc = parse_tech(b, line, f, nf);
    else rc = fail(b, line, LP_EINVAL, "%s", "a line starts with C, T or #");
    if (rc != LP_OK) return rc;
  }
  return LP_OK;
}

int lp_techtable_from_text(lp_techtable **out, const char *text, size_t len, char *errstr, size_t errstr_size) {
  *out = NULL;
  builder b = { .ns = LP__NORM_SCRATCH_INIT, .tmp = LP_BUF_INIT, .key = LP_BUF_INIT, .alias_text = LP_BUF_INIT,
                .errstr = errstr, .errstr_size = errstr_size };
  b.t = lp_calloc(1, sizeof *b.t);
  b.cat_map = lp_malloc(65536 * sizeof *b.cat_map);
  int rc = b.t && b.cat_map ? LP_OK : fail(&b, 0, LP_ENOMEM, "%s", "out of memory");
  if (rc == LP_OK) {
    memset(b.cat_map, 0xFF, 65536 * sizeof *b.cat_map);   /* every id -1: undefined */
    rc = parse_lines(&b, text, len);
  }
  if (rc == LP_OK) rc = add_aliases(&b);
  if (rc == LP_OK && finish(b.t) != LP_OK) rc = fail(&b, 0, LP_ENOMEM, "%s", "out of memory");
  lp__norm_scratch_free(&b.ns);
  lp_buf_free(&b.tmp);
  lp_buf_free(&b.key);
  lp_buf_free(&b.alias_text);
  lp_free(b.alias_tech);
  lp_free(b.alias_line);
  lp_free(b.alias_off);
  lp_free(b.cat_map);
  if (rc != LP_OK) {
    lp_techtable_free(b.t);
    return rc;
  }
  *out = b.t;
  return LP_OK;
}

int lp_techtable_builtin(lp_techtable **out, char *errstr, size_t errstr_size) {
  return lp_techtable_from_text(out, (const char *)lp_data_technologies, lp_data_technologies_len, errstr,
                                errstr_size);
}

void lp_techtable_free(lp_techtable *t) {
  if (!t) return;
  lp_free(t->techs);
  lp_free(t->desc_off);
  lp_free(t->name_off);
  lp_free(t->display_off);
  lp_free(t->cat_first);
  lp_free(t->cats);
  lp_free(t->cat_name_off);
  lp_free(t->cat_names);
  lp_buf_free(&t->pool);
  lp_buf_free(&t->keys);
  lp_free(t->names.slots);
  lp_free(t->words.slots);
  lp_free(t->catkeys.slots);
  lp_free(t);
}

size_t lp_techtable_count(const lp_techtable *t) {
  return t->n_techs;
}

const lp_tech_info *lp_techtable_at(const lp_techtable *t, uint32_t id) {
  return id < t->n_techs ? &t->techs[id] : NULL;
}

const char *lp_techtable_description(const lp_techtable *t, uint32_t id) {
  return id < t->n_techs ? t->pool.data + t->desc_off[id] : NULL;
}

/* Normalises name into a key and looks it up in h; LP_TECH_NONE when unknown. */
static uint32_t find_key(const lp_techtable *t, const ht *h, const char *name, size_t len) {
  lp__norm_scratch ns = LP__NORM_SCRATCH_INIT;
  lp_buf tmp = LP_BUF_INIT, key = LP_BUF_INIT;
  uint32_t v = LP_TECH_NONE;
  if (lp__text_key(&ns, name, len, &tmp, &key) == LP_OK && key.len > 0) {
    ht_slot *s = ht_lookup(h, &t->keys, key.data, key.len, hash_bytes(key.data, key.len));
    if (s) v = s->value;
  }
  lp__norm_scratch_free(&ns);
  lp_buf_free(&tmp);
  lp_buf_free(&key);
  return v;
}

const lp_tech_info *lp_techtable_find(const lp_techtable *t, const char *name, size_t len) {
  uint32_t id = find_key(t, &t->names, name, len);
  return id == LP_TECH_NONE ? NULL : &t->techs[id];
}

uint32_t lp_techtable_category_count(const lp_techtable *t) {
  return t->n_categories;
}

const char *lp_techtable_category_name(const lp_techtable *t, uint32_t category) {
  return category < t->n_categories ? t->cat_names[category] : NULL;
}

int lp_techtable_category_find(const lp_techtable *t, const char *name, size_t len) {
  uint32_t id = find_key(t, &t->catkeys, name, len);
  return id == LP_TECH_NONE ? -1 : (int)id;
}

uint32_t lp__techtable_word_h(const lp_techtable *t, const char *w, size_t len, uint64_t hash) {
  uint32_t bit = WORD_BIT(hash);
  if (!(t->word_bits[bit / 64] & (1ull << (bit % 64)))) return 0;
  ht_slot *s = ht_lookup(&t->words, &t->keys, w, len, hash);
  return s ? s->value : 0;
}

uint32_t lp__techtable_word(const lp_techtable *t, const char *w, size_t len) {
  return lp__techtable_word_h(t, w, len, hash_bytes(w, len));
}

const lp_tech_info *lp__techtable_match_h(const lp_techtable *t, const lp_str *words, size_t n, uint64_t hash0,
                                          size_t *used) {
  *used = 0;
  if (n == 0) return NULL;
  size_t longest = lp__techtable_word_h(t, words[0].ptr, words[0].len, hash0) & 0xFFu;
  if (longest > n) longest = n;
  char buf[512];
  for (size_t m = longest; m > 0; m--) {
    size_t len = 0;
    int fits = 1;
    for (size_t i = 0; i < m && fits; i++) {
      if (len + words[i].len + 1 > sizeof buf) fits = 0;
      else {
        if (i) buf[len++] = ' ';
        memcpy(buf + len, words[i].ptr, words[i].len);
        len += words[i].len;
      }
    }
    if (!fits) continue;
    ht_slot *s = ht_lookup(&t->names, &t->keys, buf, len, m == 1 ? hash0 : hash_bytes(buf, len));
    if (s) {
      *used = m;
      return &t->techs[s->value];
    }
  }
  return NULL;
}

const lp_tech_info *lp_techtable_match(const lp_techtable *t, const lp_str *words, size_t n, size_t *used) {
  *used = 0;
  if (n == 0) return NULL;
  return lp__techtable_match_h(t, words, n, hash_bytes(words[0].ptr, words[0].len), used);
}

int lp_techtable_category_match(const lp_techtable *t, const lp_str *words, size_t n, size_t *used) {
  *used = 0;
  char buf[256];
  for (size_t m = n < CATEGORY_MAX_WORDS ? n : CATEGORY_MAX_WORDS; m > 0; m--) {
    size_t len = 0;
    int fits = 1;
    for (size_t i = 0; i < m && fits; i++) {
      if (len + words[i].len + 1 > sizeof buf) fits = 0;
      else {
        if (i) buf[len++] = ' ';
        memcpy(buf + len, words[i].ptr, words[i].len);
        len += words[i].len;
      }
    }
    if (!fits) continue;
    ht_slot *s = ht_lookup(&t->catkeys, &t->keys, buf, len, hash_bytes(buf, len));
    if (s) {
      *used = m;
      return (int)s->value;
    }
  }
  return -1;
}

void lp_techtable_canonical(const lp_techtable *tech, const char *name, size_t len, char *out, size_t cap) {
  const lp_tech_info *t = tech ? lp_techtable_find(tech, name, len) : NULL;
  if (t != NULL) {
    snprintf(out, cap, "%s", t->name);
    return;
  }
  size_t n = len < cap - 1 ? len : cap - 1;
  for (size_t i = 0; i < n; i++) out[i] = (char)tolower((unsigned char)name[i]);
  out[n] = '\0';
}

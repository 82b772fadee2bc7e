/* techtable_int.h (internal to core/text/): what the analyzer asks the technology table about a word. */
#ifndef LP_TECHTABLE_INT_H
#define LP_TECHTABLE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "text/techtable.h"

/* Bit of lp__techtable_word's answer: the word is part of some technology name or alias. */
#define LP__TECH_WORD_KNOWN 0x100u

/* About a normalised word: the low 8 bits are the length (in words) of the longest name or alias that
 * starts with it (0: none), plus LP__TECH_WORD_KNOWN. 0 for a word the table does not know. Any thread. */
uint32_t lp__techtable_word(const lp_techtable *t, const char *w, size_t len);
/* The same with the word's XXH3-64 hash (lp_term_hash) already computed. */
uint32_t lp__techtable_word_h(const lp_techtable *t, const char *w, size_t len, uint64_t hash);
/* lp_techtable_match with the first word's XXH3-64 hash already computed. */
const lp_tech_info *lp__techtable_match_h(const lp_techtable *t, const lp_str *words, size_t n, uint64_t hash0,
                                          size_t *used);

#endif

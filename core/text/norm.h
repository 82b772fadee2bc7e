/*
 * norm.h (internal to core/text/): the text normaliser and the word scanner shared by the analyzer and the
 * technology table, so that a technology's name and a snippet's words are cut and folded the same way.
 *
 * Normal form: NFKC, Unicode case folding, default-ignorable code points removed, and the nonspacing marks
 * of Latin, Greek and Cyrillic letters removed ("café" -> "cafe", "Ｓｔｒｉｐｅ" -> "stripe", "ﬁ" -> "fi",
 * "STRASSE" and "straße" -> "strasse"). Marks of other scripts are kept: in Devanagari or Arabic a mark is
 * part of the spelling, and utf8proc's STRIPMARK (which removes every mark) would merge distinct words.
 * Invalid UTF-8 bytes become U+FFFD, a separator. ASCII runs take a table-driven fast path.
 *
 * Words: maximal runs of letters, digits and marks, joined by the connectors '.', '#', '+', '-' ("node.js",
 * "c++", "x-cart"); a single leading '.' is kept (".net") and trailing '+'/'#' too ("c#"), other leading and
 * trailing connectors are not part of the word. A word with a connector that the technology table does not
 * know is split by the caller into its pieces (lp__text_next_piece).
 *
 * Threads: the scratch struct belongs to one thread; the functions keep no other state.
 */
#ifndef LP_TEXT_NORM_H
#define LP_TEXT_NORM_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct lp__norm_scratch {
  int32_t *cp;     /* decoded and decomposed code points of one non-ASCII run */
  size_t cp_cap;
} lp__norm_scratch;

#define LP__NORM_SCRATCH_INIT { NULL, 0 }

void lp__norm_scratch_free(lp__norm_scratch *s);

/* Appends the normal form of in[0..len) to out. Never fails on bad input (invalid bytes become U+FFFD);
 * LP_ENOMEM when a buffer cannot grow. */
int lp__text_normalize(lp__norm_scratch *s, const char *in, size_t len, lp_buf *out);

/* Finds the next word of normalised text s[0..len) at or after *pos. Returns 1 with the word at
 * s[*off..*off+*wlen) and *pos moved past it, 0 at the end. *has_conn tells whether it holds a connector. */
int lp__text_next_word(const char *s, size_t len, size_t *pos, size_t *off, size_t *wlen, int *has_conn);

/* The pieces of a word between its connectors ("node.js" -> "node", "js"), same protocol as above. */
int lp__text_next_piece(const char *s, size_t len, size_t *pos, size_t *off, size_t *plen);

/* Normalises in[0..len) and joins its words (unsplit) with single spaces into out (reset first): the key
 * under which the technology table stores and finds a name. */
int lp__text_key(lp__norm_scratch *s, const char *in, size_t len, lp_buf *tmp, lp_buf *out);

#endif

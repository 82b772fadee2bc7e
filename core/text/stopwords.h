/* stopwords.h (internal to core/text/): the analyzer's English stop words, lower-case ASCII. */
#ifndef LP_TEXT_STOPWORDS_H
#define LP_TEXT_STOPWORDS_H

#include <stddef.h>

extern const char *const lp__stopwords[];
extern const size_t lp__stopwords_count;

#endif

/*
 * xap.h: the Xapian side of bm25_vs_xapian behind a C interface (xap.cc is the only C++ file), so that the
 * harness stays in C. Documents are given as bags of (term, wdf); queries as distinct terms, OR-ed, ranked
 * by Xapian::BM25Weight(k1, k2 = 0, k3 = 1, b, min_normlen) (Xapian's defaults but k1, b and min_normlen;
 * k3 does nothing when every query term occurs once), or by xap.cc's copy of BM25Weight whose idf is
 * leadpoet's (XAP_WEIGHT_LPIDF), to show what remains when the idf is the same.
 *
 * Threads: one xap object is used by one thread. Errors: the functions return 0 or -1 with Xapian's
 * message in errstr; no C++ exception crosses this interface.
 */
#ifndef LP_PERF_XAP_H
#define LP_PERF_XAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xap xap;

enum xap_weight { XAP_WEIGHT_BM25 = 0, XAP_WEIGHT_LPIDF = 1 };

typedef struct xap_term {
  const char *term;
  size_t len;
  uint32_t wdf;
} xap_term;

/* Opens a new database: dir NULL = the inmemory backend, else a glass database created (overwritten) in
 * dir. min_normlen: BM25Weight's clamp of dl / avgdl (Xapian's default 0.5; 0 = none). lucene_idf: the
 * idf of XAP_WEIGHT_LPIDF (1 = Lucene's, 0 = Robertson's with Xapian's floor, i.e. BM25Weight's). The
 * caller owns *out and frees it with xap_free (which does not remove dir). */
int xap_new(xap **out, const char *dir, double k1, double b, double min_normlen, int lucene_idf, char *errstr,
            size_t errstr_size);
void xap_free(xap *x);

/* Adds the next document (Xapian docid = previous + 1, from 1) with terms[0..n). */
int xap_add(xap *x, const xap_term *terms, size_t n, char *errstr, size_t errstr_size);

/* Commits and reopens the database for searching. Call once, after the last xap_add. */
int xap_commit(xap *x, char *errstr, size_t errstr_size);

/* Top k of the OR of terms[0..n) (each term once) under the chosen weight: docids (from 1) in rank order
 * into docs (room for k), their weights into w (may be NULL), the count into *nhits. */
int xap_search(xap *x, enum xap_weight weight, const xap_term *terms, size_t n, size_t k, uint32_t *docs,
               double *w, size_t *nhits, char *errstr, size_t errstr_size);

/* Figures of the searching database: documents and average length (sum of wdf / documents). */
void xap_stats(xap *x, uint64_t *docs, double *avglen);

#ifdef __cplusplus
}
#endif

#endif

#include "base/alloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#ifndef LP_NO_MIMALLOC
#include <mimalloc.h>
#define LP_MALLOC mi_malloc
#define LP_CALLOC mi_calloc
#define LP_REALLOC mi_realloc
#define LP_FREE mi_free
#else
#define LP_MALLOC malloc
#define LP_CALLOC calloc
#define LP_REALLOC realloc
#define LP_FREE free
#endif

void *lp_malloc(size_t n) { return LP_MALLOC(n ? n : 1); }
void *lp_calloc(size_t count, size_t n) { return LP_CALLOC(count ? count : 1, n ? n : 1); }
void *lp_realloc(void *p, size_t n) { return LP_REALLOC(p, n ? n : 1); }
void lp_free(void *p) { LP_FREE(p); }

char *lp_strndup(const char *s, size_t n) {
  char *d = lp_malloc(n + 1);
  if (d == NULL) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *lp_strdup(const char *s) { return lp_strndup(s, strlen(s)); }

static void *json_malloc(size_t n) { return lp_malloc(n); }
static void json_free(void *p) { lp_free(p); }

int lp_alloc_install(void) {
  json_set_alloc_funcs(json_malloc, json_free);
  return uv_replace_allocator(lp_malloc, lp_realloc, lp_calloc, lp_free) == 0 ? 0 : -1;
}

size_t lp_alloc_resident(void) {
#ifndef LP_NO_MIMALLOC
  size_t elapsed, user, sys, rss, peak_rss, commit, peak_commit, faults;
  mi_process_info(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit, &faults);
  return commit;
#else
  return 0;
#endif
}

/*
 * alloc.h: the project's allocation functions. mimalloc underneath (libuv and jansson are pointed at
 * the same functions at start, see lp_alloc_install), plain libc under the sanitizer build so that ASan
 * sees every allocation. Any thread.
 */
#ifndef LP_ALLOC_H
#define LP_ALLOC_H

#include <stddef.h>

void *lp_malloc(size_t n);
void *lp_calloc(size_t count, size_t n);
void *lp_realloc(void *p, size_t n);
void lp_free(void *p);
char *lp_strndup(const char *s, size_t n);
char *lp_strdup(const char *s);

/* Points libuv (uv_replace_allocator) and jansson (json_set_alloc_funcs) at lp_malloc and friends.
 * Call once from main() before any loop or JSON value exists. */
int lp_alloc_install(void);

/* Bytes currently allocated through mimalloc (0 when built without it). */
size_t lp_alloc_resident(void);

#endif

/*
 * config_internal.h: what the files of core/config/ share and nothing else includes (tests may, to walk
 * the core tables).
 *
 * The core keys are plain lp_conf_key tables, one per section (config_keys.c); the few rules a type and
 * bounds cannot say (power of two, HOST:PORT, log level) and the seed's environment names are looked up by
 * section and key beside them, so that each key is still declared exactly once.
 */
#ifndef LP_CONFIG_INTERNAL_H
#define LP_CONFIG_INTERNAL_H

#include <stddef.h>

#include "config/config.h"

/* Bounds of a key that has none (strings, booleans): min > max. */
#define LP__CONF_NOBOUND 1.0, 0.0

typedef struct lp__conf_section {
  const char *name;          /* "server" */
  const lp_conf_key *keys;   /* ends with a NULL key */
} lp__conf_section;

/* The core sections, in the order of the reference; ends with a NULL name. */
extern const lp__conf_section lp__core_sections[];

/* An extra check run after the type and the bounds: dst points to the parsed field. Returns 0 or fills why. */
typedef int (*lp__conf_check)(const void *dst, char *why, size_t why_size);

/* The extra check of a core key, or NULL. */
lp__conf_check lp__config_check_for(const char *section, const char *key);
/* The seed's environment name of a core key (KAFKA_BOOTSTRAP_BROKERS, LEADPOET_LISTEN), or NULL. */
const char *lp__config_seed_env(const char *section, const char *key);
/* 1 if the values of this key are secrets that lp_config_dump masks. */
int lp__config_is_secret(const char *section, const char *key);

/* LEADPOET_<SECTION>_<KEY>: upper-case, '.' and '-' as '_'. Returns 0, or LP_ERANGE if n is too small. */
int lp__config_env_name(const char *section, const char *key, char *out, size_t n);

/* The value of environment variable var (config_envfile.c), or with with_file, the content of the file that
 * var_FILE names (trailing \r and \n stripped). *value is NULL when neither is set, else lp_malloc'd and the
 * caller's; used gets the name the value came from (for messages). Both set, an empty var_FILE, a file that
 * cannot be read, holds a NUL byte or is over 1 MiB: LP_ECONFIG with "env NAME: why". Main thread. */
int lp__config_env_lookup(const char *var, int with_file, char **value, char *used, size_t used_size, char *errstr,
                          size_t errstr_size);
/* 1 when var_FILE is the environment name of a core key itself (LEADPOET_HTTP_API_KEYS_FILE is
 * http.api_keys_file's): then var has no _FILE form. */
int lp__config_env_file_is_key(const char *var);

/* The rules across keys, run once the file and the environment are in: the API key entries (the file read
 * now) and http.api_keys_required. Returns 0 or LP_ECONFIG with errstr. */
int lp__config_check_api_keys(const lp_config *c, char *errstr, size_t errstr_size);

/* "int", "double", "bool", "string", "size", "duration" (or "?" for a bad type). */
const char *lp__config_type_name(int type);
/* Size in bytes of the field a key of this type fills, 0 for a bad type. */
size_t lp__config_type_size(int type);
/* The key's bounds as text in its own units ("1k..1m", "10ms..1h"), "" when it has none. */
void lp__config_format_bounds(const lp_conf_key *k, char *out, size_t n);
/* The value at src as it would be written in the file (sizes and durations with the largest exact suffix,
 * strings in double quotes). */
void lp__config_format_value(const lp_conf_key *k, const void *src, char *out, size_t n);

#endif

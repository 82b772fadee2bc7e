/*
 * config_priv.h: what lp_config.priv points to. Only core/config/ includes it.
 */
#ifndef LP_CONFIG_PRIV_H
#define LP_CONFIG_PRIV_H

#include <stddef.h>

/* One "key = value" of a [stage.<name>] section, as written in the file. */
typedef struct lp__raw_entry {
  char *key;
  char *value;
  int line;
} lp__raw_entry;

typedef struct lp__raw_section {
  char *stage;               /* <name> of [stage.<name>] */
  int line;                  /* line of its first header */
  lp__raw_entry *entries;
  size_t n, cap;
} lp__raw_section;

/* A struct lp_config_stage_parse returned, with the offsets of its strings (the table itself may live in a
 * plugin that is unloaded before lp_config_free). */
typedef struct lp__parsed_stage {
  void *conf;
  size_t *strings;
  size_t n_strings;
} lp__parsed_stage;

typedef struct lp__config_priv {
  char *file;                /* name used in messages: the path, the string's name, or "(defaults)" */
  lp__raw_section *sections;
  size_t n_sections, cap_sections;
  lp__parsed_stage *stages;
  size_t n_stages, cap_stages;
} lp__config_priv;

#endif

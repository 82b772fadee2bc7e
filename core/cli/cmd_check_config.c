/* `leadpoet check-config FILE` and `leadpoet check-config --help` (the reference of every key). */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "cli/commands.h"
#include "config/config.h"
#include "metrics/metrics.h"
#include "stage/builtin.h"
#include "stage/registry.h"

static void reference(FILE *out) {
  fprintf(out,
          "usage: leadpoet check-config FILE\n\n"
          "Loads FILE as `leadpoet serve -c FILE` would (the environment applies too), loads and initialises\n"
          "the stages it names, prints the effective configuration (secrets masked) and exits 0; on the\n"
          "first error prints FILE:LINE and why and exits 2.\n\n"
          "Every key, with its type, default, bounds and environment variable:\n\n");
  lp_config_print_reference(out);
  for (const lp_builtin_stage *b = lp_builtin_stages; b->name != NULL; b++) {
    const lp_stage_desc *d = b->entry();
    if (d->conf_keys == NULL) continue;
    char section[96];
    snprintf(section, sizeof(section), "stage.%s", d->name);
    lp_config_print_keys(out, section, d->conf_keys);
  }
}

int lp_cmd_check_config(int argc, char **argv) {
  if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    reference(stdout);
    return 0;
  }
  if (argc != 2 || argv[1][0] == '-') {
    fprintf(stderr, "usage: leadpoet check-config FILE   (--help lists every key)\n");
    return 2;
  }
  lp_config cfg;
  char err[1024] = "";
  if (lp_config_load(&cfg, argv[1], err, sizeof(err)) != LP_OK) {
    fprintf(stderr, "%s\n", err);
    lp_config_free(&cfg);
    return 2;
  }
  lp_metrics *m = NULL;
  lp_stages *st = NULL;
  int rc = lp_metrics_new(&m, (size_t)cfg.metrics.max_series);
  if (rc == LP_OK) {
    lp_metrics_set_default(m);
    lp_log_set_level(LP_LOG_WARN);
    rc = lp_stages_load(&st, &cfg, m, err, sizeof(err));
  }
  if (rc != LP_OK) {
    fprintf(stderr, "%s: %s\n", argv[1], err[0] ? err : lp_strerror(rc));
  } else {
    lp_buf b = LP_BUF_INIT;
    lp_config_dump(&cfg, &b);
    printf("%s: ok\n\n%s", argv[1], b.data ? b.data : "");
    lp_buf_free(&b);
  }
  lp_stages_free(st);
  lp_metrics_set_default(NULL);
  lp_metrics_free(m);
  lp_config_free(&cfg);
  return rc == LP_OK ? 0 : 2;
}

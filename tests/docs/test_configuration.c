/* docs/configuration.md is the configuration reference generated from the key tables in the binary
 * (docs/gen-configuration.sh): it must hold exactly what `leadpoet check-config --help` prints today. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(FILE *f) {
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  cr_assert(buf != NULL);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += got;
    if (n + 1 == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      cr_assert(buf != NULL);
    }
  }
  buf[n] = '\0';
  return buf;
}

Test(docs, configuration_reference_is_current) {
  FILE *p = popen(LP_BINARY_PATH " check-config --help 2>&1", "r");
  cr_assert(p != NULL);
  char *help = slurp(p);
  cr_assert_eq(pclose(p), 0, "check-config --help exits 0");
  cr_assert(strstr(help, "[server]") != NULL && strstr(help, "[scoring]") != NULL, "%s", help);
  FILE *f = fopen(LP_SOURCE_DIR "/docs/configuration.md", "r");
  cr_assert(f != NULL, "docs/configuration.md exists (docs/gen-configuration.sh writes it)");
  char *doc = slurp(f);
  fclose(f);
  cr_assert(strstr(doc, help) != NULL,
            "docs/configuration.md is stale: run docs/gen-configuration.sh after changing a configuration key");
  free(help);
  free(doc);
}

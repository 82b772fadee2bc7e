/*
 * config_test.h: what the tests of core/config share: a clean environment (the runner may export
 * LEADPOET_* or the seed's names for other tests) and a loader that keeps the error message.
 */
#ifndef LP_TESTS_CONFIG_TEST_H
#define LP_TESTS_CONFIG_TEST_H

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "base/alloc.h"
#include "config/config.h"

extern char **environ;

/* Unsets every LEADPOET_* variable and the seed's names. Criterion runs each test in its own process,
 * so a test's setenv never reaches another test. */
static inline void config_test_clean_env(void) {
  static const char *const seeds[] = { "KAFKA_BOOTSTRAP_BROKERS", "REDIS_ENDPOINT", "OPENAI_API_KEY",
                                       "PDL_API_KEY", "CLEARBIT_API_KEY" };
  for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) unsetenv(seeds[i]);
  for (int iter = 0; iter < 4096; iter++) {
    char name[256] = "";
    for (char **e = environ; *e != NULL; e++) {
      if (strncmp(*e, "LEADPOET_", 9) == 0) {
        size_t n = strcspn(*e, "=");
        if (n >= sizeof(name)) n = sizeof(name) - 1;
        memcpy(name, *e, n);
        name[n] = '\0';
        break;
      }
    }
    if (name[0] == '\0') break;
    unsetenv(name);
  }
}

/* Loads text named "t.conf"; returns the code, the message in err. */
static inline int config_test_load(lp_config *c, const char *text, char *err, size_t n) {
  err[0] = '\0';
  return lp_config_load_string(c, text, "t.conf", err, n);
}

/* Asserts that text fails to load with a message equal to want. */
#define config_test_expect_error(text, want)                                         \
  do {                                                                               \
    lp_config c_;                                                                    \
    char e_[512];                                                                    \
    int rc_ = config_test_load(&c_, (text), e_, sizeof(e_));                         \
    cr_assert_eq(rc_, LP_ECONFIG, "rc %d for %s", rc_, (text));                      \
    cr_assert_str_eq(e_, (want));                                                    \
    lp_config_free(&c_);                                                             \
  } while (0)

#endif

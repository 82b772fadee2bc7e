/*
 * leadpoet/common.h: types and error codes shared by the core and by stage plugins.
 *
 * Every function of the project returns an int: 0 (LP_OK) on success, a negative LP_E* code on
 * failure, with readable detail in a caller-supplied errstr buffer where one is taken
 * (the librdkafka convention: errstr, errstr_size).
 */
#ifndef LEADPOET_COMMON_H
#define LEADPOET_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LP_OK 0
#define LP_EINVAL   (-1)   /* bad argument or bad input */
#define LP_ENOMEM   (-2)   /* allocation failed or a bound was reached */
#define LP_ERANGE   (-3)   /* value out of its bounds */
#define LP_ENOENT   (-4)   /* not found */
#define LP_EAGAIN   (-5)   /* would block: ring full, try later */
#define LP_EIO      (-6)   /* I/O or system call failed */
#define LP_EABI     (-7)   /* stage ABI mismatch */
#define LP_ECONFIG  (-8)   /* configuration error */
#define LP_EEXIST   (-9)   /* already exists (duplicate) */
#define LP_ESTATE   (-10)  /* called in the wrong state */
#define LP_ECANCELED (-11) /* shut down while waiting */

/* A static, human-readable name of an LP_E* code ("LP_EINVAL"). Any thread. */
const char *lp_strerror(int err);

/* A byte string that is not necessarily NUL-terminated. The owner is documented where it is used. */
typedef struct lp_str {
  const char *ptr;
  size_t len;
} lp_str;

#define LP_STR_LIT(s) ((lp_str){ (s), sizeof(s) - 1 })

/* Log levels, lowest is most severe (syslog order). */
enum lp_log_level {
  LP_LOG_ERROR = 3,
  LP_LOG_WARN = 4,
  LP_LOG_INFO = 6,
  LP_LOG_DEBUG = 7
};

#ifdef __cplusplus
}
#endif
#endif /* LEADPOET_COMMON_H */

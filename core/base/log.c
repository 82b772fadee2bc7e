#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_level = LP_LOG_INFO;
static _Thread_local char t_thread[24] = "main";

void lp_log_set_level(int level) { atomic_store(&g_level, level); }
int lp_log_level(void) { return atomic_load_explicit(&g_level, memory_order_relaxed); }

int lp_log_parse_level(const char *s) {
  if (strcmp(s, "error") == 0) return LP_LOG_ERROR;
  if (strcmp(s, "warn") == 0) return LP_LOG_WARN;
  if (strcmp(s, "info") == 0) return LP_LOG_INFO;
  if (strcmp(s, "debug") == 0) return LP_LOG_DEBUG;
  return -1;
}

void lp_log_set_thread(const char *name) { snprintf(t_thread, sizeof(t_thread), "%s", name); }

static const char *level_name(int level) {
  switch (level) {
  case LP_LOG_ERROR: return "error";
  case LP_LOG_WARN: return "warn";
  case LP_LOG_INFO: return "info";
  default: return "debug";
  }
}

void lp_vlog(int level, const char *msg, const char *fmt, va_list ap) {
  if (level > lp_log_level()) return;
  char line[2048];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s thread=%s msg=\"%s\"",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   ts.tv_nsec / 1000000, level_name(level), t_thread, msg);
  if (n < 0) return;
  if (fmt != NULL && fmt[0] != '\0' && (size_t)n < sizeof(line) - 2) {
    line[n++] = ' ';
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if (m > 0) n += m;
  }
  if ((size_t)n >= sizeof(line) - 1) n = (int)sizeof(line) - 2;
  line[n++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, (size_t)n);
  (void)w;
}

void lp_log(int level, const char *msg, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lp_vlog(level, msg, fmt, ap);
  va_end(ap);
}

const char *lp_strerror(int err) {
  switch (err) {
  case LP_OK: return "ok";
  case LP_EINVAL: return "invalid argument";
  case LP_ENOMEM: return "out of memory or over a bound";
  case LP_ERANGE: return "out of range";
  case LP_ENOENT: return "not found";
  case LP_EAGAIN: return "try again";
  case LP_EIO: return "i/o error";
  case LP_EABI: return "abi mismatch";
  case LP_ECONFIG: return "configuration error";
  case LP_EEXIST: return "already exists";
  case LP_ESTATE: return "wrong state";
  case LP_ECANCELED: return "canceled";
  default: return "unknown error";
  }
}

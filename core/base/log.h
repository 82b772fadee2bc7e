/*
 * log.h: levelled logs, one line per event, key=value, to stderr.
 *   ts=2026-11-25T12:00:00.123Z level=info thread=reactor msg="listening" addr=127.0.0.1:8080
 * Any thread; a line is written with one write(2) so lines from different threads never interleave.
 */
#ifndef LP_LOG_H
#define LP_LOG_H

#include <stdarg.h>

#include "leadpoet/common.h"

void lp_log_set_level(int level);
int lp_log_level(void);
/* Parses "error|warn|info|debug"; returns the level or -1. */
int lp_log_parse_level(const char *s);
/* Names the calling thread in its log lines ("reactor", "worker-0"). */
void lp_log_set_thread(const char *name);

/* fmt continues the line after msg: pass key=value pairs, e.g. lp_log(LP_LOG_INFO, "listening", "addr=%s", a). */
void lp_log(int level, const char *msg, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void lp_vlog(int level, const char *msg, const char *fmt, va_list ap);

#define lp_log_error(msg, ...) lp_log(LP_LOG_ERROR, msg, __VA_ARGS__)
#define lp_log_warn(msg, ...) lp_log(LP_LOG_WARN, msg, __VA_ARGS__)
#define lp_log_info(msg, ...) lp_log(LP_LOG_INFO, msg, __VA_ARGS__)
#define lp_log_debug(msg, ...) \
  do { if (lp_log_level() >= LP_LOG_DEBUG) lp_log(LP_LOG_DEBUG, msg, __VA_ARGS__); } while (0)

#endif

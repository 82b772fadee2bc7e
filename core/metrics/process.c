/*
 * process.c: the process_* figures, named and described as the Prometheus client libraries do, read from
 * /proc at every render. A figure whose source cannot be read (not Linux, /proc not mounted) is left out
 * rather than failing the scrape.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics/metrics_internal.h"

const char *const lp__metrics_process_names[] = {
  "process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
  "process_start_time_seconds", "process_open_fds", "process_max_fds", "process_threads", NULL,
};

/* Reads up to size - 1 bytes of path into buf, NUL-terminated; the length or -1. */
static ssize_t read_small_file(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  while (len < size - 1) {
    ssize_t n = read(fd, buf + len, size - 1 - len);
    if (n < 0) {
      close(fd);
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';
  return (ssize_t)len;
}

struct proc_stat {
  uint64_t utime, stime, threads, starttime, vsize, rss_pages;
};

/* Parses /proc/self/stat. The command name (field 2) may hold spaces and parentheses, so the fields are
 * counted from after its last ')'. 0 or -1. */
static int read_proc_stat(struct proc_stat *ps) {
  char buf[4096];
  if (read_small_file("/proc/self/stat", buf, sizeof(buf)) < 0) return -1;
  char *p = strrchr(buf, ')');
  if (p == NULL) return -1;
  p++;
  /* Field 3 (the state, one letter) is index 0 here; we want fields 14, 15, 20, 22, 23 and 24. Signed
   * fields on the way (priority, nice) go through strtoull harmlessly: only their extent matters. */
  while (*p == ' ') p++;
  if (*p == '\0') return -1;
  p++;
  uint64_t v[22] = { 0 };
  for (int i = 1; i < 22; i++) {
    char *end;
    v[i] = strtoull(p, &end, 10);
    if (end == p) return -1;
    p = end;
  }
  ps->utime = v[11];
  ps->stime = v[12];
  ps->threads = v[17];
  ps->starttime = v[19];
  ps->vsize = v[20];
  ps->rss_pages = v[21];
  return 0;
}

/* The boot time in seconds since the epoch (the btime line of /proc/stat), or -1. */
static int64_t read_btime(void) {
  char buf[16384];
  if (read_small_file("/proc/stat", buf, sizeof(buf)) < 0) return -1;
  const char *p = strstr(buf, "\nbtime ");
  if (p == NULL) return -1;
  return strtoll(p + 7, NULL, 10);
}

/* Open descriptors: the entries of /proc/self/fd but the one opendir itself holds; -1 when unreadable. */
static int64_t count_open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return -1;
  int64_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] != '.') n++;
  }
  closedir(d);
  return n > 0 ? n - 1 : 0;
}

static int put_header(lp_buf *out, const char *name, const char *help, const char *type) {
  return lp_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type, name);
}

static int put_u64(lp_buf *out, const char *name, const char *help, const char *type, uint64_t v) {
  int rc = put_header(out, name, help, type);
  return rc == LP_OK ? lp_buf_printf(out, "%" PRIu64 "\n", v) : rc;
}

static int put_dbl(lp_buf *out, const char *name, const char *help, const char *type, double v) {
  int rc = put_header(out, name, help, type);
  if (rc == LP_OK) rc = lp__metrics_put_double(out, v);
  return rc == LP_OK ? lp_buf_puts(out, "\n") : rc;
}

int lp__metrics_render_process(lp_buf *out) {
  int rc = LP_OK;
  struct proc_stat ps;
  bool have_stat = false;
  long ticks = sysconf(_SC_CLK_TCK);
  long page = sysconf(_SC_PAGESIZE);
  if (read_proc_stat(&ps) == 0 && ticks > 0 && page > 0) {
    have_stat = true;
    rc = put_dbl(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                 "counter", (double)(ps.utime + ps.stime) / (double)ticks);
    if (rc == LP_OK) {
      rc = put_u64(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
                   ps.rss_pages * (uint64_t)page);
    }
    if (rc == LP_OK) {
      rc = put_u64(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", ps.vsize);
    }
    int64_t btime = read_btime();
    if (rc == LP_OK && btime >= 0) {
      rc = put_dbl(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                   "gauge", (double)btime + (double)ps.starttime / (double)ticks);
    }
  }
  int64_t fds = count_open_fds();
  if (rc == LP_OK && fds >= 0) {
    rc = put_u64(out, "process_open_fds", "Number of open file descriptors.", "gauge", (uint64_t)fds);
  }
  struct rlimit rl;
  if (rc == LP_OK && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rc = put_u64(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge",
                 (uint64_t)rl.rlim_cur);
  }
  if (rc == LP_OK && have_stat) {
    rc = put_u64(out, "process_threads", "Number of OS threads in the process.", "gauge", ps.threads);
  }
  return rc;
}

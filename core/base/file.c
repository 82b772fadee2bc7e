#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lp_file_write_atomic(const char *path, const void *data, size_t len, char *errstr, size_t errstr_size) {
  char tmp[4096];
  if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
    snprintf(errstr, errstr_size, "%s: path too long", path);
    return LP_EIO;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(errstr, errstr_size, "%s: %s", tmp, strerror(errno));
    return LP_EIO;
  }
  const char *p = data;
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, p + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  int rc = LP_EIO;
  if (off != len || fsync(fd) != 0) snprintf(errstr, errstr_size, "%s: %s", tmp, strerror(errno));
  else if (rename(tmp, path) != 0) snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
  else rc = LP_OK;
  close(fd);
  if (rc != LP_OK) unlink(tmp);
  return rc;
}

int lp_file_read(const char *path, lp_buf *out, char *errstr, size_t errstr_size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return LP_ENOENT;
    snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
    return LP_EIO;
  }
  struct stat st;
  int rc = LP_EIO;
  if (fstat(fd, &st) == 0 && lp_buf_reserve(out, (size_t)st.st_size) == LP_OK) {
    size_t want = out->len + (size_t)st.st_size;
    ssize_t r = 1;
    while (out->len < want && (r = read(fd, out->data + out->len, want - out->len)) > 0) out->len += (size_t)r;
    if (out->len == want) rc = LP_OK;
    out->data[out->len] = '\0';
  }
  close(fd);
  if (rc != LP_OK) snprintf(errstr, errstr_size, "%s: cannot read", path);
  return rc;
}

#include "shard/shard.h"

#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"

#define SHARD_MAGIC "lp-shard"
#define SHARD_VERSION 1

int lp_shard_open(lp_shard *sh, uint32_t id, lp_stages *stages, uint32_t evidence_cap) {
  memset(sh, 0, sizeof(*sh));
  sh->id = id;
  int rc = lp_leads_init(&sh->leads, evidence_cap);
  if (rc != LP_OK) return rc;
  if (stages != NULL && (rc = lp_stage_shard_open(stages, id, &sh->stages)) != LP_OK) {
    lp_leads_free(&sh->leads);
    return rc;
  }
  return LP_OK;
}

void lp_shard_close(lp_shard *sh) {
  if (sh->stages) lp_stage_shard_close(sh->stages);
  lp_leads_free(&sh->leads);
  sh->stages = NULL;
}

const char *lp_shard_snippet(lp_shard *sh, const lp_snippet *s) {
  lp_verdict v = { NULL, { 0 } };
  if (sh->stages && lp_stage_shard_snippet(sh->stages, s, &v) == LP_STAGE_DROP) return v.code ? v.code : "dropped";
  if (lp_leads_apply_snippet(&sh->leads, s) != LP_OK) return "internal";
  sh->applied++;
  sh->dirty = 1;
  return NULL;
}

const char *lp_shard_outcome(lp_shard *sh, const lp_outcome *o) {
  lp_verdict v = { NULL, { 0 } };
  if (sh->stages && lp_stage_shard_outcome(sh->stages, o, &v) == LP_STAGE_DROP) return v.code ? v.code : "dropped";
  if (lp_leads_apply_outcome(&sh->leads, o) != LP_OK) return "internal";
  sh->applied++;
  sh->dirty = 1;
  return NULL;
}

static int buf_write(void *data, const char *p, size_t n) { return lp_buf_append(data, p, n) == LP_OK ? 0 : -1; }

/* The two parts are written as msgpack bin so that each can be handed to its reader as is. */
int lp_shard_save(lp_shard *sh, lp_buf *out) {
  lp_buf leads = LP_BUF_INIT, stages = LP_BUF_INIT;
  int rc = lp_leads_save(&sh->leads, &leads);
  if (rc == LP_OK && sh->stages) rc = lp_stage_shard_save(sh->stages, &stages);
  if (rc == LP_OK) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_str(&pk, strlen(SHARD_MAGIC));
    msgpack_pack_str_body(&pk, SHARD_MAGIC, strlen(SHARD_MAGIC));
    msgpack_pack_uint32(&pk, SHARD_VERSION);
    msgpack_pack_uint32(&pk, sh->id);
    msgpack_pack_bin(&pk, leads.len);
    msgpack_pack_bin_body(&pk, leads.data, leads.len);
    msgpack_pack_bin(&pk, stages.len);
    msgpack_pack_bin_body(&pk, stages.data, stages.len);
  }
  lp_buf_free(&leads);
  lp_buf_free(&stages);
  return rc;
}

int lp_shard_load(lp_shard *sh, const void *data, size_t len, char *errstr, size_t errstr_size) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  int rc = LP_EINVAL;
  if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || u.data.type != MSGPACK_OBJECT_ARRAY ||
      u.data.via.array.size != 5) {
    snprintf(errstr, errstr_size, "shard %u snapshot: not a shard snapshot", sh->id);
    goto out;
  }
  const msgpack_object *f = u.data.via.array.ptr;
  if (f[0].type != MSGPACK_OBJECT_STR || f[0].via.str.size != strlen(SHARD_MAGIC) ||
      memcmp(f[0].via.str.ptr, SHARD_MAGIC, strlen(SHARD_MAGIC)) != 0 || f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      f[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[3].type != MSGPACK_OBJECT_BIN || f[4].type != MSGPACK_OBJECT_BIN) {
    snprintf(errstr, errstr_size, "shard %u snapshot: bad header", sh->id);
    goto out;
  }
  if (f[1].via.u64 > SHARD_VERSION) {
    snprintf(errstr, errstr_size, "shard %u snapshot: version %llu is newer than this leadpoet reads (%d)", sh->id,
             (unsigned long long)f[1].via.u64, SHARD_VERSION);
    goto out;
  }
  if (f[2].via.u64 != sh->id) {
    snprintf(errstr, errstr_size, "shard %u snapshot: holds shard %llu", sh->id, (unsigned long long)f[2].via.u64);
    goto out;
  }
  rc = lp_leads_load(&sh->leads, f[3].via.bin.ptr, f[3].via.bin.size, errstr, errstr_size);
  if (rc == LP_OK && sh->stages && f[4].via.bin.size > 0)
    rc = lp_stage_shard_load(sh->stages, f[4].via.bin.ptr, f[4].via.bin.size, errstr, errstr_size);
out:
  msgpack_unpacked_destroy(&u);
  return rc;
}

static void shard_path(char *path, size_t n, const char *dir, uint32_t id, const char *suffix) {
  snprintf(path, n, "%s/shard-%04u.lpstate%s", dir, id, suffix);
}

int lp_shard_save_file(lp_shard *sh, const char *dir, char *errstr, size_t errstr_size) {
  lp_buf b = LP_BUF_INIT;
  int rc = lp_shard_save(sh, &b);
  if (rc != LP_OK) {
    snprintf(errstr, errstr_size, "shard %u: cannot serialise: %s", sh->id, lp_strerror(rc));
    lp_buf_free(&b);
    return rc;
  }
  char tmp[1024], final[1024];
  shard_path(tmp, sizeof(tmp), dir, sh->id, ".tmp");
  shard_path(final, sizeof(final), dir, sh->id, "");
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  rc = LP_EIO;
  if (fd < 0) {
    snprintf(errstr, errstr_size, "%s: %s", tmp, strerror(errno));
  } else {
    size_t off = 0;
    while (off < b.len) {
      ssize_t w = write(fd, b.data + off, b.len - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      off += (size_t)w;
    }
    if (off != b.len || fsync(fd) != 0) snprintf(errstr, errstr_size, "%s: %s", tmp, strerror(errno));
    else if (rename(tmp, final) != 0) snprintf(errstr, errstr_size, "%s: %s", final, strerror(errno));
    else rc = LP_OK;
    close(fd);
  }
  if (rc == LP_OK) sh->dirty = 0;
  lp_buf_free(&b);
  return rc;
}

int lp_shard_load_file(lp_shard *sh, const char *dir, char *errstr, size_t errstr_size) {
  char path[1024];
  shard_path(path, sizeof(path), dir, sh->id, "");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return LP_ENOENT;
    snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
    return LP_EIO;
  }
  struct stat st;
  lp_buf b = LP_BUF_INIT;
  int rc = LP_EIO;
  if (fstat(fd, &st) == 0 && lp_buf_reserve(&b, (size_t)st.st_size) == LP_OK) {
    ssize_t r = 0;
    while (b.len < (size_t)st.st_size && (r = read(fd, b.data + b.len, (size_t)st.st_size - b.len)) > 0) b.len += (size_t)r;
    if (b.len == (size_t)st.st_size) rc = LP_OK;
  }
  close(fd);
  if (rc != LP_OK) snprintf(errstr, errstr_size, "%s: cannot read", path);
  else if ((rc = lp_shard_load(sh, b.data, b.len, errstr, errstr_size)) != LP_OK) {
    size_t n = strlen(errstr);
    snprintf(errstr + n, errstr_size - n, " (in %s)", path);
  }
  lp_buf_free(&b);
  return rc;
}

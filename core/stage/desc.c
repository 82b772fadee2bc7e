/* desc.c: checking a stage descriptor, and opening a plugin's shared object to get one. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "stage/stage_int.h"

#define NAME_MAX_LEN 32

static int name_ok(const char *name) {
  if (name == NULL) return 0;
  size_t n = 0;
  for (; name[n] != '\0'; n++) {
    char c = name[n];
    if (n >= NAME_MAX_LEN || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
  }
  return n > 0;
}

/* The version fields sit in the first 8 bytes of every descriptor of every ABI, so they are read first;
 * nothing past them is read until major, minor and size are known to be ones this host understands. */
int lp_stage_check_desc(const lp_stage_desc *d, const char *what, char *errstr, size_t errstr_size) {
  if (d == NULL) {
    snprintf(errstr, errstr_size, "%s: %s returned no descriptor", what, LP_STAGE_ENTRY_SYMBOL);
    return LP_EINVAL;
  }
  if (d->abi_major != LP_STAGE_ABI_MAJOR || d->abi_minor > LP_STAGE_ABI_MINOR) {
    snprintf(errstr, errstr_size,
             "%s: stage ABI %u.%u, this leadpoet speaks stage ABI %d.%d (rebuild the plugin against "
             "leadpoet/stage.h %d.%d)",
             what, (unsigned)d->abi_major, (unsigned)d->abi_minor, LP_STAGE_ABI_MAJOR, LP_STAGE_ABI_MINOR,
             LP_STAGE_ABI_MAJOR, LP_STAGE_ABI_MINOR);
    return LP_EABI;
  }
  if (d->struct_size < LP_STAGE_DESC_MIN_SIZE) {
    snprintf(errstr, errstr_size,
             "%s: stage descriptor of %u bytes, smaller than the %zu bytes of a stage ABI %u.0 descriptor "
             "(stage ABI %u.%u, this leadpoet speaks stage ABI %d.%d; rebuild the plugin against "
             "leadpoet/stage.h %d.%d)",
             what, (unsigned)d->struct_size, (size_t)LP_STAGE_DESC_MIN_SIZE, (unsigned)d->abi_major,
             (unsigned)d->abi_major, (unsigned)d->abi_minor, LP_STAGE_ABI_MAJOR, LP_STAGE_ABI_MINOR,
             LP_STAGE_ABI_MAJOR, LP_STAGE_ABI_MINOR);
    return LP_EABI;
  }
  if (!name_ok(d->name)) {
    snprintf(errstr, errstr_size, "%s: stage name \"%.40s\" is not 1 to %d of [a-z0-9_]", what,
             d->name != NULL ? d->name : "(null)", NAME_MAX_LEN);
    return LP_EINVAL;
  }
  const char *missing = d->init == NULL ? "init" : d->on_snippet == NULL ? "on_snippet" : NULL;
  if (missing != NULL) {
    snprintf(errstr, errstr_size, "%s: stage '%s' has no %s callback (init and on_snippet are required)",
             what, d->name, missing);
    return LP_EINVAL;
  }
  if ((d->save == NULL) != (d->load == NULL)) {
    snprintf(errstr, errstr_size, "%s: stage '%s' has %s without %s (they come as a pair)", what, d->name,
             d->save != NULL ? "save" : "load", d->save != NULL ? "load" : "save");
    return LP_EINVAL;
  }
  /* ABI 1.1 fields exist only when the stage says so, and only within the bytes it declared. */
  if (d->abi_minor >= 1 && d->struct_size >= offsetof(lp_stage_desc, describe_miner)) {
    const void *sg, *lg;
    memcpy(&sg, (const char *)d + offsetof(lp_stage_desc, save_global), sizeof(sg));
    memcpy(&lg, (const char *)d + offsetof(lp_stage_desc, load_global), sizeof(lg));
    if ((sg == NULL) != (lg == NULL)) {
      snprintf(errstr, errstr_size, "%s: stage '%s' has %s without %s (they come as a pair)", what, d->name,
               sg != NULL ? "save_global" : "load_global", sg != NULL ? "load_global" : "save_global");
      return LP_EINVAL;
    }
  }
  if (d->conf_keys != NULL && d->conf_size == 0) {
    snprintf(errstr, errstr_size, "%s: stage '%s' has config keys but a conf_size of 0", what, d->name);
    return LP_EINVAL;
  }
  return LP_OK;
}

/* An older descriptor (ABI 1.x with fewer bytes) leaves the host's later fields zero; a newer one is cut
 * at the host's size, so the host never reads a field it does not know. A 1.0 descriptor has the same
 * size as a 1.1 one, but what sits where 1.1 put its callbacks are 1.0's reserved slots: whatever bytes a
 * 1.0 plugin left there, the host copy holds zeros (no global callbacks). The same holds for on_rerank
 * (1.2) in a 1.0 or 1.1 descriptor. */
void lp__stage_copy_desc(lp_stage_desc *dst, const lp_stage_desc *src) {
  memset(dst, 0, sizeof(*dst));
  size_t n = src->struct_size < sizeof(*dst) ? src->struct_size : sizeof(*dst);
  if (src->abi_minor < 1 && n > LP_STAGE_DESC_MIN_SIZE) n = LP_STAGE_DESC_MIN_SIZE;
  memcpy(dst, src, n);
  if (src->abi_minor < 2) dst->on_rerank = NULL;  /* a 1.0/1.1 reserved slot, whatever it holds */
  dst->struct_size = (uint32_t)sizeof(*dst);
}

int lp_stage_open_plugin(const char *path, const lp_stage_desc **desc, void **handle, char *errstr,
                         size_t errstr_size) {
  *desc = NULL;
  *handle = NULL;
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    const char *why = dlerror();
    snprintf(errstr, errstr_size, "%s: cannot load stage plugin: %s", path, why != NULL ? why : "dlopen failed");
    return LP_EIO;
  }
  dlerror();
  void *sym = dlsym(h, LP_STAGE_ENTRY_SYMBOL);
  if (sym == NULL) {
    const char *why = dlerror();
    snprintf(errstr, errstr_size, "%s: no symbol %s, not a leadpoet stage plugin (%s)", path,
             LP_STAGE_ENTRY_SYMBOL, why != NULL ? why : "symbol is NULL");
    dlclose(h);
    return LP_ENOENT;
  }
  const lp_stage_desc *(*entry)(void);
  memcpy(&entry, &sym, sizeof(entry));  /* object pointer to function pointer, as POSIX allows */
  const lp_stage_desc *d = entry();
  int rc = lp_stage_check_desc(d, path, errstr, errstr_size);
  if (rc != LP_OK) {
    dlclose(h);
    return rc;
  }
  *desc = d;
  *handle = h;
  return LP_OK;
}

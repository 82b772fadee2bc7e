/* file.h: whole-file reads and crash-safe writes. Any thread (they block: never on the reactor's hot path). */
#ifndef LP_FILE_H
#define LP_FILE_H

#include <stddef.h>

#include "base/buf.h"

/* Writes data to path through path.tmp, fsync and rename: a crash leaves the old file or the new one,
 * never half of one. LP_OK or LP_EIO with "path: why" in errstr. */
int lp_file_write_atomic(const char *path, const void *data, size_t len, char *errstr, size_t errstr_size);
/* Appends the whole file to out. LP_OK, LP_ENOENT when it does not exist, LP_EIO otherwise (errstr). */
int lp_file_read(const char *path, lp_buf *out, char *errstr, size_t errstr_size);

#endif

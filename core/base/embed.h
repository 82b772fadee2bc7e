/* embed.h: files compiled into the binary by lp_embed_file() (cmake/Embed.cmake). */
#ifndef LP_EMBED_H
#define LP_EMBED_H

#include <stddef.h>

#define LP_EMBED_DECLARE(sym)          \
  extern const unsigned char sym[];    \
  extern const size_t sym##_len

#endif

/*
 * http_client.h: one HTTP/1.1 POST over uv_tcp on the host's loop, for the LLM stage.
 *
 * Plain http:// only (no TLS library in this build: production points base_url at an egress TLS proxy
 * sidecar, see README.md). One connection per request ("Connection: close"): nothing stays open between
 * queries, so the loop can end whenever no call is in flight. The whole exchange (name resolution,
 * connect, write, read) has one deadline; a response is read to its Content-Length, to the end of a
 * chunked body, or to the close, and is bounded in size.
 *
 * Threads: the loop's thread only (the reactor).
 */
#ifndef LP_LLM_HTTP_CLIENT_H
#define LP_LLM_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "leadpoet/stage.h"

/* A parsed http:// URL: host (no brackets), port, and the path prefix without its trailing '/'. */
typedef struct llm_url {
  char host[256];
  char port[8];
  char path[512];
} llm_url;

/* Parses "http://HOST[:PORT][/PATH]". LP_OK, or LP_EINVAL with why filled (https:// is refused with a
 * message that names the egress-proxy way). Any thread. */
int llm_url_parse(const char *url, llm_url *out, char *why, size_t why_size);

/* The exchange's result: err LP_OK with the status and the decoded body (valid during the call only), or a
 * negative code with why (static text or valid during the call). */
typedef void (*llm_http_cb)(void *ud, int err, const char *why, int status, const char *body, size_t len);

/* Starts POST u->path + path_suffix with the given extra header lines (each ending "\r\n", may be "") and
 * body (copied). cb(ud, ...) runs exactly once, later, from the loop (never from inside this call); the
 * client's own memory and handles are released after it. Returns LP_OK, or LP_ENOMEM / LP_EIO (cb will not
 * run). Loop thread. */
int llm_http_post(const lp_host_api *host, uv_loop_t *loop, const llm_url *u, const char *path_suffix,
                  const char *headers, const char *body, size_t body_len, uint64_t timeout_ms,
                  size_t max_response, llm_http_cb cb, void *ud);

/* Decodes a complete response in raw[0..len): status, and the body (de-chunked in place when chunked).
 * Returns 1 complete, 0 needs more bytes (or the close, for a body delimited by it), LP_EINVAL malformed.
 * at_eof says the peer closed. Any thread. */
int llm_http_parse(char *raw, size_t len, int at_eof, int *status, char **body, size_t *body_len);

#endif

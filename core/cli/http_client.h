/*
 * http_client.h: a small blocking HTTP/1.1 client for the command line (`leadpoet ingest`, `leadpoet query`).
 *
 * One TCP connection to one http:// origin (IPv4 or "localhost"; no TLS), kept alive between requests and
 * reopened when the server closes it. Responses are parsed with llhttp in response mode (Content-Length,
 * chunked, or read-until-close bodies). Every wait is bounded by the client's time-out. Errors are negative
 * LP_E* codes with the detail in the caller's errstr: LP_EINVAL (bad URL or argument), LP_EIO (resolve,
 * connect, send or receive failed, time-out, malformed response), LP_ENOMEM (allocation, or a response over
 * the size bound).
 *
 * A client is not thread-safe: one thread owns it from lp_http_client_new to lp_http_client_free.
 */
#ifndef LP_CLI_HTTP_CLIENT_H
#define LP_CLI_HTTP_CLIENT_H

#include <stddef.h>

#include "leadpoet/common.h"

/* The largest response body the client accepts (bytes). */
#define LP_HTTP_CLIENT_MAX_BODY (64u * 1024u * 1024u)

typedef struct lp_http_client lp_http_client;

/* The parts of an http:// URL. path is the prefix before the routes ("" or "/base", no trailing slash). */
typedef struct lp_http_url {
  char host[256];
  int port;
  char path[512];
} lp_http_url;

/* A response. body is NUL-terminated (the NUL is not counted in body_len) and owned by the response:
 * release with lp_http_response_free. retry_after_ms is the Retry-After header in ms (delta-seconds or an
 * HTTP date), -1 when absent or unreadable. */
typedef struct lp_http_response {
  int status;
  char *body;
  size_t body_len;
  long retry_after_ms;
  char content_type[128];
} lp_http_response;

/* Parses "http://host[:port][/path]" (port 80 by default). Returns 0 or LP_EINVAL with the reason in
 * errstr. Any thread; no allocation. */
int lp_http_url_parse(const char *url, lp_http_url *out, char *errstr, size_t errstr_size);

/* Creates a client for url without connecting (the first request connects). timeout_ms bounds connect and
 * each wait for bytes (> 0). On success *out is owned by the caller (lp_http_client_free). */
int lp_http_client_new(lp_http_client **out, const char *url, int timeout_ms, char *errstr,
                       size_t errstr_size);

/* Closes the connection, if any, and frees the client. NULL is allowed. */
void lp_http_client_free(lp_http_client *c);

/* "host:port" of the client's origin, for messages. Owned by the client. */
const char *lp_http_client_origin(const lp_http_client *c);

/* Sends one request and reads its response into *res (zeroed first; free it with lp_http_response_free
 * whatever the result). path is appended to the URL's path prefix. content_type and body may be NULL.
 * A kept-alive connection that the server closed while idle is reopened and the request sent again once
 * (only when no byte of a response was received). The connection is closed after a response that does not
 * allow keep-alive, and after any error. Returns 0 (any status) or a negative LP_E* code. */
int lp_http_client_request(lp_http_client *c, const char *method, const char *path, const char *content_type,
                           const void *body, size_t body_len, lp_http_response *res, char *errstr,
                           size_t errstr_size);

/* Frees the body of res and zeroes it. NULL is allowed. */
void lp_http_response_free(lp_http_response *res);

/* Formats the server's JSON error ({"error": {"code", "message"}}) of res as "STATUS code: message" in out;
 * falls back to the start of the raw body when it is not that shape. Returns out. */
const char *lp_http_response_error(const lp_http_response *res, char *out, size_t out_size);

/* Retry policy for 429 and 503: up to max_attempts requests in all; the wait before attempt n honours
 * Retry-After when present (capped at max_wait_ms), else doubles from base_ms, plus up to 25% random
 * jitter. */
typedef struct lp_http_retry {
  int max_attempts;
  long base_ms;
  long max_wait_ms;
  /* Called before each wait (may be NULL): attempt is the 1-based attempt that failed. */
  void (*on_retry)(void *ud, int attempt, int status, long wait_ms);
  void *ud;
} lp_http_retry;

#define LP_HTTP_RETRY_DEFAULT { 6, 500, 30000, NULL, NULL }

/* lp_http_client_request, repeated under the retry policy while the answer is 429 or 503. *res holds the
 * last response. Returns as lp_http_client_request. */
int lp_http_client_request_retry(lp_http_client *c, const lp_http_retry *policy, const char *method,
                                 const char *path, const char *content_type, const void *body,
                                 size_t body_len, lp_http_response *res, char *errstr, size_t errstr_size);

#endif

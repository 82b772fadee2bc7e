/*
 * helpers.h: what the tests share: a free loopback port, the leadpoet binary started as a child process
 * (stopped by its own pid), and a small blocking HTTP client for driving it.
 */
#ifndef LP_TEST_HELPERS_H
#define LP_TEST_HELPERS_H

#include <stddef.h>
#include <sys/types.h>

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int lpt_free_port(void);

typedef struct lpt_server {
  pid_t pid;
  int port;
  char addr[64];     /* "127.0.0.1:PORT" */
  char log_path[256];
} lpt_server;

/* Starts `leadpoet serve --listen 127.0.0.1:<free port>` with extra argv and env ("KEY=VALUE", NULL-ended
 * arrays, either may be NULL), and waits until /healthz answers (up to 20 s). stderr goes to log_path.
 * Returns 0 or -1. */
int lpt_server_start(lpt_server *s, const char *const *extra_args, const char *const *env);
/* SIGTERM, wait for exit (up to 20 s, then SIGKILL). Returns the exit status (0..255), or -1 when killed. */
int lpt_server_stop(lpt_server *s);

typedef struct lpt_response {
  int status;
  char *headers;     /* raw header block, NUL-terminated */
  char *body;        /* NUL-terminated */
  size_t body_len;
} lpt_response;

/* Opens a connection to 127.0.0.1:port; returns the fd or -1. */
int lpt_connect(int port);
/* Sends all bytes. Returns 0 or -1. */
int lpt_send_all(int fd, const void *data, size_t n);
/* Reads one HTTP/1.1 response (Content-Length or chunked). Returns 0, or -1 on EOF/timeout/garbage. */
int lpt_read_response(int fd, lpt_response *r, int timeout_ms);
/* One request on a new connection: method, path, content type (may be NULL), body (may be NULL). */
int lpt_http(int port, const char *method, const char *path, const char *ctype, const char *body,
             size_t body_len, lpt_response *r);
/* The value of header name (case-insensitive) in r, copied to out; returns 0 or -1 when absent. */
int lpt_header(const lpt_response *r, const char *name, char *out, size_t cap);
void lpt_response_free(lpt_response *r);

/* Reads a whole file; NULL on error. Free with free(). */
char *lpt_read_file(const char *path, size_t *len);

#endif

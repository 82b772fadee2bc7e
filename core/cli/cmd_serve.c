/* `leadpoet serve [-c FILE] [--listen HOST:PORT]`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "cli/commands.h"
#include "config/config.h"
#include "server/server.h"

static void serve_usage(FILE *out) {
  fprintf(out,
          "usage: leadpoet serve [-c FILE] [--listen HOST:PORT]\n\n"
          "Runs the server until SIGINT or SIGTERM (then drains, saves its shards and exits 0).\n\n"
          "  -c, --config FILE     INI config file (default: the embedded defaults; see config/leadpoet.conf)\n"
          "  -l, --listen ADDR     HTTP address, overrides server.listen and LEADPOET_LISTEN\n"
          "                        (default 127.0.0.1:8080)\n"
          "  -h, --help            this help\n\n"
          "Every config key can be set by the environment: LEADPOET_<SECTION>_<KEY>, e.g.\n"
          "LEADPOET_SERVER_WORKERS=4; `leadpoet check-config --help` lists them all.\n");
}

int lp_cmd_serve(int argc, char **argv) {
  static const struct option opts[] = {
    { "config", required_argument, NULL, 'c' },
    { "listen", required_argument, NULL, 'l' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *path = NULL, *listen = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c': path = optarg; break;
    case 'l': listen = optarg; break;
    case 'h': serve_usage(stdout); return 0;
    default: serve_usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "leadpoet serve: unexpected argument '%s'\n", argv[optind]);
    serve_usage(stderr);
    return 2;
  }
  lp_config cfg;
  char err[1024] = "";
  if (lp_config_load(&cfg, path, err, sizeof(err)) != LP_OK) {
    fprintf(stderr, "leadpoet serve: %s\n", err);
    lp_config_free(&cfg);
    return 2;
  }
  if (listen != NULL) {
    /* The flag wins over the file and the environment. */
    const char *colon = strrchr(listen, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || colon == listen || end == colon + 1 || *end != '\0' || port < 0 || port > 65535) {
      fprintf(stderr, "leadpoet serve: --listen %s: expected HOST:PORT\n", listen);
      lp_config_free(&cfg);
      return 2;
    }
    lp_free(cfg.server.listen);
    cfg.server.listen = lp_strdup(listen);
  }
  int level = lp_log_parse_level(cfg.log.level);
  if (level > 0) lp_log_set_level(level);
  int rc = lp_server_run(&cfg);
  lp_config_free(&cfg);
  return rc;
}

/* `leadpoet keyhash [--name NAME] KEY|-`: the config entry of an API key (README "API keys"). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "server/auth.h"

static void keyhash_usage(FILE *out) {
  fprintf(out,
          "usage: leadpoet keyhash [--name NAME] KEY|-\n\n"
          "Prints the SHA-256 of KEY as 64 hex digits, or NAME:HEX with --name: an entry of http.api_keys\n"
          "or http.api_keys_file. With '-' the key is the first line of stdin (kept out of shell history).\n\n"
          "  -n, --name NAME       prefix the entry with the key's name ([A-Za-z0-9._-], 1..64 bytes)\n"
          "  -h, --help            this help\n");
}

int lp_cmd_keyhash(int argc, char **argv) {
  static const struct option opts[] = {
    { "name", required_argument, NULL, 'n' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *name = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
    switch (c) {
    case 'n': name = optarg; break;
    case 'h': keyhash_usage(stdout); return 0;
    default: keyhash_usage(stderr); return 2;
    }
  }
  if (argc - optind != 1) {
    fprintf(stderr, "leadpoet keyhash: expected one KEY (or - for stdin)\n");
    keyhash_usage(stderr);
    return 2;
  }
  size_t nlen = name ? strlen(name) : 0;
  if (name != NULL && (nlen == 0 || nlen > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                "0123456789._-") != nlen)) {
    fprintf(stderr, "leadpoet keyhash: --name %s: 1..64 of [A-Za-z0-9._-]\n", name);
    return 2;
  }
  char line[4096];
  const char *key = argv[optind];
  if (strcmp(key, "-") == 0) {
    if (fgets(line, sizeof(line), stdin) == NULL) {
      fprintf(stderr, "leadpoet keyhash: no key on stdin\n");
      return 2;
    }
    line[strcspn(line, "\r\n")] = '\0';
    key = line;
  }
  if (key[0] == '\0') {
    fprintf(stderr, "leadpoet keyhash: the key is empty\n");
    return 2;
  }
  uint8_t h[32];
  lp__sha256(key, strlen(key), h);
  if (name != NULL) printf("%s:", name);
  for (int i = 0; i < 32; i++) printf("%02x", h[i]);
  printf("\n");
  return 0;
}

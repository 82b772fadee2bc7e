#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "cli/commands.h"
#include "lp_version.h"

typedef struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
  { "serve", lp_cmd_serve, "run the server: HTTP API, shard workers, stages" },
  { "demo", lp_cmd_demo, "the whole system on embedded defaults with a live synthetic market" },
  { "ingest", lp_cmd_ingest, "post a JSON Lines file of snippets (or --outcomes) to a server" },
  { "produce", lp_cmd_produce, "publish a JSON Lines file to Kafka (--outcomes)" },
  { "query", lp_cmd_query, "ask a server for the leads that match a prompt" },
  { "check-config", lp_cmd_check_config, "check a config file; --help prints every key" },
  { "checkpoint", lp_cmd_checkpoint, "inspect or verify the checkpoints in Redis" },
  { "migrate", lp_cmd_migrate, "apply the PostgreSQL archive's schema migrations (--to N)" },
  { "train", lp_cmd_train, "train the scoring model on the training log (XGBoost), print P@25/NDCG@25 vs v0" },
  { "keyhash", lp_cmd_keyhash, "print the config entry (SHA-256) of an API key" },
  { "version", lp_cmd_version, "print the version" },
};

static void usage(FILE *out) {
  fprintf(out, "usage: leadpoet <command> [options]   (leadpoet <command> --help for its options)\n\ncommands:\n");
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\nexit codes: 0 ok, 1 runtime error, 2 usage or configuration error\n");
}

int lp_cmd_version(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("leadpoet %s (git %s, %s build)\n", LP_VERSION, LP_GIT_REV, LP_BUILD_TYPE);
  return 0;
}

int lp_cli_main(int argc, char **argv) {
  lp_alloc_install();
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) return lp_cmd_version(0, NULL);
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "leadpoet: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}

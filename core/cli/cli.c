#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "lp_version.h"

int lp_cli_main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "version") == 0) {
    printf("leadpoet %s (%s, %s)\n", LP_VERSION, LP_GIT_REV, LP_BUILD_TYPE);
    return 0;
  }
  fprintf(stderr, "usage: leadpoet <serve|ingest|query|check-config|version> [--help]\n");
  return 2;
}

/* cli.h: the `leadpoet` command line. Exit codes: 0 ok, 1 runtime error, 2 usage error. */
#ifndef LP_CLI_H
#define LP_CLI_H

int lp_cli_main(int argc, char **argv);

#endif

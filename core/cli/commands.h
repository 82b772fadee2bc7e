/*
 * commands.h: the subcommands of `leadpoet`. Each takes the argv after the subcommand name (argv[0] is the
 * subcommand), prints its own --help, and returns the process exit code: 0 ok, 1 runtime error, 2 usage.
 * Main thread.
 */
#ifndef LP_CLI_COMMANDS_H
#define LP_CLI_COMMANDS_H

int lp_cmd_serve(int argc, char **argv);
int lp_cmd_ingest(int argc, char **argv);
int lp_cmd_produce(int argc, char **argv);
int lp_cmd_query(int argc, char **argv);
int lp_cmd_check_config(int argc, char **argv);
int lp_cmd_checkpoint(int argc, char **argv);
int lp_cmd_migrate(int argc, char **argv);
int lp_cmd_demo(int argc, char **argv);
int lp_cmd_keyhash(int argc, char **argv);
int lp_cmd_train(int argc, char **argv);
int lp_cmd_version(int argc, char **argv);

#endif

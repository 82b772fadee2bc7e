/*
 * server.h: `leadpoet serve`. The reactor (this thread's libuv loop: HTTP, signals, timers), the shard
 * workers, the stage pipeline and the metrics, wired together; start-up, readiness and graceful shutdown.
 *
 * Start: metrics -> stages (config sections, plugins, init) -> workers (each opens its shards and loads
 * their snapshot files from server.state_dir) -> HTTP listen -> ready.
 * SIGINT/SIGTERM: not ready, stop accepting, answer what is in flight, drain the rings, save every shard
 * (the stages' save hooks) to server.state_dir, join the workers, exit 0. A second signal, or
 * server.shutdown_timeout passing, closes connections at once (the shards are still saved).
 */
#ifndef LP_SERVER_H
#define LP_SERVER_H

#include "config/config.h"

/* Runs until shut down. Returns the process exit code: 0 after a clean shutdown, 1 when start-up failed
 * (the reason is logged). Main thread. cfg must stay valid until it returns. */
int lp_server_run(lp_config *cfg);

#endif

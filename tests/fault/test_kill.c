/*
 * Exactly once under kill -9 and Redis outages (issue 7, fault tests): a mock Kafka cluster in its own
 * process holds a known stream; a server in external mode consumes it with checkpoints to Redis.
 *   A: one clean run;  B: the server SIGKILLed at random moments and restarted each time (20 kills in the
 *   Release build, 8 under the sanitizers);  C: Redis SIGKILLed mid-run (down for a while, the server
 *   killed meanwhile too) and restarted.
 * At the end every lead's snippet count, tech, churn and outcomes, and every miner's counts and reputation
 * are the same in B and C as in A: nothing lost, nothing counted twice.
 *
 * The stream comes in two phases, snippets then outcomes, each produced once every run has applied the
 * phase before and a checkpoint holds it: an outcome credits the miners who reported its lead before it,
 * and the order of two topics is not defined by Kafka, so only that order makes "one clean run" a single
 * answer.
 */
#include "fault/fault.h"

/* Progress of a phase: snippet records counted (total > 0), or outcomes on leads (total = -outcomes). */
static long ft_counted_phase(int port, long total) {
  long o = 0, n = ft_counted(port, total < 0 ? &o : NULL);
  return n < 0 ? -1 : total < 0 ? o : n;
}

#define NSNIPPETS 12000

static int rand_ms(unsigned *seed, int lo, int hi) { return lo + (int)(rand_r(seed) % (unsigned)(hi - lo)); }

/* Runs `kills` rounds of start, wait, SIGKILL on redis: odd rounds kill at a random moment of the start
 * (restore, assignment), even rounds once the server counted a random share of what is left of the phase
 * (mid-stream, between checkpoints). total: what the phase holds; outcomes >= 0 in phase 2. */
static void kill_rounds(const char *bootstrap, const char *redis, const char *tag, int kills, long total,
                        unsigned *seed) {
  for (int i = 0; i < kills; i++) {
    lpt_server s;
    char group[64];
    snprintf(group, sizeof(group), "%s-%d-%d", tag, (int)getpid(), i);
    cr_assert_eq(ft_server_start(&s, bootstrap, redis, group, NULL), 0, "start %s round %d", tag, i);
    if (i % 2 == 1) {
      ft_sleep_ms(rand_ms(seed, 10, 400));
    } else {
      long long end = ft_now_ms() + 30000;
      long first = -1, n, want = total < 0 ? -total : total;
      while ((n = ft_counted_phase(s.port, total)) >= 0 && n < want && ft_now_ms() < end) {
        if (first < 0 && n > 0) first = n;
        if (first >= 0 && n >= first + (want - first) * rand_ms(seed, 5, 60) / 100) break;
        ft_sleep_ms(5);
      }
    }
    ft_server_kill(&s);
  }
}

/* Starts a server, waits until it counted everything of the phase, and returns its state (and kills it,
 * or stops it gracefully when graceful). */
static char *settle(const char *bootstrap, const char *redis, const char *tag, long outcomes, int graceful) {
  lpt_server s;
  char group[64];
  snprintf(group, sizeof(group), "%s-%d-final%ld", tag, (int)getpid(), outcomes);
  cr_assert_eq(ft_server_start(&s, bootstrap, redis, group, NULL), 0);
  long n = ft_wait_counted(s.port, NSNIPPETS, outcomes, 90000);
  cr_assert_eq(n, NSNIPPETS, "%s: %ld snippet records counted, the log holds %d (log %s)", tag, n, NSNIPPETS,
               s.log_path);
  char *state = ft_state(s.port);
  if (graceful) {
    cr_assert_eq(lpt_server_stop(&s), 0, "%s: clean stop (log %s)", tag, s.log_path);
  } else {
    /* Killed only once a checkpoint holds every record of the phase: else the next run would replay the
     * phase's tail interleaved with the next phase's topic, an order no clean run has (the throttle, scaled
     * by reputation, then judges the replayed snippets under reputations the outcomes already moved). */
    cr_assert_eq(ft_wait_checkpointed(s.port, 30000), 0, "%s: no checkpoint holds the phase (log %s)", tag,
                 s.log_path);
    ft_server_kill(&s);
  }
  return state;
}

Test(fault, kill9_and_redis_outage_exactly_once, .timeout = 280) {
  ft_redis r = { 0 };
  ft_kafka k = { 0 };
  cr_assert_eq(ft_redis_start(&r), 0);
  cr_assert_eq(ft_kafka_start(&k), 0);
  char snip[200], outc[200];
  snprintf(snip, sizeof(snip), "%s/snippets.jsonl", r.dir);
  snprintf(outc, sizeof(outc), "%s/outcomes.jsonl", r.dir);
  cr_assert_eq(ft_write_snippets(snip, NSNIPPETS), 0);
  cr_assert_eq(ft_write_outcomes(outc, NSNIPPETS), 0);
  cr_assert_eq(ft_produce(k.bootstrap, snip, 0), 0, "produce the snippets");
  char ra[96], rb[96], rc[96];
  snprintf(ra, sizeof(ra), "redis://127.0.0.1:%d/1", r.port);
  snprintf(rb, sizeof(rb), "redis://127.0.0.1:%d/2", r.port);
  snprintf(rc, sizeof(rc), "redis://127.0.0.1:%d/3", r.port);
  unsigned seed = (unsigned)time(NULL);
  cr_log_info("seed %u", seed);
  int kills = FT_SANITIZED ? 8 : 20;

  /* Phase 1: snippets. */
  char *a1 = settle(k.bootstrap, ra, "clean", -1, 1);
  kill_rounds(k.bootstrap, rb, "kill", kills / 2, NSNIPPETS, &seed);
  char *b1 = settle(k.bootstrap, rb, "kill", -1, 0);
  {
    lpt_server s;
    cr_assert_eq(ft_server_start(&s, k.bootstrap, rc, "outage-a", "LEADPOET_CHECKPOINT_MAX_BACKLOG=400"), 0);
    ft_sleep_ms(rand_ms(&seed, 100, 600));
    ft_redis_kill(&r);                 /* Redis gone: the server goes on until the backlog bound */
    ft_sleep_ms(2500);
    lpt_response resp;
    cr_assert_eq(lpt_http(s.port, "GET", "/v1/status", NULL, NULL, 0, &resp), 0, "queries go on without Redis");
    cr_assert_eq(resp.status, 200);
    lpt_response_free(&resp);
    ft_server_kill(&s);                /* and the server dies during the outage */
    cr_assert_eq(ft_redis_start(&r), 0);
  }
  kill_rounds(k.bootstrap, rc, "outage", 2, NSNIPPETS, &seed);
  char *c1 = settle(k.bootstrap, rc, "outage", -1, 0);
  cr_expect(ft_same_state(b1, a1, "after the kills, phase 1"), "after the kills, phase 1");
  cr_expect(ft_same_state(c1, a1, "after the Redis outage, phase 1"), "after the Redis outage, phase 1");

  /* Phase 2: outcomes (reputation). */
  cr_assert_eq(ft_produce(k.bootstrap, outc, 1), 0, "produce the outcomes");
  char *a2 = settle(k.bootstrap, ra, "clean", FT_DOMAINS, 1);
  kill_rounds(k.bootstrap, rb, "kill2", kills - kills / 2, -FT_DOMAINS, &seed);
  char *b2 = settle(k.bootstrap, rb, "kill2", FT_DOMAINS, 0);
  char *c2 = settle(k.bootstrap, rc, "outage2", FT_DOMAINS, 0);
  cr_expect(ft_same_state(b2, a2, "after the kills, phase 2"), "after the kills, phase 2");
  cr_expect(ft_same_state(c2, a2, "after the Redis outage, phase 2"), "after the Redis outage, phase 2");
  
  free(a1), free(b1), free(c1), free(a2), free(b2), free(c2);
  ft_kafka_stop(&k);
  ft_redis_kill(&r);
}

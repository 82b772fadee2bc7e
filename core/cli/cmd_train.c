/*
 * `leadpoet train`: a model from the system's own history (core/train/, docs/adr/0014-learned-model.md).
 * Reads training logs, labels each logged (query, lead) row by what followed within the horizon, splits
 * by time, trains with XGBoost, writes the model and its sidecar, and prints validation P@k and NDCG@k of
 * the model and of v0 on the same split.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "config/config.h"
#include "train/dataset.h"
#include "train/train.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: leadpoet train [options] [LOG...]\n\n"
          "Trains the scoring model on training logs (the server writes one when scoring.train_log is set;\n"
          "without LOG arguments, that file of the config and its rotated <file>.1 are read).\n\n"
          "  -c, --config FILE     config to read scoring.train_log from (default: embedded defaults + env)\n"
          "  -o, --out FILE        model file to write (default config/models/model.json); the sidecar\n"
          "                        FILE.features lists the feature names and their version\n"
          "      --labels SRC      outcomes (default: purchased = 2, meeting = 1 within the horizon) or llm\n"
          "                        (the LLM re-rank's verdicts, >= 0.5 relevant)\n"
          "      --horizon DUR     how long after an answer an outcome counts (default 30d)\n"
          "      --valid SHARE     the latest share of queries held out for validation (default 0.2)\n"
          "      --objective OBJ   rank:pairwise (default) or binary:logistic\n"
          "      --rounds N        boosting rounds (default 200)\n"
          "      --depth N         tree depth (default 6)\n"
          "      --eta X           learning rate (default 0.1)\n"
          "      --name NAME       the model's name in answers (default: the file's base name)\n"
          "  -k N                  P@k and NDCG@k (default 25)\n\n"
          "exit codes: 0 trained, 1 training failed, 2 usage or configuration error\n");
}

/* A duration such as "30d" through the config's own parser. */
static int parse_duration(const char *s, int64_t *out) {
  lp_conf_key k = { "horizon", LP_CONF_DURATION_MS, "30d", 1.0, 3650.0 * 86400000.0, 0, "" };
  char why[128];
  return lp_config_parse_value(&k, s, out, why, sizeof why) == LP_OK;
}

static int read_logs(lp_dataset *d, int n, char **paths, const char *cfg_path) {
  char err[1024] = "";
  if (n > 0) {
    for (int i = 0; i < n; i++)
      if (lp_dataset_read(d, paths[i], err, sizeof err) != LP_OK) {
        fprintf(stderr, "leadpoet train: %s\n", err);
        return 1;
      }
    return 0;
  }
  lp_config cfg;
  if (lp_config_load(&cfg, cfg_path, err, sizeof err) != LP_OK) {
    fprintf(stderr, "leadpoet train: %s\n", err);
    lp_config_free(&cfg);
    return 2;
  }
  int rc = 0;
  if (!cfg.scoring.train_log || !cfg.scoring.train_log[0]) {
    fprintf(stderr, "leadpoet train: no LOG given and scoring.train_log is empty\n");
    rc = 2;
  } else {
    char old[4096];
    snprintf(old, sizeof old, "%s.1", cfg.scoring.train_log);
    int r = lp_dataset_read(d, old, err, sizeof err);
    if (r != LP_OK && r != LP_ENOENT) rc = 1;
    if (rc == 0 && lp_dataset_read(d, cfg.scoring.train_log, err, sizeof err) != LP_OK) rc = 1;
    if (rc) fprintf(stderr, "leadpoet train: %s\n", err);
  }
  lp_config_free(&cfg);
  return rc;
}

int lp_cmd_train(int argc, char **argv) {
  static const struct option opts[] = {
    { "config", required_argument, NULL, 'c' }, { "out", required_argument, NULL, 'o' },
    { "labels", required_argument, NULL, 'L' }, { "horizon", required_argument, NULL, 'H' },
    { "valid", required_argument, NULL, 'V' },  { "objective", required_argument, NULL, 'O' },
    { "rounds", required_argument, NULL, 'R' }, { "depth", required_argument, NULL, 'D' },
    { "eta", required_argument, NULL, 'E' },    { "name", required_argument, NULL, 'N' },
    { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
  };
  lp_train_params p = { "rank:pairwise", 200, 6, 0.1, 25, 42, LP_LABELS_OUTCOMES, NULL };
  const char *cfg_path = NULL, *out = "config/models/model.json";
  int64_t horizon = 30LL * 86400000LL;
  double valid = 0.2;
  char *end;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "c:o:k:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c': cfg_path = optarg; break;
    case 'o': out = optarg; break;
    case 'L':
      if (strcmp(optarg, "outcomes") == 0) p.labels = LP_LABELS_OUTCOMES;
      else if (strcmp(optarg, "llm") == 0) p.labels = LP_LABELS_LLM;
      else goto bad;
      break;
    case 'H': if (!parse_duration(optarg, &horizon)) goto bad; break;
    case 'V': valid = strtod(optarg, &end); if (*end || !(valid > 0 && valid < 1)) goto bad; break;
    case 'O':
      if (strcmp(optarg, "rank:pairwise") != 0 && strcmp(optarg, "binary:logistic") != 0) goto bad;
      p.objective = optarg;
      break;
    case 'R': p.rounds = (uint32_t)strtoul(optarg, &end, 10); if (*end || p.rounds < 1 || p.rounds > 100000) goto bad; break;
    case 'D': p.depth = (uint32_t)strtoul(optarg, &end, 10); if (*end || p.depth < 1 || p.depth > 16) goto bad; break;
    case 'E': p.eta = strtod(optarg, &end); if (*end || !(p.eta > 0 && p.eta <= 1)) goto bad; break;
    case 'N': p.name = optarg; break;
    case 'k': p.k = (uint32_t)strtoul(optarg, &end, 10); if (*end || p.k < 1 || p.k > 1000) goto bad; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  lp_dataset d;
  memset(&d, 0, sizeof d);
  int rc = read_logs(&d, argc - optind, argv + optind, cfg_path);
  char err[1024] = "";
  if (rc == 0 && lp_dataset_label(&d, p.labels, horizon, valid, err, sizeof err) != LP_OK) {
    fprintf(stderr, "leadpoet train: %s\n", err);
    rc = 1;
  }
  lp_train_report r;
  if (rc == 0 && lp_train_run(&d, &p, out, &r, err, sizeof err) != LP_OK) {
    fprintf(stderr, "leadpoet train: %s\n", err);
    rc = 1;
  }
  if (rc == 0) {
    printf("read %zu lines (%zu skipped): %zu queries, %zu outcomes, %zu judgments; labels %s, split at ts %lld\n",
           d.lines, d.skipped, d.n_q, d.n_o, d.n_j, p.labels == LP_LABELS_LLM ? "llm" : "outcomes",
           (long long)d.cut_ms);
    printf("train: %zu queries, %zu rows, %zu positive; validation: %zu queries, %zu rows, %zu with a positive\n",
           r.train_queries, r.train_rows, r.train_positive, r.valid_queries, r.valid_rows, r.valid_scored);
    printf("%-8s P@%-4u %-8s NDCG@%u\n", "model", p.k, "", p.k);
    printf("%-8s %.4f          %.4f\n", "trained", r.model.p, r.model.ndcg);
    printf("%-8s %.4f          %.4f\n", "v0", r.v0.p, r.v0.ndcg);
    printf("wrote %s and %s.features\n", out, out);
  }
  lp_dataset_free(&d);
  return rc;
bad:
  fprintf(stderr, "leadpoet train: bad value for an option: %s\n", optarg);
  usage(stderr);
  return 2;
}

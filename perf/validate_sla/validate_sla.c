/*
 * validate_sla: checks the figures of the load tools against SLA files and prints a pass/fail table.
 *
 *   validate_sla --sla FILE [--sla FILE]... RESULT.json [RESULT.json]...
 *
 * The results (perf/load_test --out, perf/cost_test --json, perf/freshness --json) are merged into one
 * object, later files winning on equal top-level keys. An SLA file (perf/sla/seed.sla, leadpoet.sla) holds lines
 * "PATH OP VALUE DESCRIPTION" (OP: < <= > >= ==), '#' comments and one optional "name TEXT" line; PATH is
 * a dotted path into the merged JSON. A figure that is missing or not a number fails. Exit 0 only when
 * every line of every SLA holds, 1 when one does not, 2 on a usage error or an unreadable file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 32

static void usage(FILE *f) {
  fprintf(f, "usage: validate_sla --sla FILE [--sla FILE]... RESULT.json [RESULT.json]...\n"
             "  each SLA line: PATH OP VALUE DESCRIPTION (OP: < <= > >= ==); see perf/sla/seed.sla\n"
             "  exit 0 when every line holds, 1 when one fails, 2 on a usage error or an unreadable file\n");
}

static const json_t *lookup(const json_t *root, const char *path) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", path);
  const json_t *x = root;
  for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && x; k = strtok_r(NULL, ".", &save))
    x = json_object_get(x, k);
  return x;
}

static int holds(double v, const char *op, double want) {
  if (!strcmp(op, "<")) return v < want;
  if (!strcmp(op, "<=")) return v <= want;
  if (!strcmp(op, ">")) return v > want;
  if (!strcmp(op, ">=")) return v >= want;
  return v == want;
}

static int valid_op(const char *op) {
  return !strcmp(op, "<") || !strcmp(op, "<=") || !strcmp(op, ">") || !strcmp(op, ">=") || !strcmp(op, "==");
}

/* Checks one SLA file; adds to *fails. -1 when the file cannot be read or has a bad line. */
static int check(const char *path, const json_t *root, int *fails, int *total) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "validate_sla: cannot open %s: %s\n", path, strerror(errno));
    return -1;
  }
  char line[1024], name[256];
  snprintf(name, sizeof name, "%s", path);
  int lineno = 0, rc = 0, header = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    line[strcspn(line, "\r\n")] = '\0';
    char *p = line + strspn(line, " \t");
    if (!*p || *p == '#') continue;
    if (!strncmp(p, "name ", 5)) {
      snprintf(name, sizeof name, "%s", p + 5);
      continue;
    }
    char key[256], op[8], val[64];
    int used = 0;
    if (sscanf(p, "%255s %7s %63s %n", key, op, val, &used) < 3 || !valid_op(op)) {
      fprintf(stderr, "validate_sla: %s:%d: expected PATH OP VALUE [DESCRIPTION]\n", path, lineno);
      rc = -1;
      break;
    }
    char *end;
    double want = strtod(val, &end);
    if (*end) {
      fprintf(stderr, "validate_sla: %s:%d: '%s' is not a number\n", path, lineno, val);
      rc = -1;
      break;
    }
    if (!header) {
      printf("\n%s (%s)\n  %-5s %-30s %-22s %s\n", name, path, "", "figure", "measured    goal", "what");
      header = 1;
    }
    const json_t *x = lookup(root, key);
    const char *desc = used > 0 ? p + used : "";
    (*total)++;
    if (!json_is_number(x)) {
      (*fails)++;
      printf("  %-5s %-30s %-12s %2s %-8s %s\n", "FAIL", key, "missing", op, val, desc);
      continue;
    }
    double v = json_number_value(x);
    int ok = holds(v, op, want);
    if (!ok) (*fails)++;
    printf("  %-5s %-30s %-12.6g %2s %-8s %s\n", ok ? "pass" : "FAIL", key, v, op, val, desc);
  }
  fclose(f);
  return rc;
}

int main(int argc, char **argv) {
  const char *slas[MAX_FILES], *results[MAX_FILES];
  int ns = 0, nr = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--sla")) {
      if (i + 1 >= argc || ns == MAX_FILES) {
        usage(stderr);
        return 2;
      }
      slas[ns++] = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "validate_sla: unknown option '%s'\n", argv[i]);
      return 2;
    } else if (nr < MAX_FILES) {
      results[nr++] = argv[i];
    } else {
      fprintf(stderr, "validate_sla: at most %d result files\n", MAX_FILES);
      return 2;
    }
  }
  if (ns == 0 || nr == 0) {
    usage(stderr);
    return 2;
  }
  json_t *root = json_object();
  for (int i = 0; i < nr; i++) {
    json_error_t e;
    json_t *j = !strcmp(results[i], "-") ? json_loadf(stdin, 0, &e) : json_load_file(results[i], 0, &e);
    if (!json_is_object(j)) {
      fprintf(stderr, "validate_sla: %s: not a JSON object (%s, line %d)\n", results[i], j ? "not an object" : e.text,
              e.line);
      json_decref(j);
      json_decref(root);
      return 2;
    }
    json_object_update(root, j);
    json_decref(j);
  }
  int fails = 0, total = 0, bad = 0;
  for (int i = 0; i < ns && !bad; i++) bad = check(slas[i], root, &fails, &total) != 0;
  json_decref(root);
  if (bad) return 2;
  printf("\n%d of %d checks hold: %s\n", total - fails, total, fails ? "FAIL" : "PASS");
  return fails ? 1 : 0;
}

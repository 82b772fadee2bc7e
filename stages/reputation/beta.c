/*
 * beta.c: quantiles of the Beta distribution, for the 95 % interval of a miner's reputation.
 *
 * Why not a normal approximation: with few outcomes (the common case for a new miner) the posterior is
 * skewed and close to 0 or 1, where mean +- 1.96 sd leaves [0, 1] and needs clamping that hides exactly
 * the uncertainty we want to show. The exact quantile is cheap enough here: it is computed on the reactor
 * for GET /v1/miners and cached per miner between changes (table.c).
 *
 * I_x(a, b) by its continued fraction (modified Lentz, the form of Numerical Recipes section 6.4, which
 * converges fast for x < (a + 1) / (a + b + 2) and uses the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) above);
 * the inverse by Newton steps on I_x - p, each kept inside a bracket that shrinks on every step and
 * replaced by bisection when it would leave it, so it always converges.
 */
#include <math.h>

#include "stages/reputation/reputation.h"

#define CF_MAX_ITER 400
#define CF_EPS 1e-15
#define TINY 1e-300

static double contfrac(double a, double b, double x) {
  double qab = a + b, qap = a + 1.0, qam = a - 1.0;
  double c = 1.0, d = 1.0 - qab * x / qap;
  if (fabs(d) < TINY) d = TINY;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= CF_MAX_ITER; m++) {
    double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (fabs(d) < TINY) d = TINY;
    c = 1.0 + aa / c;
    if (fabs(c) < TINY) c = TINY;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (fabs(d) < TINY) d = TINY;
    c = 1.0 + aa / c;
    if (fabs(c) < TINY) c = TINY;
    d = 1.0 / d;
    double del = d * c;
    h *= del;
    if (fabs(del - 1.0) < CF_EPS) break;
  }
  return h;
}

static double log_beta(double a, double b) { return lgamma(a) + lgamma(b) - lgamma(a + b); }

double lp_rep_beta_cdf(double x, double a, double b) {
  if (!(x > 0.0)) return 0.0;
  if (x >= 1.0) return 1.0;
  double front = exp(a * log(x) + b * log1p(-x) - log_beta(a, b));
  if (x < (a + 1.0) / (a + b + 2.0)) return front * contfrac(a, b, x) / a;
  return 1.0 - front * contfrac(b, a, 1.0 - x) / b;
}

static double density(double x, double a, double b, double lb) {
  if (x <= 0.0 || x >= 1.0) return 0.0;
  return exp((a - 1.0) * log(x) + (b - 1.0) * log1p(-x) - lb);
}

double lp_rep_beta_quantile(double p, double a, double b) {
  if (!(p > 0.0)) return 0.0;
  if (p >= 1.0) return 1.0;
  double lb = log_beta(a, b), lo = 0.0, hi = 1.0;
  double x = a / (a + b);
  for (int i = 0; i < 200 && hi - lo > 1e-13; i++) {
    double f = lp_rep_beta_cdf(x, a, b) - p;
    if (f == 0.0) return x;
    if (f < 0.0) lo = x;
    else hi = x;
    double pdf = density(x, a, b, lb);
    double next = pdf > 0.0 ? x - f / pdf : -1.0;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (fabs(next - x) < 1e-13) return next;
    x = next;
  }
  return x;
}

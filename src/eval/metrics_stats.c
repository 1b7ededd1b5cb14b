/* numpy's and Python's arithmetic, reproduced so that the rounded metrics match the seed's digits.
 * A different summation order changes the last bits of a mean, and a mean that lands near a
 * rounding tie (x.xxx5) then prints differently; so we sum in numpy's order, not just accurately. */
#include "eval/metrics.h"
#include "base/err.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* numpy's pairwise_sum (umath loops): below 8 elements a plain loop; up to 128, eight running sums
 * combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) and the remainder added in order; above, split at
 * a multiple of 8 near the middle and recurse. */
static double pairwise(const double *a, size_t n) {
    if (n < 8) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += a[i];
        return s;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) s += a[i];
        return s;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

/* The reduction iterator hands the inner loop at most one buffer (8192 elements) at a time and
 * adds each block's pairwise sum to the running total (checked against numpy 1.24 up to 1e5
 * elements by tests/eval/test_metrics_seed.py). */
double xgd_np_sum(const double *x, size_t n) {
    enum { BUFSIZE = 8192 };
    double s = 0.0;
    for (size_t lo = 0; lo < n; lo += BUFSIZE) s += pairwise(x + lo, n - lo < BUFSIZE ? n - lo : BUFSIZE);
    return s;
}

double xgd_np_mean(const double *x, size_t n) {
    return n ? xgd_np_sum(x, n) / (double)n : NAN;
}

double xgd_np_std(const double *x, size_t n) {
    if (!n) return NAN;
    double mean = xgd_np_mean(x, n);
    double *d = xgd_malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = (x[i] - mean) * (x[i] - mean);
    double var = xgd_np_sum(d, n) / (double)n;
    free(d);
    return sqrt(var);
}

double xgd_np_round(double x, int d) {
    double f = 1.0;
    for (int i = 0; i < d; i++) f *= 10.0;
    return rint(x * f) / f;
}

/* glibc's printf rounds the exact binary value (ties to even), which is what Python's round()
 * does through its dtoa; reading the digits back gives the double Python returns. */
double xgd_py_round(double x, int d) {
    if (!isfinite(x)) return x;
    char buf[512];
    snprintf(buf, sizeof buf, "%.*f", d, x);
    return strtod(buf, NULL);
}

/* numpy's linear method: virtual index q (n-1), interpolated as numpy's _lerp does (from the
 * upper neighbour when the fraction is >= 0.5, which keeps the result monotone). */
double xgd_percentile_sorted(const double *v, size_t n, double q) {
    if (!n) return NAN;
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1) return v[n - 1];
    double t = pos - (double)lo, a = v[lo], b = v[lo + 1], diff = b - a;
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

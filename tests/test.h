/* A tiny test harness: CHECK-style assertions that count, report file:line, and keep going.
 * A test program returns test_done(): 0 when all passed, 1 otherwise, 77 to mark "skipped". */
#ifndef XGD_TEST_H
#define XGD_TEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_pass, t_fail;

#define CHECK(cond) do { if (cond) t_pass++; else { t_fail++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { if (cond) t_pass++; else { t_fail++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_NEAR(a, b, tol) do { double _a = (a), _b = (b); \
    if (fabs(_a - _b) <= (tol) && !isnan(_a) && !isnan(_b)) t_pass++; else { t_fail++; \
    fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s=%.9g %s=%.9g tol=%g\n", __FILE__, __LINE__, #a, _a, #b, _b, (double)(tol)); } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
    if (_a && _b && strcmp(_a, _b) == 0) t_pass++; else { t_fail++; \
    fprintf(stderr, "%s:%d: CHECK_STR failed: %s=\"%s\" %s=\"%s\"\n", __FILE__, __LINE__, #a, _a ? _a : "(null)", #b, _b ? _b : "(null)"); } } while (0)

/* Largest absolute difference of two float arrays. */
static inline double t_maxdiff(const float *a, const float *b, long n) {
    double m = 0;
    for (long i = 0; i < n; i++) { double d = fabs((double)a[i] - (double)b[i]); if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d; }
    return m;
}

static inline int test_done(const char *name) {
    printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
    return t_fail ? 1 : 0;
}

/* Path of ../shared (XGD_SHARED from ctest), or NULL with a message: the caller then skips. */
static inline const char *test_shared(void) {
    const char *s = getenv("XGD_SHARED");
    static char buf[4096];
    if (!s) s = "../shared";
    snprintf(buf, sizeof buf, "%s/docs", s);
    FILE *f = fopen(buf, "r");
    if (!f) { fprintf(stderr, "skip: ../shared is absent (set XGD_SHARED)\n"); return NULL; }
    fclose(f);
    return s;
}

/* A fresh scratch folder for this test under XGD_TMP (or /tmp). */
static inline const char *test_tmpdir(const char *name) {
    static char buf[4096];
    const char *base = getenv("XGD_TMP");
    if (!base) base = "/tmp/xgd-test";
    snprintf(buf, sizeof buf, "rm -rf '%s/%s' && mkdir -p '%s/%s'", base, name, base, name);
    if (system(buf) != 0) { fprintf(stderr, "cannot create scratch folder\n"); exit(1); }
    snprintf(buf, sizeof buf, "%s/%s", base, name);
    return buf;
}
#endif

/* N is small (hundreds of sentences), so the N x N cosine table is computed directly. */
#include "interp/retrieval.h"
#include "base/err.h"
#include <math.h>
#include <stdlib.h>

static double norm(const float *a, int H) {
    double s = 0;
    for (int h = 0; h < H; h++) s += (double)a[h] * a[h];
    return sqrt(s);
}

static double dotp(const float *a, const float *b, int H) {
    double s = 0;
    for (int h = 0; h < H; h++) s += (double)a[h] * b[h];
    return s;
}

/* torch.cosine_similarity's guard against zero vectors */
static double cosv(double d, double na, double nb) {
    double den = na * nb;
    return d / (den > 1e-8 ? den : 1e-8);
}

double xgd_paired_cos_mean(const float *A, const float *B, int64_t N, int H, int64_t stride) {
    double s = 0;
    for (int64_t i = 0; i < N; i++) {
        const float *a = A + i * stride, *b = B + i * stride;
        s += cosv(dotp(a, b, H), norm(a, H), norm(b, H));
    }
    return N ? s / (double)N : NAN;
}

double xgd_retrieval_acc(const float *A, const float *B, int64_t N, int H, int64_t stride) {
    if (N <= 0) return NAN;
    double *nb = xgd_malloc(sizeof(double) * (size_t)N);
    for (int64_t j = 0; j < N; j++) nb[j] = norm(B + j * stride, H);
    int64_t hits = 0;
    #pragma omp parallel for reduction(+ : hits) schedule(static)
    for (int64_t i = 0; i < N; i++) {
        const float *a = A + i * stride;
        double na = norm(a, H), best = -INFINITY;
        int64_t arg = -1;
        for (int64_t j = 0; j < N; j++) {
            double c = cosv(dotp(a, B + j * stride, H), na, nb[j]);
            if (c > best) { best = c; arg = j; }
        }
        hits += arg == i;
    }
    free(nb);
    return (double)hits / (double)N;
}

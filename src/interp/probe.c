/* Probe training: full-precision BCE gradients on cached features, Adam as torch.optim.Adam. */
#include "interp/probe.h"
#include "base/err.h"
#include "base/npy.h"
#include "base/rng.h"
#include "io/io_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double dot(const float *a, const float *b, int H) {
    double s = 0;
    for (int h = 0; h < H; h++) s += (double)a[h] * b[h];
    return s;
}

/* torch's BCELoss term for one row: log clamped at -100 so p = 0 or 1 stays finite. */
static double bce(double p, int y) {
    double lp = p > 0 ? log(p) : -INFINITY, lq = p < 1 ? log1p(-p) : -INFINITY;
    if (lp < -100) lp = -100;
    if (lq < -100) lq = -100;
    return -(y ? lp : lq);
}

void xgd_probe_eval(const float *X, const uint8_t *y, int H, const int64_t *idx, int64_t n, int batch,
                    const float *w, double *loss, double *acc) {
    double lsum = 0;
    int64_t correct = 0, nb = 0;
    for (int64_t i0 = 0; i0 < n; i0 += batch, nb++) {
        int64_t B = n - i0 < batch ? n - i0 : batch;
        double bl = 0;
        for (int64_t i = i0; i < i0 + B; i++) {
            double p = 1.0 / (1.0 + exp(-dot(X + idx[i] * H, w, H)));
            bl += bce(p, y[idx[i]]);
            correct += (p > 0.5) == (y[idx[i]] != 0);
        }
        lsum += bl / (double)B;
    }
    *loss = nb ? lsum / (double)nb : NAN;
    *acc = n ? (double)correct / (double)n : NAN;
}

void xgd_probe_split(int64_t n, uint64_t seed, int64_t *perm, int64_t *ntr) {
    xgd_rng r;
    xgd_rng_init(&r, seed, 1);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)xgd_rng_below(&r, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    *ntr = (int64_t)(0.9 * (double)n);
}

int xgd_probe_train(const float *X, const uint8_t *y, int H, const int64_t *train, int64_t ntr,
                    const int64_t *val, int64_t nva, const xgd_probe_opts *o, xgd_probe_cb cb, void *user, float *w) {
    if (ntr <= 0) return xgd_fail("probe: no training rows");
    if (o->batch_size < 1 || o->epochs < 1) return xgd_fail("probe: epochs and batch size must be >= 1");
    xgd_rng r;
    xgd_rng_init(&r, o->seed, 0);
    float *cur = xgd_malloc(sizeof(float) * (size_t)H);
    double *m1 = xgd_calloc((size_t)H, sizeof(double)), *m2 = xgd_calloc((size_t)H, sizeof(double));
    double *g = xgd_malloc(sizeof(double) * (size_t)H);
    int64_t *order = xgd_malloc(sizeof(int64_t) * (size_t)ntr);
    double bound = 1.0 / sqrt((double)H); /* nn.Linear's default init for a (1, H) weight */
    for (int h = 0; h < H; h++) cur[h] = (float)((2.0 * xgd_rng_uniform_d(&r) - 1.0) * bound);
    memcpy(w, cur, sizeof(float) * (size_t)H);
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double best = INFINITY;
    int64_t step = 0;
    int rc = 0;
    for (int ep = 1; ep <= o->epochs && rc == 0; ep++) {
        memcpy(order, train, sizeof(int64_t) * (size_t)ntr);
        for (int64_t i = ntr - 1; i > 0; i--) {
            int64_t j = (int64_t)xgd_rng_below(&r, (uint64_t)i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double lsum = 0;
        int64_t nb = 0, correct = 0;
        for (int64_t i0 = 0; i0 < ntr; i0 += o->batch_size, nb++) {
            int64_t B = ntr - i0 < o->batch_size ? ntr - i0 : o->batch_size;
            memset(g, 0, sizeof(double) * (size_t)H);
            double bl = 0;
            for (int64_t i = i0; i < i0 + B; i++) {
                const float *x = X + order[i] * H;
                double p = 1.0 / (1.0 + exp(-dot(x, cur, H)));
                int yi = y[order[i]] != 0;
                bl += bce(p, yi);
                correct += (p > 0.5) == yi;
                /* d mean-BCE / dz = (p - y) / B; the batch-of-one squeeze is harmless here */
                double dz = (p - yi) / (double)B;
                for (int h = 0; h < H; h++) g[h] += dz * x[h];
            }
            lsum += bl / (double)B;
            step++;
            double bc1 = 1 - pow(b1, (double)step), bc2 = 1 - pow(b2, (double)step);
            for (int h = 0; h < H; h++) {
                m1[h] = b1 * m1[h] + (1 - b1) * g[h];
                m2[h] = b2 * m2[h] + (1 - b2) * g[h] * g[h];
                double denom = sqrt(m2[h]) / sqrt(bc2) + eps;
                cur[h] = (float)(cur[h] - o->lr / bc1 * m1[h] / denom);
            }
        }
        xgd_probe_epoch e = {ep, lsum / (double)nb, (double)correct / (double)ntr, NAN, NAN, 0};
        if (nva > 0) xgd_probe_eval(X, y, H, val, nva, o->batch_size, cur, &e.val_loss, &e.val_acc);
        /* without validation rows the train loss decides */
        double crit = nva > 0 ? e.val_loss : e.train_loss;
        if (crit < best) { best = crit; e.best = 1; memcpy(w, cur, sizeof(float) * (size_t)H); }
        if (cb && cb(user, &e, cur, H) != 0) rc = -1;
    }
    free(cur); free(m1); free(m2); free(g); free(order);
    return rc;
}

/* torch.save zip: the single storage member ".../data/0" holds the little-endian floats. */
static int load_pt(const char *path, float **w, int *H) {
    xgd_zip z;
    if (xgd_zip_open(&z, path) != 0) return -1;
    const xgd_zip_entry *hit = NULL;
    int n = 0;
    for (size_t i = 0; i < z.n; i++) {
        const char *s = strstr(z.entries[i].name, "/data/");
        if (s && strchr(s + 6, '/') == NULL && s[6] >= '0' && s[6] <= '9') { hit = &z.entries[i]; n++; }
    }
    int rc = 0;
    if (n != 1) rc = xgd_fail("%s: expected one tensor storage (a probe), found %d", path, n);
    else if (hit->size == 0 || hit->size % 4 || hit->size / 4 > (1u << 26))
        rc = xgd_fail("%s: storage %s has %llu bytes, not a float32 vector", path, hit->name, (unsigned long long)hit->size);
    else {
        *H = (int)(hit->size / 4);
        *w = xgd_malloc(hit->size);
        for (int i = 0; i < *H; i++) { /* little-endian float32, whatever the host */
            const uint8_t *b = hit->data + 4 * i;
            uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
            memcpy(*w + i, &u, 4);
        }
    }
    xgd_zip_close(&z);
    return rc;
}

int xgd_probe_load(const char *path, float **w, int *H) {
    size_t len = strlen(path);
    if (len >= 4 && !strcmp(path + len - 4, ".npy")) {
        xgd_npy a;
        if (xgd_npy_read(path, &a) != 0) return -1;
        if (a.numel <= 0 || a.numel > (1 << 26) || (a.dtype != XGD_F32 && a.dtype != XGD_F64)) {
            xgd_npy_free(&a);
            return xgd_fail("%s: a probe must be a non-empty float32/float64 array", path);
        }
        *H = (int)a.numel;
        *w = xgd_malloc(sizeof(float) * (size_t)a.numel);
        for (int64_t i = 0; i < a.numel; i++) (*w)[i] = a.dtype == XGD_F32 ? ((float *)a.data)[i] : (float)((double *)a.data)[i];
        xgd_npy_free(&a);
        return 0;
    }
    return load_pt(path, w, H);
}

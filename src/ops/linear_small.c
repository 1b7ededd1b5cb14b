/* Small-M products with f32/f16/bf16 weights (decode, short prompts). Each weight row is widened
 * to f32 in registers and used for all M activation rows at once, so the weight streams from
 * memory once per call and no f32 copy of it is ever made: bf16 through the pair-order kernels
 * below; f32 with one row through xgd_dot_rows with the weight rows as its x rows (four per pass)
 * and xgd_axpy_f32_rows8 (eight rows per pass), the next group prefetched; f32/f16 otherwise (and
 * bf16 without AVX-512) through xgd_dot_rows/xgd_axpy_rows. */
#include "ops/linear_internal.h"
#include "ops/ops_internal.h"
#include "base/err.h"
#include <omp.h>
#include <stdlib.h>

/* bf16 weights, few rows, both forms: 32 weights per 64-byte load (even weights by a shift, odd by
 * a mask), x or y reordered once per call into "pair order" (xgd_bf16_pair_order).
 *
 * Dot form (out, in): x rows reordered once, then four weight rows at a time, so each core keeps
 * four DRAM streams in flight; with several x rows each widened weight vector feeds four rows. */
static void dot_bf16(float *y, const float *x, int64_t M, const uint16_t *W, int64_t n_out, int64_t n_in, int nt) {
    float *xp = xgd_malloc(sizeof(float) * (size_t)(M * n_in));
    for (int64_t m = 0; m < M; m++) xgd_bf16_pair_order(xp + m * n_in, x + m * n_in, n_in);
    const int64_t n4 = n_out / 4;
    #pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t b = 0; b < n4; b++) {
        if (M == 1) xgd_dot_bf16_pairs4(y + 4 * b, xp, W + (size_t)(4 * b * n_in), n_in);
        else xgd_dot_bf16_pairs4_rows(y + 4 * b, n_out, xp, n_in, M, W + (size_t)(4 * b * n_in), n_in);
    }
    for (int64_t o = 4 * n4; o < n_out; o++)
        for (int64_t m = 0; m < M; m++) y[m * n_out + o] += xgd_dot_bf16_pairs(xp + m * n_in, W + (size_t)(o * n_in), n_in);
    free(xp);
}

/* Axpy form (in, out), Conv1D: every thread streams a contiguous range of weight rows, eight per
 * pass, into its own y rows in pair order; then the partial sums are added back in natural order,
 * each thread over its share of the columns. */
static void axpy_bf16(float *y, const float *x, int64_t M, const uint16_t *W, int64_t n_out, int64_t n_in, int nt) {
    float *part = xgd_calloc((size_t)nt * (size_t)(M * n_out), sizeof(float));
    const int nr = 8;   /* rows per pass: one load/store of y per 8 weight loads (4: ~3 % slower at M = 1) */
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int ti = omp_get_thread_num(), tn = omp_get_num_threads();
        float *yp = part + (size_t)ti * (size_t)(M * n_out);
        const int64_t i1 = n_in * (ti + 1) / tn;
        int64_t i = n_in * ti / tn;
        for (; i + nr <= i1; i += nr) xgd_axpy_bf16_pairs(yp, n_out, x + i, n_in, M, nr, W + (size_t)(i * n_out), n_out, n_out);
        if (i < i1) xgd_axpy_bf16_pairs(yp, n_out, x + i, n_in, M, (int)(i1 - i), W + (size_t)(i * n_out), n_out, n_out);
        #pragma omp barrier
        /* columns split on 32-blocks so each thread un-orders whole blocks; a block is pair-ordered
         * only when it is a full 32 within n_out, which c1 - c0 preserves */
        const int64_t nb = (n_out + 31) / 32, b0 = nb * ti / tn, b1 = nb * (ti + 1) / tn;
        const int64_t c0 = 32 * b0, c1 = 32 * b1 < n_out ? 32 * b1 : n_out;
        for (int u = 0; u < tn; u++)
            for (int64_t m = 0; m < M; m++)
                xgd_bf16_pair_unorder_add(y + m * n_out + c0, part + (size_t)u * (size_t)(M * n_out) + m * n_out + c0, c1 - c0);
    }
    free(part);
}

void xgd_matmul_small(float *y, const float *x, int64_t M, const void *A, xgd_dtype t,
                      int64_t n_out, int64_t n_in, int dotform) {
    const size_t es = xgd_dtype_size(t);
    const int nt = xgd_ops_threads((double)M * (double)n_out * (double)n_in);
    if (t == XGD_BF16 && xgd_bf16_pairs_ok()) {
        if (dotform) dot_bf16(y, x, M, A, n_out, n_in, nt);
        else axpy_bf16(y, x, M, A, n_out, n_in, nt);
    } else if (dotform && t == XGD_F32 && M == 1 && xgd_cpu_avx512()) {
        /* roles swapped: the weight rows are the "x" rows of xgd_dot_rows, four per pass with the
         * next four prefetched, and x is the one row they meet */
        const int64_t n4 = n_out / 4;
        #pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int64_t b = 0; b < n4; b++) xgd_dot_rows(y + 4 * b, 1, (const float *)A + 4 * b * n_in, n_in, 4, x, t, n_in);
        xgd_dot_rows(y + 4 * n4, 1, (const float *)A + 4 * n4 * n_in, n_in, n_out - 4 * n4, x, t, n_in);
    } else if (dotform) {
        #pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int64_t o = 0; o < n_out; o++)
            xgd_dot_rows(y + o, n_out, x, n_in, M, (const char *)A + (size_t)(o * n_in) * es, t, n_in);
    } else {
        /* Axpy form: threads split the weight ROWS so each streams a contiguous range (a column
         * split reads short strided pieces of every row and loses half the bandwidth). Thread 0
         * accumulates into y, the others into private copies that are summed at the end. */
        float **part = xgd_calloc((size_t)nt, sizeof(float *));
        #pragma omp parallel num_threads(nt) if (nt > 1)
        {
            const int ti = omp_get_thread_num(), tn = omp_get_num_threads();
            float *yt = ti == 0 ? y : xgd_calloc((size_t)(M * n_out), sizeof(float));
            part[ti] = yt;
            const int64_t i1 = n_in * (ti + 1) / tn;
            int64_t i = n_in * ti / tn;
            if (t == XGD_F32 && M == 1 && xgd_cpu_avx512())
                for (; i + 8 <= i1; i += 8) xgd_axpy_f32_rows8(yt, x + i, (const float *)A + i * n_out, n_out, n_out);
            for (; i + 4 <= i1; i += 4)   /* four weight rows per pass: y is loaded/stored once per 4 FMAs */
                xgd_axpy_rows4(yt, n_out, x + i, n_in, M, (const char *)A + (size_t)(i * n_out) * es, n_out, t, n_out);
            for (; i < i1; i++)
                xgd_axpy_rows(yt, n_out, x + i, n_in, M, (const char *)A + (size_t)(i * n_out) * es, t, n_out);
            #pragma omp barrier
            const int64_t len = M * n_out, c0 = len * ti / tn, c1 = len * (ti + 1) / tn;
            for (int u = 1; u < tn; u++) xgd_axpy_f32(y + c0, 1.0f, part[u] + c0, c1 - c0);
            #pragma omp barrier
            if (ti != 0) free(yt);
        }
        free(part);
    }
}

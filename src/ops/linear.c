/* Linear layers: y = x·Wᵀ + b with W stored f32/f16/bf16 in either layout, and its backward.
 *
 * Every product here has the form y(M, n_out) (+)= x(M, n_in) · op(A) for a row-major A that is
 *   "dot form"  A (n_out, n_in): y[m,o] = x[m,:]·A[o,:]   (nn.Linear forward; Conv1D's dx)
 *   "axpy form" A (n_in, n_out): y[m,:] += x[m,i]·A[i,:]   (Conv1D forward; nn.Linear's dx)
 * so one dispatcher (matmul_w) serves the forward pass and dx of both layouts:
 *   - f32, M = 1: own kernels that stream four (dot form) or eight (axpy form) weight rows per pass
 *     and prefetch the next group (linear_small.c; GPT-2 f32 decode 54-63 tok/s against 50-52 with
 *     OpenBLAS sgemv, alternating runs), cblas_sgemv without AVX-512 (OpenBLAS sgemm with M=1 is
 *     3-4x slower than its gemv);
 *   - f32 with M >= XGD_SMALL_M_F32, f16/bf16 exact with M >= XGD_SMALL_M: the own AVX-512 GEMM
 *     (linear_gemm.c; half-precision weights widened while packing, the bias added in registers),
 *     or without AVX-512 one cblas_sgemm (f32) / f32 weight panels of <= ~8 MB and sgemm (f16/bf16);
 *     f32 products with fewer than XGD_GEMM_MIN_N outputs (LoRA's x·Aᵀ) stay with sgemm;
 *   - f32 with 1 < M < XGD_SMALL_M_F32, f16/bf16 with M < XGD_SMALL_M: own kernel that widens each weight
 *     row in registers and uses it for all M rows (linear_small.c), so the weight is read once;
 *   - bf16 in fast mode: activations rounded to bf16 (what transformers computes on a bf16 model),
 *     products on AMX tiles (linear_amx.c) where the CPU has AMX-BF16, else vdpbf16ps
 *     (linear_bf16dot.c); products with fewer than 16 rows use the small-row kernels on the same
 *     bf16-rounded activations, so every path computes the same exact bf16 products summed in f32
 *     and a row's result does not depend on the batch it came in (tests/ops/test_linear.c holds it
 *     at 1e-5). The exact mode instead matches f32 math of f32 activations times bf16 weights
 *     widened to f32 (what tests/golden's bf16 references hold, at 1e-4).
 * The default is fast where the CPU has AMX-BF16 and exact elsewhere, decided by measurement on a
 *     2-core Intel Xeon (Emerald Rapids): AMX is 3-5x faster than sgemm on prefill shapes (500-1100
 *     GFLOP/s against 90-240 for OpenBLAS sgemm) and so is every batched step of generation, while
 *     rounding activations moves hidden states by ~1e-2 (0.008-0.05 on tests/interp's tiny models),
 *     the size of the difference between transformers' bf16 and f32 runs of one checkpoint.
 *     vdpbf16ps alone runs at the f32 FMA rate there (110-150 GFLOP/s, slower than the exact
 *     path); it can only pay off where bf16 dot products run at twice the f32 rate (Zen 4 per
 *     perf-anchors.md), not measured, so without AMX fast mode is opt-in.
 * XGD_BF16_DOT=0|1 (or `xgd --bf16-math exact|fast`, or xgd_ops_set_fast_bf16) overrides the
 *     default; the test suite runs in exact mode (XGD_BF16_DOT=0 from CMake) except the tests that
 *     are about fast mode. */
#include "ops/ops.h"
#include "ops/linear_internal.h"
#include "ops/ops_internal.h"
#include "base/err.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

static int g_fast_bf16 = -1;

void xgd_ops_set_fast_bf16(int on) { g_fast_bf16 = on ? 1 : 0; }

int xgd_ops_fast_bf16(void) {
    if (g_fast_bf16 < 0) {
        const char *s = getenv("XGD_BF16_DOT");
        g_fast_bf16 = s && *s ? *s != '0' : xgd_cpu_amx();
    }
    return g_fast_bf16;
}

/* f16/bf16 A, M large: panel of A converted to f32, then sgemm. beta is 0 or 1. */
static void matmul_half_panels(float *y, const float *x, int64_t M, const void *A, xgd_dtype t,
                               int64_t n_out, int64_t n_in, int dotform, float beta) {
    /* Panels of at most ~8 MB, equal widths: every sgemm call repacks all of x, so few wide
     * panels beat many narrow ones (2 MB panels made the exact bf16 path 1.8x slower). */
    const int64_t max_w = (int64_t)(2 << 20) / n_in > 64 ? (int64_t)(2 << 20) / n_in : 64;
    const int64_t npanel = (n_out + max_w - 1) / max_w;
    int64_t w = ((n_out + npanel - 1) / npanel + 15) / 16 * 16;
    if (w > n_out) w = n_out;
    float *panel = xgd_aligned_alloc((size_t)(w * n_in) * sizeof(float));
    const size_t es = xgd_dtype_size(t);
    for (int64_t o0 = 0; o0 < n_out; o0 += w) {
        int64_t n = n_out - o0 < w ? n_out - o0 : w;
        if (dotform) {   /* rows o0..o0+n of A are contiguous: (n, n_in) */
            xgd_row_to_f32(panel, (const char *)A + (size_t)(o0 * n_in) * es, t, n * n_in);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)n, (int)n_in, 1.0f, x, (int)n_in,
                        panel, (int)n_in, beta, y + o0, (int)n_out);
        } else {         /* columns o0..o0+n of every row of A: (n_in, n) */
            for (int64_t i = 0; i < n_in; i++)
                xgd_row_to_f32(panel + i * n, (const char *)A + (size_t)(i * n_out + o0) * es, t, n);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)n, (int)n_in, 1.0f, x, (int)n_in,
                        panel, (int)n, beta, y + o0, (int)n_out);
        }
    }
    free(panel);
}

/* y(M,n_out) = beta*y + bias + x(M,n_in)·op(A); beta is 0 or 1, bias (n_out) may be NULL. */
static void matmul_w(float *y, const float *x, int64_t M, const void *A, xgd_dtype t,
                     int64_t n_out, int64_t n_in, int dotform, float beta, const float *bias) {
    const int fast = t == XGD_BF16 && xgd_ops_fast_bf16() && (xgd_cpu_amx() || xgd_cpu_avx512bf16());
    /* the exact product of many rows: own GEMM, which adds the bias as it stores y */
    if (!fast && M >= (t == XGD_F32 ? XGD_SMALL_M_F32 : XGD_SMALL_M) && xgd_cpu_avx512() &&
        (t != XGD_F32 || n_out >= XGD_GEMM_MIN_N)) {
        xgd_matmul_gemm(y, x, M, A, t, n_out, n_in, dotform, beta, bias);
        return;
    }
    if (bias) {   /* the other kernels accumulate into y: start it at beta*y + bias */
        for (int64_t m = 0; m < M; m++) {
            float *r = y + m * n_out;
            if (beta == 0.0f) memcpy(r, bias, (size_t)n_out * sizeof(float));
            else for (int64_t o = 0; o < n_out; o++) r[o] += bias[o];
        }
        beta = 1.0f;
    }
    if (t == XGD_F32 && M >= XGD_SMALL_M_F32) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, dotform ? CblasTrans : CblasNoTrans, (int)M, (int)n_out,
                    (int)n_in, 1.0f, x, (int)n_in, A, (int)(dotform ? n_in : n_out), beta, y, (int)n_out);
        return;
    }
    if (t == XGD_F32 && M == 1 && !xgd_cpu_avx512()) {
        cblas_sgemv(CblasRowMajor, dotform ? CblasNoTrans : CblasTrans, (int)(dotform ? n_out : n_in),
                    (int)(dotform ? n_in : n_out), 1.0f, A, (int)(dotform ? n_in : n_out), x, 1, beta, y, 1);
        return;
    }
    if (M < XGD_SMALL_M) {
        if (beta == 0.0f) memset(y, 0, (size_t)(M * n_out) * sizeof(float));
        if (fast) {
            /* the small-row kernel on bf16-rounded activations: the same products as the tiles
             * compute, so a row's result does not depend on how many rows came with it */
            float *xr = xgd_malloc((size_t)(M * n_in) * sizeof(float));
            xgd_round_to_bf16(xr, x, M * n_in);
            xgd_matmul_small(y, xr, M, A, t, n_out, n_in, dotform);
            free(xr);
        } else {
            xgd_matmul_small(y, x, M, A, t, n_out, n_in, dotform);
        }
    } else if (fast && xgd_cpu_amx()) {
        xgd_matmul_amx(y, x, M, A, n_out, n_in, dotform, beta);
    } else if (fast) {
        xgd_matmul_bf16dot(y, x, M, A, n_out, n_in, dotform, beta);
    } else {
        matmul_half_panels(y, x, M, A, t, n_out, n_in, dotform, beta);
    }
}

void xgd_linear(float *y, const float *x, int64_t M, const xgd_wmat *W, const float *b) {
    const int64_t N = W->out, K = W->in;
    matmul_w(y, x, M, W->data, W->dtype, N, K, W->layout == XGD_W_OUT_IN, 0.0f, b);
}

void xgd_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                         int64_t M, const xgd_wmat *W) {
    const int64_t N = W->out, K = W->in;
    /* dx(M,K) += dy(M,N)·W(N,K): OUT_IN storage is the axpy form, IN_OUT (K,N) the dot form. */
    if (dx) matmul_w(dx, dy, M, W->data, W->dtype, K, N, W->layout == XGD_W_IN_OUT, 1.0f, NULL);
    if (dW) {
        if (W->layout == XGD_W_OUT_IN)   /* dW(N,K) += dyᵀ·x */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)K, (int)M, 1.0f, dy, (int)N, x, (int)K,
                        1.0f, dW, (int)K);
        else                             /* dW(K,N) += xᵀ·dy */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)M, 1.0f, x, (int)K, dy, (int)N,
                        1.0f, dW, (int)N);
    }
    if (db) {
        for (int64_t m = 0; m < M; m++) {
            const float *r = dy + m * N;
            for (int64_t o = 0; o < N; o++) db[o] += r[o];
        }
    }
}

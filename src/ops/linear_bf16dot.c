/* The fast bf16 path (opt-in, see linear.c): activations rounded to bf16, products with
 * vdpbf16ps, f32 accumulation; what PyTorch's bf16 matmul does. vdpbf16ps multiplies pairs of
 * adjacent bf16 values, so both operands are arranged as 32-bit pairs along K:
 *   x pairs: row m, pair p = (x[m,2p], x[m,2p+1])           (broadcast to all lanes)
 *   panel:   P[p][o] = (A(o,2p), A(o,2p+1)) for NR outputs   (one zmm per 16 outputs)
 * The panel of NR=64 outputs by KC values of K is packed once and reused for all M rows; an
 * MR=6 by 64 block of y lives in 24 registers across the K loop. */
#include "ops/linear_internal.h"
#include "ops/ops_internal.h"
#include "base/err.h"
#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define BF16K __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
enum { NR = 64, MR = 6, KCP = 256 /* pairs of K per panel */ };

/* acc block (mr<=MR rows, up to NR columns with masks mk) += xrows · panel over np pairs. */
BF16K static void micro(float *y, int64_t ldy, const uint32_t *xp, int64_t ldx, int mr, const uint32_t *P,
                        int64_t np, const __mmask16 mk[4], int load_y) {
    __m512 acc[MR][4];
    const uint32_t *xr[MR];
    #pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        xr[r] = xp + (r < mr ? r : mr - 1) * ldx;   /* tail rows repeat the last row; not stored */
        #pragma GCC unroll 4
        for (int v = 0; v < 4; v++)
            acc[r][v] = load_y && r < mr ? _mm512_maskz_loadu_ps(mk[v], y + r * ldy + 16 * v) : _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < np; p++) {
        const uint32_t *pp = P + p * NR;
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(pp), b1 = (__m512bh)_mm512_loadu_si512(pp + 16);
        __m512bh b2 = (__m512bh)_mm512_loadu_si512(pp + 32), b3 = (__m512bh)_mm512_loadu_si512(pp + 48);
        #pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)xr[r][p]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
            acc[r][2] = _mm512_dpbf16_ps(acc[r][2], a, b2);
            acc[r][3] = _mm512_dpbf16_ps(acc[r][3], a, b3);
        }
    }
    #pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
        if (r < mr) {
            #pragma GCC unroll 4
            for (int v = 0; v < 4; v++) _mm512_mask_storeu_ps(y + r * ldy + 16 * v, mk[v], acc[r][v]);
        }
}

/* Full panels with both K values of every pair present: no bounds checks. Dot form reads each
 * weight row's pairs as 32-bit words; axpy form interleaves rows 2p and 2p+1 with a permute. */
BF16K static void pack_full(uint32_t *P, const uint16_t *A, int64_t n_out, int64_t n_in, int dotform, int64_t o0,
                            int64_t p0, int64_t np) {
    if (dotform) {
        for (int64_t c = 0; c < NR; c++) {
            const uint16_t *row = A + (o0 + c) * n_in + 2 * p0;
            for (int64_t p = 0; p < np; p++) {
                uint32_t v;
                memcpy(&v, row + 2 * p, 4);
                P[p * NR + c] = v;
            }
        }
        return;
    }
    const __m512i lo_idx = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8,
                                            39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
    const __m512i hi_idx = _mm512_add_epi16(lo_idx, _mm512_set1_epi16(16));
    for (int64_t p = 0; p < np; p++) {
        const uint16_t *r0 = A + 2 * (p0 + p) * n_out + o0, *r1 = r0 + n_out;
        for (int64_t c = 0; c < NR; c += 32) {
            const __m512i a = _mm512_loadu_si512(r0 + c), b = _mm512_loadu_si512(r1 + c);
            _mm512_storeu_si512(P + p * NR + c, _mm512_permutex2var_epi16(a, lo_idx, b));
            _mm512_storeu_si512(P + p * NR + c + 16, _mm512_permutex2var_epi16(a, hi_idx, b));
        }
    }
}

/* Pack outputs o0..o0+NR, pairs p0..p0+np of A into P (zeros past the ends). */
static void pack(uint32_t *P, const uint16_t *A, int64_t n_out, int64_t n_in, int dotform, int64_t o0, int64_t p0,
                 int64_t np) {
    for (int64_t p = 0; p < np; p++) {
        int64_t i = 2 * (p0 + p);
        for (int64_t c = 0; c < NR; c++) {
            int64_t o = o0 + c;
            uint32_t lo = 0, hi = 0;
            if (o < n_out) {
                if (dotform) { lo = A[o * n_in + i]; hi = i + 1 < n_in ? A[o * n_in + i + 1] : 0; }
                else { lo = A[i * n_out + o]; hi = i + 1 < n_in ? A[(i + 1) * n_out + o] : 0; }
            }
            P[p * NR + c] = lo | hi << 16;
        }
    }
}

/* one row of x to bf16 (round to nearest even), zero padded to an even length */
static void x_to_bf16(uint16_t *dst, const float *src, int64_t n) {
    xgd_row_to_bf16(dst, src, n);
    if (n & 1) dst[n] = 0;
}

void xgd_matmul_bf16dot(float *y, const float *x, int64_t M, const void *A, int64_t n_out, int64_t n_in,
                        int dotform, float beta) {
    const int64_t npairs = (n_in + 1) / 2;
    uint32_t *xp = xgd_aligned_alloc((size_t)(M * npairs) * sizeof(uint32_t));
    const int64_t npanel = (n_out + NR - 1) / NR;
    const int nt = xgd_ops_threads((double)M * (double)n_out * (double)n_in);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        /* x rounded to bf16 (nearest even), padded to an even length */
        #pragma omp for schedule(static)
        for (int64_t m = 0; m < M; m++) x_to_bf16((uint16_t *)(xp + m * npairs), x + m * n_in, n_in);
        uint32_t *P = xgd_aligned_alloc((size_t)KCP * NR * sizeof(uint32_t));
        #pragma omp for schedule(dynamic, 1)
        for (int64_t pi = 0; pi < npanel; pi++) {
            int64_t o0 = pi * NR, ncol = n_out - o0 < NR ? n_out - o0 : NR;
            __mmask16 mk[4];
            for (int v = 0; v < 4; v++) {
                int64_t left = ncol - 16 * v;
                mk[v] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
            }
            for (int64_t p0 = 0; p0 < npairs; p0 += KCP) {
                int64_t np = npairs - p0 < KCP ? npairs - p0 : KCP;
                if (ncol == NR && 2 * (p0 + np) <= n_in) pack_full(P, A, n_out, n_in, dotform, o0, p0, np);
                else pack(P, A, n_out, n_in, dotform, o0, p0, np);
                int load_y = p0 > 0 || beta != 0.0f;
                for (int64_t m0 = 0; m0 < M; m0 += MR) {
                    int mr = (int)(M - m0 < MR ? M - m0 : MR);
                    micro(y + m0 * n_out + o0, n_out, xp + m0 * npairs + p0, npairs, mr, P, np, mk, load_y);
                }
            }
        }
        free(P);
    }
    free(xp);
}

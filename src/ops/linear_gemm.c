/* The f32 GEMM of prefill-sized products: y(M,n_out) = beta*y + bias + x(M,n_in)·op(A), A stored f32,
 * f16 or bf16 in either layout (see linear.c for the dot/axpy-form vocabulary), f32 products and sums.
 *
 * Why our own instead of OpenBLAS 0.3.21's sgemm (which it matches product for product here): inside
 * a model's forward pass that sgemm left most of the gap to the FMA peak (GPT-2 prefill 43-51 % of
 * it), for three reasons this file removes:
 *   - it reads each weight from DRAM in a packing phase during which no FMA runs; here every unit of
 *     work packs its own block of the weight, so one thread's packing overlaps the other's FMAs;
 *   - the bias was a separate pass over y (copied in, then beta = 1); here it is added in registers;
 *   - whole calls at half speed: the Linux scheduler sometimes wakes an OpenMP worker on its
 *     master's CPU and both stay there (xgd_team_spread in team.c fixes that up), and a static split
 *     waits for a slowed core (units here are taken dynamically).
 * Half-precision weights are widened while packing, so the exact bf16/f16 path needs no f32 copy.
 *
 * Blocking (Goto/BLIS), per block of KC values of K:
 *   Ap (nkb, M_pad/MR, KC, MR): x packed once per call (in chunks of K of at most 16 MB) in panels
 *      of MR = 12 rows, k-major;
 *   Bp (ncp, KC, NR): a unit's block of op(A) in panels of NR = 32 outputs, k-major, zero past n_out.
 * A unit is up to MCP row panels x ncp column panels over all of K. For each A panel (kept in L1)
 * the unit's B panels stream from L2 through the micro-kernel, which keeps a 12x32 tile of y in 24
 * zmm registers: per k two loads of B, twelve broadcasts of A, 24 FMAs. y is loaded and stored
 * once per K block. A row's result depends on neither the thread count nor the schedule (every
 * output sums its K blocks in order, each in one kernel call). */
#include "ops/linear_internal.h"
#include "ops/ops_internal.h"
#include "ops/simd_avx512.h"
#include "ops/team.h"
#include "base/err.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* MR x NR tile, KC values of K per block (measured on the 2-core Xeon against 8x48, 14x32 and KC 192 or
 * 256: the others were level or slower), MCP row panels (576 rows) per unit at most, NCP_MAX column
 * panels, and PF rows of prefetch distance in the packed B panel */
enum { MR = 12, NV = 2, NR = 16 * NV, KC = 384, MCP = 48, NCP_MAX = 8, PF = 24 };
#define A_PACK_MAX ((size_t)16 << 20)

/* A B block: np panels of NR columns n0.., panel j at dst + j*kc*NR holding op(A)[k0+k][n0+j*NR+c] at
 * [k*NR + c], zero past n_out. The weight is read here for the first time in the product (from
 * DRAM, for any model larger than the caches), so each source row is read contiguously and the
 * next ones are prefetched while the current ones are copied. */
AVX512 static void pack_b_block(float *dst, const void *A, xgd_dtype t, int64_t n_out, int64_t n_in, int dotform,
                                int64_t k0, int64_t kc, int64_t n0, int64_t np) {
    const size_t es = xgd_dtype_size(t);
    const int64_t cols = n_out - n0 < np * NR ? n_out - n0 : np * NR;
    if (!dotform) {   /* A (n_in, n_out): row k0+k holds the block's values contiguously */
        const size_t row_bytes = (size_t)cols * es;
        for (int64_t k = 0; k < kc; k++) {
            const char *row = (const char *)A + (size_t)((k0 + k) * n_out + n0) * es;
            if (k + 2 < kc)
                for (size_t off = 0; off < row_bytes; off += 64) _mm_prefetch(row + 2 * (size_t)n_out * es + off, _MM_HINT_T0);
            for (int64_t c = 0; c < np * NR; c += 16)
                _mm512_store_ps(dst + (c / NR) * kc * NR + k * NR + c % NR, load_w16(row + (size_t)c * es, t, 0, cols - c));
        }
        return;
    }
    /* dot form: 16 rows of A (16 outputs) x 16 values of k, loaded and transposed; each step
     * prefetches the same 16 x 16 block of the next group of rows, so the DRAM reads run one
     * group ahead, spread evenly (all of a group's lines at once overflow the miss buffers) */
    for (int64_t g = 0; g < np * NR; g += 16) {
        const int64_t next = n0 + g + 16, n_next = g + 16 < np * NR ? (n_out - next < 16 ? n_out - next : 16) : 0;
        float *panel = dst + (g / NR) * kc * NR + g % NR;
        for (int64_t kk = 0; kk < kc; kk += 16) {
            for (int64_t i = 0; i < n_next; i++)
                _mm_prefetch((const char *)A + (size_t)((next + i) * n_in + k0 + kk) * es, _MM_HINT_T0);
            __m512i r[16];
            for (int i = 0; i < 16; i++) {
                const int64_t o = n0 + g + i;
                r[i] = o < n_out ? _mm512_castps_si512(load_w16((const char *)A + (size_t)(o * n_in + k0 + kk) * es, t, 0, kc - kk))
                                 : _mm512_setzero_si512();
            }
            transpose16(r);   /* r[i] = the 16 outputs' values at k = kk + i */
            for (int i = 0; i < 16 && kk + i < kc; i++) _mm512_store_si512((void *)(panel + (kk + i) * NR), r[i]);
        }
    }
}

/* Ap panel: dst[k*MR + i] = x[m0+i][k0+k] for k < kc, i < MR (zero past M). */
AVX512 static void pack_a_panel(float *dst, const float *x, int64_t M, int64_t n_in, int64_t k0, int64_t kc, int64_t m0) {
    for (int64_t kk = 0; kk < kc; kk += 16) {
        const __mmask16 km = tail_mask(kc - kk);
        __m512i r[16];
        for (int i = 0; i < 16; i++)
            r[i] = i < MR && m0 + i < M ? _mm512_castps_si512(_mm512_maskz_loadu_ps(km, x + (m0 + i) * n_in + k0 + kk))
                                        : _mm512_setzero_si512();
        transpose16(r);
        for (int i = 0; i < 16 && kk + i < kc; i++)
            _mm512_mask_storeu_epi32(dst + (kk + i) * MR, (__mmask16)((1u << MR) - 1), r[i]);
    }
}

/* y tile (mr <= MR rows, nr <= NR columns, row stride ldy) = (accum ? y : 0) + bias + a(kc, MR)·b(kc, NR),
 * bias (NR values, NULL: none) added to every row. */
AVX512 static void micro_kernel(int64_t kc, const float *a, const float *b, float *y, int64_t ldy, int accum,
                                const float *bias, int mr, int nr) {
    __m512 acc[MR][NV], b0[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) b0[v] = bias ? _mm512_maskz_loadu_ps(tail_mask(nr - 16 * v), bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        /* the y tile is read back at the end; start fetching it now (it is in L3 when y is large) */
        if (accum) { _mm_prefetch((const char *)(y + i * ldy), _MM_HINT_T0); _mm_prefetch((const char *)(y + i * ldy + 16), _MM_HINT_T0); }
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = b0[v];
    }
    for (int64_t k = 0; k < kc; k++) {
        /* b streams from L2 (a stays in L1): fetch PF rows ahead, the hardware prefetcher lags */
        _mm_prefetch((const char *)(b + PF * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + PF * NR + 16), _MM_HINT_T0);
        __m512 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            const __m512 av = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
        a += MR;
        b += NR;
    }
    if (mr == MR && nr == NR) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                float *p = y + i * ldy + 16 * v;
                _mm512_storeu_ps(p, accum ? _mm512_add_ps(acc[i][v], _mm512_loadu_ps(p)) : acc[i][v]);
            }
        return;
    }
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < NV; v++) {
            const __mmask16 m = tail_mask(nr - 16 * v);
            float *p = y + i * ldy + 16 * v;
            __m512 s = acc[i][v];
            if (accum) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, p));
            _mm512_mask_storeu_ps(p, m, s);
        }
}

/* Column panels per unit: the width (<= NCP_MAX) that gives the busiest thread the fewest panels
 * when whole units are shared out, the widest among equals (each A panel meets more B panels while
 * in L1). Units are equal, so the count matters: QKV's 72 panels in units of 8 made 9 units, one
 * thread doing 5 and the other 4 while it waited; units of 6 make 12. */
static int64_t column_block(int64_t np, int64_t nmb, int nt) {
    int64_t best = 1, best_cost = -1;
    for (int64_t c = 1; c <= NCP_MAX; c++) {
        const int64_t units = (np + c - 1) / c * nmb, cost = (units + nt - 1) / nt * c;
        if (best_cost < 0 || cost <= best_cost) { best = c; best_cost = cost; }
    }
    return best;
}

AVX512 static void gemm_avx512(float *y, const float *x, int64_t M, const void *A, xgd_dtype t, int64_t n_out,
                               int64_t n_in, int dotform, float beta, const float *bias, int64_t kbeg, int64_t kend) {
    const int nt = xgd_ops_threads(2.0 * (double)M * (double)n_out * (double)(kend - kbeg));
    const int64_t np = (n_out + NR - 1) / NR, mp = (M + MR - 1) / MR, nkb = (kend - kbeg + KC - 1) / KC;
    /* equal K blocks of at most KC (a multiple of 16): K = 2048 as 6 x 352 instead of 5 x 384 + 128,
     * whose last short block pays a whole y-tile pass for a third of the work */
    const int64_t kcb = ((kend - kbeg + nkb - 1) / nkb + 15) / 16 * 16;
    const int64_t nmb = (mp + MCP - 1) / MCP;
    const int64_t ncp = column_block(np, nmb, nt);
    const int64_t nnb = (np + ncp - 1) / ncp, units = nnb * nmb;
    /* Ap (nkb, mp, KC, MR): all of x, packed once; Bp: one B block (KC, ncp*NR) per thread */
    const size_t a_panel = (size_t)(MR * KC), b_block = (size_t)(KC * NR * ncp);
    float *Ap = xgd_scratch_get(XGD_SCRATCH_GEMM_A, sizeof(float) * (size_t)(nkb * mp) * a_panel);
    float *Bp_all = xgd_scratch_get(XGD_SCRATCH_GEMM_B, sizeof(float) * (size_t)nt * b_block);
    atomic_llong next;
    atomic_init(&next, 0);
    xgd_team_barrier bar = {0};
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int ti = omp_get_thread_num(), tn = omp_get_num_threads();
        float *Bp = Bp_all + (size_t)ti * b_block;
        xgd_team_spread(&bar, ti, tn);
        for (int64_t q = nkb * mp * ti / tn; q < nkb * mp * (ti + 1) / tn; q++) {
            const int64_t kb = q / mp, p = q % mp, k0 = kbeg + kb * kcb;
            pack_a_panel(Ap + (size_t)q * a_panel, x, M, n_in, k0, kend - k0 < kcb ? kend - k0 : kcb, p * MR);
        }
        xgd_team_wait(&bar, tn);
        /* a unit: up to MCP row panels x ncp column panels, over all of K; it packs its own B block
         * per K block, so packing (the weight's one trip from DRAM) overlaps the other thread's FMAs */
        for (int64_t u; (u = atomic_fetch_add(&next, 1)) < units;) {
            const int64_t jb = u % nnb, ib = u / nnb;
            const int64_t j0 = jb * ncp, j1 = j0 + ncp < np ? j0 + ncp : np;
            const int64_t p0 = ib * MCP, p1 = p0 + MCP < mp ? p0 + MCP : mp;
            for (int64_t kb = 0; kb < nkb; kb++) {
                const int64_t k0 = kbeg + kb * kcb, kc = kend - k0 < kcb ? kend - k0 : kcb;
                const int first = k0 == 0, accum = !first || beta != 0.0f;
                pack_b_block(Bp, A, t, n_out, n_in, dotform, k0, kc, j0 * NR, j1 - j0);
                for (int64_t p = p0; p < p1; p++) {
                    const int64_t m0 = p * MR, mr = M - m0 < MR ? M - m0 : MR;
                    const float *ap = Ap + (size_t)(kb * mp + p) * a_panel;
                    for (int64_t j = j0; j < j1; j++) {
                        const int64_t n0 = j * NR, nr = n_out - n0 < NR ? n_out - n0 : NR;
                        micro_kernel(kc, ap, Bp + (j - j0) * NR * kc, y + m0 * n_out + n0, n_out, accum,
                                     first && bias ? bias + n0 : NULL, (int)mr, (int)nr);
                    }
                }
            }
        }
    }
}

void xgd_matmul_gemm(float *y, const float *x, int64_t M, const void *A, xgd_dtype t, int64_t n_out, int64_t n_in,
                     int dotform, float beta, const float *bias) {
    /* x is packed a chunk of K at a time, at most A_PACK_MAX bytes (dx of an LM head has K = the
     * vocabulary: all of it at once would hold M x 50k floats for the process's lifetime) */
    const int64_t mpad = (M + MR - 1) / MR * MR;
    int64_t chunk = (int64_t)(A_PACK_MAX / ((size_t)mpad * sizeof(float))) / KC * KC;
    if (chunk < KC) chunk = KC;
    for (int64_t k0 = 0; k0 < n_in; k0 += chunk)
        gemm_avx512(y, x, M, A, t, n_out, n_in, dotform, beta, bias, k0, n_in - k0 < chunk ? n_in : k0 + chunk);
    xgd_scratch_release(XGD_SCRATCH_GEMM_A);
    xgd_scratch_release(XGD_SCRATCH_GEMM_B);
}

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
 * Blocking (Goto/BLIS), per block of kc values of K (at most KC, or all of K up to 2 KC):
 *   Ap (nkb, M_pad/MR, kc, MR): x packed once per call (in chunks of K of at most 16 MB) in panels
 *      of MR = 12 rows, k-major;
 *   Bp (ncp, kc, NR): a unit's block of op(A) in panels of NR = 32 outputs, k-major, zero past n_out.
 * A unit is up to MCP row panels x ncp column panels over all of K. For each A panel (kept in L1)
 * the unit's B panels stream from L2 through the micro-kernel, which keeps a 12x32 tile of y in 24
 * zmm registers: per k two loads of B and 24 FMAs that broadcast A from memory. y is loaded and stored
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
 * panels */
enum { MR = 12, NV = 2, NR = 16 * NV, KC = 384, MCP = 48, NCP_MAX = 8 };
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

/* c<i>0, c<i>1 += a[i] (broadcast) x b0, b1 for six rows i, as one asm statement (GCC allows
 * at most 30 operands, and an in-out operand counts twice) */
#define FMA_ROW_ASM(i) \
    "vfmadd231ps " #i "*4(%[a])%{1to16%}, %[b0], %[c" #i "0]\n\t" \
    "vfmadd231ps " #i "*4(%[a])%{1to16%}, %[b1], %[c" #i "1]\n\t"
#define TILE_REG(i, r0, r1) \
    register __m512 c##i##0 __asm__("zmm" #r0) = z0; \
    register __m512 c##i##1 __asm__("zmm" #r1) = z1
#define FMA_ROW_OPS(i) [c##i##0] "+v"(c##i##0), [c##i##1] "+v"(c##i##1)
#define FMA_ROWS_6(i0, i1, i2, i3, i4, i5)                                                                     \
    __asm__(FMA_ROW_ASM(i0) FMA_ROW_ASM(i1) FMA_ROW_ASM(i2) FMA_ROW_ASM(i3) FMA_ROW_ASM(i4) FMA_ROW_ASM(i5) \
            : FMA_ROW_OPS(i0), FMA_ROW_OPS(i1), FMA_ROW_OPS(i2), FMA_ROW_OPS(i3), FMA_ROW_OPS(i4), FMA_ROW_OPS(i5) \
            : [a] "r"(a), [b0] "v"(b0), [b1] "v"(b1), "m"(*(const float(*)[MR])a))

/* y tile (mr <= MR rows, nr <= NR columns, row stride ldy) = (accum ? y : 0) + bias + a(kc, MR)·b(kc, NR),
 * bias (NR values, NULL: none) added to every row. */
AVX512 static void micro_kernel(int64_t kc, const float *a, const float *b, float *y, int64_t ldy, int accum,
                                const float *bias, int mr, int nr) {
    const __m512 z0 = bias ? _mm512_maskz_loadu_ps(tail_mask(nr), bias) : _mm512_setzero_ps();
    const __m512 z1 = bias ? _mm512_maskz_loadu_ps(tail_mask(nr - 16), bias + 16) : _mm512_setzero_ps();
    /* the y tile is read back at the end; start fetching it now (it is in L3 when y is large) */
    if (accum)
        for (int i = 0; i < MR; i++) {
            _mm_prefetch((const char *)(y + i * ldy), _MM_HINT_T0);
            _mm_prefetch((const char *)(y + i * ldy + 16), _MM_HINT_T0);
        }
    /* the tile in 24 fixed registers (asm operands: an array here was kept in memory, and free
     * variables cost register moves between the two asm statements) */
    TILE_REG(0, 8, 9); TILE_REG(1, 10, 11); TILE_REG(2, 12, 13); TILE_REG(3, 14, 15); TILE_REG(4, 16, 17);
    TILE_REG(5, 18, 19); TILE_REG(6, 20, 21); TILE_REG(7, 22, 23); TILE_REG(8, 24, 25); TILE_REG(9, 26, 27);
    TILE_REG(10, 28, 29); TILE_REG(11, 30, 31);
    /* Per k: two loads of b, then 24 FMAs whose a operand is broadcast from memory inside the FMA
     * (asm: the compiler loads each a value once into a register for both of its FMAs, 12 more
     * instructions per k). ~28 instead of ~44 instructions per k (with the former two prefetches
     * and the loop counters) matters on a shared host: when the other hyperthread of the core is
     * busy, the front end issues half as many instructions per cycle, and the former loop then ran
     * at 75-80 % of the FMA peak instead of 85-97 % (measured in alternation on the 2-vCPU VM). No
     * software prefetch of b: the hardware keeps up with the sequential panel. */
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        FMA_ROWS_6(0, 1, 2, 3, 4, 5);
        FMA_ROWS_6(6, 7, 8, 9, 10, 11);
        a += MR;
        b += NR;
    }
    const __m512 acc[MR][NV] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51},
                                {c60, c61}, {c70, c71}, {c80, c81}, {c90, c91}, {c100, c101}, {c110, c111}};
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
    /* equal K blocks of at most KC (a multiple of 16): K = 2048 as 6 x 352 instead of 5 x 384 + 128,
     * whose last short block pays a whole y-tile pass for a third of the work. K <= 2 KC (768: all
     * of GPT-2's products but the MLP's second, and its LM head) goes in one block: the head's y
     * (all positions' logits, 103 MB at B=4, T=128) then makes one trip to memory instead of
     * being written, read back and written again (~2 % of the prefill) */
    const int64_t np = (n_out + NR - 1) / NR, mp = (M + MR - 1) / MR;
    const int64_t nkb = kend - kbeg <= 2 * KC ? 1 : (kend - kbeg + KC - 1) / KC;
    const int64_t kcb = ((kend - kbeg + nkb - 1) / nkb + 15) / 16 * 16;
    const int64_t nmb = (mp + MCP - 1) / MCP;
    const int64_t ncp = column_block(np, nmb, nt);
    const int64_t nnb = (np + ncp - 1) / ncp, units = nnb * nmb;
    /* Ap (nkb, mp, kcb, MR): all of x, packed once; Bp: one B block (kcb, ncp*NR) per thread */
    const size_t a_panel = (size_t)(MR * kcb), b_block = (size_t)(kcb * NR * ncp);
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

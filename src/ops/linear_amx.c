/* The bf16 GEMM on Intel AMX (TDPBF16PS): y(M,n_out) = beta*y + bf16(x)·op(A) for a bf16 weight A,
 * products of bf16 values exact in f32 and sums in f32 tiles. One TDPBF16PS multiplies a 16x32 bf16
 * tile of x by a 32x16 tile of the weight, 16x16x32x2 = 16k flops, several times what the AVX-512
 * FMA units reach per core, so f32 sgemm's peak is left far behind (see linear.c for figures).
 *
 * Operands (tiles are 16 rows of 64 bytes):
 *   xb (Mp, ldx) bf16: x rounded to nearest even, zero padded to Mp = M rounded up to 32 rows and
 *      K rounded up to 32 columns; a 16x32 block of it is an A tile as it lies.
 *   P  one panel of nb = 64..256 outputs (see amx_panels) packed per call into the VNNI pair
 *      layout TDPBF16PS wants: P[t][p][c] = (A(o,2p), A(o,2p+1)) as one 32-bit word,
 *      o = o0 + 16t + c, zero past the ends; 16 consecutive pairs p of one t are a B tile (1 KB).
 * Packing per call costs one read of the weight and a write into a thread-local buffer of
 * K*nb*2 bytes (at most 1 MB, or 64 outputs at very large K: it stays in L2), so the weights are
 * never duplicated in memory; at M >= 64 the pack is a small fraction of the time.
 * Each 32x32 block of y keeps four accumulator tiles across the whole K loop (2 A x 2 B tiles
 * per step). Threads take whole panels (OpenMP). */
#include "ops/linear_internal.h"
#include "ops/ops_internal.h"
#include "ops/simd_avx512.h"
#include "base/err.h"
#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__) && defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define XGD_HAVE_AMX_BUILD 1
#endif

#define AMXK __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16")))
enum { NB_MIN = 64, NB_MAX = 256, MB = 32, TKB = 32 /* bf16 values of K per tile row */ };

static int g_amx = -1;

/* AMX needs the CPU bits (CPUID.7.0:EDX bit 24 AMX-TILE, bit 22 AMX-BF16) and, on Linux >= 5.16,
 * the process's permission to use the 8 KB tile state (XFEATURE_XTILEDATA = 18); without that
 * permission the first tile instruction kills the process, so a refusal means no AMX. */
static void probe_amx(void) {
    g_amx = 0;
#ifdef XGD_HAVE_AMX_BUILD
    const char *off = getenv("XGD_NO_AMX");
    if ((off && *off && *off != '0') || !xgd_cpu_avx512bf16()) return;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 22))) return;
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return;
    g_amx = 1;
#endif
}

int xgd_cpu_amx(void) {
    if (g_amx < 0) probe_amx();
    return g_amx;
}

#ifdef XGD_HAVE_AMX_BUILD
/* 64-byte tile configuration, palette 1: tiles 0-3 accumulators, 4-5 x, 6-7 weight. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

AMXK static void config_tiles(void) {
    tilecfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 8; i++) { c.colsb[i] = 64; c.rows[i] = 16; }
    _tile_loadconfig(&c);
}

/* rows m0..m0+n of x to bf16 in xb (row stride ldx), zeros from column K to ldx */
static void x_rows_to_bf16(uint16_t *xb, int64_t ldx, const float *x, int64_t K, int64_t m0, int64_t n) {
    for (int64_t m = m0; m < m0 + n; m++) {
        xgd_row_to_bf16(xb + m * ldx, x + m * K, K);
        memset(xb + m * ldx + K, 0, (size_t)(ldx - K) * sizeof(uint16_t));
    }
}

/* Dot form, A (n_out, K) row-major: a row's pairs are already 32-bit words, so 16 rows x 16 pairs
 * loaded as they lie and transposed give 16 pair-rows of a B tile. */
AMXK static void pack_dot(uint32_t *P, const uint16_t *A, int64_t n_out, int64_t K, int64_t Kp, int64_t o0, int nb) {
    const int64_t np = Kp / 2;
    for (int t = 0; t < nb / 16; t++) {
        uint32_t *Pt = P + (int64_t)t * np * 16;
        for (int64_t k0 = 0; k0 < Kp; k0 += TKB) {
            const __mmask32 mk = K - k0 >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << (K - k0)) - 1);
            __m512i r[16];
            for (int c = 0; c < 16; c++) {
                int64_t o = o0 + 16 * t + c;
                r[c] = o < n_out ? _mm512_maskz_loadu_epi16(mk, A + o * K + k0) : _mm512_setzero_si512();
            }
            transpose16(r);
            for (int p = 0; p < 16; p++) _mm512_store_si512(Pt + (k0 / 2 + p) * 16, r[p]);
        }
    }
}

/* Axpy form, A (K, n_out) row-major: pair (A(2p,o), A(2p+1,o)) interleaves two rows; widening
 * the 16 bf16 of each row to 32 bits and shifting the second into the high half does it. The
 * pair loop is outermost so each row is visited once per panel (rows are n_out*2 bytes apart,
 * one page or more: visiting them once per tile instead made this pack 4x slower). */
AMXK static void pack_axpy(uint32_t *P, const uint16_t *A, int64_t n_out, int64_t K, int64_t Kp, int64_t o0, int nb) {
    const int64_t np = Kp / 2;
    __mmask16 mk[NB_MAX / 16];
    for (int t = 0; t < nb / 16; t++) {
        const int64_t left = n_out - (o0 + 16 * t);
        mk[t] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    for (int64_t p = 0; p < np; p++) {
        const uint16_t *r0 = A + 2 * p * n_out + o0, *r1 = r0 + n_out;
        for (int t = 0; t < nb / 16; t++) {
            __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
            if (mk[t] && 2 * p < K) lo = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mk[t], r0 + 16 * t));
            if (mk[t] && 2 * p + 1 < K) hi = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mk[t], r1 + 16 * t));
            _mm512_store_si512(P + ((int64_t)t * np + p) * 16, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
        }
    }
}

/* The 32x32 block of y at (m0, o0 + 16*t0) over the whole K. A full block inside y is loaded
 * (beta = 1) and stored with tile instructions straight from/to y; an edge block goes through
 * the 32x32 scratch C and only its valid part touches y. */
AMXK static void block32(float *y, int64_t ldy, int64_t M, int64_t n_out, float beta, const uint16_t *xb,
                         int64_t ldx, int64_t Kp, const uint32_t *P, int64_t m0, int64_t o0, int t0, float *C) {
    const int64_t np = Kp / 2, oc = o0 + 16 * t0;
    const int full = m0 + MB <= M && oc + 32 <= n_out;
    float *yb = y + m0 * ldy + oc;
    if (full && beta != 0.0f) {
        _tile_loadd(0, yb, ldy * 4);
        _tile_loadd(1, yb + 16, ldy * 4);
        _tile_loadd(2, yb + 16 * ldy, ldy * 4);
        _tile_loadd(3, yb + 16 * ldy + 16, ldy * 4);
    } else {
        _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    }
    const uint16_t *x0 = xb + m0 * ldx, *x1 = x0 + 16 * ldx;
    const uint32_t *b0 = P + (int64_t)t0 * np * 16, *b1 = b0 + np * 16;
    for (int64_t k = 0; k < Kp; k += TKB) {
        _tile_loadd(4, x0 + k, ldx * 2);
        _tile_loadd(5, x1 + k, ldx * 2);
        _tile_loadd(6, b0 + k / 2 * 16, 64);
        _tile_loadd(7, b1 + k / 2 * 16, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    if (full) {
        _tile_stored(0, yb, ldy * 4);
        _tile_stored(1, yb + 16, ldy * 4);
        _tile_stored(2, yb + 16 * ldy, ldy * 4);
        _tile_stored(3, yb + 16 * ldy + 16, ldy * 4);
        return;
    }
    _tile_stored(0, C, 128);
    _tile_stored(1, C + 16, 128);
    _tile_stored(2, C + 16 * 32, 128);
    _tile_stored(3, C + 16 * 32 + 16, 128);
    const int64_t nr = M - m0 < MB ? M - m0 : MB, nc = n_out - oc < 32 ? n_out - oc : 32;
    for (int64_t r = 0; r < nr; r++)
        for (int64_t c = 0; c < nc; c++) yb[r * ldy + c] = (beta != 0.0f ? yb[r * ldy + c] : 0.0f) + C[r * 32 + c];
}

AMXK static void amx_panels(float *y, int64_t M, const uint16_t *A, int64_t n_out, int64_t K, int dotform,
                            float beta, const uint16_t *xb, int64_t ldx, int64_t Kp, int64_t Mp, int nt) {
    /* Panel width nb (outputs): wide panels divide the re-reads of xb (M*K*2 bytes per panel,
     * from L2/L3) and, in the axpy form, the TLB walks of the pack (each weight row of a panel
     * lies in its own page). Capped at 256, at a 1 MB panel (K*nb*2 bytes, stays in L2) and at
     * two panels per thread; at least 64. Measured at K=768, N=3072: 64-wide axpy panels made
     * the pack 3-5x slower than the dot form's. */
    int64_t w = n_out / (2 * nt);
    if (w > ((int64_t)1 << 20) / (2 * Kp)) w = ((int64_t)1 << 20) / (2 * Kp);
    w = w / 32 * 32;
    const int nb = w > NB_MAX ? NB_MAX : w < NB_MIN ? NB_MIN : (int)w;
    const int64_t npanel = (n_out + nb - 1) / nb;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        config_tiles();
        uint32_t *P = xgd_scratch_get(XGD_SCRATCH_AMX_PANEL, (size_t)(Kp / 2) * nb * sizeof(uint32_t));
        float *C = xgd_scratch_get(XGD_SCRATCH_AMX_TILE, (size_t)MB * 32 * sizeof(float));
        #pragma omp for schedule(dynamic, 1)
        for (int64_t pi = 0; pi < npanel; pi++) {
            const int64_t o0 = pi * nb;
            if (dotform) pack_dot(P, A, n_out, K, Kp, o0, nb);
            else pack_axpy(P, A, n_out, K, Kp, o0, nb);
            for (int64_t m0 = 0; m0 < Mp; m0 += MB)
                for (int t0 = 0; t0 < nb / 16 && o0 + 16 * t0 < n_out; t0 += 2)
                    block32(y, n_out, M, n_out, beta, xb, ldx, Kp, P, m0, o0, t0, C);
        }
        xgd_scratch_release(XGD_SCRATCH_AMX_TILE);
        xgd_scratch_release(XGD_SCRATCH_AMX_PANEL);
        _tile_release();
    }
}

void xgd_matmul_amx(float *y, const float *x, int64_t M, const void *A, int64_t n_out, int64_t n_in,
                    int dotform, float beta) {
    const int64_t Kp = (n_in + TKB - 1) / TKB * TKB, Mp = (M + MB - 1) / MB * MB;
    /* +32 columns: a row stride that is a multiple of 4 KB would map the 16 rows of a tile to
     * the same L1 set */
    const int64_t ldx = Kp + TKB;
    uint16_t *xb = xgd_scratch_get(XGD_SCRATCH_AMX_X, (size_t)(Mp * ldx) * sizeof(uint16_t));
    memset(xb + M * ldx, 0, (size_t)((Mp - M) * ldx) * sizeof(uint16_t));
    const int nt = xgd_ops_threads((double)M * (double)n_out * (double)n_in);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int64_t per = (M + omp_get_num_threads() - 1) / omp_get_num_threads(), m0 = per * omp_get_thread_num();
        if (m0 < M) x_rows_to_bf16(xb, ldx, x, n_in, m0, M - m0 < per ? M - m0 : per);
    }
    amx_panels(y, M, A, n_out, n_in, dotform, beta, xb, ldx, Kp, Mp, nt);
    xgd_scratch_release(XGD_SCRATCH_AMX_X);
}
#else
void xgd_matmul_amx(float *y, const float *x, int64_t M, const void *A, int64_t n_out, int64_t n_in,
                    int dotform, float beta) {
    (void)y; (void)x; (void)M; (void)A; (void)n_out; (void)n_in; (void)dotform; (void)beta;
    abort();   /* unreachable: xgd_cpu_amx() is 0 in such builds */
}
#endif

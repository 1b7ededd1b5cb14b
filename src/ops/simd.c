/* CPU feature probing, the threading threshold, and the small vector primitives shared by ops.
 * Each primitive has a portable C body and an AVX-512 body picked at run time. */
#include "ops/ops_internal.h"
#include "ops/simd_avx512.h"
#include "base/log.h"
#include <immintrin.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>


static int g_avx512 = -1, g_bf16 = -1;

static void probe(void) {
    const char *off = getenv("XGD_NO_AVX512");
    int disabled = off && *off && *off != '0';
    __builtin_cpu_init();
    int a = !disabled && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl");
    g_bf16 = a && __builtin_cpu_supports("avx512bf16");
    g_avx512 = a;
}

int xgd_cpu_avx512(void) { if (g_avx512 < 0) probe(); return g_avx512; }
int xgd_cpu_avx512bf16(void) { if (g_bf16 < 0) probe(); return g_bf16; }

int xgd_ops_threads(double work) {
    if (work < 65536.0) return 1;
    int nt = xgd_num_threads();
    return nt < 1 ? 1 : nt;
}

/* ---- dot ---- */
static float dot_c(const float *a, const float *b, int64_t n) {
    /* four partial sums: breaks the add dependency chain without -ffast-math */
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) { s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3]; }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

AVX512 static float dot_avx512(const float *a, const float *b, int64_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

float xgd_dot_f32(const float *a, const float *b, int64_t n) {
    return xgd_cpu_avx512() ? dot_avx512(a, b, n) : dot_c(a, b, n);
}

/* ---- axpy ---- */
static void axpy_c(float *y, float s, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += s * x[i];
}

AVX512 static void axpy_avx512(float *y, float s, const float *x, int64_t n) {
    __m512 vs = _mm512_set1_ps(s);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(vs, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(vs, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

void xgd_axpy_f32(float *y, float s, const float *x, int64_t n) {
    if (xgd_cpu_avx512()) axpy_avx512(y, s, x, n);
    else axpy_c(y, s, x, n);
}

/* ---- half rows to f32 ---- */
AVX512 static void bf16_to_f32_avx512(float *dst, const uint16_t *src, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
        _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
    for (; i < n; i++) dst[i] = xgd_bf16_to_f32(src[i]);
}

AVX512 static void f16_to_f32_avx512(float *dst, const uint16_t *src, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    for (; i < n; i++) dst[i] = xgd_f16_to_f32(src[i]);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void f32_to_bf16_avx512(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)   /* vcvtne2ps2bf16: round to nearest even, like xgd_f32_to_bf16 */
        _mm512_storeu_si512(dst + i, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i)));
    for (; i < n; i++) dst[i] = xgd_f32_to_bf16(src[i]);
}

void xgd_row_to_bf16(uint16_t *dst, const float *src, int64_t n) {
    if (xgd_cpu_avx512bf16()) { f32_to_bf16_avx512(dst, src, n); return; }
    for (int64_t i = 0; i < n; i++) dst[i] = xgd_f32_to_bf16(src[i]);
}

void xgd_round_to_bf16(float *dst, const float *src, int64_t n) {
    uint16_t h[256];
    for (int64_t i = 0; i < n; i += 256) {
        const int64_t c = n - i < 256 ? n - i : 256;
        xgd_row_to_bf16(h, src + i, c);
        xgd_row_to_f32(dst + i, h, XGD_BF16, c);
    }
}

void xgd_row_to_f32(float *dst, const void *src, xgd_dtype t, int64_t n) {
    if (t == XGD_BF16 && xgd_cpu_avx512()) bf16_to_f32_avx512(dst, src, n);
    else if (t == XGD_F16 && xgd_cpu_avx512()) f16_to_f32_avx512(dst, src, n);
    else xgd_convert_to_f32(dst, src, t, (size_t)n);
}

/* ---- fused small-M weight kernels ---- */
enum { WCHUNK = 256 };   /* portable path widens this many weights at a time into a stack buffer */

static void dot_rows_c(float *out, int64_t ldo, const float *x, int64_t ldx, int64_t M, const void *w, xgd_dtype t, int64_t n) {
    float buf[WCHUNK];
    const size_t es = xgd_dtype_size(t);
    for (int64_t i0 = 0; i0 < n; i0 += WCHUNK) {
        int64_t c = n - i0 < WCHUNK ? n - i0 : WCHUNK;
        xgd_convert_to_f32(buf, (const char *)w + (size_t)i0 * es, t, (size_t)c);
        for (int64_t m = 0; m < M; m++) out[m * ldo] += dot_c(x + m * ldx + i0, buf, c);
    }
}

static void axpy_rows_c(float *y, int64_t ldy, const float *s, int64_t lds, int64_t M, const void *w, xgd_dtype t, int64_t n) {
    float buf[WCHUNK];
    const size_t es = xgd_dtype_size(t);
    for (int64_t i0 = 0; i0 < n; i0 += WCHUNK) {
        int64_t c = n - i0 < WCHUNK ? n - i0 : WCHUNK;
        xgd_convert_to_f32(buf, (const char *)w + (size_t)i0 * es, t, (size_t)c);
        for (int64_t m = 0; m < M; m++) axpy_c(y + m * ldy + i0, s[m * lds], buf, c);
    }
}

/* (sum a0, sum a1, sum a2, sum a3) with one shared add tree: 512 -> 256 bits per vector, then
 * three horizontal adds and a fold of the two 128-bit lanes (a third of four separate reductions) */
AVX512 static inline __m128 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
    const __m256 h0 = _mm256_add_ps(_mm512_castps512_ps256(a0), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a0), 1)));
    const __m256 h1 = _mm256_add_ps(_mm512_castps512_ps256(a1), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a1), 1)));
    const __m256 h2 = _mm256_add_ps(_mm512_castps512_ps256(a2), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a2), 1)));
    const __m256 h3 = _mm256_add_ps(_mm512_castps512_ps256(a3), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a3), 1)));
    /* hadd(h0,h1) per 128-bit lane: (h0 pair sums, h1 pair sums); the second hadd gives per lane
     * (s0, s1, s2, s3) partials, and the two lanes add up to the four sums */
    const __m256 q = _mm256_hadd_ps(_mm256_hadd_ps(h0, h1), _mm256_hadd_ps(h2, h3));
    return _mm_add_ps(_mm256_castps256_ps128(q), _mm256_extractf128_ps(q, 1));
}

/* Four, two or one x rows per pass: each widened weight vector feeds one FMA per row, with
 * named accumulators so they stay in registers (an indexed array spilled to the stack and made
 * the kernel 1.6x slower). Tails use the smaller kernels, so no work is wasted. */
AVX512 static void dot4(float *out, int64_t ldo, const float *x, int64_t ldx, const void *w, xgd_dtype t, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const float *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(n - i);
        /* the same columns of the next four x rows: with weight rows as x (f32 decode, see
         * linear_small.c) or keys (decode attention) they stream from DRAM, and one group of
         * prefetch ahead keeps more reads in flight (GPT-2 f32 decode 54-63 against 50-52 tok/s) */
        _mm_prefetch((const char *)(x + 4 * ldx + i), _MM_HINT_T0); _mm_prefetch((const char *)(x1 + 4 * ldx + i), _MM_HINT_T0);
        _mm_prefetch((const char *)(x2 + 4 * ldx + i), _MM_HINT_T0); _mm_prefetch((const char *)(x3 + 4 * ldx + i), _MM_HINT_T0);
        const __m512 wv = load_w16(w, t, i, n - i);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + i), wv, a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x1 + i), wv, a1);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x2 + i), wv, a2);
        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x3 + i), wv, a3);
    }
    const __m128 sums = reduce4(a0, a1, a2, a3);
    if (ldo == 1) {   /* contiguous outputs, e.g. a decoding query's scores against four keys */
        _mm_storeu_ps(out, _mm_add_ps(_mm_loadu_ps(out), sums));
        return;
    }
    float v[4];
    _mm_storeu_ps(v, sums);
    for (int r = 0; r < 4; r++) out[r * ldo] += v[r];
}

AVX512 static void dot2(float *out, int64_t ldo, const float *x, int64_t ldx, const void *w, xgd_dtype t, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    const float *x1 = x + ldx;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(n - i);
        const __m512 wv = load_w16(w, t, i, n - i);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + i), wv, a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x1 + i), wv, a1);
    }
    out[0] += _mm512_reduce_add_ps(a0);
    out[ldo] += _mm512_reduce_add_ps(a1);
}

AVX512 static void dot1(float *out, const float *x, const void *w, xgd_dtype t, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;   /* two chains hide the FMA latency */
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), load_w16(w, t, i, 16), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), load_w16(w, t, i + 16, 16), a1);
    }
    for (; i < n; i += 16) a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail_mask(n - i), x + i), load_w16(w, t, i, n - i), a0);
    out[0] += _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

int xgd_bf16_pairs_ok(void) { return xgd_cpu_avx512(); }

void xgd_bf16_pair_order(float *xp, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 16; j++) { xp[i + j] = x[i + 2 * j]; xp[i + 16 + j] = x[i + 2 * j + 1]; }
    for (; i < n; i++) xp[i] = x[i];
}

AVX512 float xgd_dot_bf16_pairs(const float *xp, const uint16_t *w, int64_t n) {
    const __m512i hi = _mm512_set1_epi32((int)0xFFFF0000u);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512i v = _mm512_loadu_si512((const void *)(w + i));   /* 32 bf16 = 16 (even, odd) pairs */
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(xp + i), _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(xp + i + 16), _mm512_castsi512_ps(_mm512_and_si512(v, hi)), a1);
    }
    for (; i < n; i += 16) a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail_mask(n - i), xp + i), load_w16(w, XGD_BF16, i, n - i), a0);
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

AVX512 void xgd_dot_bf16_pairs4(float *out, const float *xp, const uint16_t *w, int64_t n) {
    const __m512i hi = _mm512_set1_epi32((int)0xFFFF0000u);
    const uint16_t *w1 = w + n, *w2 = w + 2 * n, *w3 = w + 3 * n;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 xe = _mm512_loadu_ps(xp + i), xo = _mm512_loadu_ps(xp + i + 16);
        const __m512i v0 = _mm512_loadu_si512((const void *)(w + i)), v1 = _mm512_loadu_si512((const void *)(w1 + i));
        const __m512i v2 = _mm512_loadu_si512((const void *)(w2 + i)), v3 = _mm512_loadu_si512((const void *)(w3 + i));
        /* the same columns of the next four rows (the next call's rows): software prefetch one group
         * ahead keeps more DRAM reads in flight than the hardware streamers alone (1.1B Llama
         * shape after a 128-token prompt: 11.0-11.4 against 9.3-9.6 tok/s, alternating runs);
         * past the matrix's end it is a no-op (prefetches never fault) */
        _mm_prefetch((const char *)(w + 4 * n + i), _MM_HINT_T0); _mm_prefetch((const char *)(w1 + 4 * n + i), _MM_HINT_T0);
        _mm_prefetch((const char *)(w2 + 4 * n + i), _MM_HINT_T0); _mm_prefetch((const char *)(w3 + 4 * n + i), _MM_HINT_T0);
        a0 = _mm512_fmadd_ps(xo, _mm512_castsi512_ps(_mm512_and_si512(v0, hi)), _mm512_fmadd_ps(xe, _mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)), a0));
        a1 = _mm512_fmadd_ps(xo, _mm512_castsi512_ps(_mm512_and_si512(v1, hi)), _mm512_fmadd_ps(xe, _mm512_castsi512_ps(_mm512_slli_epi32(v1, 16)), a1));
        a2 = _mm512_fmadd_ps(xo, _mm512_castsi512_ps(_mm512_and_si512(v2, hi)), _mm512_fmadd_ps(xe, _mm512_castsi512_ps(_mm512_slli_epi32(v2, 16)), a2));
        a3 = _mm512_fmadd_ps(xo, _mm512_castsi512_ps(_mm512_and_si512(v3, hi)), _mm512_fmadd_ps(xe, _mm512_castsi512_ps(_mm512_slli_epi32(v3, 16)), a3));
    }
    for (; i < n; i += 16) {
        const __m512 xv = _mm512_maskz_loadu_ps(tail_mask(n - i), xp + i);
        a0 = _mm512_fmadd_ps(xv, load_w16(w, XGD_BF16, i, n - i), a0);
        a1 = _mm512_fmadd_ps(xv, load_w16(w1, XGD_BF16, i, n - i), a1);
        a2 = _mm512_fmadd_ps(xv, load_w16(w2, XGD_BF16, i, n - i), a2);
        a3 = _mm512_fmadd_ps(xv, load_w16(w3, XGD_BF16, i, n - i), a3);
    }
    _mm_storeu_ps(out, _mm_add_ps(_mm_loadu_ps(out), reduce4(a0, a1, a2, a3)));
}

/* y[i] += sum_{r<8} s[r] * w[r*ws + i] for eight f32 weight rows and one x (decode's axpy form):
 * y is loaded and stored once per eight FMAs, and the same columns of the next eight rows are
 * prefetched (the next pass's rows). */
AVX512 void xgd_axpy_f32_rows8(float *y, const float *s, const float *w, int64_t ws, int64_t n) {
    __m512 sv[8];
    for (int r = 0; r < 8; r++) sv[r] = _mm512_set1_ps(s[r]);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(n - i);
        __m512 a = _mm512_maskz_loadu_ps(k, y + i);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            _mm_prefetch((const char *)(w + (8 + r) * ws + i), _MM_HINT_T0);
            a = _mm512_fmadd_ps(sv[r], _mm512_maskz_loadu_ps(k, w + r * ws + i), a);
        }
        _mm512_mask_storeu_ps(y + i, k, a);
    }
}

/* yp[m] (pair order, row stride ldy) += sum_{r<nr} s[m*lds + r] * w[r*ws + 0..n) for m < M: per 32
 * columns one 64-byte load per weight row, widened by a shift (even columns) and a mask (odd
 * columns) into the two halves of the pair-ordered block, then used for all M rows. nr is a
 * compile-time constant at every call site (the widened rows stay in registers). */
AVX512 static inline __attribute__((always_inline)) void axpy_bf16_pairs(float *yp, int64_t ldy, const float *s, int64_t lds, int64_t M, int nr,
                                          const uint16_t *w, int64_t ws, int64_t n) {
    const __m512i hi = _mm512_set1_epi32((int)0xFFFF0000u);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 we[8], wo[8];
        #pragma GCC unroll 8
        for (int r = 0; r < nr; r++) {
            const __m512i v = _mm512_loadu_si512((const void *)(w + r * ws + i));
            /* the next pass's rows, same columns (see xgd_dot_bf16_pairs4): GPT-2 bf16 decode after
             * a 128-token prompt 70-73 against 57-64 tok/s */
            _mm_prefetch((const char *)(w + (r + nr) * ws + i), _MM_HINT_T0);
            we[r] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
            wo[r] = _mm512_castsi512_ps(_mm512_and_si512(v, hi));
        }
        for (int64_t m = 0; m < M; m++) {
            float *y = yp + m * ldy + i;
            const float *sm = s + m * lds;
            __m512 ye = _mm512_loadu_ps(y), yo = _mm512_loadu_ps(y + 16);
            #pragma GCC unroll 8
            for (int r = 0; r < nr; r++) {
                const __m512 sv = _mm512_set1_ps(sm[r]);
                ye = _mm512_fmadd_ps(sv, we[r], ye);
                yo = _mm512_fmadd_ps(sv, wo[r], yo);
            }
            _mm512_storeu_ps(y, ye);
            _mm512_storeu_ps(y + 16, yo);
        }
    }
    for (; i < n; i += 16) {   /* the tail is in natural order */
        const __mmask16 k = tail_mask(n - i);
        for (int64_t m = 0; m < M; m++) {
            float *y = yp + m * ldy + i;
            __m512 a = _mm512_maskz_loadu_ps(k, y);
            for (int r = 0; r < nr; r++) a = _mm512_fmadd_ps(_mm512_set1_ps(s[m * lds + r]), load_w16(w + r * ws, XGD_BF16, i, n - i), a);
            _mm512_mask_storeu_ps(y, k, a);
        }
    }
}

AVX512 void xgd_axpy_bf16_pairs(float *yp, int64_t ldy, const float *s, int64_t lds, int64_t M, int nr, const uint16_t *w,
                                int64_t ws, int64_t n) {
    switch (nr) {   /* constant row counts let the compiler keep the widened rows in registers */
    case 8: axpy_bf16_pairs(yp, ldy, s, lds, M, 8, w, ws, n); break;
    case 4: axpy_bf16_pairs(yp, ldy, s, lds, M, 4, w, ws, n); break;
    default:
        for (int r = 0; r < nr; r++) axpy_bf16_pairs(yp, ldy, s + r, lds, M, 1, w + r * ws, ws, n);
    }
}

void xgd_bf16_pair_unorder_add(float *y, const float *yp, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 16; j++) { y[i + 2 * j] += yp[i + j]; y[i + 2 * j + 1] += yp[i + 16 + j]; }
    for (; i < n; i++) y[i] += yp[i];
}

AVX512 void xgd_dot_bf16_pairs4_rows(float *out, int64_t ldo, const float *xp, int64_t ldx, int64_t M, const uint16_t *w,
                                     int64_t n) {
    const __m512i hi = _mm512_set1_epi32((int)0xFFFF0000u);
    for (int64_t m0 = 0; m0 < M; m0 += 4) {
        const int mr = M - m0 < 4 ? (int)(M - m0) : 4;
        const float *x[4];
        for (int q = 0; q < 4; q++) x[q] = xp + (m0 + (q < mr ? q : mr - 1)) * ldx;   /* tail rows repeat, not stored */
        __m512 acc[4][4];
        #pragma GCC unroll 4
        for (int q = 0; q < 4; q++)
            #pragma GCC unroll 4
            for (int r = 0; r < 4; r++) acc[q][r] = _mm512_setzero_ps();
        int64_t i = 0;
        for (; i + 32 <= n; i += 32) {
            __m512 we[4], wo[4];
            #pragma GCC unroll 4
            for (int r = 0; r < 4; r++) {
                const __m512i v = _mm512_loadu_si512((const void *)(w + r * n + i));
                we[r] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
                wo[r] = _mm512_castsi512_ps(_mm512_and_si512(v, hi));
            }
            #pragma GCC unroll 4
            for (int q = 0; q < 4; q++) {
                const __m512 xe = _mm512_loadu_ps(x[q] + i), xo = _mm512_loadu_ps(x[q] + i + 16);
                #pragma GCC unroll 4
                for (int r = 0; r < 4; r++) acc[q][r] = _mm512_fmadd_ps(xo, wo[r], _mm512_fmadd_ps(xe, we[r], acc[q][r]));
            }
        }
        for (; i < n; i += 16) {   /* natural-order tail */
            const __mmask16 k = tail_mask(n - i);
            #pragma GCC unroll 4
            for (int r = 0; r < 4; r++) {
                const __m512 wv = load_w16(w + r * n, XGD_BF16, i, n - i);
                #pragma GCC unroll 4
                for (int q = 0; q < 4; q++) acc[q][r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x[q] + i), wv, acc[q][r]);
            }
        }
        for (int q = 0; q < mr; q++) {
            float *o = out + (m0 + q) * ldo;
            _mm_storeu_ps(o, _mm_add_ps(_mm_loadu_ps(o), reduce4(acc[q][0], acc[q][1], acc[q][2], acc[q][3])));
        }
    }
}

AVX512 static void dot_rows_avx512(float *out, int64_t ldo, const float *x, int64_t ldx, int64_t M, const void *w, xgd_dtype t, int64_t n) {
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) dot4(out + m * ldo, ldo, x + m * ldx, ldx, w, t, n);
    if (M - m >= 2) { dot2(out + m * ldo, ldo, x + m * ldx, ldx, w, t, n); m += 2; }
    if (M - m == 1) dot1(out + m * ldo, x + m * ldx, w, t, n);
}

AVX512 static void axpy_rows_avx512(float *y, int64_t ldy, const float *s, int64_t lds, int64_t M, const void *w, xgd_dtype t, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(n - i);
        const __m512 wv = load_w16(w, t, i, n - i);
        for (int64_t m = 0; m < M; m++) {
            float *yr = y + m * ldy + i;
            _mm512_mask_storeu_ps(yr, k, _mm512_fmadd_ps(_mm512_set1_ps(s[m * lds]), wv, _mm512_maskz_loadu_ps(k, yr)));
        }
    }
}

AVX512 static void axpy_rows4_avx512(float *y, int64_t ldy, const float *s, int64_t lds, int64_t M, const void *w, int64_t ws,
                                     xgd_dtype t, int64_t n) {
    const size_t es = xgd_dtype_size(t);
    const void *w1 = (const char *)w + (size_t)ws * es, *w2 = (const char *)w + (size_t)(2 * ws) * es,
               *w3 = (const char *)w + (size_t)(3 * ws) * es;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(n - i);
        const __m512 v0 = load_w16(w, t, i, n - i), v1 = load_w16(w1, t, i, n - i);
        const __m512 v2 = load_w16(w2, t, i, n - i), v3 = load_w16(w3, t, i, n - i);
        for (int64_t m = 0; m < M; m++) {
            const float *sm = s + m * lds;
            float *yr = y + m * ldy + i;
            __m512 a = _mm512_maskz_loadu_ps(k, yr);
            a = _mm512_fmadd_ps(_mm512_set1_ps(sm[0]), v0, a);
            a = _mm512_fmadd_ps(_mm512_set1_ps(sm[1]), v1, a);
            a = _mm512_fmadd_ps(_mm512_set1_ps(sm[2]), v2, a);
            a = _mm512_fmadd_ps(_mm512_set1_ps(sm[3]), v3, a);
            _mm512_mask_storeu_ps(yr, k, a);
        }
    }
}

void xgd_axpy_rows4(float *y, int64_t ldy, const float *s, int64_t lds, int64_t M, const void *w, int64_t ws,
                    xgd_dtype t, int64_t n) {
    if (xgd_cpu_avx512()) { axpy_rows4_avx512(y, ldy, s, lds, M, w, ws, t, n); return; }
    const size_t es = xgd_dtype_size(t);
    for (int r = 0; r < 4; r++) axpy_rows_c(y, ldy, s + r, lds, M, (const char *)w + (size_t)(r * ws) * es, t, n);
}

void xgd_dot_rows(float *out, int64_t ldo, const float *x, int64_t ldx, int64_t M, const void *w, xgd_dtype t, int64_t n) {
    if (xgd_cpu_avx512()) dot_rows_avx512(out, ldo, x, ldx, M, w, t, n);
    else dot_rows_c(out, ldo, x, ldx, M, w, t, n);
}

void xgd_axpy_rows(float *y, int64_t ldy, const float *s, int64_t lds, int64_t M, const void *w, xgd_dtype t, int64_t n) {
    if (xgd_cpu_avx512()) axpy_rows_avx512(y, ldy, s, lds, M, w, t, n);
    else axpy_rows_c(y, ldy, s, lds, M, w, t, n);
}

/* ---- attention blocks ---- */
static void scores_t_c(float *s, const float *q, const float *kt, int64_t ldkt, int hd, int64_t n) {
    for (int64_t j = 0; j < n; j++) s[j] = 0.0f;
    for (int c = 0; c < hd; c++) axpy_c(s, q[c], kt + c * ldkt, n);
}

AVX512 static void scores_t_avx512(float *s, const float *q, const float *kt, int64_t ldkt, int hd, int64_t n) {
    int64_t j = 0;
    for (; j + 64 <= n; j += 64) {   /* 64 keys in four registers across the whole head dim */
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < hd; c++) {
            const __m512 qc = _mm512_set1_ps(q[c]);
            const float *r = kt + c * ldkt + j;
            a0 = _mm512_fmadd_ps(qc, _mm512_loadu_ps(r), a0);
            a1 = _mm512_fmadd_ps(qc, _mm512_loadu_ps(r + 16), a1);
            a2 = _mm512_fmadd_ps(qc, _mm512_loadu_ps(r + 32), a2);
            a3 = _mm512_fmadd_ps(qc, _mm512_loadu_ps(r + 48), a3);
        }
        _mm512_storeu_ps(s + j, a0); _mm512_storeu_ps(s + j + 16, a1);
        _mm512_storeu_ps(s + j + 32, a2); _mm512_storeu_ps(s + j + 48, a3);
    }
    for (; j < n; j += 16) {
        const __mmask16 k = tail_mask(n - j);
        __m512 a = _mm512_setzero_ps();
        for (int c = 0; c < hd; c++) a = _mm512_fmadd_ps(_mm512_set1_ps(q[c]), _mm512_maskz_loadu_ps(k, kt + c * ldkt + j), a);
        _mm512_mask_storeu_ps(s + j, k, a);
    }
}

static void wsum_rows_c(float *out, const float *p, const float *v, int64_t ldv, int64_t n, int hd) {
    for (int64_t j = 0; j < n; j++)
        if (p[j] != 0.0f) axpy_c(out, p[j], v + j * ldv, hd);
}

AVX512 static void wsum_rows_avx512(float *out, const float *p, const float *v, int64_t ldv, int64_t n, int hd) {
    for (int c0 = 0; c0 < hd; c0 += 64) {   /* 64 output dims held in four registers over all rows */
        const __mmask16 k0 = tail_mask(hd - c0), m1 = tail_mask(hd - c0 - 16), m2 = tail_mask(hd - c0 - 32),
                        m3 = tail_mask(hd - c0 - 48);
        float *o = out + c0;
        __m512 a0 = _mm512_maskz_loadu_ps(k0, o), a1 = _mm512_maskz_loadu_ps(m1, o + 16);
        __m512 a2 = _mm512_maskz_loadu_ps(m2, o + 32), a3 = _mm512_maskz_loadu_ps(m3, o + 48);
        for (int64_t j = 0; j < n; j++) {
            const __m512 pj = _mm512_set1_ps(p[j]);
            const float *r = v + j * ldv + c0;
            a0 = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(k0, r), a0);
            a1 = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m1, r + 16), a1);
            a2 = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m2, r + 32), a2);
            a3 = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m3, r + 48), a3);
        }
        _mm512_mask_storeu_ps(o, k0, a0); _mm512_mask_storeu_ps(o + 16, m1, a1);
        _mm512_mask_storeu_ps(o + 32, m2, a2); _mm512_mask_storeu_ps(o + 48, m3, a3);
    }
}

void xgd_scores_t(float *s, const float *q, const float *kt, int64_t ldkt, int hd, int64_t n) {
    if (xgd_cpu_avx512()) scores_t_avx512(s, q, kt, ldkt, hd, n);
    else scores_t_c(s, q, kt, ldkt, hd, n);
}

void xgd_wsum_rows(float *out, const float *p, const float *v, int64_t ldv, int64_t n, int hd) {
    if (xgd_cpu_avx512()) wsum_rows_avx512(out, p, v, ldv, n, hd);
    else wsum_rows_c(out, p, v, ldv, n, hd);
}

/* ---- softmax blocks ---- */
static float max_c(const float *x, int64_t n) {
    float m = x[0];
    for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

AVX512 static float max_avx512(const float *x, int64_t n) {
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < n; i += 16)
        m = _mm512_mask_max_ps(m, tail_mask(n - i), m, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
    return _mm512_reduce_max_ps(m);
}

float xgd_max_f32(const float *x, int64_t n) {
    if (n <= 0) return -INFINITY;
    return xgd_cpu_avx512() ? max_avx512(x, n) : max_c(x, n);
}

static double exp_sum_c(float *dst, const float *src, int64_t n, float shift) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        float e = expf(src[i] - shift);
        if (dst) dst[i] = e;
        s += e;
    }
    return s;
}

AVX512 static double exp_sum_avx512(float *dst, const float *src, int64_t n, float shift) {
    const __m512 sh = _mm512_set1_ps(shift);
    double total = 0;
    for (int64_t b0 = 0; b0 < n; b0 += 1024) {
        const int64_t b1 = b0 + 1024 < n ? b0 + 1024 : n;
        __m512 acc = _mm512_setzero_ps();
        for (int64_t i = b0; i < b1; i += 16) {
            const __mmask16 m = tail_mask(b1 - i);
            const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, src + i), sh));
            if (dst) _mm512_mask_storeu_ps(dst + i, m, e);
            acc = _mm512_mask_add_ps(acc, m, acc, e);
        }
        total += (double)_mm512_reduce_add_ps(acc);
    }
    return total;
}

double xgd_exp_sum(float *dst, const float *src, int64_t n, float shift) {
    return xgd_cpu_avx512() ? exp_sum_avx512(dst, src, n, shift) : exp_sum_c(dst, src, n, shift);
}

/* ---- attention logits of one query row ---- */
static float attn_logits_c(float *p, int64_t n, float scale, const uint8_t *keep, const float *slope,
                           const int32_t *kpos, const float *bias, int *any) {
    float mx = -FLT_MAX;
    *any = 0;
    for (int64_t j = 0; j < n; j++) {
        if (keep && !keep[j]) { p[j] = -FLT_MAX; continue; }
        float v = p[j] * scale;
        if (slope) v += *slope * (float)(kpos ? kpos[j] : j);
        if (bias) v += bias[j];
        p[j] = v;
        mx = v > mx ? v : mx;
        *any = 1;
    }
    return mx;
}

/* the same operations per lane (separate multiply and add, as the C code rounds) */
AVX512 static float attn_logits_avx512(float *p, int64_t n, float scale, const uint8_t *keep, const float *slope,
                                       const int32_t *kpos, const float *bias, int *any) {
    const __m512 sc = _mm512_set1_ps(scale), lowest = _mm512_set1_ps(-FLT_MAX);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512 mx = lowest;
    __mmask16 seen = 0;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __mmask16 k = keep ? _mm_mask_test_epi8_mask(m, _mm_maskz_loadu_epi8(m, keep + i), _mm_set1_epi8(-1)) : m;
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p + i), sc);
        if (slope) {
            const __m512i pos = kpos ? _mm512_maskz_loadu_epi32(m, kpos + i) : _mm512_add_epi32(iota, _mm512_set1_epi32((int)i));
            v = _mm512_add_ps(v, _mm512_mul_ps(_mm512_set1_ps(*slope), _mm512_cvtepi32_ps(pos)));
        }
        if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + i));
        mx = _mm512_mask_max_ps(mx, k, v, mx);
        seen |= k;
        _mm512_mask_storeu_ps(p + i, m, _mm512_mask_blend_ps(k, lowest, v));
    }
    *any = seen != 0;
    return _mm512_reduce_max_ps(mx);
}

float xgd_attn_logits(float *p, int64_t n, float scale, const uint8_t *keep, const float *slope, const int32_t *kpos,
                      const float *bias, int *any) {
    return xgd_cpu_avx512() ? attn_logits_avx512(p, n, scale, keep, slope, kpos, bias, any)
                            : attn_logits_c(p, n, scale, keep, slope, kpos, bias, any);
}

/* ---- attention blocks, four queries ---- */
AVX512 static void scores_t4_avx512(float *s, int64_t lds, const float *q, int64_t ldq, const float *kt, int64_t ldkt,
                                    int hd, int64_t n) {
    const float *q1 = q + ldq, *q2 = q + 2 * ldq, *q3 = q + 3 * ldq;
    for (int64_t j = 0; j < n; j += 32) {   /* 32 keys x 4 queries in eight registers */
        const __mmask16 k0 = tail_mask(n - j), k1 = tail_mask(n - j - 16);
        __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int c = 0; c < hd; c++) {
            const float *r = kt + c * ldkt + j;
            const __m512 x0 = _mm512_maskz_loadu_ps(k0, r), x1 = _mm512_maskz_loadu_ps(k1, r + 16);
            __m512 b = _mm512_set1_ps(q[c]);
            a00 = _mm512_fmadd_ps(b, x0, a00); a01 = _mm512_fmadd_ps(b, x1, a01);
            b = _mm512_set1_ps(q1[c]);
            a10 = _mm512_fmadd_ps(b, x0, a10); a11 = _mm512_fmadd_ps(b, x1, a11);
            b = _mm512_set1_ps(q2[c]);
            a20 = _mm512_fmadd_ps(b, x0, a20); a21 = _mm512_fmadd_ps(b, x1, a21);
            b = _mm512_set1_ps(q3[c]);
            a30 = _mm512_fmadd_ps(b, x0, a30); a31 = _mm512_fmadd_ps(b, x1, a31);
        }
        _mm512_mask_storeu_ps(s + j, k0, a00); _mm512_mask_storeu_ps(s + j + 16, k1, a01);
        _mm512_mask_storeu_ps(s + lds + j, k0, a10); _mm512_mask_storeu_ps(s + lds + j + 16, k1, a11);
        _mm512_mask_storeu_ps(s + 2 * lds + j, k0, a20); _mm512_mask_storeu_ps(s + 2 * lds + j + 16, k1, a21);
        _mm512_mask_storeu_ps(s + 3 * lds + j, k0, a30); _mm512_mask_storeu_ps(s + 3 * lds + j + 16, k1, a31);
    }
}

AVX512 static void wsum_rows4_avx512(float *out, int64_t ldo, const float *p, int64_t ldp, const float *v, int64_t ldv,
                                     int64_t n, int hd) {
    const float *p1 = p + ldp, *p2 = p + 2 * ldp, *p3 = p + 3 * ldp;
    for (int c0 = 0; c0 < hd; c0 += 32) {   /* 32 dims x 4 queries in eight registers */
        const __mmask16 k0 = tail_mask(hd - c0), k1 = tail_mask(hd - c0 - 16);
        float *o0 = out + c0, *o1 = o0 + ldo, *o2 = o0 + 2 * ldo, *o3 = o0 + 3 * ldo;
        __m512 a00 = _mm512_maskz_loadu_ps(k0, o0), a01 = _mm512_maskz_loadu_ps(k1, o0 + 16);
        __m512 a10 = _mm512_maskz_loadu_ps(k0, o1), a11 = _mm512_maskz_loadu_ps(k1, o1 + 16);
        __m512 a20 = _mm512_maskz_loadu_ps(k0, o2), a21 = _mm512_maskz_loadu_ps(k1, o2 + 16);
        __m512 a30 = _mm512_maskz_loadu_ps(k0, o3), a31 = _mm512_maskz_loadu_ps(k1, o3 + 16);
        for (int64_t j = 0; j < n; j++) {
            const float *r = v + j * ldv + c0;
            const __m512 x0 = _mm512_maskz_loadu_ps(k0, r), x1 = _mm512_maskz_loadu_ps(k1, r + 16);
            __m512 b = _mm512_set1_ps(p[j]);
            a00 = _mm512_fmadd_ps(b, x0, a00); a01 = _mm512_fmadd_ps(b, x1, a01);
            b = _mm512_set1_ps(p1[j]);
            a10 = _mm512_fmadd_ps(b, x0, a10); a11 = _mm512_fmadd_ps(b, x1, a11);
            b = _mm512_set1_ps(p2[j]);
            a20 = _mm512_fmadd_ps(b, x0, a20); a21 = _mm512_fmadd_ps(b, x1, a21);
            b = _mm512_set1_ps(p3[j]);
            a30 = _mm512_fmadd_ps(b, x0, a30); a31 = _mm512_fmadd_ps(b, x1, a31);
        }
        _mm512_mask_storeu_ps(o0, k0, a00); _mm512_mask_storeu_ps(o0 + 16, k1, a01);
        _mm512_mask_storeu_ps(o1, k0, a10); _mm512_mask_storeu_ps(o1 + 16, k1, a11);
        _mm512_mask_storeu_ps(o2, k0, a20); _mm512_mask_storeu_ps(o2 + 16, k1, a21);
        _mm512_mask_storeu_ps(o3, k0, a30); _mm512_mask_storeu_ps(o3 + 16, k1, a31);
    }
}

void xgd_scores_t4(float *s, int64_t lds, const float *q, int64_t ldq, const float *kt, int64_t ldkt, int hd, int64_t n) {
    if (xgd_cpu_avx512()) { scores_t4_avx512(s, lds, q, ldq, kt, ldkt, hd, n); return; }
    for (int r = 0; r < 4; r++) scores_t_c(s + r * lds, q + r * ldq, kt, ldkt, hd, n);
}

void xgd_wsum_rows4(float *out, int64_t ldo, const float *p, int64_t ldp, const float *v, int64_t ldv, int64_t n, int hd) {
    if (xgd_cpu_avx512()) { wsum_rows4_avx512(out, ldo, p, ldp, v, ldv, n, hd); return; }
    for (int r = 0; r < 4; r++) wsum_rows_c(out + r * ldo, p + r * ldp, v, ldv, n, hd);
}

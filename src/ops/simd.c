/* CPU feature probing, the threading threshold, and the small vector primitives shared by ops.
 * Each primitive has a portable C body and an AVX-512 body picked at run time. */
#include "ops/ops_internal.h"
#include "base/log.h"
#include <immintrin.h>
#include <stdlib.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

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

void xgd_row_to_f32(float *dst, const void *src, xgd_dtype t, int64_t n) {
    if (t == XGD_BF16 && xgd_cpu_avx512()) bf16_to_f32_avx512(dst, src, n);
    else if (t == XGD_F16 && xgd_cpu_avx512()) f16_to_f32_avx512(dst, src, n);
    else xgd_convert_to_f32(dst, src, t, (size_t)n);
}

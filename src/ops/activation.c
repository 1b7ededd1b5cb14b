/* Elementwise activations, their derivatives, and the gated product act(gate)*up (SwiGLU, T5
 * gated-gelu). Each activation is one pair of inline scalar functions (value, derivative); every
 * scalar loop below is written once and dispatches on the activation per element (a predictable
 * branch, cheap next to tanhf/expf). tanh-GELU and SiLU also have AVX-512 bodies (the hot ones:
 * T x 4C elements per layer), within a few ulp of the scalar formulas. */
#include "ops/ops.h"
#include "ops/ops_internal.h"
#include "ops/simd_avx512.h"
#include <math.h>

#define SQRT_2_OVER_PI 0.7978845608028654f
#define GELU_K 0.044715f

static inline float act_value(int act, float x) {
    switch (act) {
    case XGD_ACT_GELU_TANH: return 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * (x + GELU_K * x * x * x)));
    case XGD_ACT_GELU_ERF: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case XGD_ACT_SILU: return x / (1.0f + expf(-x));
    default: return x > 0.0f ? x : 0.0f;
    }
}

static inline float act_deriv(int act, float x) {
    switch (act) {
    case XGD_ACT_GELU_TANH: {
        float t = tanhf(SQRT_2_OVER_PI * (x + GELU_K * x * x * x));
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_K * x * x);
    }
    case XGD_ACT_GELU_ERF:
        return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) + x * expf(-0.5f * x * x) * 0.3989422804014327f;
    case XGD_ACT_SILU: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    default: return x > 0.0f ? 1.0f : 0.0f;
    }
}

/* ---- AVX-512 bodies for the tanh-GELU and SiLU (the activations of all five model families);
 * tanh(u) = 1 - 2/(exp(2u)+1) and the sigmoid through the vector exp of simd_avx512.h. ---- */
static int vec_act(int act) { return (act == XGD_ACT_GELU_TANH || act == XGD_ACT_SILU) && xgd_cpu_avx512(); }

/* 1/d for d >= 1: the 14-bit estimate and one Newton step (~28 bits), a few cycles where a
 * 512-bit division occupies the divider for ~10 (it was the costliest step of the GELU) */
AVX512 static inline __m512 recip_ge1(__m512 d) {
    const __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

/* value (*val) and derivative (*der) of act at x; either may be NULL */
AVX512 static inline void vact(int act, __m512 x, __m512 *val, __m512 *der) {
    const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
    if (act == XGD_ACT_SILU) {
        const __m512 s = recip_ge1(_mm512_add_ps(one, exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
        if (val) *val = _mm512_mul_ps(x, s);
        if (der) *der = _mm512_mul_ps(s, _mm512_fmadd_ps(x, _mm512_sub_ps(one, s), one));
        return;
    }
    const __m512 x2 = _mm512_mul_ps(x, x), c = _mm512_set1_ps(SQRT_2_OVER_PI), k = _mm512_set1_ps(GELU_K);
    const __m512 u = _mm512_mul_ps(c, _mm512_fmadd_ps(_mm512_mul_ps(k, x2), x, x));
    const __m512 e = exp_avx512(_mm512_add_ps(u, u));
    const __m512 r = recip_ge1(_mm512_add_ps(e, one)), t = _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), r, one);
    if (val) *val = _mm512_mul_ps(x, _mm512_sub_ps(one, r));   /* 0.5 x (1 + t) = x (1 - r) */
    if (der) {
        const __m512 du = _mm512_mul_ps(c, _mm512_fmadd_ps(_mm512_set1_ps(3.0f * GELU_K), x2, one));
        const __m512 sech2 = _mm512_fnmadd_ps(t, t, one);
        *der = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_mul_ps(half, x), sech2), du, _mm512_mul_ps(half, _mm512_add_ps(one, t)));
    }
}

/* One loop body for the four entry points: y = act(x)[*up]; dx += dy*act'(x)[*up]; dup += dy*act(x) */
enum { V_ACT, V_ACT_BWD, V_GATED, V_GATED_BWD };
AVX512 static void vloop(int kind, int act, float *y, float *y2, const float *x, const float *up, const float *dy,
                         int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i += 16) {
        const __mmask16 m = tail_mask(i1 - i);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        __m512 val, der;
        switch (kind) {
        case V_ACT: vact(act, xv, &val, NULL); _mm512_mask_storeu_ps(y + i, m, val); break;
        case V_GATED:
            vact(act, xv, &val, NULL);
            _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(val, _mm512_maskz_loadu_ps(m, up + i)));
            break;
        case V_ACT_BWD:
            vact(act, xv, NULL, &der);
            _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, dy + i), der, _mm512_maskz_loadu_ps(m, y + i)));
            break;
        default: {   /* V_GATED_BWD: y = dgate (may be NULL), y2 = dup (may be NULL) */
            vact(act, xv, &val, &der);
            const __m512 g = _mm512_maskz_loadu_ps(m, dy + i);
            if (y) _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(_mm512_mul_ps(g, _mm512_maskz_loadu_ps(m, up + i)), der,
                                                                  _mm512_maskz_loadu_ps(m, y + i)));
            if (y2) _mm512_mask_storeu_ps(y2 + i, m, _mm512_fmadd_ps(g, val, _mm512_maskz_loadu_ps(m, y2 + i)));
        }
        }
    }
}

/* vloop over n elements in blocks split across threads */
static void vrun(int kind, int act, float *y, float *y2, const float *x, const float *up, const float *dy, int64_t n) {
    const int nt = xgd_ops_threads(8.0 * (double)n);
    const int64_t nblk = (n + 4095) / 4096;
    #pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t b = 0; b < nblk; b++) vloop(kind, act, y, y2, x, up, dy, b * 4096, (b + 1) * 4096 < n ? (b + 1) * 4096 : n);
}

/* Parallel for over n elements (transcendentals: ~20 flops each). */
#define ELEMENTWISE(n, body) do { \
        const int nt_ = xgd_ops_threads(20.0 * (double)(n)); \
        _Pragma("omp parallel for num_threads(nt_) if (nt_ > 1)") \
        for (int64_t i = 0; i < (n); i++) { body; } \
    } while (0)

void xgd_act(int act, float *y, const float *x, int64_t n) {
    if (vec_act(act)) vrun(V_ACT, act, y, NULL, x, NULL, NULL, n);
    else ELEMENTWISE(n, y[i] = act_value(act, x[i]));
}

void xgd_act_backward(int act, float *dx, const float *dy, const float *x, int64_t n) {
    if (vec_act(act)) vrun(V_ACT_BWD, act, dx, NULL, x, NULL, dy, n);
    else ELEMENTWISE(n, dx[i] += dy[i] * act_deriv(act, x[i]));
}

void xgd_gated(int act, float *y, const float *gate, const float *up, int64_t n) {
    if (vec_act(act)) vrun(V_GATED, act, y, NULL, gate, up, NULL, n);
    else ELEMENTWISE(n, y[i] = act_value(act, gate[i]) * up[i]);
}

void xgd_gated_backward(int act, float *dgate, float *dup, const float *dy, const float *gate,
                        const float *up, int64_t n) {
    if (vec_act(act)) { vrun(V_GATED_BWD, act, dgate, dup, gate, up, dy, n); return; }
    if (dgate) ELEMENTWISE(n, dgate[i] += dy[i] * up[i] * act_deriv(act, gate[i]));
    if (dup) ELEMENTWISE(n, dup[i] += dy[i] * act_value(act, gate[i]));
}

void xgd_gelu_tanh(float *y, const float *x, int64_t n) { xgd_act(XGD_ACT_GELU_TANH, y, x, n); }
void xgd_gelu_tanh_backward(float *dx, const float *dy, const float *x, int64_t n) { xgd_act_backward(XGD_ACT_GELU_TANH, dx, dy, x, n); }
void xgd_gelu_erf(float *y, const float *x, int64_t n) { xgd_act(XGD_ACT_GELU_ERF, y, x, n); }
void xgd_gelu_erf_backward(float *dx, const float *dy, const float *x, int64_t n) { xgd_act_backward(XGD_ACT_GELU_ERF, dx, dy, x, n); }
void xgd_silu(float *y, const float *x, int64_t n) { xgd_act(XGD_ACT_SILU, y, x, n); }
void xgd_silu_backward(float *dx, const float *dy, const float *x, int64_t n) { xgd_act_backward(XGD_ACT_SILU, dx, dy, x, n); }
void xgd_relu(float *y, const float *x, int64_t n) { xgd_act(XGD_ACT_RELU, y, x, n); }
void xgd_relu_backward(float *dx, const float *dy, const float *x, int64_t n) { xgd_act_backward(XGD_ACT_RELU, dx, dy, x, n); }

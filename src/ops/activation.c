/* Elementwise activations, their derivatives, and the gated product act(gate)*up (SwiGLU, T5
 * gated-gelu). Each activation is one pair of inline scalar functions (value, derivative); every
 * loop below is written once and dispatches on the activation per element (a predictable branch,
 * cheap next to tanhf/expf). */
#include "ops/ops.h"
#include "ops/ops_internal.h"
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

/* Parallel for over n elements (transcendentals: ~20 flops each). */
#define ELEMENTWISE(n, body) do { \
        const int nt_ = xgd_ops_threads(20.0 * (double)(n)); \
        _Pragma("omp parallel for num_threads(nt_) if (nt_ > 1)") \
        for (int64_t i = 0; i < (n); i++) { body; } \
    } while (0)

void xgd_act(int act, float *y, const float *x, int64_t n) { ELEMENTWISE(n, y[i] = act_value(act, x[i])); }

void xgd_act_backward(int act, float *dx, const float *dy, const float *x, int64_t n) {
    ELEMENTWISE(n, dx[i] += dy[i] * act_deriv(act, x[i]));
}

void xgd_gated(int act, float *y, const float *gate, const float *up, int64_t n) {
    ELEMENTWISE(n, y[i] = act_value(act, gate[i]) * up[i]);
}

void xgd_gated_backward(int act, float *dgate, float *dup, const float *dy, const float *gate,
                        const float *up, int64_t n) {
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

/* Rotary position embeddings: inverse frequencies (with the rope_scaling variants of
 * transformers' modeling_rope_utils) and the rotation of q/k rows, forward and backward.
 * Everything is fp32 in the order transformers evaluates it, so angles and cos/sin agree with
 * the reference bit for bit up to libm's last ulp. */
#include "ops/ops.h"
#include "ops/ops_internal.h"
#include "base/err.h"
#include <math.h>
#include <stdlib.h>

/* 1 / theta^(2i/d) in fp32: torch computes (arange(0,d,2).float() / d) then pow, then 1/x. */
static void default_inv_freq(float *inv, int d, float theta) {
    for (int i = 0; i < d / 2; i++) inv[i] = 1.0f / powf(theta, (float)(2 * i) / (float)d);
}

/* Llama 3.1: keep high frequencies, divide low ones by factor, blend in between. The division
 * 2π/inv_freq is reciprocal(inv_freq)*2π in torch (Tensor.__rtruediv__), reproduced here. */
static void llama3_scale(float *inv, int d, const xgd_rope_scaling *sc) {
    const float factor = (float)sc->factor, lo = (float)sc->low_freq_factor;
    const float old_len = (float)sc->original_max_position;
    const float low_wl = (float)(sc->original_max_position / sc->low_freq_factor);
    const float high_wl = (float)(sc->original_max_position / sc->high_freq_factor);
    const float two_pi = (float)(2.0 * M_PI);
    for (int i = 0; i < d / 2; i++) {
        const float wl = (1.0f / inv[i]) * two_pi;
        if (wl < high_wl) continue;
        if (wl > low_wl) { inv[i] = inv[i] / factor; continue; }
        const float s = ((1.0f / wl) * old_len - lo) / (float)(sc->high_freq_factor - sc->low_freq_factor);
        inv[i] = (1.0f - s) * inv[i] / factor + s * inv[i];
    }
}

void xgd_rope_inv_freq(float *inv_freq, int d, double theta, const xgd_rope_scaling *sc) {
    default_inv_freq(inv_freq, d, (float)theta);
    if (!sc) return;
    switch (sc->type) {
    case XGD_ROPE_LINEAR:
        for (int i = 0; i < d / 2; i++) inv_freq[i] = inv_freq[i] / (float)sc->factor;
        break;
    case XGD_ROPE_LLAMA3: llama3_scale(inv_freq, d, sc); break;
    default: break;   /* DEFAULT; DYNAMIC equals DEFAULT up to max positions (see _dynamic) */
    }
}

void xgd_rope_inv_freq_dynamic(float *inv_freq, int d, double theta, const xgd_rope_scaling *sc, int64_t seq_len) {
    const double max_pos = sc->original_max_position;
    const double len = (double)seq_len > max_pos ? (double)seq_len : max_pos;
    const double base = theta * pow(sc->factor * len / max_pos - (sc->factor - 1.0), (double)d / (double)(d - 2));
    default_inv_freq(inv_freq, d, (float)base);
}

/* Rotate every head of each row by +angle (sign = 1) or -angle (sign = -1). */
static void rotate(float *x, const int32_t *pos, int64_t N, int nheads, int hd, const float *inv_freq,
                   int interleaved, float sign) {
    const int h = hd / 2;
    const int nt = xgd_ops_threads(30.0 * (double)N * (double)h + 4.0 * (double)N * nheads * hd);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *cs = xgd_malloc((size_t)hd * sizeof(float)); /* cos (h), then sin (h) */
        #pragma omp for
        for (int64_t n = 0; n < N; n++) {
            const float p = (float)pos[n];
            for (int i = 0; i < h; i++) {
                const float a = p * inv_freq[i];
                cs[i] = cosf(a);
                cs[h + i] = sign * sinf(a);
            }
            for (int hh = 0; hh < nheads; hh++) {
                float *v = x + (n * nheads + hh) * hd;
                for (int i = 0; i < h; i++) {
                    const int i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : i + h;
                    const float x1 = v[i1], x2 = v[i2], c = cs[i], s = cs[h + i];
                    v[i1] = x1 * c - x2 * s;
                    v[i2] = x2 * c + x1 * s;
                }
            }
        }
        free(cs);
    }
}

void xgd_rope(float *x, const int32_t *pos, int64_t N, int nheads, int hd, const float *inv_freq, int interleaved) {
    rotate(x, pos, N, nheads, hd, inv_freq, interleaved, 1.0f);
}

void xgd_rope_backward(float *dx, const int32_t *pos, int64_t N, int nheads, int hd, const float *inv_freq,
                       int interleaved) {
    rotate(dx, pos, N, nheads, hd, inv_freq, interleaved, -1.0f);
}

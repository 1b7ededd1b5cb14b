/* The tensor ops every model reuses: forward and backward of each, f32 activations, weights in
 * their stored dtype (f32, f16, bf16) with f32 accumulation. Shapes are written (B,T,C) style.
 *
 * Conventions:
 *  - Row-major. "rows" N = B*T when an op works per position.
 *  - Backward functions ACCUMULATE (+=) into gradient buffers (dx, dW, db), as in llm.c, so a
 *    tensor used twice (tied weights, residual streams) gets the sum. A NULL gradient pointer
 *    means "not needed" and is skipped.
 *  - Ops thread themselves (OpenMP) above a work threshold; callers never wrap them in parallel
 *    regions.
 */
#ifndef XGD_OPS_H
#define XGD_OPS_H
#include <stdint.h>
#include "base/dtype.h"

/* ---- weight matrices ------------------------------------------------------------------------
 * A weight W of logical shape (out, in): y = x·Wᵀ. Stored either as nn.Linear does, (out, in)
 * row-major (XGD_W_OUT_IN), or as GPT-2's Conv1D does, (in, out) row-major (XGD_W_IN_OUT).
 * An embedding table (V, C) is a wmat with out = V, in = C, layout OUT_IN. */
enum { XGD_W_OUT_IN = 0, XGD_W_IN_OUT = 1 };
typedef struct {
    const void *data;
    xgd_dtype dtype;   /* XGD_F32, XGD_F16 or XGD_BF16 */
    int64_t out, in;
    int layout;
} xgd_wmat;

/* y(M,out) = x(M,in)·Wᵀ + b. b (out) may be NULL. Any M >= 1: M = 1 and small M take a GEMV /
 * own-kernel path (OpenBLAS sgemm with M=1 is 3-4x slower than gemv); large M f32 goes to sgemm;
 * f16/bf16 weights use the project's own kernels (no wholesale f32 copy of the weight). */
void xgd_linear(float *y, const float *x, int64_t M, const xgd_wmat *W, const float *b);
/* bf16 weights have two modes. Exact: f32 activations times bf16 widened to f32 (f32 panels and
 * sgemm, or the small-row kernels). Fast: activations rounded to bf16, bf16 products summed in f32,
 * as PyTorch's bf16 matmul does (relative error ~1e-3..1e-2 against exact), on AMX tiles where the
 * CPU has AMX-BF16 (3-5x the exact path), else with vdpbf16ps; rows < 16 use the small-row kernels
 * on the rounded activations, so results do not depend on batching in either mode. The default is
 * fast where the CPU has AMX-BF16, exact elsewhere; xgd_ops_set_fast_bf16() or the environment
 * variable XGD_BF16_DOT=0|1 overrides it. Falls back to exact without avx512bf16. */
void xgd_ops_set_fast_bf16(int on);
int xgd_ops_fast_bf16(void);
/* dx(M,in) += dy·W ; dW (same layout as W, f32) += dyᵀ·x (or its transpose for IN_OUT);
 * db(out) += sum over rows of dy. Any of dx, dW, db may be NULL. */
void xgd_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                         int64_t M, const xgd_wmat *W);

/* out(N,C) = E[ids[n]] (rows of the table converted to f32). ids outside [0,V) are an error
 * the caller has checked. */
void xgd_embedding(float *out, const int32_t *ids, int64_t N, const xgd_wmat *E);
/* dE (V,C) f32 += scatter of dout rows at ids. */
void xgd_embedding_backward(float *dE, const float *dout, const int32_t *ids, int64_t N, int64_t C);

/* ---- normalisation --------------------------------------------------------------------------
 * LayerNorm over the last dim C: y = (x-mean)/sqrt(var+eps)*w + b, var biased. w or b may be
 * NULL (Cohere has no bias). mean and rstd (N) are saved for backward (may be NULL in inference). */
void xgd_layernorm(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                   int64_t N, int64_t C, float eps);
/* Backward needs the mean and rstd saved by the forward pass (non-NULL). */
void xgd_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const float *mean, const float *rstd, int64_t N, int64_t C);
/* RMSNorm (Llama, T5): y = w * x / sqrt(mean(x²)+eps). rstd (N) saved for backward (may be NULL). */
void xgd_rmsnorm(float *y, float *rstd, const float *x, const float *w, int64_t N, int64_t C, float eps);
/* Backward needs rstd saved by the forward pass (non-NULL). w may be NULL (weight 1). */
void xgd_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                          const float *rstd, int64_t N, int64_t C);

/* ---- activations (elementwise, n values) ---------------------------------------------------- */
void xgd_gelu_tanh(float *y, const float *x, int64_t n);   /* gelu_new / gelu_pytorch_tanh / bloom_gelu */
void xgd_gelu_tanh_backward(float *dx, const float *dy, const float *x, int64_t n);
void xgd_gelu_erf(float *y, const float *x, int64_t n);    /* exact "gelu" (XLM-R) */
void xgd_gelu_erf_backward(float *dx, const float *dy, const float *x, int64_t n);
void xgd_silu(float *y, const float *x, int64_t n);
void xgd_silu_backward(float *dx, const float *dy, const float *x, int64_t n);
void xgd_relu(float *y, const float *x, int64_t n);
void xgd_relu_backward(float *dx, const float *dy, const float *x, int64_t n);
/* Gated product: y = act(gate) * up (SwiGLU with act = silu, T5 gated-gelu with act = gelu_tanh).
 * act: XGD_ACT_*. Backward accumulates into dgate, dup. */
enum { XGD_ACT_GELU_TANH = 0, XGD_ACT_GELU_ERF, XGD_ACT_SILU, XGD_ACT_RELU };
void xgd_act(int act, float *y, const float *x, int64_t n);
void xgd_act_backward(int act, float *dx, const float *dy, const float *x, int64_t n);
void xgd_gated(int act, float *y, const float *gate, const float *up, int64_t n);
void xgd_gated_backward(int act, float *dgate, float *dup, const float *dy, const float *gate,
                        const float *up, int64_t n);

/* Elementwise helpers used everywhere. */
void xgd_add(float *y, const float *a, const float *b, int64_t n);    /* y = a + b (y may alias) */
void xgd_add_inplace(float *y, const float *x, int64_t n);            /* y += x */
void xgd_scale(float *y, float s, int64_t n);                         /* y *= s */

/* ---- softmax and losses ---------------------------------------------------------------------- */
/* In-place softmax over rows of length C. */
void xgd_softmax_rows(float *x, int64_t N, int64_t C);
/* Per-row log-probability of a target: lp[n] = logits[n, tgt[n]] - logsumexp(logits[n, :]).
 * Rows whose target is < 0 (e.g. -100) get lp = 0 and are skipped. Also returns the row's
 * logsumexp in lse (N) if lse is non-NULL (backward needs it). */
void xgd_logprob_gather(float *lp, float *lse, const float *logits, const int32_t *tgt, int64_t N, int64_t V);
/* dlogits[n,:] += dlp[n] * (onehot(tgt) - softmax(logits[n,:])), skipping rows with tgt < 0.
 * lse may be NULL (recomputed). */
void xgd_logprob_gather_backward(float *dlogits, const float *dlp, const float *logits, const float *lse,
                                 const int32_t *tgt, int64_t N, int64_t V);

/* ---- positions ------------------------------------------------------------------------------- */
/* RoPE inverse frequencies for a rotary dim d (even): inv_freq[i] = 1/theta^(2i/d), i < d/2,
 * computed as transformers does (fp32 powers), then rope scaling applied. */
typedef struct {
    int type;                   /* XGD_ROPE_DEFAULT, _LINEAR, _LLAMA3, _DYNAMIC */
    double factor, low_freq_factor, high_freq_factor;
    double original_max_position;
} xgd_rope_scaling;
enum { XGD_ROPE_DEFAULT = 0, XGD_ROPE_LINEAR, XGD_ROPE_LLAMA3, XGD_ROPE_DYNAMIC };
void xgd_rope_inv_freq(float *inv_freq, int d, double theta, const xgd_rope_scaling *sc);
/* Dynamic NTK scaling ("dynamic") for a sequence of seq_len positions: theta grows once seq_len
 * exceeds sc->original_max_position (set it to config.max_position_embeddings). For seq_len at
 * or below it this equals the default frequencies, which is what xgd_rope_inv_freq gives for
 * XGD_ROPE_DYNAMIC. */
void xgd_rope_inv_freq_dynamic(float *inv_freq, int d, double theta, const xgd_rope_scaling *sc, int64_t seq_len);
/* Rotate x in place: x (N, nheads, hd) where row n has position pos[n]. interleaved = 0: pairs
 * (i, i+hd/2) (Llama rotate_half); interleaved = 1: pairs (2i, 2i+1) (Cohere). Angles are
 * pos*inv_freq[i] in fp32, cos/sin in fp32, as transformers does. */
void xgd_rope(float *x, const int32_t *pos, int64_t N, int nheads, int hd, const float *inv_freq, int interleaved);
/* Backward: the rotation is orthogonal, so dx = R(-angle)·dy, in place on dx. */
void xgd_rope_backward(float *dx, const int32_t *pos, int64_t N, int nheads, int hd, const float *inv_freq, int interleaved);
/* BLOOM ALiBi slopes for nH heads (non-power-of-2 counts included). */
void xgd_alibi_slopes(float *slopes, int nH);
/* T5 relative position bucket for rel = key_pos - query_pos. */
int xgd_t5_bucket(int rel, int bidirectional, int num_buckets, int max_distance);

/* ---- attention ------------------------------------------------------------------------------ */
/* Scaled dot-product attention for B sequences, Tq queries against Tk keys.
 *   q   (B, Tq, nH, hd)        rows of the query projection
 *   k,v (B, Tk, nKV, hd)       with batch stride kv_bstride floats (0 = Tk*nKV*hd); a KV cache of
 *                              capacity Tmax passes kv_bstride = Tmax*nKV*hd
 *   out (B, Tq, nH, hd)
 * Query head h reads kv head h / (nH/nKV) (GQA). Scores are q·k*scale + alibi + pos_bias, masked
 * keys get -FLT_MAX (as transformers' finfo.min; a fully masked row is uniform, not NaN), softmax
 * in fp32. Causal: query i (absolute position q_offset+i) sees keys j <= q_offset+i. */
typedef struct {
    int B, Tq, Tk, nH, nKV, hd;
    int64_t kv_bstride;
    float scale;
    int causal;
    int q_offset;
    const uint8_t *key_mask;    /* (B, Tk), 1 = attend, 0 = padding; NULL = all keys */
    const float *alibi;         /* (nH) slopes or NULL; bias = slope * key_pos */
    const int32_t *key_pos;     /* (B, Tk) positions for ALiBi (cumsum(mask)-1); NULL = j */
    const float *pos_bias;      /* (nH, Tq, Tk) additive (T5), or NULL */
} xgd_attn;
/* probs (B, nH, Tq, Tk) is written when non-NULL (backward needs it). */
void xgd_attention(float *out, float *probs, const float *q, const float *k, const float *v, const xgd_attn *a);
/* Gradients of q, k, v (same layouts as forward; dk/dv use the same kv_bstride), and of
 * pos_bias (nH, Tq, Tk, summed over the batch) when dpos_bias is non-NULL. Needs probs from the
 * forward pass. Masked scores are constants (as torch.where/masked_fill): no gradient reaches q, k
 * or pos_bias through them; a fully masked (uniform) row still sends gradient to v. */
void xgd_attention_backward(float *dq, float *dk, float *dv, float *dpos_bias, const float *dout,
                            const float *probs, const float *q, const float *k, const float *v, const xgd_attn *a);

#endif

/* Shared plumbing of the ops layer: when to thread, which CPU features exist, and the few vector
 * primitives (dot, axpy, half->f32 row conversion) that several ops reuse. Not part of the API. */
#ifndef XGD_OPS_INTERNAL_H
#define XGD_OPS_INTERNAL_H
#include <stdint.h>
#include "base/dtype.h"

/* Threads worth using for `work` (roughly flops or bytes touched): 1 below ~64k, because an
 * OpenMP fork/join costs about a microsecond and two threads barely help tiny shapes. */
int xgd_ops_threads(double work);

/* CPU features, probed once. AVX-512 kernels are compiled per function with target attributes
 * and only called when these say so; the binary still runs on machines without them.
 * XGD_NO_AVX512=1 in the environment forces the portable paths (used by the tests). */
int xgd_cpu_avx512(void);      /* avx512f + avx512bw + avx512vl */
int xgd_cpu_avx512bf16(void);  /* the above + avx512bf16 (vdpbf16ps) */
/* the above + AMX-TILE + AMX-BF16 with the kernel's permission for the tile state (Linux
 * arch_prctl); XGD_NO_AMX=1 turns it off alone (linear_amx.c) */
int xgd_cpu_amx(void);

/* The calling thread's scratch buffer for one use site (slot), 64-byte aligned, kept between calls
 * (scratch.c); contents are undefined. A slot holds one live buffer at a time per thread. Call
 * xgd_scratch_release when done: buffers above 16 MB go back to the system. */
enum { XGD_SCRATCH_GEMM_A, XGD_SCRATCH_GEMM_B, XGD_SCRATCH_AMX_X, XGD_SCRATCH_AMX_PANEL, XGD_SCRATCH_AMX_TILE,
       XGD_SCRATCH_N };
void *xgd_scratch_get(int slot, size_t bytes);
void xgd_scratch_release(int slot);

/* sum a[i]*b[i], f32 accumulation. */
float xgd_dot_f32(const float *a, const float *b, int64_t n);
/* y[i] += s*x[i]. */
void xgd_axpy_f32(float *y, float s, const float *x, int64_t n);
/* dst[i] = (f32) src[i] for a row of f32/f16/bf16 weights. */
void xgd_row_to_f32(float *dst, const void *src, xgd_dtype t, int64_t n);
/* dst[i] = bf16(src[i]), round to nearest even (activations for the bf16 kernels). */
void xgd_row_to_bf16(uint16_t *dst, const float *src, int64_t n);
/* dst = bf16(src) as f32 (round to nearest even); dst may alias src. */
void xgd_round_to_bf16(float *dst, const float *src, int64_t n);

/* Fused small-M weight kernels: w is one row (n values) of an f32/f16/bf16 weight, widened on
 * the fly and used for M (<= any) activation rows at once, so it is read from memory once.
 *   dot:  out[m*ldo] += sum_i x[m*ldx + i] * w[i]
 *   axpy: y[m*ldy + i] += s[m*lds] * w[i]                                                    */
void xgd_dot_rows(float *out, int64_t ldo, const float *x, int64_t ldx, int64_t M, const void *w, xgd_dtype t, int64_t n);
/* Single-row bf16 dot products with x in "pair order" (xgd_bf16_pair_order): each 64-byte load of
 * 32 bf16 weights is widened by one shift (even weights) and one mask (odd weights), half the work
 * of widening 16 at a time. 0 when the CPU lacks AVX-512 (use xgd_dot_rows). */
int xgd_bf16_pairs_ok(void);
/* x (n) reordered per full 32-block as its 16 even then its 16 odd elements; the tail as is. */
void xgd_bf16_pair_order(float *xp, const float *x, int64_t n);
float xgd_dot_bf16_pairs(const float *xp, const uint16_t *w, int64_t n);
/* Four consecutive weight rows (row stride n) at once: out[r] += w_r . x. Four streams in flight per
 * core instead of one. */
void xgd_dot_bf16_pairs4(float *out, const float *xp, const uint16_t *w, int64_t n);
/* y[i] += sum_{r<8} s[r] * w[r*ws + i], eight f32 weight rows, one x (needs AVX-512). */
void xgd_axpy_f32_rows8(float *y, const float *s, const float *w, int64_t ws, int64_t n);
/* The same four weight rows against M x rows in pair order (row stride ldx): out[m*ldo + r] +=
 * w_r . xp_m; four x rows at a time share each widened weight vector (16 accumulators). */
void xgd_dot_bf16_pairs4_rows(float *out, int64_t ldo, const float *xp, int64_t ldx, int64_t M, const uint16_t *w,
                              int64_t n);
/* The axpy form's bf16 kernel for few rows: y kept in pair order (yp, M rows of stride ldy), nr
 * (1..8) consecutive weight rows of n bf16 (stride ws): yp[m] += sum_r s[m*lds + r] * w_r, 32
 * weights per 64-byte load. Then xgd_bf16_pair_unorder_add(y, yp, n) adds a row back in natural
 * order. */
void xgd_axpy_bf16_pairs(float *yp, int64_t ldy, const float *s, int64_t lds, int64_t M, int nr, const uint16_t *w,
                         int64_t ws, int64_t n);
void xgd_bf16_pair_unorder_add(float *y, const float *yp, int64_t n);
void xgd_axpy_rows(float *y, int64_t ldy, const float *s, int64_t lds, int64_t M, const void *w, xgd_dtype t, int64_t n);
/* The same for four consecutive weight rows (stride ws elements) and scales s[m*lds + 0..3]:
 * y[m*ldy + i] += sum_r s[m*lds + r] * w[r*ws + i]; one load/store of y per four FMAs. */
void xgd_axpy_rows4(float *y, int64_t ldy, const float *s, int64_t lds, int64_t M, const void *w, int64_t ws,
                    xgd_dtype t, int64_t n);

/* Softmax building blocks. max of x[0..n); dst[i] = exp(src[i] - shift) (dst may be NULL or
 * alias src) returning the sum of those exponentials (accumulated in double per block of 1024).
 * The AVX-512 exp is within 2 ulp of expf (tested); -FLT_MAX inputs give exactly 0. */
float xgd_max_f32(const float *x, int64_t n);
double xgd_exp_sum(float *dst, const float *src, int64_t n, float shift);

/* Attention logits of one query row over n keys, in place: p[j] = p[j] * scale (+ *slope * kpos[j],
 * or * j when kpos is NULL; slope NULL: no ALiBi) (+ bias[j]; NULL: none) for keys with keep[j]
 * != 0 (keep NULL: all), -FLT_MAX for the others. Returns the largest kept logit (-FLT_MAX at
 * least) and sets *any when some key is kept. */
float xgd_attn_logits(float *p, int64_t n, float scale, const uint8_t *keep, const float *slope, const int32_t *kpos,
                      const float *bias, int *any);

/* Attention building blocks (no horizontal sums in the hot loops):
 *   scores: s[j] = sum_c q[c] * kt[c*ldkt + j], j < n   (kt: keys transposed, hd rows)
 *   wsum:   out[c] += sum_j p[j] * v[j*ldv + c], c < hd  (probability-weighted sum of rows) */
void xgd_scores_t(float *s, const float *q, const float *kt, int64_t ldkt, int hd, int64_t n);
void xgd_wsum_rows(float *out, const float *p, const float *v, int64_t ldv, int64_t n, int hd);
/* The same for four queries at once (rows r = 0..3 of q/s/p/out with the given strides): every
 * key or value row loaded feeds four queries. */
void xgd_scores_t4(float *s, int64_t lds, const float *q, int64_t ldq, const float *kt, int64_t ldkt, int hd, int64_t n);
void xgd_wsum_rows4(float *out, int64_t ldo, const float *p, int64_t ldp, const float *v, int64_t ldv, int64_t n, int hd);

#endif

/* Kernels behind xgd_linear (see linear.c for the dot/axpy-form vocabulary). */
#ifndef XGD_OPS_LINEAR_INTERNAL_H
#define XGD_OPS_LINEAR_INTERNAL_H
#include <stdint.h>
#include "base/dtype.h"

/* Below this many rows, products use the own small-M kernel instead of (panels +) sgemm: f16/bf16
 * below 16; f32 below 12 (measured with OpenBLAS's Cooperlake kernels: the own kernel is 2-4x
 * faster at M = 2..4, even or 2x at M = 8, and sgemm wins by 1.2-1.5x at M = 15). */
enum { XGD_SMALL_M = 16, XGD_SMALL_M_F32 = 12 };
/* f32 products with fewer outputs than this stay with OpenBLAS sgemm: the own GEMM packs all of x
 * (M x K) per call, as costly as the products themselves when there are only ~64 outputs (LoRA's
 * x·Aᵀ: the GPT-2 LoRA DPO step was 5-15 % slower through it). */
enum { XGD_GEMM_MIN_N = 256 };

/* y(M,n_out) += x(M,n_in)·op(A), A f32/f16/bf16, converting one row of A at a time. */
void xgd_matmul_small(float *y, const float *x, int64_t M, const void *A, xgd_dtype t,
                      int64_t n_out, int64_t n_in, int dotform);
/* y(M,n_out) = beta*y + bias + x(M,n_in)·op(A), A f32/f16/bf16 widened to f32 while packing, f32
 * products and sums (linear_gemm.c): the exact path of every product with M >= XGD_SMALL_M(_F32).
 * Needs xgd_cpu_avx512(); beta is 0 or 1; bias (n_out) may be NULL. */
void xgd_matmul_gemm(float *y, const float *x, int64_t M, const void *A, xgd_dtype t,
                     int64_t n_out, int64_t n_in, int dotform, float beta, const float *bias);
/* y(M,n_out) = beta*y + bf16(x)·op(A) with A bf16, vdpbf16ps, f32 accumulation. Needs avx512bf16. */
void xgd_matmul_bf16dot(float *y, const float *x, int64_t M, const void *A,
                        int64_t n_out, int64_t n_in, int dotform, float beta);
/* The same product on AMX tiles (linear_amx.c), any M >= 1. Needs xgd_cpu_amx(). */
void xgd_matmul_amx(float *y, const float *x, int64_t M, const void *A,
                    int64_t n_out, int64_t n_in, int dotform, float beta);

#endif

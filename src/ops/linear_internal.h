/* Kernels behind xgd_linear (see linear.c for the dot/axpy-form vocabulary). */
#ifndef XGD_OPS_LINEAR_INTERNAL_H
#define XGD_OPS_LINEAR_INTERNAL_H
#include <stdint.h>
#include "base/dtype.h"

/* Below this many rows, f16/bf16 products use the row-at-a-time kernel instead of panels+sgemm. */
enum { XGD_SMALL_M = 16 };

/* y(M,n_out) += x(M,n_in)·op(A), A f32/f16/bf16, converting one row of A at a time. */
void xgd_matmul_small(float *y, const float *x, int64_t M, const void *A, xgd_dtype t,
                      int64_t n_out, int64_t n_in, int dotform);
/* y(M,n_out) = beta*y + bf16(x)·op(A) with A bf16, vdpbf16ps, f32 accumulation. Needs avx512bf16. */
void xgd_matmul_bf16dot(float *y, const float *x, int64_t M, const void *A,
                        int64_t n_out, int64_t n_in, int dotform, float beta);

#endif

/* Embedding lookup (rows of a f32/f16/bf16 table widened to f32) and its scatter-add backward. */
#include "ops/ops.h"
#include "ops/ops_internal.h"

void xgd_embedding(float *out, const int32_t *ids, int64_t N, const xgd_wmat *E) {
    const int64_t C = E->in;
    const size_t es = xgd_dtype_size(E->dtype);
    for (int64_t n = 0; n < N; n++)
        xgd_row_to_f32(out + n * C, (const char *)E->data + (size_t)ids[n] * (size_t)C * es, E->dtype, C);
}

/* Serial on purpose: repeated ids would race, and this is N*C adds against the matmuls' N*C*V. */
void xgd_embedding_backward(float *dE, const float *dout, const int32_t *ids, int64_t N, int64_t C) {
    for (int64_t n = 0; n < N; n++) xgd_axpy_f32(dE + (int64_t)ids[n] * C, 1.0f, dout + n * C, C);
}

/* Small-M products with f32/f16/bf16 weights (decode, short prompts): one weight row is widened
 * to f32 into an L1-resident buffer and used for all M rows, so the weight streams from memory
 * once per call and no f32 copy of it is ever made. Threads split the output columns. */
#include "ops/linear_internal.h"
#include "ops/ops_internal.h"
#include "base/err.h"
#include <omp.h>
#include <stdlib.h>

enum { AXPY_CHUNK = 1024 };   /* outputs per block in axpy form: y block stays in L1/L2 */

void xgd_matmul_small(float *y, const float *x, int64_t M, const void *A, xgd_dtype t,
                      int64_t n_out, int64_t n_in, int dotform) {
    const size_t es = xgd_dtype_size(t);
    const int nt = xgd_ops_threads((double)M * (double)n_out * (double)n_in);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int ti = omp_get_thread_num(), tn = omp_get_num_threads();
        float *buf = xgd_malloc((size_t)(dotform ? n_in : AXPY_CHUNK) * sizeof(float));
        if (dotform) {
            int64_t o0 = n_out * ti / tn, o1 = n_out * (ti + 1) / tn;
            for (int64_t o = o0; o < o1; o++) {
                const void *row = (const char *)A + (size_t)(o * n_in) * es;
                const float *w = row;
                if (t != XGD_F32) { xgd_row_to_f32(buf, row, t, n_in); w = buf; }
                for (int64_t m = 0; m < M; m++) y[m * n_out + o] += xgd_dot_f32(x + m * n_in, w, n_in);
            }
        } else {
            /* blocks of AXPY_CHUNK outputs dealt round-robin to threads */
            int64_t nblk = (n_out + AXPY_CHUNK - 1) / AXPY_CHUNK;
            for (int64_t blk = ti; blk < nblk; blk += tn) {
                int64_t c0 = blk * AXPY_CHUNK, n = n_out - c0 < AXPY_CHUNK ? n_out - c0 : AXPY_CHUNK;
                for (int64_t i = 0; i < n_in; i++) {
                    const void *seg = (const char *)A + (size_t)(i * n_out + c0) * es;
                    const float *w = seg;
                    if (t != XGD_F32) { xgd_row_to_f32(buf, seg, t, n); w = buf; }
                    for (int64_t m = 0; m < M; m++) xgd_axpy_f32(y + m * n_out + c0, x[m * n_in + i], w, n);
                }
            }
        }
        free(buf);
    }
}

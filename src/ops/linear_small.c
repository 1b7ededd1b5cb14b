/* Small-M products with f32/f16/bf16 weights (decode, short prompts). Each weight row is widened
 * to f32 in registers and used for all M activation rows at once (xgd_dot_rows/xgd_axpy_rows), so
 * the weight streams from memory once per call and no f32 copy of it is ever made. Threads split
 * the output columns. */
#include "ops/linear_internal.h"
#include "ops/ops_internal.h"
#include <omp.h>

enum { AXPY_CHUNK = 512 };   /* outputs per block in axpy form: M rows of y stay in L1 */

void xgd_matmul_small(float *y, const float *x, int64_t M, const void *A, xgd_dtype t,
                      int64_t n_out, int64_t n_in, int dotform) {
    const size_t es = xgd_dtype_size(t);
    const int nt = xgd_ops_threads((double)M * (double)n_out * (double)n_in);
    if (dotform) {
        #pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int64_t o = 0; o < n_out; o++)
            xgd_dot_rows(y + o, n_out, x, n_in, M, (const char *)A + (size_t)(o * n_in) * es, t, n_in);
    } else {
        const int64_t nblk = (n_out + AXPY_CHUNK - 1) / AXPY_CHUNK;
        #pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int64_t blk = 0; blk < nblk; blk++) {
            const int64_t c0 = blk * AXPY_CHUNK, n = n_out - c0 < AXPY_CHUNK ? n_out - c0 : AXPY_CHUNK;
            for (int64_t i = 0; i < n_in; i++)
                xgd_axpy_rows(y + c0, n_out, x + i, n_in, M, (const char *)A + (size_t)(i * n_out + c0) * es, t, n);
        }
    }
}

/* NumPy .npy files (format version 1.0/2.0), so arrays leave the program in a form Python reads
 * with numpy.load. Writes are atomic. */
#ifndef XGD_BASE_NPY_H
#define XGD_BASE_NPY_H
#include <stdint.h>
#include "base/dtype.h"

/* Write a C-order array of dtype t (F32, F64, I64, I32, F16, U8, BOOL) with the given shape. */
int xgd_npy_write(const char *path, xgd_dtype t, const void *data, int ndim, const int64_t *shape);

/* Read a little-endian C-order .npy file (f4/f8/f2/i8/i4/u1/b1). Data is malloc'ed. */
typedef struct { xgd_dtype dtype; int ndim; int64_t shape[8]; void *data; int64_t numel; } xgd_npy;
int xgd_npy_read(const char *path, xgd_npy *out);
void xgd_npy_free(xgd_npy *a);

#endif

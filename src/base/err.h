/* Errors with context. Library functions return 0 on success and -1 on failure after calling
 * xgd_fail(), which records one human-readable line ("file X: tensor Y: what went wrong").
 * Callers that add context wrap the message with xgd_err_context(). The message is per thread. */
#ifndef XGD_BASE_ERR_H
#define XGD_BASE_ERR_H
#include <stddef.h>

/* Record an error message (printf format) and return -1, so a caller can `return xgd_fail(...)`. */
int xgd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prefix the current message with context: "ctx: old message". Returns -1. */
int xgd_err_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last recorded message ("" when none). */
const char *xgd_errmsg(void);
void xgd_err_clear(void);

/* Allocation that cannot fail silently: on out-of-memory prints what was asked for and exits 1.
 * Model-sized buffers go through these too; a clear exit is better than a NULL deref later. */
void *xgd_malloc(size_t n);
void *xgd_calloc(size_t count, size_t size);
void *xgd_realloc(void *p, size_t n);
char *xgd_strdup(const char *s);
/* 64-byte aligned allocation (for SIMD kernels and BLAS); free with free(). */
void *xgd_aligned_alloc(size_t n);

#endif

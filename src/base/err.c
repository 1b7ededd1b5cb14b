#include "base/err.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_msg[2048];

int xgd_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return -1;
}

int xgd_err_context(const char *fmt, ...) {
    char ctx[1024], old[sizeof g_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    /* truncation of an over-long message is acceptable: keep the context, cut the tail */
    size_t n = strlen(ctx);
    if (n > sizeof g_msg - 3) n = sizeof g_msg - 3;
    memcpy(g_msg, ctx, n);
    g_msg[n] = ':';
    g_msg[n + 1] = ' ';
    size_t rest = sizeof g_msg - n - 3;
    size_t m = strnlen(old, rest);
    memcpy(g_msg + n + 2, old, m);
    g_msg[n + 2 + m] = 0;
    return -1;
}

const char *xgd_errmsg(void) { return g_msg; }
void xgd_err_clear(void) { g_msg[0] = 0; }

static void oom(size_t n) {
    fprintf(stderr, "xgd: error: out of memory allocating %zu bytes\n", n);
    exit(1);
}

void *xgd_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *xgd_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *xgd_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *xgd_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = xgd_malloc(n);
    memcpy(p, s, n);
    return p;
}

void *xgd_aligned_alloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64) != 0) oom(n);
    return p;
}
